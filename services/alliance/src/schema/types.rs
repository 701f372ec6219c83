//! GraphQL output types of the alliance subgraph.

use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::{ComplexObject, Context, ID, Object, SimpleObject};
use chrono::{DateTime, Duration, Utc};
use kit::ApiResult;
use kit::Long;
use kit::auth::{Environment, Scope};
use kit::loader::{by_id, children};
use kit::paging::{PageRequest, encode_cursor};
use kit::scalar::{checked_sum, checked_total};
use kit::time::{from_micros, to_micros};

use super::access::{act_for_brand, points_view, survivor};
use super::campaigns::{Campaign, EarnAward};
use super::db;
use super::rewards::{CouponDrop, Reward};
use crate::domain::audit::AuditAction;
use crate::domain::ledger::{EntryKind, LotState};
use crate::domain::returns::ReturnPolicy;
use crate::domain::sandbox::visible_to;
use crate::error::Error;
use crate::store::entities::{
    account, audit_entry, brand, earn_award, entry, exchange, lot, order_earn, partner_key,
    programme, quote, terms,
};
use crate::store::exchange::{StatementLine, StatementPeriod, is_active};
use crate::store::ledger;

/// A brand of the alliance. Owned here; the store and product services add
/// its stores and products.
pub struct Brand {
    pub id: String,
    /// Who looks, when not the request's caller: the key holder of a
    /// token just minted (`partnerToken` is asked without a token).
    viewer: Option<Environment>,
}

impl Brand {
    pub fn of(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            viewer: None,
        }
    }

    /// The brand as a holder of a token of `environment` sees it.
    pub fn seen_from(id: impl Into<String>, environment: Environment) -> Self {
        Self {
            id: id.into(),
            viewer: Some(environment),
        }
    }

    /// The brand, if it is in the alliance and of the viewer's environment
    /// (operators: either): a sandbox brand is unknown to the public,
    /// members and live keys, and a live one to sandbox keys.
    async fn visible(&self, ctx: &Context<'_>) -> Result<Option<brand::Model>, Error> {
        let seen = |b: &brand::Model| match self.viewer {
            Some(environment) => b.environment == environment,
            None => visible_to(super::caller(ctx), b.environment),
        };
        Ok(by_id::<brand::Entity>(ctx, &self.id)
            .await?
            .filter(|b| seen(b)))
    }
}

#[Object]
impl Brand {
    async fn id(&self) -> ID {
        ID(self.id.clone())
    }
    /// Whether the brand has joined the points alliance (false for a
    /// brand of another environment than the caller's, except to
    /// operators).
    async fn in_alliance(&self, ctx: &Context<'_>) -> ApiResult<Option<bool>> {
        kit::contributed(async { Ok(self.visible(ctx).await?.is_some()) }).await
    }
    /// The brand's name (null for a brand not in the alliance).
    async fn name(&self, ctx: &Context<'_>) -> ApiResult<Option<String>> {
        Ok(self.visible(ctx).await?.map(|b| b.name))
    }
    /// LIVE, or SANDBOX for a partner's sandbox copy (`<brand>-sandbox`);
    /// null for a brand not in the alliance.
    async fn environment(&self, ctx: &Context<'_>) -> ApiResult<Option<Environment>> {
        Ok(self.visible(ctx).await?.map(|b| b.environment))
    }
    /// A sandbox brand's live brand.
    async fn live_brand(&self, ctx: &Context<'_>) -> ApiResult<Option<Brand>> {
        Ok(self
            .visible(ctx)
            .await?
            .and_then(|b| b.live_brand_id)
            .map(Brand::of))
    }
    /// The brand's points programme.
    async fn programme(&self, ctx: &Context<'_>) -> ApiResult<Option<Programme>> {
        if self.visible(ctx).await?.is_none() {
            return Ok(None);
        }
        Ok(children::<programme::Entity>(ctx, &self.id)
            .await?
            .into_iter()
            .next()
            .map(Programme))
    }
    /// What the alliance owes the brand over all time, in fen (negative:
    /// what it owes). The brand's partner or an operator.
    async fn clearing_position_fen(&self, ctx: &Context<'_>) -> ApiResult<Option<Long>> {
        kit::contributed(async {
            act_for_brand(ctx, &self.id, Scope::ReadStatements).await?;
            Ok(crate::store::exchange::clearing_position(db(ctx), &self.id)
                .await?
                .into())
        })
        .await
    }
}

