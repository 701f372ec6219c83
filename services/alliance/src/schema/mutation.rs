use async_graphql::{Context, ID, InputObject, Object};
use chrono::{DateTime, Utc};
use kit::Long;
use kit::auth::{Actor, Environment, Scope};
use kit::input::ForeignId;
use kit::{ApiResult, Caller};

use super::access::{act_for_brand, act_for_programme, operator, verified};
use super::campaigns::{Campaign, CampaignInput};
use super::rewards::{CouponDrop, Reward, RewardInput, RewardRedemption};
use super::statements::{ClosedClearingStatement, Settlement};
use super::types::{
    Brand, Exchange, ExchangeQuote, ExchangeTerms, IssuedPartnerKey, PartnerKey, PartnerToken,
    PointsTransaction, Programme, RotatedPartnerKey,
};
use super::webhooks::{RegisteredWebhookEndpoint, WebhookDelivery, WebhookEndpoint};
use super::{db, now, settings};
use crate::domain::exchange::Period;
use crate::domain::returns::ReturnPolicy;
use crate::domain::webhooks::{EventTypes, WebhookEventType, parse_endpoint_url};
use crate::error::{Error, Result};
use crate::store::IdempotencyKey;
use crate::store::entities::{programme, quote};
use crate::store::exchange::{self as exchanges, TermsDraft, TermsSide};
use crate::store::ledger::{self, PartnerTransaction};
use crate::store::programmes::{self, KeyGrant, ProgrammeDraft, ProgrammeSettings};
use crate::store::rewards::{self, RedemptionRequest, RewardItem};
use crate::store::{campaigns, statements, webhooks};
use sea_orm::EntityTrait;

pub struct Mutation;

/// A programme's rules.
#[derive(InputObject)]
pub struct ProgrammeInput {
    /// What the programme calls its points, e.g. "Beans".
    pub points_name: String,
    /// IANA zone, e.g. Asia/Shanghai.
    pub time_zone: String,
    /// Cash value of one point in fen, an exact decimal such as "0.5".
    pub cash_value_fen: String,
    /// Points per yuan paid, an exact decimal such as "1"; rounds down.
    pub points_per_yuan: String,
    /// Days earned points stay PENDING, 0-365.
    pub pending_days: i32,
    /// Months after activation until the end-of-month expiry, 1-120; omit
    /// for points that never expire.
    pub expiry_months: Option<i32>,
    pub return_policy: ReturnPolicy,
    pub can_send: bool,
    pub can_receive: bool,
}

impl ProgrammeInput {
    fn parse(&self) -> Result<ProgrammeSettings> {
        ProgrammeSettings::parse(&ProgrammeDraft {
            points_name: &self.points_name,
            time_zone: &self.time_zone,
            cash_value_fen: &self.cash_value_fen,
            points_per_yuan: &self.points_per_yuan,
            pending_days: i64::from(self.pending_days),
            expiry_months: self.expiry_months.map(i64::from),
            return_policy: self.return_policy,
            can_send: self.can_send,
            can_receive: self.can_receive,
        })
    }
}

/// An earn or redeem reported by a partner.
#[derive(InputObject)]
pub struct PointsTransactionInput {
    pub member_id: ID,
    pub programme_id: ID,
    /// At least 1.
    pub points: Long,
    /// The partner system that reports it, e.g. "pos" or "app".
    pub source_system: String,
    /// That system's id of the transaction: recorded once per programme.
    pub external_transaction_id: String,
    pub reason: String,
    /// Retrying with the same key and input returns the first result.
    pub idempotency_key: String,
}

