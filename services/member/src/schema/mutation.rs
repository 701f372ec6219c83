use async_graphql::{Context, ID, Json, Object};
use kit::{ApiResult, Caller};

use super::inputs::{
    IdentityInput, ProfileInput, RegisterMemberInput, TierLevelInput, TouchpointInput, parse_reason,
};
use super::segments::{Segment, SegmentInput};
use super::types::{LinkIdentityPayload, Member, RegisterMemberPayload, TierLevel, Touchpoint};
use super::{authorize, caller, db, now, view_after_change};
use crate::domain::access::{self, identity_brand};
use crate::domain::consent::ConsentPurpose;
use crate::domain::environment;
use crate::domain::identity::{Channel, ExternalId};
use crate::domain::merge::MergeRequest;
use crate::domain::tag::parse_tags;
use crate::domain::tier::{TierCode, parse_level};
use crate::error::Error;
use crate::store::{self, Actor};

pub struct Mutation;

/// Largest growth change in one call.
const MAX_GROWTH_DELTA: i64 = 1_000_000_000;

#[Object]
impl Mutation {
    /// Operators: defines a segment (a retry with the same
    /// `idempotencyKey` and input answers the same one).
    async fn create_segment(
        &self,
        ctx: &Context<'_>,
        input: SegmentInput,
        idempotency_key: String,
    ) -> ApiResult<Segment> {
        let caller = caller(ctx);
        caller.require_operator()?;
        let key = kit::idempotency::IdempotencyKey::parse(caller, &idempotency_key)?;
        let (name, rules) = input.parse()?;
        Ok(Segment(
            store::segments::create(db(ctx), &name, &rules, &key, &Actor::of(caller), now(ctx))
                .await?,
        ))
    }

    /// Registers a member from a first channel identity. Anyone may call it
    /// (the channel's sign-up screen); the channel vouches for the phone
    /// number it passes (verified by SMS code). The same identity again
    /// returns the same member; a phone already held links to that member.
    async fn register_member(
        &self,
        ctx: &Context<'_>,
        input: RegisterMemberInput,
    ) -> ApiResult<RegisterMemberPayload> {
        let caller = caller(ctx);
        if let Caller::Member { .. } = caller {
            return Err(Error::forbidden("you are already a member: use linkIdentity").into());
        }
        let mut registration = input.parse(now(ctx))?;
        registration.environment = caller.environment();
        environment::check_contact_details(
            registration.environment,
            registration.phone.is_some(),
            registration.email.is_some(),
        )?;
        environment::check_guide(registration.environment, registration.guide_code.is_some())?;
        registration.identity.brand_id = identity_brand(
            caller,
            registration.identity.channel,
            registration.identity.brand_id.take(),
        )?;
        environment::check_identity_brand(
            registration.environment,
            registration.identity.brand_id.as_ref().map(|b| b.as_str()),
        )?;
        let (record, outcome) =
            store::register(db(ctx), &registration, &Actor::of(caller), now(ctx)).await?;
        Ok(RegisterMemberPayload {
            member: view_after_change(ctx, record).await?,
            outcome,
        })
    }

    /// Changes profile fields of a member (the member or an operator).
    async fn update_profile(
        &self,
        ctx: &Context<'_>,
        member_id: ID,
        input: ProfileInput,
    ) -> ApiResult<Member> {
        let patch = input.parse(now(ctx))?;
        let record = authorize(ctx, &member_id, access::require_owner_or_operator).await?;
        let updated = store::update_profile(db(ctx), &record.id, &patch, now(ctx)).await?;
        Ok(view_after_change(ctx, updated).await?)
    }

    /// Links another channel identity to a member.
    async fn link_identity(
        &self,
        ctx: &Context<'_>,
        member_id: ID,
        identity: IdentityInput,
    ) -> ApiResult<LinkIdentityPayload> {
        let mut identity = identity.parse()?;
        let record = authorize(ctx, &member_id, access::require_engagement).await?;
        identity.brand_id =
            identity_brand(caller(ctx), identity.channel, identity.brand_id.take())?;
        environment::check_identity_brand(
            record.environment,
            identity.brand_id.as_ref().map(|b| b.as_str()),
        )?;
        let (updated, outcome) =
            store::link_identity(db(ctx), &record.id, &identity, now(ctx)).await?;
        Ok(LinkIdentityPayload {
            member: view_after_change(ctx, updated).await?,
            outcome,
        })
    }

