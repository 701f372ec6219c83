//! GraphQL types of segments: the definition operators give, the segment
//! with its rules, and its members (listed on demand, paginated).

use std::sync::Arc;

use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::{Context, ID, InputObject, Object};
use chrono::{DateTime, Utc};
use kit::channel::Channel;
use kit::paging::{PageRequest, encode_cursor};
use kit::time::from_micros;
use kit::{ApiResult, Long};

use super::types::Member;
use super::{db, now};
use crate::domain::access::Visibility;
use crate::domain::segment::{RuleInput, SegmentRules};
use crate::error::Result;
use crate::store::entities::segment;
use crate::store::segments::{self, rules_of};

/// What a segment's members have in common: every rule given holds (and
/// any of one rule's values). Give at least one.
#[derive(InputObject)]
pub struct SegmentInput {
    /// 1-120 characters.
    pub name: String,
    /// The member's tier is one of these codes.
    #[graphql(default)]
    pub tiers: Vec<String>,
    /// The member has every one of these tags.
    #[graphql(default)]
    pub tags: Vec<String>,
    /// The member has an identity on one of these channels.
    #[graphql(default)]
    pub channels: Vec<Channel>,
    /// Bought something in the last N days (1-3650).
    pub purchased_within_days: Option<i64>,
    /// Bought nothing in the last N days (1-3650): lapsed.
    pub not_purchased_within_days: Option<i64>,
    /// Paid at least this much, in fen, over `spendWithinDays`.
    pub min_spend_fen: Option<Long>,
    /// The window of `minSpendFen`, 1-3650 days (default 30).
    pub spend_within_days: Option<i64>,
    /// At least `minPoints` ACTIVE points in this programme.
    pub points_programme_id: Option<ID>,
    pub min_points: Option<Long>,
    /// The member is bound to one of these stores (by a guide's code, a
    /// scan or an operator; a lapsed binding does not count).
    #[graphql(default)]
    pub bound_store_ids: Vec<ID>,
}

impl SegmentInput {
    /// (name, rules): BAD_USER_INPUT naming the field at fault.
    pub fn parse(self) -> Result<(String, SegmentRules)> {
        let name = crate::domain::clean_text("name", &self.name, 120)?;
        let min_spend = match (self.min_spend_fen, self.spend_within_days) {
            (Some(fen), days) => Some((fen.get(), days.unwrap_or(30))),
            (None, Some(_)) => {
                return Err(crate::error::Error::invalid(
                    "spendWithinDays",
                    "spendWithinDays goes with minSpendFen",
                ));
            }
            (None, None) => None,
        };
        let min_points = match (self.points_programme_id, self.min_points) {
            (Some(programme), Some(points)) => Some((programme.0, points.get())),
            (None, None) => None,
            _ => {
                return Err(crate::error::Error::invalid(
                    "minPoints",
                    "give pointsProgrammeId and minPoints together",
                ));
            }
        };
        let rules = SegmentRules::parse(RuleInput {
            tiers: self.tiers,
            tags: self.tags,
            channels: self.channels,
            purchased_within_days: self.purchased_within_days,
            not_purchased_within_days: self.not_purchased_within_days,
            min_spend,
            min_points,
            bound_store_ids: self.bound_store_ids.into_iter().map(|id| id.0).collect(),
        })?;
        Ok((name, rules))
    }
}

/// A rule-based group of members, evaluated when asked.
pub struct Segment(pub segment::Model);

impl Segment {
    fn rules(&self) -> ApiResult<SegmentRules> {
        Ok(rules_of(&self.0)?)
    }
}

#[Object]
impl Segment {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn tiers(&self) -> ApiResult<Vec<String>> {
        Ok(self.rules()?.tiers.into_iter().collect())
    }
    async fn tags(&self) -> ApiResult<Vec<String>> {
        Ok(self
            .rules()?
            .tags
            .iter()
            .map(|t| t.as_str().to_owned())
            .collect())
    }
    async fn channels(&self) -> ApiResult<Vec<Channel>> {
        Ok(self.rules()?.channels.into_iter().collect())
    }
    async fn purchased_within_days(&self) -> ApiResult<Option<i64>> {
        Ok(self.rules()?.purchased_within_days)
    }
    async fn not_purchased_within_days(&self) -> ApiResult<Option<i64>> {
        Ok(self.rules()?.not_purchased_within_days)
    }
    async fn min_spend_fen(&self) -> ApiResult<Option<Long>> {
        Ok(self.rules()?.min_spend.map(|s| s.fen.into()))
    }
    async fn spend_within_days(&self) -> ApiResult<Option<i64>> {
        Ok(self.rules()?.min_spend.map(|s| s.days))
    }
    async fn points_programme_id(&self) -> ApiResult<Option<ID>> {
        Ok(self.rules()?.min_points.map(|p| ID(p.programme_id)))
    }
    async fn min_points(&self) -> ApiResult<Option<Long>> {
        Ok(self.rules()?.min_points.map(|p| p.points.into()))
    }
    async fn bound_store_ids(&self) -> ApiResult<Vec<ID>> {
        Ok(self.rules()?.bound_stores.into_iter().map(ID).collect())
    }
    async fn created_at(&self) -> DateTime<Utc> {
        from_micros(self.0.created_at)
    }
    /// Its members now (active, live), by id; evaluated on each call over
    /// indexed facts.
    async fn members(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 1-100 (default 20).")] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<String, Member, EmptyFields, EmptyFields>> {
        let page = PageRequest::parse(first, after)?;
        let (rows, has_next) =
            segments::members_page(db(ctx), &self.rules()?, &page, now(ctx)).await?;
        let mut connection = Connection::new(page.after.is_some(), has_next);
        connection.edges.extend(rows.into_iter().map(|row| {
            Edge::new(
                encode_cursor(&row.id),
                Member {
                    record: Arc::new(row),
                    visibility: Visibility::Personal,
                },
            )
        }));
        Ok(connection)
    }
    /// Whether the member is in it now (a merged id: its survivor).
    async fn includes(&self, ctx: &Context<'_>, member_id: ID) -> ApiResult<bool> {
        let Some(standing) = crate::store::standing(db(ctx), &member_id).await? else {
            return Ok(false);
        };
        Ok(segments::contains(db(ctx), &self.rules()?, &standing.member_id, now(ctx)).await?)
    }
}