impl PointsTransactionInput {
    fn parse(&self) -> Result<PartnerTransaction> {
        if !(1..=1_000_000_000).contains(&self.points.get()) {
            return Err(Error::invalid(
                "points",
                "points must be between 1 and 1000000000",
            ));
        }
        let source = self.source_system.trim();
        if !kit::input::is_token(source, 1..=64) {
            return Err(Error::invalid(
                "sourceSystem",
                "sourceSystem must be 1-64 letters, digits, '-' or '_'",
            ));
        }
        let external = self.external_transaction_id.trim();
        if !kit::input::is_token(external, 1..=128) {
            return Err(Error::invalid(
                "externalTransactionId",
                "externalTransactionId must be 1-128 letters, digits, '-' or '_'",
            ));
        }
        Ok(PartnerTransaction {
            requested_member_id: None,
            member_id: ForeignId::parse("memberId", &self.member_id)?.into_string(),
            programme_id: ForeignId::parse("programmeId", &self.programme_id)?.into_string(),
            points: self.points.get(),
            source_system: source.to_owned(),
            external_txn_id: external.to_owned(),
            reason: kit::input::clean_text("reason", &self.reason, 256)?,
        })
    }
}

/// Exchange terms for one direction of a pair.
#[derive(InputObject)]
pub struct ExchangeTermsInput {
    pub from_programme_id: ID,
    pub to_programme_id: ID,
    /// Target points per source point, an exact decimal such as "0.8".
    pub rate: String,
    /// 0-5000.
    pub fee_basis_points: i32,
    pub min_block: Long,
    pub daily_limit: Long,
    pub yearly_limit: Long,
}

async fn partner_transaction(
    ctx: &Context<'_>,
    input: &PointsTransactionInput,
    scope: Scope,
) -> Result<(PartnerTransaction, IdempotencyKey, Actor)> {
    let caller = verified(ctx).await?;
    let mut tx = input.parse()?;
    let programme = programmes::programme_by_id(db(ctx), &tx.programme_id).await?;
    act_for_programme(ctx, &programme, scope).await?;
    // Only for a member who exists and may act, now; a merged id is its
    // survivor.
    // ... in the programme's environment: a test member never earns live
    // points, nor a live member sandbox ones.
    let acting = kit::subgraph::acting_member_in(ctx, &tx.member_id, programme.environment).await?;
    tx.act_for(acting);
    let key = IdempotencyKey::parse(caller, &input.idempotency_key)?;
    Ok((tx, key, Actor::of(caller)))
}

/// The member an exchange is for, if they may act now in `environment`
/// (a merged id acts as its survivor): the signed-in member, or in the
/// sandbox, the test member `member_id` a sandbox key with the redeem
/// scope names (test members cannot sign in).
async fn member_of(
    ctx: &Context<'_>,
    caller: &Caller,
    member_id: Option<&ID>,
    environment: Environment,
) -> ApiResult<String> {
    match (caller, member_id) {
        (Caller::Member { member_id: own }, None) => {
            kit::subgraph::acting_member_in(ctx, own, environment).await
        }
        (Caller::Member { member_id: own }, Some(named)) if *own == named.0 => {
            kit::subgraph::acting_member_in(ctx, own, environment).await
        }
        (
            Caller::Partner {
                environment: Environment::Sandbox,
                ..
            },
            Some(named),
        ) => {
            caller.require_scope(Scope::Redeem)?;
            let named = ForeignId::parse("memberId", named)?;
            kit::subgraph::acting_member_in(ctx, named.as_str(), Environment::Sandbox).await
        }
        _ => Err(Error::forbidden(
            "members exchange their own points (a sandbox key: for the test member it names)",
        )
        .into()),
    }
}

/// The environment of the quote `quote_id`'s programmes (the caller's,
/// for a quote that does not exist: confirming it is NOT_FOUND anyway). A
/// sandbox key confirms only quotes out of its own programme (FORBIDDEN).
async fn quote_environment(
    ctx: &Context<'_>,
    caller: &Caller,
    quote_id: &str,
) -> Result<Environment> {
    let Some(q) = quote::Entity::find_by_id(quote_id.to_owned())
        .one(db(ctx))
        .await?
    else {
        return Ok(caller.environment());
    };
    let from = programmes::programme_by_id(db(ctx), &q.from_programme_id).await?;
    own_programme(caller, &from)?;
    Ok(from.environment)
}