    /// Removes an identity. The last one cannot be removed (CONFLICT).
    async fn unlink_identity(
        &self,
        ctx: &Context<'_>,
        member_id: ID,
        channel: Channel,
        external_id: String,
    ) -> ApiResult<Member> {
        let external_id = ExternalId::parse("externalId", &external_id)?;
        let record = authorize(ctx, &member_id, access::require_owner_or_operator).await?;
        let updated = store::unlink_identity(db(ctx), &record.id, channel, &external_id).await?;
        Ok(view_after_change(ctx, updated).await?)
    }

    /// Operators: merges `mergedId` into `survivorId`. Identities, tags and
    /// touchpoints move; the higher tier is kept; `mergedId` resolves to the
    /// survivor from now on; MemberMerged is published.
    async fn merge_members(
        &self,
        ctx: &Context<'_>,
        survivor_id: ID,
        merged_id: ID,
        reason: String,
    ) -> ApiResult<Member> {
        caller(ctx).require_operator()?;
        let request = MergeRequest::parse(&survivor_id, &merged_id, &reason)?;
        let survivor = store::merge(db(ctx), &request, &Actor::of(caller(ctx)), now(ctx)).await?;
        Ok(view_after_change(ctx, survivor).await?)
    }

    /// Staff of the member's brand or operators: adds tags.
    async fn add_tags(
        &self,
        ctx: &Context<'_>,
        member_id: ID,
        tags: Vec<String>,
    ) -> ApiResult<Member> {
        let tags = parse_tags(&tags)?;
        let record = authorize(ctx, &member_id, access::require_tagger).await?;
        let updated = store::add_tags(
            db(ctx),
            &record.id,
            &tags,
            &Actor::of(caller(ctx)),
            now(ctx),
        )
        .await?;
        Ok(view_after_change(ctx, updated).await?)
    }

    async fn remove_tags(
        &self,
        ctx: &Context<'_>,
        member_id: ID,
        tags: Vec<String>,
    ) -> ApiResult<Member> {
        let tags = parse_tags(&tags)?;
        let record = authorize(ctx, &member_id, access::require_tagger).await?;
        let updated = store::remove_tags(db(ctx), &record.id, &tags).await?;
        Ok(view_after_change(ctx, updated).await?)
    }

    /// Operators: suspends a member at once: no service acts for them (no
    /// orders, points or profile changes, whoever asks) until reinstated.
    async fn suspend_member(&self, ctx: &Context<'_>, member_id: ID) -> ApiResult<Member> {
        caller(ctx).require_operator()?;
        let updated = store::suspend(db(ctx), &member_id, now(ctx)).await?;
        Ok(view_after_change(ctx, updated).await?)
    }

    /// Operators: lets a suspended member act again.
    async fn reinstate_member(&self, ctx: &Context<'_>, member_id: ID) -> ApiResult<Member> {
        caller(ctx).require_operator()?;
        let updated = store::reinstate(db(ctx), &member_id, now(ctx)).await?;
        Ok(view_after_change(ctx, updated).await?)
    }

    /// Operators: sets a member's tier, with a reason.
    async fn set_member_tier(
        &self,
        ctx: &Context<'_>,
        member_id: ID,
        tier: String,
        reason: String,
    ) -> ApiResult<Member> {
        caller(ctx).require_operator()?;
        let tier = TierCode::parse("tier", &tier)?;
        let reason = parse_reason(&reason)?;
        let updated = store::set_tier(
            db(ctx),
            &member_id,
            tier.as_str(),
            &reason,
            &Actor::of(caller(ctx)),
            now(ctx),
        )
        .await?;
        Ok(view_after_change(ctx, updated).await?)
    }

