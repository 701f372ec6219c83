//! The alliance's part of a member's data export. A member's erasure
//! clears nothing here: accounts, ledgers, exchanges and clearing are
//! financial records, they name members only by id, and they stay whole.

use std::collections::HashMap;

use kit::members::HeldAbout;
use kit::time::from_micros;
use sea_orm::{
    ActiveEnum, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
};
use serde_json::{Value, json};

use super::entities::{
    account, coupon_grant, entry, exchange, lot, member_alias, order_earn, quote, reward_redemption,
};
use crate::error::Result;

/// Every table here that names a member, and where the export lists it.
pub const HELD_ABOUT: &[HeldAbout] = &[
    HeldAbout {
        table: "accounts",
        path: "/accounts",
    },
    HeldAbout {
        table: "quotes",
        path: "/exchangeQuotes",
    },
    HeldAbout {
        table: "exchanges",
        path: "/exchanges",
    },
    HeldAbout {
        table: "order_earns",
        path: "/orderEarnings",
    },
    HeldAbout {
        table: "member_aliases",
        path: "/mergedIds",
    },
    HeldAbout {
        table: "reward_redemptions",
        path: "/rewardRedemptions",
    },
    HeldAbout {
        table: "coupon_grants",
        path: "/couponGrants",
    },
];