/// A partner exchanges out of its own programme only.
fn own_programme(caller: &Caller, from: &programme::Model) -> Result<()> {
    match caller {
        Caller::Partner { brand_id, .. } if *brand_id != from.brand_id => {
            Err(Error::forbidden(format!(
                "a partner key exchanges out of its own programme only; this key acts for {brand_id}"
            )))
        }
        _ => Ok(()),
    }
}

#[Object]
impl Mutation {
    /// Operators: brings a brand (by the id the other services use) and its
    /// programme into the alliance.
    async fn onboard_brand(
        &self,
        ctx: &Context<'_>,
        brand_id: ID,
        name: String,
        programme: ProgrammeInput,
    ) -> ApiResult<Brand> {
        operator(ctx).await?;
        let actor = Actor::of(verified(ctx).await?);
        let brand_id = ForeignId::parse("brandId", &brand_id)?;
        let settings = programme.parse()?;
        let (b, _) =
            programmes::onboard_brand(db(ctx), &brand_id, &name, &settings, &actor, now(ctx))
                .await?;
        Ok(Brand::of(b.id))
    }

    /// Operators: replaces a programme's rules (points already earned keep
    /// their dates).
    async fn update_programme(
        &self,
        ctx: &Context<'_>,
        programme_id: ID,
        programme: ProgrammeInput,
    ) -> ApiResult<Programme> {
        operator(ctx).await?;
        let actor = Actor::of(verified(ctx).await?);
        let settings = programme.parse()?;
        Ok(Programme(
            programmes::update_programme(db(ctx), &programme_id, &settings, &actor, now(ctx))
                .await?,
        ))
    }

    /// Operators: issues a LIVE partner API key for a live brand, with the
    /// scopes its tokens carry and an optional expiry (a sandbox's keys
    /// come from `issueSandboxKey`). The key is in this answer only; it is
    /// stored hashed.
    async fn issue_partner_key(
        &self,
        ctx: &Context<'_>,
        brand_id: ID,
        label: String,
        #[graphql(desc = "At least one.")] scopes: Vec<Scope>,
        #[graphql(desc = "When the key stops working; null: never.")] expires_at: Option<
            DateTime<Utc>,
        >,
    ) -> ApiResult<IssuedPartnerKey> {
        operator(ctx).await?;
        let actor = Actor::of(verified(ctx).await?);
        let grant = KeyGrant::parse(&label, scopes.into_iter().collect(), expires_at, now(ctx))?;
        let issued = programmes::issue_key(db(ctx), &brand_id, &grant, &actor, now(ctx)).await?;
        Ok(IssuedPartnerKey {
            api_key: issued.key,
            key: PartnerKey(issued.record),
        })
    }

    /// A brand's partner (any key, live or sandbox) or an operator: issues
    /// a SANDBOX key for the brand (named by its live id or its sandbox's;
    /// any scopes). It acts on the brand's sandbox, `<brandId>-sandbox`,
    /// opened on first use with a copy of the programme: test members,
    /// accounts, terms, statements and webhooks that never touch live
    /// data. The key is in this answer only.
    async fn issue_sandbox_key(
        &self,
        ctx: &Context<'_>,
        brand_id: ID,
        label: String,
        #[graphql(desc = "At least one.")] scopes: Vec<Scope>,
        #[graphql(desc = "When the key stops working; null: never.")] expires_at: Option<
            DateTime<Utc>,
        >,
    ) -> ApiResult<IssuedPartnerKey> {
        let caller = verified(ctx).await?;
        let brand_id = ForeignId::parse("brandId", &brand_id)?;
        // The live brand or its sandbox: either names the same sandbox.
        let live = crate::domain::sandbox::live_brand_id_of(brand_id.as_str());
        match caller {
            Caller::Operator { .. } => {}
            Caller::Partner { brand_id: own, .. }
                if *own == live
                    || crate::domain::sandbox::sandbox_brand_id(live)
                        .is_ok_and(|sandbox| *own == sandbox) => {}
            _ => {
                return Err(Error::forbidden(
                    "sandbox keys are issued to the brand's own partner or by an operator",
                )
                .into());
            }
        }
        let grant = KeyGrant::parse(&label, scopes.into_iter().collect(), expires_at, now(ctx))?;
        let issued =
            programmes::issue_sandbox_key(db(ctx), live, &grant, &Actor::of(caller), now(ctx))
                .await?;
        Ok(IssuedPartnerKey {
            api_key: issued.key,
            key: PartnerKey(issued.record),
        })
    }