    /// Operators: adds to (or takes from) a member's growth value. Crossing a
    /// higher level's threshold promotes; growth never demotes.
    async fn adjust_growth_value(
        &self,
        ctx: &Context<'_>,
        member_id: ID,
        delta: i64,
        reason: String,
    ) -> ApiResult<Member> {
        caller(ctx).require_operator()?;
        if delta == 0 || delta.unsigned_abs() > MAX_GROWTH_DELTA.unsigned_abs() {
            return Err(Error::invalid(
                "delta",
                format!("delta must be non-zero and at most {MAX_GROWTH_DELTA} either way"),
            )
            .into());
        }
        let reason = parse_reason(&reason)?;
        let updated = store::adjust_growth(
            db(ctx),
            &member_id,
            delta,
            &reason,
            &Actor::of(caller(ctx)),
            now(ctx),
        )
        .await?;
        Ok(view_after_change(ctx, updated).await?)
    }

    /// Operators: creates a tier level or changes its name or threshold.
    async fn upsert_tier_level(
        &self,
        ctx: &Context<'_>,
        input: TierLevelInput,
    ) -> ApiResult<Vec<TierLevel>> {
        caller(ctx).require_operator()?;
        let level = parse_level(&input.code, &input.name, input.threshold.get())?;
        let ladder = store::upsert_tier_level(db(ctx), &level).await?;
        Ok(ladder.levels().iter().map(TierLevel::from).collect())
    }

    /// Records a touchpoint on a member's timeline (the member, staff of the
    /// member's brand, or an operator).
    async fn record_touchpoint(
        &self,
        ctx: &Context<'_>,
        input: TouchpointInput,
    ) -> ApiResult<Touchpoint> {
        let mut new = input.parse(now(ctx), caller(ctx))?;
        let record = authorize(ctx, &new.member_id, access::require_engagement).await?;
        new.member_id = record.id;
        let row =
            store::record_touchpoint(db(ctx), &new, &Actor::of(caller(ctx)), now(ctx)).await?;
        Ok(Touchpoint::from(row))
    }

    /// Gives or withdraws a marketing consent (the member or an operator).
    async fn set_consent(
        &self,
        ctx: &Context<'_>,
        member_id: ID,
        purpose: ConsentPurpose,
        granted: bool,
    ) -> ApiResult<Member> {
        let record = authorize(ctx, &member_id, access::require_owner_or_operator).await?;
        let updated = store::set_consent(db(ctx), &record.id, purpose, granted, now(ctx)).await?;
        Ok(view_after_change(ctx, updated).await?)
    }

    /// Everything the platform holds about the signed-in member, as one JSON
    /// document: `{ exportedAt, memberId, memberIds, services: { member,
    /// store, product, alliance } }`, each service giving its own part (see
    /// the README's "Your data"). SUBGRAPH_UNAVAILABLE, and no document,
    /// when a service does not give its part.
    async fn export_my_data(&self, ctx: &Context<'_>) -> ApiResult<Json<serde_json::Value>> {
        let Caller::Member { member_id } = caller(ctx).require_authenticated()? else {
            return Err(Error::forbidden("exportMyData is for members").into());
        };
        let own = store::export(db(ctx), member_id).await?;
        let holders = ctx.data_unchecked::<kit::members::MemberDataHolders>();
        let mut services = holders.gather(&own.member_ids).await?;
        services.insert("member".to_owned(), own.data);
        Ok(Json(serde_json::json!({
            "exportedAt": now(ctx).to_rfc3339(),
            "memberId": own.member_ids[0],
            "memberIds": own.member_ids,
            "services": services,
        })))
    }

    /// Erases a member's personal data (the member or an operator). The id
    /// and non-personal history stay; MemberErased is published.
    async fn erase_member(&self, ctx: &Context<'_>, member_id: ID) -> ApiResult<Member> {
        let record = authorize(ctx, &member_id, access::require_owner_or_operator).await?;
        let erased = store::erase(db(ctx), &record.id, now(ctx)).await?;
        Ok(view_after_change(ctx, erased).await?)
    }
}