/// A brand's points programme and its rules.
pub struct Programme(pub programme::Model);

#[Object]
impl Programme {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn brand(&self) -> Brand {
        Brand::of(self.0.brand_id.clone())
    }
    /// What the programme calls its points.
    async fn points_name(&self) -> &str {
        &self.0.points_name
    }
    /// IANA zone of the programme's days and months (expiry, limits).
    async fn time_zone(&self) -> &str {
        &self.0.time_zone
    }
    /// Cash value of one point in fen, an exact decimal such as "0.5".
    async fn cash_value_fen(&self) -> &str {
        &self.0.cash_value_fen
    }
    /// Points per yuan paid, an exact decimal; earnings round down.
    async fn points_per_yuan(&self) -> &str {
        &self.0.points_per_yuan
    }
    /// Days earned points stay PENDING (the after-sales window).
    async fn pending_days(&self) -> i64 {
        self.0.pending_days
    }
    /// Points expire at the end of the month this many months after they
    /// became ACTIVE, in the programme's zone; null: never.
    async fn expiry_months(&self) -> Option<i64> {
        self.0.expiry_months
    }
    async fn return_policy(&self) -> ReturnPolicy {
        self.0.return_policy
    }
    /// Its brand's: LIVE, or SANDBOX.
    async fn environment(&self) -> Environment {
        self.0.environment
    }
    /// Whether members may exchange this programme's points into others.
    async fn can_send(&self) -> bool {
        self.0.can_send
    }
    /// Whether members may exchange other programmes' points into this one.
    async fn can_receive(&self) -> bool {
        self.0.can_receive
    }
    /// Its rewards catalogue, oldest first.
    async fn rewards(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 1-100 (default 20).")] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<String, Reward, EmptyFields, EmptyFields>> {
        let page = PageRequest::parse(first, after)?;
        let (rows, has_next) =
            crate::store::rewards::rewards_page(db(ctx), &self.0.id, &page).await?;
        let mut connection = Connection::new(page.after.is_some(), has_next);
        connection.edges.extend(
            rows.into_iter()
                .map(|r| Edge::new(encode_cursor(&r.id), Reward(r))),
        );
        Ok(connection)
    }
    /// Its coupon drops, newest first: the programme's partner
    /// (MANAGE_REWARDS) and operators; null, with the error, for anyone
    /// else (the rest of the programme still answers).
    async fn coupon_drops(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 1-100 (default 20).")] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Option<Connection<String, CouponDrop, EmptyFields, EmptyFields>>> {
        super::access::act_for_programme(ctx, &self.0, Scope::ManageRewards).await?;
        let page = PageRequest::parse(first, after)?;
        let (rows, has_next) = crate::store::drops::drops_page(db(ctx), &self.0.id, &page).await?;
        let mut connection = Connection::new(page.after.is_some(), has_next);
        connection.edges.extend(
            rows.into_iter()
                .map(|d| Edge::new(encode_cursor(&d.id), CouponDrop(d))),
        );
        Ok(Some(connection))
    }
    /// Its earning campaigns, oldest first (whatever their status).
    async fn campaigns(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 1-100 (default 20).")] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<String, Campaign, EmptyFields, EmptyFields>> {
        let page = PageRequest::parse(first, after)?;
        let (rows, has_next) =
            crate::store::campaigns::campaigns_page(db(ctx), &self.0.id, &page).await?;
        let mut connection = Connection::new(page.after.is_some(), has_next);
        connection.edges.extend(
            rows.into_iter()
                .map(|c| Edge::new(encode_cursor(&c.id), Campaign(c))),
        );
        Ok(connection)
    }
}