    /// Operators: rotates a partner key. The new key has the old one's
    /// label and scopes; the old one keeps working for `overlapHours`
    /// (0-720; null: 24) and then expires, so the partner can switch
    /// without a gap. CONFLICT for a key already rotated, revoked or
    /// expired.
    async fn rotate_partner_key(
        &self,
        ctx: &Context<'_>,
        key_id: ID,
        #[graphql(desc = "Hours both keys work, 0-720; null: 24.")] overlap_hours: Option<i32>,
    ) -> ApiResult<RotatedPartnerKey> {
        operator(ctx).await?;
        let actor = Actor::of(verified(ctx).await?);
        let overlap = overlap_hours.map_or(programmes::DEFAULT_OVERLAP_HOURS, i64::from);
        let (issued, previous) =
            programmes::rotate_key(db(ctx), &key_id, overlap, &actor, now(ctx)).await?;
        Ok(RotatedPartnerKey {
            issued: IssuedPartnerKey {
                api_key: issued.key,
                key: PartnerKey(issued.record),
            },
            previous: PartnerKey(previous),
        })
    }

    /// Operators: revokes a partner key. Its tokens stop working here at
    /// once, and at every other service as soon as it has read this
    /// service's event feed (one poll). Revoking it again changes nothing.
    async fn revoke_partner_key(&self, ctx: &Context<'_>, key_id: ID) -> ApiResult<PartnerKey> {
        operator(ctx).await?;
        let actor = Actor::of(verified(ctx).await?);
        Ok(PartnerKey(
            programmes::revoke_key(db(ctx), &key_id, &actor, now(ctx)).await?,
        ))
    }

    /// Operators: closes a month (YYYY-MM) for every brand, each in its
    /// programme's zone: a numbered, immutable statement per brand of its
    /// exchanges not yet on one, and a `STATEMENT_CLOSED` webhook. Closing
    /// it again answers the same statements. BAD_USER_INPUT if the month
    /// has not ended for some brand; CONFLICT if a later month is closed.
    async fn close_clearing_period(
        &self,
        ctx: &Context<'_>,
        period: String,
    ) -> ApiResult<Vec<ClosedClearingStatement>> {
        operator(ctx).await?;
        let actor = Actor::of(verified(ctx).await?);
        let period = Period::parse(&period)?;
        Ok(statements::close_period(db(ctx), period, &actor, now(ctx))
            .await?
            .into_iter()
            .map(ClosedClearingStatement)
            .collect())
    }

    /// Operators: records a payment against a closed statement, at most
    /// what is outstanding, exactly once per `idempotencyKey`.
    async fn record_settlement(
        &self,
        ctx: &Context<'_>,
        statement_id: ID,
        #[graphql(desc = "Fen paid, above zero.")] amount_fen: Long,
        #[graphql(desc = "YYYY-MM-DD.")] paid_on: String,
        #[graphql(desc = "The payment's reference, 1-128 characters.")] reference: String,
        idempotency_key: String,
    ) -> ApiResult<Settlement> {
        operator(ctx).await?;
        let caller = verified(ctx).await?;
        let key = IdempotencyKey::parse(caller, &idempotency_key)?;
        let paid_on = chrono::NaiveDate::parse_from_str(paid_on.trim(), "%Y-%m-%d")
            .map_err(|_| Error::invalid("paidOn", "paidOn must be a date as YYYY-MM-DD"))?;
        let draft = statements::SettlementDraft {
            statement_id: &statement_id,
            amount_fen: amount_fen.get(),
            paid_on,
            reference: &reference,
        };
        Ok(Settlement(
            statements::record_settlement(db(ctx), &draft, &key, &Actor::of(caller), now(ctx))
                .await?,
        ))
    }

