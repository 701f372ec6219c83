//! GraphQL output types. Resolvers here only read; what a caller may see was
//! decided when the `Member` view was built.

use kit::Long;
use std::sync::Arc;

use super::db;
use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::{Context, ID, Json, Object, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};
use kit::paging::{PageRequest, encode_cursor};
use kit::{ApiError, ApiResult};

use crate::domain::MemberStatus;
use crate::domain::access::Visibility;
use crate::domain::consent::ConsentPurpose;
use crate::domain::identity::Channel;
use crate::domain::profile::Gender;
use crate::domain::tier::TierChangeCause;
use crate::domain::touchpoint::TouchpointKind;
use crate::store::{
    self,
    entities::{consent, identity, member, tag, tier_change, touchpoint},
};
use kit::loader::children;
use kit::time::from_micros;

/// A member as one caller sees them.
#[derive(Clone)]
pub struct Member {
    pub record: Arc<member::Model>,
    pub visibility: Visibility,
}

impl Member {
    fn personal(&self) -> ApiResult<()> {
        if self.visibility == Visibility::Personal {
            Ok(())
        } else {
            Err(ApiError::forbidden(
                "personal data of this member is not visible to you",
            ))
        }
    }
}

/// A person known across every channel: one member, many identities.
#[Object]
impl Member {
    async fn id(&self) -> ID {
        ID(self.record.id.clone())
    }

    async fn status(&self) -> MemberStatus {
        self.record.status
    }

    /// LIVE, or SANDBOX for a test member a sandbox key enrolled.
    async fn environment(&self) -> kit::auth::Environment {
        self.record.environment
    }

    /// Code of the member's tier level.
    async fn tier(&self) -> &str {
        &self.record.tier
    }

    async fn registered_at(&self) -> DateTime<Utc> {
        from_micros(self.record.registered_at)
    }

    async fn registration_channel(&self) -> Option<Channel> {
        Some(self.record.registration_channel)
    }

    async fn name(&self) -> ApiResult<Option<&str>> {
        self.personal()?;
        Ok(self.record.name.as_deref())
    }

    /// E.164, e.g. +8613812345678.
    async fn phone(&self) -> ApiResult<Option<&str>> {
        self.personal()?;
        Ok(self.record.phone.as_deref())
    }

    async fn email(&self) -> ApiResult<Option<&str>> {
        self.personal()?;
        Ok(self.record.email.as_deref())
    }

    async fn birthday(&self) -> ApiResult<Option<NaiveDate>> {
        self.personal()?;
        Ok(self.record.birthday)
    }

    async fn gender(&self) -> ApiResult<Option<Gender>> {
        self.personal()?;
        Ok(self.record.gender)
    }

    /// The guide QR code the member registered through, if any.
    async fn guide_code(&self) -> ApiResult<Option<&str>> {
        self.personal()?;
        Ok(self.record.guide_code.as_deref())
    }

    /// The member who referred them, if any.
    async fn referrer_id(&self) -> ApiResult<Option<ID>> {
        self.personal()?;
        Ok(self.record.referrer_id.clone().map(ID))
    }

    /// Brand whose channel the member registered through, if known.
    async fn registration_brand_id(&self) -> ApiResult<Option<&str>> {
        self.personal()?;
        Ok(self.record.registration_brand_id.as_deref())
    }

    /// Growth value: what the tier follows.
    async fn growth_value(&self) -> ApiResult<Option<Long>> {
        self.personal()?;
        Ok(Some(self.record.growth_value.into()))
    }

    async fn identities(&self, ctx: &Context<'_>) -> ApiResult<Option<Vec<Identity>>> {
        self.personal()?;
        let rows = children::<identity::Entity>(ctx, &self.record.id).await?;
        Ok(Some(
            rows.into_iter()
                .map(|i| Identity {
                    channel: i.channel,
                    external_id: i.external_id,
                    brand_id: i.brand_id,
                    linked_at: from_micros(i.linked_at),
                })
                .collect(),
        ))
    }

    async fn tags(&self, ctx: &Context<'_>) -> ApiResult<Option<Vec<String>>> {
        self.personal()?;
        let rows = children::<tag::Entity>(ctx, &self.record.id).await?;
        Ok(Some(rows.into_iter().map(|t| t.tag).collect()))
    }