/// A member as this service knows them: by id.
pub struct MemberRef {
    pub id: String,
}

#[Object(name = "Member")]
impl MemberRef {
    async fn id(&self) -> ID {
        ID(self.id.clone())
    }
    /// The member's points accounts, one per programme (a partner sees its
    /// own programme's only).
    async fn points_accounts(&self, ctx: &Context<'_>) -> ApiResult<Option<Vec<PointsAccount>>> {
        kit::contributed(async {
            let view = points_view(ctx, &self.id).await?;
            let member = survivor(ctx, &self.id).await?;
            Ok(children::<account::Entity>(ctx, &member)
                .await?
                .into_iter()
                .filter(|a| a.merged_into.is_none() && view.shows(&a.programme_id))
                .map(PointsAccount)
                .collect())
        })
        .await
    }
}

/// An order as this service knows it: what it earned.
pub struct OrderRef {
    pub id: String,
}

#[Object(name = "Order")]
impl OrderRef {
    async fn id(&self) -> ID {
        ID(self.id.clone())
    }
    /// Points the order earned, per programme.
    async fn points_earned(&self, ctx: &Context<'_>) -> ApiResult<Option<Vec<OrderPoints>>> {
        kit::contributed(async {
            let earns = children::<order_earn::Entity>(ctx, &self.id).await?;
            let Some(first) = earns.first() else {
                return Ok(Vec::new());
            };
            let view = points_view(ctx, &first.member_id).await?;
            Ok(earns
                .into_iter()
                .filter(|e| view.shows(&e.programme_id))
                .map(OrderPoints)
                .collect())
        })
        .await
    }
}

/// What one order earned in one programme.
pub struct OrderPoints(pub order_earn::Model);

#[Object]
impl OrderPoints {
    async fn programme(&self, ctx: &Context<'_>) -> ApiResult<Programme> {
        programme_by(ctx, &self.0.programme_id).await
    }
    /// Fen paid for this programme's brand's lines.
    async fn paid_fen(&self) -> Long {
        self.0.paid_fen.into()
    }
    async fn points(&self) -> Long {
        self.0.points.into()
    }
    /// Taken back by a cancellation or by refunds, forgiven points
    /// included.
    async fn reversed_points(&self) -> Long {
        self.0.reversed_points.into()
    }
    /// PENDING until the order is handed over and the programme's window
    /// has passed, then ACTIVE; null once all of them were taken back (a
    /// cancelled order, a full refund): they will never be spendable.
    async fn state(&self, ctx: &Context<'_>) -> ApiResult<Option<LotState>> {
        let Some(lot_id) = self.live_lot() else {
            return Ok(None);
        };
        Ok(Some(lot_row(ctx, lot_id).await?.state))
    }
    /// When the points become (or became) ACTIVE: null while the order
    /// awaits hand-over, when the programme's window starts; null once all
    /// of them were taken back.
    async fn activates_at(&self, ctx: &Context<'_>) -> ApiResult<Option<DateTime<Utc>>> {
        let Some(lot_id) = self.live_lot() else {
            return Ok(None);
        };
        Ok(lot_row(ctx, lot_id).await?.activates_at.map(from_micros))
    }
}

impl OrderPoints {
    /// The lot holding the points, unless nothing is left of them.
    fn live_lot(&self) -> Option<&str> {
        (self.0.reversed_points < self.0.points)
            .then_some(self.0.lot_id.as_deref())
            .flatten()
    }
}

/// The lot an order's points sit in, through the batched loader.
async fn lot_row(ctx: &Context<'_>, id: &str) -> ApiResult<lot::Model> {
    Ok(by_id::<lot::Entity>(ctx, id)
        .await?
        .ok_or_else(|| Error::not_found(format!("no lot {id}")))?)
}