    /// The programme's partner (scope MANAGE_REWARDS) or an operator: runs
    /// an earning campaign. Orders placed in its window earn by it; each
    /// EARN entry records the points it gave (`LedgerEntry.awards`). A
    /// retry with the same `idempotencyKey` and input answers the same
    /// campaign. BAD_USER_INPUT for a window already over.
    async fn create_campaign(
        &self,
        ctx: &Context<'_>,
        input: CampaignInput,
        idempotency_key: String,
    ) -> ApiResult<Campaign> {
        let caller = verified(ctx).await?;
        let p = programmes::programme_by_id(db(ctx), &input.programme_id).await?;
        act_for_programme(ctx, &p, Scope::ManageRewards).await?;
        let key = IdempotencyKey::parse(caller, &idempotency_key)?;
        let zone = programmes::rules(&p)?.time_zone;
        let draft = input.parse(p.id.clone(), zone)?;
        Ok(Campaign(
            campaigns::create(db(ctx), &draft, &key, &Actor::of(caller), now(ctx)).await?,
        ))
    }

    /// The programme's partner (scope MANAGE_REWARDS) or an operator: adds
    /// a reward to the programme's catalogue. A retry with the same
    /// `idempotencyKey` and input answers the same reward.
    async fn create_reward(
        &self,
        ctx: &Context<'_>,
        input: RewardInput,
        idempotency_key: String,
    ) -> ApiResult<Reward> {
        let caller = verified(ctx).await?;
        let p = programmes::programme_by_id(db(ctx), &input.programme_id).await?;
        act_for_programme(ctx, &p, Scope::ManageRewards).await?;
        let key = IdempotencyKey::parse(caller, &idempotency_key)?;
        let zone = programmes::rules(&p)?.time_zone;
        let draft = input.parse(p.id.clone(), zone)?;
        // A brand's coupons take money off its own goods; only an operator
        // makes one that applies to other brands'.
        if let (Caller::Partner { .. }, RewardItem::Coupon(terms)) = (caller, &draft.item)
            && terms.brand_ids.iter().any(|b| *b != p.brand_id)
        {
            return Err(Error::forbidden(format!(
                "{}'s coupons apply to {}'s goods only; an operator may name other brands",
                p.brand_id, p.brand_id
            ))
            .into());
        }
        Ok(Reward(
            rewards::create(db(ctx), &draft, &key, &Actor::of(caller), now(ctx)).await?,
        ))
    }

    /// Gives a COUPON reward's coupon, without points, to every member of
    /// a segment (the member service's): one coupon per member, granted a
    /// page at a time in the background (`status` RUNNING, then DONE), once
    /// per `idempotencyKey`. The programme's partner (MANAGE_REWARDS) or an
    /// operator. NOT_FOUND for an unknown reward; BAD_USER_INPUT
    /// (`rewardId`) for a GIFT. The reward's stock, days and limits are for
    /// redemptions and do not apply.
    async fn drop_coupons(
        &self,
        ctx: &Context<'_>,
        reward_id: ID,
        segment_id: ID,
        idempotency_key: String,
    ) -> ApiResult<CouponDrop> {
        let caller = verified(ctx).await?;
        let reward = rewards::reward_by_id(db(ctx), &reward_id).await?;
        let p = programmes::programme_by_id(db(ctx), &reward.programme_id).await?;
        act_for_programme(ctx, &p, Scope::ManageRewards).await?;
        let key = IdempotencyKey::parse(caller, &idempotency_key)?;
        let segment = ForeignId::parse("segmentId", &segment_id)?;
        Ok(CouponDrop(
            crate::store::drops::create(
                db(ctx),
                &reward.id,
                segment.as_str(),
                &key,
                &Actor::of(caller),
                now(ctx),
            )
            .await?,
        ))
    }

