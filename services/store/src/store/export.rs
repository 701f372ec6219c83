//! The store service's part of a member's data export, and what a member's
//! erasure clears here.

use kit::members::HeldAbout;
use kit::time::from_micros;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};

use super::entities::{attribution, attribution_change, commission, favorite_store};
use crate::error::Result;

/// Every table here that names a member, and where the export lists it.
pub const HELD_ABOUT: &[HeldAbout] = &[
    HeldAbout {
        table: "attributions",
        path: "/guides",
    },
    HeldAbout {
        table: "attribution_changes",
        path: "/guideChanges",
    },
    HeldAbout {
        table: "favorite_stores",
        path: "/favoriteStores",
    },
    HeldAbout {
        table: "commissions",
        path: "/commissionsOnOrders",
    },
];

/// For `member_ids` (a member and the ids merged into them): the guide and
/// store each id is bound to, every change of that binding, favourite
/// stores, and the commissions their orders earned guides (amounts in fen,
/// times RFC 3339).
pub async fn member_data<C: ConnectionTrait>(db: &C, member_ids: &[String]) -> Result<Value> {
    let ids = || member_ids.iter().cloned();
    let ts = |micros: i64| from_micros(micros).to_rfc3339();
    let bindings = attribution::Entity::find()
        .filter(attribution::Column::MemberId.is_in(ids()))
        .order_by_asc(attribution::Column::MemberId)
        .all(db)
        .await?;
    let changes = attribution_change::Entity::find()
        .filter(attribution_change::Column::MemberId.is_in(ids()))
        .order_by_asc(attribution_change::Column::ChangedAt)
        .order_by_asc(attribution_change::Column::Id)
        .all(db)
        .await?;
    let favorites = favorite_store::Entity::find()
        .filter(favorite_store::Column::MemberId.is_in(ids()))
        .order_by_asc(favorite_store::Column::AddedAt)
        .all(db)
        .await?;
    let commissions = commission::Entity::find()
        .filter(commission::Column::MemberId.is_in(ids()))
        .order_by_asc(commission::Column::EarnedAt)
        .order_by_asc(commission::Column::Id)
        .all(db)
        .await?;
    Ok(json!({
        "guides": bindings.into_iter().map(|b| json!({
            "memberId": b.member_id,
            "guideId": b.guide_id,
            "storeId": b.store_id,
            "cause": b.cause,
            "boundAt": ts(b.bound_at),
            "expiresAt": b.expires_at.map(ts),
            "protectedUntil": b.protected_until.map(ts),
        })).collect::<Vec<_>>(),
        "guideChanges": changes.into_iter().map(|c| json!({
            "memberId": c.member_id,
            "fromGuideId": c.from_guide_id,
            "fromStoreId": c.from_store_id,
            "toGuideId": c.to_guide_id,
            "toStoreId": c.to_store_id,
            "cause": c.cause,
            "reason": c.reason,
            "changedAt": ts(c.changed_at),
        })).collect::<Vec<_>>(),
        "favoriteStores": favorites.into_iter().map(|f| json!({
            "memberId": f.member_id,
            "storeId": f.store_id,
            "addedAt": ts(f.added_at),
        })).collect::<Vec<_>>(),
        "commissionsOnOrders": commissions.into_iter().map(|c| json!({
            "orderId": c.order_id,
            "lineId": c.line_id,
            "guideId": c.guide_id,
            "storeId": c.store_id,
            "brandId": c.brand_id,
            "baseFen": c.base_fen,
            "refundedFen": c.refunded_fen,
            "status": c.status,
            "earnedAt": ts(c.earned_at),
        })).collect::<Vec<_>>(),
    }))
}

/// On a member's erasure: favourite stores go, and the free-text reasons
/// staff gave for changing the member's guide (which may name them). Who
/// the member was bound to and the commissions their orders earned are
/// guides' pay records and stay whole.
pub async fn erase_personal<C: ConnectionTrait>(db: &C, member_ids: &[String]) -> Result<()> {
    favorite_store::Entity::delete_many()
        .filter(favorite_store::Column::MemberId.is_in(member_ids.iter().cloned()))
        .exec(db)
        .await?;
    attribution_change::Entity::update_many()
        .col_expr(
            attribution_change::Column::Reason,
            Expr::value(Option::<String>::None),
        )
        .filter(attribution_change::Column::MemberId.is_in(member_ids.iter().cloned()))
        .filter(attribution_change::Column::Reason.is_not_null())
        .exec(db)
        .await?;
    Ok(())
}