/// For `member_ids` (a member and the ids merged into them): every points
/// account with its whole ledger (entries in sequence) and lots, exchange
/// quotes and exchanges, what each order earned, the rewards redeemed, the
/// coupons dropped to them, and the merged ids known here. Points in points, amounts in fen, times RFC 3339.
pub async fn member_data<C: ConnectionTrait>(db: &C, member_ids: &[String]) -> Result<Value> {
    let ids = || member_ids.iter().cloned();
    let ts = |micros: i64| from_micros(micros).to_rfc3339();
    let accounts = account::Entity::find()
        .filter(account::Column::MemberId.is_in(ids()))
        .order_by_asc(account::Column::CreatedAt)
        .order_by_asc(account::Column::Id)
        .all(db)
        .await?;
    let account_ids: Vec<String> = accounts.iter().map(|a| a.id.clone()).collect();
    let mut entries: HashMap<String, Vec<entry::Model>> = HashMap::new();
    for row in entry::Entity::find()
        .filter(entry::Column::AccountId.is_in(account_ids.iter().cloned()))
        .order_by_asc(entry::Column::AccountId)
        .order_by_asc(entry::Column::Seq)
        .all(db)
        .await?
    {
        entries.entry(row.account_id.clone()).or_default().push(row);
    }
    let mut lots: HashMap<String, Vec<lot::Model>> = HashMap::new();
    for row in lot::Entity::find()
        .filter(lot::Column::AccountId.is_in(account_ids.iter().cloned()))
        .order_by_asc(lot::Column::CreatedAt)
        .order_by_asc(lot::Column::Id)
        .all(db)
        .await?
    {
        lots.entry(row.account_id.clone()).or_default().push(row);
    }
    let quotes = quote::Entity::find()
        .filter(quote::Column::MemberId.is_in(ids()))
        .order_by_asc(quote::Column::CreatedAt)
        .order_by_asc(quote::Column::Id)
        .all(db)
        .await?;
    let exchanges = exchange::Entity::find()
        .filter(exchange::Column::MemberId.is_in(ids()))
        .order_by_asc(exchange::Column::CreatedAt)
        .order_by_asc(exchange::Column::Id)
        .all(db)
        .await?;
    let earnings = order_earn::Entity::find()
        .filter(order_earn::Column::MemberId.is_in(ids()))
        .order_by_asc(order_earn::Column::PlacedAt)
        .order_by_asc(order_earn::Column::OrderId)
        .all(db)
        .await?;
    let aliases = member_alias::Entity::find()
        .filter(
            Condition::any()
                .add(member_alias::Column::MergedId.is_in(ids()))
                .add(member_alias::Column::SurvivorId.is_in(ids())),
        )
        .order_by_asc(member_alias::Column::MergedAt)
        .all(db)
        .await?;
    let redemptions = reward_redemption::Entity::find()
        .filter(reward_redemption::Column::MemberId.is_in(ids()))
        .order_by_asc(reward_redemption::Column::CreatedAt)
        .order_by_asc(reward_redemption::Column::Id)
        .all(db)
        .await?;
    let grants = coupon_grant::Entity::find()
        .filter(coupon_grant::Column::MemberId.is_in(ids()))
        .order_by_asc(coupon_grant::Column::GrantedAt)
        .order_by_asc(coupon_grant::Column::Id)
        .all(db)
        .await?;
    Ok(json!({
        "accounts": accounts.into_iter().map(|a| json!({
            "id": a.id,
            "memberId": a.member_id,
            "programmeId": a.programme_id,
            "activeBalance": a.active_balance,
            "pendingBalance": a.pending_balance,
            "lifetimeEarned": a.lifetime_earned,
            "mergedInto": a.merged_into,
            "openedAt": ts(a.created_at),
            "ledger": entries.remove(&a.id).unwrap_or_default().into_iter().map(|e| json!({
                "seq": e.seq,
                "kind": e.kind.to_value(),
                "points": e.points,
                "pendingPoints": e.pending_points,
                "balanceAfter": e.balance_after,
                "pendingAfter": e.pending_after,
                "forgivenPoints": e.forgiven_points,
                "reference": e.reference,
                "sourceSystem": e.source_system,
                "externalTxnId": e.external_txn_id,
                "reason": e.reason,
                "createdAt": ts(e.created_at),
            })).collect::<Vec<_>>(),
            "lots": lots.remove(&a.id).unwrap_or_default().into_iter().map(|l| json!({
                "state": l.state.to_value(),
                "original": l.original,
                "remaining": l.remaining,
                "activatesAt": l.activates_at.map(ts),
                "expiresAt": l.expires_at.map(ts),
                "createdAt": ts(l.created_at),
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "exchangeQuotes": quotes.into_iter().map(|q| json!({
            "id": q.id,
            "memberId": q.member_id,
            "fromProgrammeId": q.from_programme_id,
            "toProgrammeId": q.to_programme_id,
            "pointsOut": q.points_out,
            "feePoints": q.fee_points,
            "pointsIn": q.points_in,
            "rate": q.rate,
            "createdAt": ts(q.created_at),
            "expiresAt": ts(q.expires_at),
            "usedAt": q.used_at.map(ts),
        })).collect::<Vec<_>>(),
        "exchanges": exchanges.into_iter().map(|x| json!({
            "id": x.id,
            "memberId": x.member_id,
            "fromProgrammeId": x.from_programme_id,
            "toProgrammeId": x.to_programme_id,
            "pointsOut": x.points_out,
            "feePoints": x.fee_points,
            "pointsIn": x.points_in,
            "rate": x.rate,
            "createdAt": ts(x.created_at),
        })).collect::<Vec<_>>(),
        "orderEarnings": earnings.into_iter().map(|o| json!({
            "orderId": o.order_id,
            "programmeId": o.programme_id,
            "memberId": o.member_id,
            "paidFen": o.paid_fen,
            "points": o.points,
            "refundedFen": o.refunded_fen,
            "reversedPoints": o.reversed_points,
            "placedAt": ts(o.placed_at),
        })).collect::<Vec<_>>(),
        "mergedIds": aliases.into_iter().map(|a| json!({
            "mergedId": a.merged_id,
            "survivorId": a.survivor_id,
            "mergedAt": ts(a.merged_at),
        })).collect::<Vec<_>>(),
        "rewardRedemptions": redemptions.into_iter().map(|r| json!({
            "id": r.id,
            "rewardId": r.reward_id,
            "programmeId": r.programme_id,
            "memberId": r.member_id,
            "points": r.points,
            "entryId": r.entry_id,
            "couponId": r.coupon_id,
            "redeemedAt": ts(r.created_at),
        })).collect::<Vec<_>>(),
        "couponGrants": grants.into_iter().map(|g| json!({
            "id": g.id,
            "dropId": g.drop_id,
            "memberId": g.member_id,
            "couponId": g.coupon_id,
            "grantedAt": ts(g.granted_at),
        })).collect::<Vec<_>>(),
    }))
}