    /// Redeems a reward: debits its price from the member's points
    /// (soonest-expiring first) and issues what it gives, exactly once per
    /// `idempotencyKey`. Members redeem for themselves; the programme's
    /// partner (scope REDEEM) and operators name `memberId`.
    /// INSUFFICIENT_POINTS, OUT_OF_STOCK (its last unit is gone),
    /// LIMIT_EXCEEDED (the member's limit), FORBIDDEN (a tier it is not
    /// for), CONFLICT (outside its days); nothing is taken then.
    async fn redeem_reward(
        &self,
        ctx: &Context<'_>,
        reward_id: ID,
        member_id: Option<ID>,
        idempotency_key: String,
    ) -> ApiResult<RewardRedemption> {
        let caller = verified(ctx).await?;
        let found = rewards::reward_by_id(db(ctx), &reward_id).await?;
        let p = programmes::programme_by_id(db(ctx), &found.programme_id).await?;
        let named = match (caller, &member_id) {
            (Caller::Member { member_id: own }, None) => own.clone(),
            (Caller::Member { member_id: own }, Some(named)) if *own == named.0 => own.clone(),
            (Caller::Member { .. }, Some(_)) => {
                return Err(Error::forbidden("members redeem their own points").into());
            }
            (_, Some(named)) => {
                act_for_programme(ctx, &p, Scope::Redeem).await?;
                ForeignId::parse("memberId", named)?.into_string()
            }
            (_, None) => {
                return Err(Error::invalid("memberId", "name the member to redeem for").into());
            }
        };
        let acting = kit::subgraph::acting_in(ctx, &named, p.environment).await?;
        let key = IdempotencyKey::parse(caller, &idempotency_key)?;
        // Asked before the transaction: the member service evaluates it.
        let in_segment = match &found.eligible_segment_id {
            Some(segment) => kit::subgraph::in_segment(ctx, &acting.id, segment).await?,
            None => false,
        };
        let request = RedemptionRequest {
            reward_id: found.id,
            member_id: acting.id,
            tier: acting.tier,
            in_segment,
        };
        Ok(RewardRedemption(
            rewards::redeem(db(ctx), &request, &key, &Actor::of(caller), now(ctx)).await?,
        ))
    }