pub(crate) async fn programme_by(ctx: &Context<'_>, id: &str) -> ApiResult<Programme> {
    Ok(Programme(
        by_id::<programme::Entity>(ctx, id)
            .await?
            .ok_or_else(|| Error::not_found(format!("no programme {id}")))?,
    ))
}

/// A member's account in one programme.
pub struct PointsAccount(pub account::Model);

#[Object]
impl PointsAccount {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn member(&self) -> MemberRef {
        MemberRef {
            id: self.0.member_id.clone(),
        }
    }
    async fn programme(&self, ctx: &Context<'_>) -> ApiResult<Programme> {
        programme_by(ctx, &self.0.programme_id).await
    }
    /// Spendable points (negative only under ALLOW_NEGATIVE).
    async fn active_balance(&self) -> Long {
        self.0.active_balance.into()
    }
    /// Earned points not yet spendable.
    async fn pending_balance(&self) -> Long {
        self.0.pending_balance.into()
    }
    /// Every point ever earned here (before reversals and spending).
    async fn lifetime_earned(&self) -> Long {
        self.0.lifetime_earned.into()
    }
    /// The lots that make up the balances: ACTIVE in burn order (soonest
    /// expiry first), then PENDING, then any arrears.
    async fn lots(&self, ctx: &Context<'_>) -> ApiResult<Vec<PointsLot>> {
        Ok(ledger::open_lots(db(ctx), &self.0.id)
            .await?
            .into_iter()
            .map(PointsLot)
            .collect())
    }
    /// ACTIVE points that expire within `days` (default 30).
    async fn expiring_soon(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Look-ahead in days, 1-3650 (default 30).")] days: Option<i32>,
    ) -> ApiResult<ExpiringPoints> {
        let days = days.unwrap_or(30);
        if !(1..=3650).contains(&days) {
            return Err(Error::invalid("days", "days must be between 1 and 3650").into());
        }
        let before = super::now(ctx) + Duration::days(i64::from(days));
        let until = to_micros(before);
        let lots: Vec<lot::Model> = ledger::open_lots(db(ctx), &self.0.id)
            .await?
            .into_iter()
            .filter(|l| {
                l.state == LotState::Active
                    && l.remaining > 0
                    && l.expires_at.is_some_and(|e| e <= until)
            })
            .collect();
        Ok(ExpiringPoints {
            points: checked_total("the points expiring", lots.iter().map(|l| l.remaining))?.into(),
            before,
            lots: lots.into_iter().map(PointsLot).collect(),
        })
    }
    /// The immutable ledger, newest first.
    async fn ledger(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size, 1-100 (default 20).")] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<String, LedgerEntry, EmptyFields, EmptyFields>> {
        let page = PageRequest::parse(first, after)?;
        let (rows, has_next) = ledger::entries_page(db(ctx), &self.0.id, &page).await?;
        let mut connection = Connection::new(page.after.is_some(), has_next);
        connection.edges.extend(
            rows.into_iter()
                .map(|e| Edge::new(encode_cursor(&e.seq.to_string()), LedgerEntry(e))),
        );
        Ok(connection)
    }
}

#[derive(SimpleObject)]
pub struct ExpiringPoints {
    pub points: Long,
    pub before: DateTime<Utc>,
    pub lots: Vec<PointsLot>,
}

/// Points earned or received together, with one expiry.
pub struct PointsLot(pub lot::Model);

#[Object]
impl PointsLot {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn state(&self) -> LotState {
        self.0.state
    }
    async fn original_points(&self) -> Long {
        self.0.original.into()
    }
    async fn remaining_points(&self) -> Long {
        self.0.remaining.into()
    }
    /// When a PENDING lot becomes ACTIVE: null for an order's points until
    /// the order is handed over, and for lots that were never pending.
    async fn activates_at(&self) -> Option<DateTime<Utc>> {
        self.0.activates_at.map(from_micros)
    }
    async fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.0.expires_at.map(from_micros)
    }
    /// Whether the lot is past its expiry (the expiry job takes it soon).
    async fn expired(&self, ctx: &Context<'_>) -> bool {
        let now = to_micros(super::now(ctx));
        self.0.expires_at.is_some_and(|e| e <= now)
    }
    async fn created_at(&self) -> DateTime<Utc> {
        from_micros(self.0.created_at)
    }
}

