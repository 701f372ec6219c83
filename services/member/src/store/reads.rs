//! Reads: batched lookups for the DataLoaders, lists and timelines.

use std::collections::HashMap;

use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::entities::{identity, member, tag, tier_change, touchpoint};
use crate::domain::MemberStatus;
use crate::domain::identity::{Channel, ExternalId};
use crate::domain::touchpoint::TouchpointKind;
use crate::error::Result;
use kit::paging::{PageRequest, split_page};

/// The members `ids` resolve to, keyed by the id asked for: a merged id maps
/// to its survivor. One SELECT, whatever the number of ids: survivors come
/// in through a subquery on the same table (merges are kept one hop deep).
pub async fn members_by_ids<C: ConnectionTrait>(
    db: &C,
    ids: &[String],
) -> Result<HashMap<String, member::Model>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let survivors = Query::select()
        .column(member::Column::MergedInto)
        .from(member::Entity)
        .and_where(member::Column::Id.is_in(ids.iter().cloned()))
        .and_where(member::Column::MergedInto.is_not_null())
        .to_owned();
    let rows = member::Entity::find()
        .filter(
            Condition::any()
                .add(member::Column::Id.is_in(ids.iter().cloned()))
                .add(member::Column::Id.in_subquery(survivors)),
        )
        .all(db)
        .await?;
    let by_id: HashMap<String, member::Model> =
        rows.into_iter().map(|m| (m.id.clone(), m)).collect();
    Ok(ids
        .iter()
        .filter_map(|id| {
            let row = by_id.get(id)?;
            let resolved = match (&row.merged_into, row.status) {
                (Some(survivor), MemberStatus::Merged) => by_id.get(survivor)?,
                _ => row,
            };
            Some((id.clone(), resolved.clone()))
        })
        .collect())
}

/// The member holding an identity in `environment` and `namespace` (a
/// PARTNER identity's brand, else "": `domain::identity::namespace_of`),
/// the survivor after a merge.
pub async fn member_id_by_identity<C: ConnectionTrait>(
    db: &C,
    channel: Channel,
    external_id: &ExternalId,
    environment: kit::auth::Environment,
    namespace: &str,
) -> Result<Option<String>> {
    Ok(identity::Entity::find()
        .filter(identity::Column::Channel.eq(channel))
        .filter(identity::Column::ExternalId.eq(external_id.as_str()))
        .filter(identity::Column::Environment.eq(environment))
        .filter(identity::Column::Namespace.eq(namespace))
        .one(db)
        .await?
        .map(|i| i.member_id))
}

pub async fn tier_history<C: ConnectionTrait>(
    db: &C,
    member_id: &str,
) -> Result<Vec<tier_change::Model>> {
    Ok(tier_change::Entity::find()
        .filter(tier_change::Column::MemberId.eq(member_id))
        .order_by_desc(tier_change::Column::ChangedAt)
        .order_by_desc(tier_change::Column::Id)
        .all(db)
        .await?)
}

/// Filters of the operators' member list.
#[derive(Debug, Clone, Default)]
pub struct MemberFilter {
    pub tag: Option<String>,
    pub tier: Option<String>,
    pub registration_channel: Option<Channel>,
    /// Inclusive lower bound, microseconds.
    pub registered_from: Option<i64>,
    /// Exclusive upper bound, microseconds.
    pub registered_to: Option<i64>,
    pub status: Option<MemberStatus>,
}

/// A page of members, newest first. The cursor is the last id seen (ids are
/// time-ordered UUIDv7, so id order is registration order).
pub async fn list_members<C: ConnectionTrait>(
    db: &C,
    filter: &MemberFilter,
    page: &PageRequest,
) -> Result<(Vec<member::Model>, bool)> {
    let status = filter.status.unwrap_or(MemberStatus::Active);
    let mut query = member::Entity::find().filter(member::Column::Status.eq(status));
    if let Some(tag_value) = &filter.tag {
        let tagged = Query::select()
            .column(tag::Column::MemberId)
            .from(tag::Entity)
            .and_where(Expr::col(tag::Column::Tag).eq(tag_value.as_str()))
            .to_owned();
        query = query.filter(member::Column::Id.in_subquery(tagged));
    }
    if let Some(tier) = &filter.tier {
        query = query.filter(member::Column::Tier.eq(tier.as_str()));
    }
    if let Some(channel) = filter.registration_channel {
        query = query.filter(member::Column::RegistrationChannel.eq(channel));
    }
    if let Some(from) = filter.registered_from {
        query = query.filter(member::Column::RegisteredAt.gte(from));
    }
    if let Some(to) = filter.registered_to {
        query = query.filter(member::Column::RegisteredAt.lt(to));
    }
    if let Some(after) = &page.after {
        query = query.filter(member::Column::Id.lt(after.as_str()));
    }
    let rows = query
        .order_by_desc(member::Column::Id)
        .limit(page.fetch_limit())
        .all(db)
        .await?;
    Ok(split_page(rows, page))
}

/// Timeline cursor: `<occurredAt micros>:<id>`.
pub fn timeline_cursor(row: &touchpoint::Model) -> String {
    format!("{}:{}", row.occurred_at, row.id)
}

fn parse_timeline_cursor(raw: &str) -> Result<(i64, String)> {
    raw.split_once(':')
        .and_then(|(at, id)| Some((at.parse::<i64>().ok()?, id.to_owned())))
        .ok_or_else(|| crate::error::Error::invalid("after", "after is not a timeline cursor"))
}

/// A page of a member's timeline, most recent first.
pub async fn timeline<C: ConnectionTrait>(
    db: &C,
    member_id: &str,
    kinds: &[TouchpointKind],
    page: &PageRequest,
) -> Result<(Vec<touchpoint::Model>, bool)> {
    let mut query = touchpoint::Entity::find().filter(touchpoint::Column::MemberId.eq(member_id));
    if !kinds.is_empty() {
        query = query.filter(touchpoint::Column::Kind.is_in(kinds.iter().copied()));
    }
    if let Some(after) = &page.after {
        let (at, id) = parse_timeline_cursor(after)?;
        query = query.filter(
            Condition::any()
                .add(touchpoint::Column::OccurredAt.lt(at))
                .add(
                    Condition::all()
                        .add(touchpoint::Column::OccurredAt.eq(at))
                        .add(touchpoint::Column::Id.lt(id)),
                ),
        );
    }
    let rows = query
        .order_by_desc(touchpoint::Column::OccurredAt)
        .order_by_desc(touchpoint::Column::Id)
        .limit(page.fetch_limit())
        .all(db)
        .await?;
    Ok(split_page(rows, page))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeline_cursors_round_trip() {
        let (at, id) = parse_timeline_cursor("1700000000000000:0190-ab").unwrap();
        assert_eq!((at, id.as_str()), (1_700_000_000_000_000, "0190-ab"));
        assert!(parse_timeline_cursor("nonsense").is_err());
    }
}