    /// The programme's partner (scope MANAGE_REWARDS) or an operator: ends
    /// a campaign now (orders placed from now on no longer earn by it).
    /// Ending one already over changes nothing.
    async fn end_campaign(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Campaign> {
        let caller = verified(ctx).await?;
        let found = campaigns::campaign_by_id(db(ctx), &id).await?;
        let p = programmes::programme_by_id(db(ctx), &found.programme_id).await?;
        act_for_programme(ctx, &p, Scope::ManageRewards).await?;
        Ok(Campaign(
            campaigns::end(db(ctx), &id, &Actor::of(caller), now(ctx)).await?,
        ))
    }

    /// A brand's partner (scope MANAGE_WEBHOOKS) or an operator: registers
    /// an endpoint for the event types named. The answer carries the
    /// signing secret, shown here only; a retry with the same
    /// `idempotencyKey` and request answers the same endpoint.
    async fn register_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        brand_id: ID,
        #[graphql(
            desc = "Absolute https:// (or http://) URL, no credentials, at most 2048 characters."
        )]
        url: String,
        #[graphql(desc = "At least one.")] events: Vec<WebhookEventType>,
        idempotency_key: String,
    ) -> ApiResult<RegisteredWebhookEndpoint> {
        act_for_brand(ctx, &brand_id, Scope::ManageWebhooks).await?;
        let caller = verified(ctx).await?;
        let key = IdempotencyKey::parse(caller, &idempotency_key)?;
        let url = parse_endpoint_url(&url, settings(ctx).webhook_private_urls)?;
        let events = EventTypes::parse(events)?;
        let endpoint = webhooks::register(
            db(ctx),
            &brand_id,
            &url,
            &events,
            &key,
            &Actor::of(caller),
            now(ctx),
        )
        .await?;
        Ok(RegisteredWebhookEndpoint {
            signing_secret: endpoint.secret.clone(),
            endpoint: WebhookEndpoint(endpoint),
        })
    }

    /// Operators: pauses an endpoint (`paused: true`) or resumes it. While
    /// paused its events are queued, not sent.
    async fn pause_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        endpoint_id: ID,
        paused: bool,
    ) -> ApiResult<WebhookEndpoint> {
        operator(ctx).await?;
        let actor = Actor::of(verified(ctx).await?);
        Ok(WebhookEndpoint(
            webhooks::set_paused(db(ctx), &endpoint_id, paused, &actor, now(ctx)).await?,
        ))
    }

    /// The endpoint's partner (scope MANAGE_WEBHOOKS) or an operator: sends
    /// a delivered or failed delivery again, as a new delivery of the same
    /// event (same id and body). CONFLICT while it is still pending.
    async fn redeliver_webhook(
        &self,
        ctx: &Context<'_>,
        delivery_id: ID,
    ) -> ApiResult<WebhookDelivery> {
        verified(ctx).await?;
        let delivery = webhooks::delivery_by_id(db(ctx), &delivery_id).await?;
        let endpoint = webhooks::endpoint_by_id(db(ctx), &delivery.endpoint_id).await?;
        act_for_brand(ctx, &endpoint.brand_id, Scope::ManageWebhooks).await?;
        Ok(WebhookDelivery(
            webhooks::redeliver(db(ctx), &delivery_id, now(ctx)).await?,
        ))
    }

    /// Anyone holding a partner API key: a bearer token acting as the
    /// partner role for the key's brand.
    async fn partner_token(&self, ctx: &Context<'_>, api_key: String) -> ApiResult<PartnerToken> {
        let minted =
            programmes::token_for_key(db(ctx), &settings(ctx).keys, &api_key, now(ctx)).await?;
        Ok(PartnerToken {
            token: minted.token,
            // The token's own `exp`: token lifetimes are security, on the
            // system clock, not the service's clock.
            expires_at: minted.expires_at,
            scopes: crate::store::programmes::scopes_of(&minted.key)?
                .iter()
                .collect(),
            environment: minted.environment,
            brand: Brand::seen_from(minted.key.brand_id, minted.environment),
        })
    }

    /// Partners (own programme) and operators: earns points for a member,
    /// PENDING for the programme's window.
    async fn earn_points(
        &self,
        ctx: &Context<'_>,
        input: PointsTransactionInput,
    ) -> ApiResult<PointsTransaction> {
        let (tx, key, actor) = partner_transaction(ctx, &input, Scope::Earn).await?;
        let posted = ledger::earn(db(ctx), &tx, &key, &actor, now(ctx)).await?;
        Ok(posted.into())
    }

    /// Partners (own programme) and operators: redeems ACTIVE points,
    /// soonest expiry first. INSUFFICIENT_POINTS if there are not enough.
    async fn redeem_points(
        &self,
        ctx: &Context<'_>,
        input: PointsTransactionInput,
    ) -> ApiResult<PointsTransaction> {
        let (tx, key, actor) = partner_transaction(ctx, &input, Scope::Redeem).await?;
        let posted = ledger::redeem(db(ctx), &tx, &key, &actor, now(ctx)).await?;
        Ok(posted.into())
    }

    /// Operators: corrects an account (positive credits a never-expiring
    /// lot, negative debits ACTIVE points).
    async fn adjust_points(
        &self,
        ctx: &Context<'_>,
        account_id: ID,
        points: Long,
        reason: String,
        idempotency_key: String,
    ) -> ApiResult<PointsTransaction> {
        operator(ctx).await?;
        let caller = verified(ctx).await?;
        let key = IdempotencyKey::parse(caller, &idempotency_key)?;
        let account = ledger::account_by_id(db(ctx), &account_id).await?;
        let acting = kit::subgraph::acting_member(ctx, &account.member_id).await?;
        if acting != account.member_id || account.merged_into.is_some() {
            // Its points move (or moved) with the merge; so does any
            // correction.
            return Err(Error::conflict(format!(
                "member {} was merged into {acting}: adjust the survivor's account",
                account.member_id
            ))
            .into());
        }
        let posted = ledger::adjust(
            db(ctx),
            &account_id,
            points.get(),
            &reason,
            &key,
            &Actor::of(caller),
            now(ctx),
        )
        .await?;
        Ok(posted.into())
    }

    /// Either partner of the pair, or an operator: sets the terms of one
    /// direction. A change needs both partners' acceptance again; a
    /// partner proposing accepts its own side.
    async fn propose_exchange_terms(
        &self,
        ctx: &Context<'_>,
        input: ExchangeTermsInput,
    ) -> ApiResult<ExchangeTerms> {
        let caller = verified(ctx).await?;
        caller.require_scope(Scope::ManageTerms)?;
        let draft = TermsDraft {
            from_programme_id: input.from_programme_id.0,
            to_programme_id: input.to_programme_id.0,
            rate: input.rate,
            fee_bp: input.fee_basis_points,
            min_block: input.min_block.get(),
            daily_limit: input.daily_limit.get(),
            yearly_limit: input.yearly_limit.get(),
        };
        Ok(ExchangeTerms(
            exchanges::propose_terms(db(ctx), caller, &draft, now(ctx)).await?,
        ))
    }

    /// A partner accepts its own side of a version of the terms; an
    /// operator names the side. Active once both sides accepted.
    async fn accept_exchange_terms(
        &self,
        ctx: &Context<'_>,
        terms_id: ID,
        version: i64,
        side: Option<TermsSide>,
    ) -> ApiResult<ExchangeTerms> {
        let caller = verified(ctx).await?;
        caller.require_scope(Scope::ManageTerms)?;
        Ok(ExchangeTerms(
            exchanges::accept_terms(db(ctx), caller, &terms_id, version, side, now(ctx)).await?,
        ))
    }

    /// Members: prices an exchange of `points` source points under the
    /// active terms, held for a short time (60 s by default) and usable once.
    async fn exchange_quote(
        &self,
        ctx: &Context<'_>,
        from_programme_id: ID,
        to_programme_id: ID,
        points: Long,
        #[graphql(desc = "Sandbox keys only: the test member to act for.")] member_id: Option<ID>,
    ) -> ApiResult<ExchangeQuote> {
        let caller = verified(ctx).await?;
        let from = programmes::programme_by_id(db(ctx), &from_programme_id).await?;
        own_programme(caller, &from)?;
        let member = member_of(ctx, caller, member_id.as_ref(), from.environment).await?;
        let ttl = settings(ctx).quote_ttl;
        let q = exchanges::create_quote(
            db(ctx),
            &member,
            &from_programme_id,
            &to_programme_id,
            points.get(),
            ttl,
            now(ctx),
        )
        .await?;
        Ok(q.into())
    }

    /// Members: confirms a quote, all or nothing. QUOTE_EXPIRED, QUOTE_USED,
    /// INSUFFICIENT_POINTS or LIMIT_EXCEEDED otherwise; a retry with the
    /// same key returns the first exchange.
    async fn confirm_exchange(
        &self,
        ctx: &Context<'_>,
        quote_id: ID,
        idempotency_key: String,
        #[graphql(desc = "Sandbox keys only: the test member to act for.")] member_id: Option<ID>,
    ) -> ApiResult<Exchange> {
        let caller = verified(ctx).await?;
        // The quote was priced for a member of its programmes' environment;
        // the member must still be of it.
        let quote_id = ForeignId::parse("quoteId", &quote_id)?;
        let environment = quote_environment(ctx, caller, quote_id.as_str()).await?;
        let member = member_of(ctx, caller, member_id.as_ref(), environment).await?;
        let key = IdempotencyKey::parse(caller, &idempotency_key)?;
        let made = exchanges::confirm(
            db(ctx),
            &member,
            quote_id.as_str(),
            &key,
            &Actor::of(caller),
            now(ctx),
        )
        .await?;
        Ok(Exchange(made))
    }
}