/// One immutable ledger entry.
pub struct LedgerEntry(pub entry::Model);

#[Object]
impl LedgerEntry {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    /// Position in the account's ledger, from 1.
    async fn seq(&self) -> Long {
        self.0.seq.into()
    }
    async fn kind(&self) -> EntryKind {
        self.0.kind
    }
    /// Change to the ACTIVE balance.
    async fn points(&self) -> Long {
        self.0.points.into()
    }
    /// Change to the PENDING balance.
    async fn pending_points(&self) -> Long {
        self.0.pending_points.into()
    }
    async fn balance_after(&self) -> Long {
        self.0.balance_after.into()
    }
    async fn pending_balance_after(&self) -> Long {
        self.0.pending_after.into()
    }
    /// Of a REVERSAL: what the return policy did not take back.
    async fn forgiven_points(&self) -> Long {
        self.0.forgiven_points.into()
    }
    /// What caused it, e.g. `order:<id>`, `exchange:<id>`, `pos:<txn>`.
    async fn reference(&self) -> &str {
        &self.0.reference
    }
    async fn source_system(&self) -> Option<&str> {
        self.0.source_system.as_deref()
    }
    async fn external_transaction_id(&self) -> Option<&str> {
        self.0.external_txn_id.as_deref()
    }
    /// Of a REVERSAL: the entry it reverses.
    async fn reverses_entry_id(&self) -> Option<ID> {
        self.0.reverses_entry_id.clone().map(ID)
    }
    /// Who: a role and id, or a system job.
    async fn actor(&self) -> &str {
        &self.0.actor
    }
    async fn reason(&self) -> &str {
        &self.0.reason
    }
    async fn created_at(&self) -> DateTime<Utc> {
        from_micros(self.0.created_at)
    }
    /// Of an EARN entry: the points each campaign gave (the rest is the
    /// programme's base rate), by campaign id. One SELECT for a page of
    /// entries.
    async fn awards(&self, ctx: &Context<'_>) -> ApiResult<Vec<EarnAward>> {
        Ok(children::<earn_award::Entity>(ctx, &self.0.id)
            .await?
            .into_iter()
            .map(EarnAward::from)
            .collect())
    }
    /// Which lots this entry filled or consumed, and by how much.
    async fn lot_movements(&self, ctx: &Context<'_>) -> ApiResult<Vec<LotMovement>> {
        Ok(ledger::movements_of(db(ctx), &self.0.id)
            .await?
            .into_iter()
            .map(|m| LotMovement {
                lot_id: ID(m.lot_id),
                points: m.points.into(),
            })
            .collect())
    }
}

#[derive(SimpleObject)]
pub struct LotMovement {
    pub lot_id: ID,
    /// Negative: consumed from the lot; positive: put into it.
    pub points: Long,
}

/// A partner or operator's earn or redeem, as recorded.
pub struct PointsTransaction {
    pub entry: entry::Model,
    pub account: account::Model,
}

impl From<ledger::Posted> for PointsTransaction {
    fn from(posted: ledger::Posted) -> Self {
        Self {
            entry: posted.entry,
            account: posted.account,
        }
    }
}

#[Object]
impl PointsTransaction {
    async fn entry(&self) -> LedgerEntry {
        LedgerEntry(self.entry.clone())
    }
    async fn account(&self) -> PointsAccount {
        PointsAccount(self.account.clone())
    }
}

/// Terms for exchanging one programme's points into another's.
pub struct ExchangeTerms(pub terms::Model);