    /// Every marketing consent purpose, given or not.
    async fn consents(&self, ctx: &Context<'_>) -> ApiResult<Option<Vec<Consent>>> {
        self.personal()?;
        let rows = children::<consent::Entity>(ctx, &self.record.id).await?;
        Ok(Some(
            <ConsentPurpose as sea_orm::Iterable>::iter()
                .map(|purpose| {
                    let row = rows.iter().find(|r| r.purpose == purpose);
                    Consent {
                        purpose,
                        granted: row.is_some_and(|r| r.granted),
                        changed_at: row.map(|r| from_micros(r.changed_at)),
                    }
                })
                .collect(),
        ))
    }

    /// Touchpoints, most recent first.
    async fn timeline(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 1-100 (default 20).")] first: Option<i32>,
        after: Option<String>,
        #[graphql(desc = "Only these kinds.")] kinds: Option<Vec<TouchpointKind>>,
    ) -> ApiResult<Option<Connection<String, Touchpoint, EmptyFields, EmptyFields>>> {
        self.personal()?;
        let page = PageRequest::parse(first, after)?;
        let db = db(ctx);
        let (rows, has_next) =
            store::timeline(db, &self.record.id, &kinds.unwrap_or_default(), &page).await?;
        let mut connection = Connection::new(page.after.is_some(), has_next);
        connection.edges.extend(rows.into_iter().map(|row| {
            Edge::new(
                encode_cursor(&store::timeline_cursor(&row)),
                Touchpoint::from(row),
            )
        }));
        Ok(Some(connection))
    }

    /// Tier changes, most recent first.
    async fn tier_history(&self, ctx: &Context<'_>) -> ApiResult<Option<Vec<TierChange>>> {
        self.personal()?;
        let rows = store::tier_history(db(ctx), &self.record.id).await?;
        Ok(Some(rows.into_iter().map(TierChange::from).collect()))
    }
}

/// An account of the member on one channel.
#[derive(SimpleObject, Clone)]
pub struct Identity {
    pub channel: Channel,
    pub external_id: String,
    pub brand_id: Option<String>,
    pub linked_at: DateTime<Utc>,
}

#[derive(SimpleObject, Clone)]
pub struct Consent {
    pub purpose: ConsentPurpose,
    pub granted: bool,
    /// When it was last given or withdrawn; null if never asked.
    pub changed_at: Option<DateTime<Utc>>,
}

#[derive(SimpleObject, Clone)]
pub struct Touchpoint {
    pub id: ID,
    pub kind: Option<TouchpointKind>,
    pub channel: Option<Channel>,
    pub store_id: Option<String>,
    pub occurred_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    pub attributes: Json<serde_json::Value>,
}

impl From<touchpoint::Model> for Touchpoint {
    fn from(row: touchpoint::Model) -> Self {
        Self {
            id: ID(row.id),
            kind: Some(row.kind),
            channel: Some(row.channel),
            store_id: row.store_id,
            occurred_at: from_micros(row.occurred_at),
            recorded_at: from_micros(row.recorded_at),
            attributes: Json(serde_json::from_str(&row.attributes).unwrap_or_default()),
        }
    }
}

#[derive(SimpleObject, Clone)]
pub struct TierChange {
    pub from_tier: Option<String>,
    pub to_tier: String,
    pub cause: Option<TierChangeCause>,
    pub reason: Option<String>,
    pub changed_at: DateTime<Utc>,
}

impl From<tier_change::Model> for TierChange {
    fn from(row: tier_change::Model) -> Self {
        Self {
            from_tier: row.from_tier,
            to_tier: row.to_tier,
            cause: Some(row.cause),
            reason: row.reason,
            changed_at: from_micros(row.changed_at),
        }
    }
}

#[derive(SimpleObject, Clone)]
pub struct TierLevel {
    pub code: String,
    pub name: String,
    /// Growth value from which the level applies.
    pub threshold: Long,
}

impl From<&crate::domain::tier::TierLevel> for TierLevel {
    fn from(level: &crate::domain::tier::TierLevel) -> Self {
        Self {
            code: level.code.clone(),
            name: level.name.clone(),
            threshold: level.threshold.into(),
        }
    }
}

#[derive(SimpleObject)]
pub struct RegisterMemberPayload {
    pub member: Member,
    pub outcome: store::RegistrationOutcome,
}

#[derive(SimpleObject)]
pub struct LinkIdentityPayload {
    pub member: Member,
    pub outcome: store::LinkOutcome,
}
