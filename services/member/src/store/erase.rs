//! Members own their data: export it all, or erase it.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, Set, TransactionTrait,
};
use serde_json::{Value, json};

use super::entities::{
    consent, identity, member, member_binding, member_points, member_purchase, merge, tag,
    tier_change, touchpoint,
};
use super::merge::clear_personal;
use super::resolve_for_update;
use crate::domain::MemberStatus;
use crate::error::Result;
use kit::events::outbox::publish;
use kit::events::schema::MemberErased;
use kit::time::{from_micros, to_micros};

/// What a merge's reason reads once either member was erased (the column
/// holds text; the reason itself is gone).
pub const ERASED_REASON: &str = "(erased)";

/// Anonymises a member: personal fields cleared, identities, tags and
/// consents removed, touchpoint attributes emptied, operators' reasons for
/// tier changes and merges cleared. The id, the tier and the
/// non-personal history stay, so ledgers elsewhere still balance. Erasing an
/// erased member changes nothing.
pub async fn erase(
    db: &DatabaseConnection,
    member_id: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<member::Model> {
    let txn = db.begin().await?;
    let current = resolve_for_update(&txn, member_id).await?;
    if current.status == MemberStatus::Erased {
        txn.commit().await?;
        return Ok(current);
    }
    let id = current.id.clone();
    let merged_ids = merged_into(&txn, &id).await?;
    let mut row = current.into_active_model();
    clear_personal(&mut row);
    row.status = Set(MemberStatus::Erased);
    row.erased_at = Set(Some(to_micros(now)));
    row.updated_at = Set(to_micros(now));
    let erased = row.update(&txn).await?;
    identity::Entity::delete_many()
        .filter(identity::Column::MemberId.eq(id.clone()))
        .exec(&txn)
        .await?;
    tag::Entity::delete_many()
        .filter(tag::Column::MemberId.eq(id.clone()))
        .exec(&txn)
        .await?;
    consent::Entity::delete_many()
        .filter(consent::Column::MemberId.eq(id.clone()))
        .exec(&txn)
        .await?;
    touchpoint::Entity::update_many()
        .col_expr(touchpoint::Column::Attributes, "{}".into())
        .filter(touchpoint::Column::MemberId.eq(id.clone()))
        .exec(&txn)
        .await?;
    // Operators' free text about the member (why a tier was set, why two
    // records were merged) may say anything about them: it goes too; the
    // changes themselves stay.
    let all_ids: Vec<String> = std::iter::once(id.clone())
        .chain(merged_ids.iter().cloned())
        .collect();
    tier_change::Entity::update_many()
        .col_expr(
            tier_change::Column::Reason,
            sea_orm::sea_query::Expr::value(Option::<String>::None),
        )
        .filter(tier_change::Column::MemberId.is_in(all_ids.clone()))
        .exec(&txn)
        .await?;
    merge::Entity::update_many()
        .col_expr(
            merge::Column::Reason,
            sea_orm::sea_query::Expr::value(ERASED_REASON),
        )
        .filter(
            sea_orm::Condition::any()
                .add(merge::Column::SurvivorId.is_in(all_ids.clone()))
                .add(merge::Column::MergedId.is_in(all_ids)),
        )
        .exec(&txn)
        .await?;
    publish(
        &txn,
        &MemberErased {
            member_id: id,
            merged_ids,
            erased_at: now,
        },
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(erased)
}

/// The ids merged into `survivor_id` (each points straight at its
/// survivor: merges keep every alias one hop from a live record), in id
/// order.
async fn merged_into<C: sea_orm::ConnectionTrait>(
    db: &C,
    survivor_id: &str,
) -> Result<Vec<String>> {
    Ok(member::Entity::find()
        .filter(member::Column::MergedInto.eq(survivor_id))
        .order_by_asc(member::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|m| m.id)
        .collect())
}

/// The member service's part of a member's export.
pub struct MemberPart {
    /// The member's id first, then every id merged into it: the ids other
    /// services hold the member's data under.
    pub member_ids: Vec<String>,
    /// Profile, identities, tags, consents, touchpoints, tier changes,
    /// merged records, and the purchases, points balances and store bindings
    /// segments read.
    pub data: Value,
}

/// Everything the member service holds about a member (a merged id gives
/// its survivor's), with the ids to ask the other services about.
pub async fn export(db: &DatabaseConnection, member_id: &str) -> Result<MemberPart> {
    let txn = db.begin().await?;
    let m = resolve_for_update(&txn, member_id).await?;
    let member_ids: Vec<String> = std::iter::once(m.id.clone())
        .chain(merged_into(&txn, &m.id).await?)
        .collect();
    let identities = identity::Entity::find()
        .filter(identity::Column::MemberId.eq(m.id.clone()))
        .all(&txn)
        .await?;
    let tags = tag::Entity::find()
        .filter(tag::Column::MemberId.eq(m.id.clone()))
        .all(&txn)
        .await?;
    let consents = consent::Entity::find()
        .filter(consent::Column::MemberId.eq(m.id.clone()))
        .all(&txn)
        .await?;
    let touchpoints = touchpoint::Entity::find()
        .filter(touchpoint::Column::MemberId.eq(m.id.clone()))
        .order_by_asc(touchpoint::Column::OccurredAt)
        .all(&txn)
        .await?;
    let tier_changes = tier_change::Entity::find()
        .filter(tier_change::Column::MemberId.eq(m.id.clone()))
        .order_by_asc(tier_change::Column::ChangedAt)
        .all(&txn)
        .await?;
    let merges = merge::Entity::find()
        .filter(merge::Column::SurvivorId.eq(m.id.clone()))
        .all(&txn)
        .await?;
    // What segments read: purchases and points balances, as the order and
    // points feeds told this service.
    let purchases = member_purchase::Entity::find()
        .filter(member_purchase::Column::MemberId.is_in(member_ids.iter().cloned()))
        .order_by_asc(member_purchase::Column::PlacedAt)
        .all(&txn)
        .await?;
    let balances = member_points::Entity::find()
        .filter(member_points::Column::MemberId.is_in(member_ids.iter().cloned()))
        .all(&txn)
        .await?;
    let bindings = member_binding::Entity::find()
        .filter(member_binding::Column::MemberId.is_in(member_ids.iter().cloned()))
        .all(&txn)
        .await?;
    txn.commit().await?;
    let ts = |micros: i64| from_micros(micros).to_rfc3339();
    let data = json!({
        "member": {
            "id": m.id,
            "status": m.status,
            "name": m.name,
            "phone": m.phone,
            "email": m.email,
            "birthday": m.birthday.map(|d| d.to_string()),
            "gender": m.gender,
            "registrationChannel": m.registration_channel,
            "registrationBrandId": m.registration_brand_id,
            "guideCode": m.guide_code,
            "referrerId": m.referrer_id,
            "tier": m.tier,
            "growthValue": m.growth_value,
            "registeredAt": ts(m.registered_at),
        },
        "identities": identities.iter().map(|i| json!({
            "channel": i.channel, "externalId": i.external_id, "brandId": i.brand_id, "linkedAt": ts(i.linked_at),
        })).collect::<Vec<_>>(),
        "tags": tags.iter().map(|t| json!({ "tag": t.tag, "addedAt": ts(t.added_at) })).collect::<Vec<_>>(),
        "consents": consents.iter().map(|c| json!({
            "purpose": c.purpose, "granted": c.granted, "changedAt": ts(c.changed_at),
        })).collect::<Vec<_>>(),
        "touchpoints": touchpoints.iter().map(|t| json!({
            "kind": t.kind, "channel": t.channel, "storeId": t.store_id, "occurredAt": ts(t.occurred_at),
            "attributes": serde_json::from_str::<Value>(&t.attributes).unwrap_or(Value::Null),
        })).collect::<Vec<_>>(),
        "tierChanges": tier_changes.iter().map(|c| json!({
            "from": c.from_tier, "to": c.to_tier, "cause": c.cause, "changedAt": ts(c.changed_at),
        })).collect::<Vec<_>>(),
        "mergedRecords": merges.iter().map(|r| json!({ "mergedId": r.merged_id, "mergedAt": ts(r.merged_at) })).collect::<Vec<_>>(),
        "purchases": purchases.iter().map(|p| json!({
            "orderId": p.order_id, "paidFen": p.paid_fen, "placedAt": ts(p.placed_at), "cancelled": p.cancelled,
        })).collect::<Vec<_>>(),
        "pointsBalances": balances.iter().map(|b| json!({
            "programmeId": b.programme_id, "activeBalance": b.active_balance, "updatedAt": ts(b.updated_at),
        })).collect::<Vec<_>>(),
        "storeBindings": bindings.iter().map(|b| json!({
            "memberId": b.member_id, "storeId": b.store_id, "expiresAt": b.expires_at.map(ts), "changedAt": ts(b.changed_at),
        })).collect::<Vec<_>>(),
    });
    Ok(MemberPart { member_ids, data })
}