#[Object]
impl ExchangeTerms {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn from_programme(&self, ctx: &Context<'_>) -> ApiResult<Programme> {
        programme_by(ctx, &self.0.from_programme_id).await
    }
    async fn to_programme(&self, ctx: &Context<'_>) -> ApiResult<Programme> {
        programme_by(ctx, &self.0.to_programme_id).await
    }
    /// Target points per source point, an exact decimal; points in round down.
    async fn rate(&self) -> &str {
        &self.0.rate
    }
    /// Fee in basis points of the source points, rounded down.
    async fn fee_basis_points(&self) -> i64 {
        self.0.fee_bp
    }
    /// Source points move in multiples of this.
    async fn min_block(&self) -> Long {
        self.0.min_block.into()
    }
    /// Per member, in source points, per day in the source programme's zone.
    async fn daily_limit(&self) -> Long {
        self.0.daily_limit.into()
    }
    async fn yearly_limit(&self) -> Long {
        self.0.yearly_limit.into()
    }
    /// Bumped by each change; acceptances name the version they accept.
    async fn version(&self) -> i64 {
        self.0.version
    }
    async fn accepted_by_sender_at(&self) -> Option<DateTime<Utc>> {
        self.0.accepted_by_from_at.map(from_micros)
    }
    async fn accepted_by_receiver_at(&self) -> Option<DateTime<Utc>> {
        self.0.accepted_by_to_at.map(from_micros)
    }
    /// Both partners accepted this version: members may exchange.
    async fn active(&self) -> bool {
        is_active(&self.0)
    }
}

/// A single-use price for an exchange, held until `expiresAt`.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct ExchangeQuote {
    pub id: ID,
    pub points_out: Long,
    pub fee_points: Long,
    pub points_in: Long,
    pub rate: String,
    pub expires_at: DateTime<Utc>,
    #[graphql(skip)]
    pub from_programme_id: String,
    #[graphql(skip)]
    pub to_programme_id: String,
}

impl From<quote::Model> for ExchangeQuote {
    fn from(q: quote::Model) -> Self {
        Self {
            id: ID(q.id),
            points_out: q.points_out.into(),
            fee_points: q.fee_points.into(),
            points_in: q.points_in.into(),
            rate: q.rate,
            expires_at: from_micros(q.expires_at),
            from_programme_id: q.from_programme_id,
            to_programme_id: q.to_programme_id,
        }
    }
}

#[ComplexObject]
impl ExchangeQuote {
    async fn from_programme(&self, ctx: &Context<'_>) -> ApiResult<Programme> {
        programme_by(ctx, &self.from_programme_id).await
    }
    async fn to_programme(&self, ctx: &Context<'_>) -> ApiResult<Programme> {
        programme_by(ctx, &self.to_programme_id).await
    }
}

/// A confirmed exchange.
pub struct Exchange(pub exchange::Model);

#[Object]
impl Exchange {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn quote_id(&self) -> ID {
        ID(self.0.quote_id.clone())
    }
    async fn from_programme(&self, ctx: &Context<'_>) -> ApiResult<Programme> {
        programme_by(ctx, &self.0.from_programme_id).await
    }
    async fn to_programme(&self, ctx: &Context<'_>) -> ApiResult<Programme> {
        programme_by(ctx, &self.0.to_programme_id).await
    }
    async fn points_out(&self) -> Long {
        self.0.points_out.into()
    }
    async fn fee_points(&self) -> Long {
        self.0.fee_points.into()
    }
    async fn points_in(&self) -> Long {
        self.0.points_in.into()
    }
    async fn rate(&self) -> &str {
        &self.0.rate
    }
    /// What the sending brand owes the receiving one, in fen.
    async fn value_fen(&self) -> Long {
        self.0.value_fen.into()
    }
    async fn fee_value_fen(&self) -> Long {
        self.0.fee_value_fen.into()
    }
    async fn out_entry(&self, ctx: &Context<'_>) -> ApiResult<LedgerEntry> {
        Ok(LedgerEntry(
            ledger::entry_by_id(db(ctx), &self.0.out_entry_id).await?,
        ))
    }
    async fn in_entry(&self, ctx: &Context<'_>) -> ApiResult<LedgerEntry> {
        Ok(LedgerEntry(
            ledger::entry_by_id(db(ctx), &self.0.in_entry_id).await?,
        ))
    }
    async fn created_at(&self) -> DateTime<Utc> {
        from_micros(self.0.created_at)
    }
}

/// A brand's clearing positions for one month.
#[derive(SimpleObject)]
pub struct ClearingStatement {
    pub brand: Brand,
    /// The month it covers, in the brand programme's zone.
    pub period: ClearingPeriod,
    pub lines: Vec<ClearingLine>,
    pub payable_fen: Long,
    pub receivable_fen: Long,
    /// Receivable minus payable.
    pub net_fen: Long,
}

/// One counterparty's line of a statement.
#[derive(SimpleObject)]
pub struct ClearingLine {
    pub counterparty: Brand,
    pub exchanges: Long,
    /// This brand's points that members sent to the counterparty.
    pub points_sent: Long,
    /// This brand's points issued to members arriving from the counterparty.
    pub points_received: Long,
    /// Owed to the counterparty for the points it issued.
    pub payable_fen: Long,
    /// Owed by the counterparty for the points this brand issued.
    pub receivable_fen: Long,
    pub net_fen: Long,
    /// Fees kept on points sent, in points and in fen.
    pub fee_points: Long,
    pub fee_fen: Long,
}

/// A statement's month: `month` (YYYY-MM) in `zone`, which is the instants
/// [from, to).
#[derive(SimpleObject)]
pub struct ClearingPeriod {
    pub month: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// The programme's IANA time zone, e.g. Asia/Shanghai.
    pub zone: String,
}

impl From<StatementPeriod> for ClearingPeriod {
    fn from(p: StatementPeriod) -> Self {
        Self {
            month: p.month.to_string(),
            from: p.from,
            to: p.to,
            zone: p.zone.name().to_owned(),
        }
    }
}

impl ClearingStatement {
    /// The statement of `lines`; LIMIT_EXCEEDED if a total would leave the
    /// range a `Long` carries.
    pub fn new(
        brand_id: String,
        period: StatementPeriod,
        lines: Vec<StatementLine>,
    ) -> Result<Self, kit::ApiError> {
        let payable_fen = checked_total("the payable total", lines.iter().map(|l| l.payable_fen))?;
        let receivable_fen = checked_total(
            "the receivable total",
            lines.iter().map(|l| l.receivable_fen),
        )?;
        let net_fen = checked_sum("the net total", receivable_fen, -payable_fen)?;
        let lines = lines
            .into_iter()
            .map(|l| {
                Ok(ClearingLine {
                    net_fen: checked_sum("a net line", l.receivable_fen, -l.payable_fen)?.into(),
                    counterparty: Brand::of(l.counterparty_brand_id),
                    exchanges: l.exchanges.into(),
                    points_sent: l.points_sent.into(),
                    points_received: l.points_received.into(),
                    payable_fen: l.payable_fen.into(),
                    receivable_fen: l.receivable_fen.into(),
                    fee_points: l.fee_points.into(),
                    fee_fen: l.fee_fen.into(),
                })
            })
            .collect::<Result<_, kit::ApiError>>()?;
        Ok(Self {
            brand: Brand::of(brand_id),
            period: period.into(),
            payable_fen: payable_fen.into(),
            receivable_fen: receivable_fen.into(),
            net_fen: net_fen.into(),
            lines,
        })
    }
}

/// A partner API key, without the key itself.
pub struct PartnerKey(pub partner_key::Model);

#[Object]
impl PartnerKey {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn brand(&self) -> Brand {
        Brand::of(self.0.brand_id.clone())
    }
    async fn label(&self) -> &str {
        &self.0.label
    }
    /// Its brand's environment: a SANDBOX key acts on the sandbox only.
    async fn environment(&self, ctx: &Context<'_>) -> ApiResult<Environment> {
        Ok(by_id::<brand::Entity>(ctx, &self.0.brand_id)
            .await?
            .map(|b| b.environment)
            .unwrap_or_default())
    }
    /// The key's first characters, to recognise it.
    async fn prefix(&self) -> &str {
        &self.0.key_prefix
    }
    async fn created_at(&self) -> DateTime<Utc> {
        from_micros(self.0.created_at)
    }
    /// When a token was last minted from the key (tokens are used for up
    /// to an hour after that, at any service, without a write per use).
    async fn last_used_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_used_at.map(from_micros)
    }
    async fn revoked_at(&self) -> Option<DateTime<Utc>> {
        self.0.revoked_at.map(from_micros)
    }
    /// What tokens of this key may do.
    async fn scopes(&self) -> ApiResult<Vec<Scope>> {
        Ok(crate::store::programmes::scopes_of(&self.0)?
            .iter()
            .collect())
    }
    /// When the key stops working (after a rotation: the overlap's end);
    /// null: never.
    async fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.0.expires_at.map(from_micros)
    }
    /// The key that replaced this one when it was rotated.
    async fn replaced_by(&self) -> Option<ID> {
        self.0.replaced_by.clone().map(ID)
    }
    /// ACTIVE, EXPIRED or REVOKED, by the service's clock.
    async fn state(&self, ctx: &Context<'_>) -> crate::domain::keys::KeyState {
        crate::domain::keys::key_state(
            self.0.revoked_at,
            self.0.expires_at,
            to_micros(super::now(ctx)),
        )
    }
}

/// A rotation's result: the new key (its `apiKey` shown this once) and the
/// old one, now expiring at the overlap's end.
#[derive(SimpleObject)]
pub struct RotatedPartnerKey {
    pub issued: IssuedPartnerKey,
    pub previous: PartnerKey,
}

/// One administrative action, as the audit log recorded it.
pub struct AuditEntry(pub audit_entry::Model);

#[Object]
impl AuditEntry {
    /// The entry's number: later entries have larger ones.
    async fn seq(&self) -> Long {
        self.0.seq.into()
    }
    async fn at(&self) -> DateTime<Utc> {
        from_micros(self.0.at)
    }
    /// Who: role and id, e.g. `operator:ops-1` or `partner:coffee`.
    async fn actor(&self) -> &str {
        &self.0.actor
    }
    async fn action(&self) -> AuditAction {
        self.0.action
    }
    async fn brand(&self) -> Option<Brand> {
        self.0.brand_id.clone().map(Brand::of)
    }
    /// The key, brand, programme or terms acted on.
    async fn subject_id(&self) -> ID {
        ID(self.0.subject_id.clone())
    }
    /// What changed, as a JSON object (never a key's secret).
    async fn detail(&self) -> ApiResult<async_graphql::Json<serde_json::Value>> {
        Ok(async_graphql::Json(
            serde_json::from_str(&self.0.detail).map_err(|e| {
                kit::ApiError::new(
                    kit::ErrorCode::Internal,
                    format!("audit entry {} holds unreadable detail: {e}", self.0.seq),
                )
            })?,
        ))
    }
}

/// A freshly issued key: `apiKey` is shown this once and never again.
#[derive(SimpleObject)]
pub struct IssuedPartnerKey {
    pub api_key: String,
    pub key: PartnerKey,
}

/// A short-lived bearer token for a partner key.
#[derive(SimpleObject)]
pub struct PartnerToken {
    pub token: String,
    /// At most an hour from now, and never after the key expires.
    pub expires_at: DateTime<Utc>,
    /// What the token may do: its key's scopes.
    pub scopes: Vec<Scope>,
    pub brand: Brand,
    /// Where it acts: LIVE, or the brand's SANDBOX.
    pub environment: Environment,
}
