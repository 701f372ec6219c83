//! GraphQL types of closed clearing statements and their settlements.

use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use kit::time::from_micros;
use kit::{ApiResult, Long};

use super::db;
use super::types::{Brand, ClearingPeriod};
use crate::domain::statements::{reference, summarise};
use crate::store::entities::{clearing_statement, settlement};
use crate::store::statements::{self, totals_of};

/// A brand's closed statement of one month: numbered, immutable, to be
/// settled. Amounts in fen.
pub struct ClosedClearingStatement(pub clearing_statement::Model);

#[Object]
impl ClosedClearingStatement {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    /// 1, 2, 3 ... per brand.
    async fn number(&self) -> Long {
        self.0.number.into()
    }
    /// `<brand>-<number>`, e.g. `coffee-000001`: what payments quote.
    async fn reference(&self) -> String {
        reference(&self.0.brand_id, self.0.number)
    }
    async fn brand(&self) -> Brand {
        Brand::of(self.0.brand_id.clone())
    }
    async fn period(&self) -> ClearingPeriod {
        ClearingPeriod {
            month: self.0.period.clone(),
            from: from_micros(self.0.period_from),
            to: from_micros(self.0.period_to),
            zone: self.0.zone.clone(),
        }
    }
    async fn closed_at(&self) -> DateTime<Utc> {
        from_micros(self.0.closed_at)
    }
    /// Per counterparty: the period's exchanges, then (`adjustment`) those
    /// made before it that an earlier statement could not take.
    async fn lines(&self, ctx: &Context<'_>) -> ApiResult<Vec<ClosedClearingLine>> {
        let entries = statements::entries_of(db(ctx), &self.0).await?;
        let (lines, _) = summarise(&entries, self.0.period_from)?;
        Ok(lines
            .into_iter()
            .map(|l| ClosedClearingLine {
                net_fen: l.net_fen().into(),
                counterparty: Brand::of(l.counterparty_brand_id),
                adjustment: l.adjustment,
                exchanges: l.exchanges.into(),
                points_sent: l.points_sent.into(),
                points_received: l.points_received.into(),
                payable_fen: l.payable_fen.into(),
                receivable_fen: l.receivable_fen.into(),
                fee_points: l.fee_points.into(),
                fee_fen: l.fee_fen.into(),
            })
            .collect())
    }
    async fn exchanges(&self) -> Long {
        self.0.exchanges.into()
    }
    async fn payable_fen(&self) -> Long {
        self.0.payable_fen.into()
    }
    async fn receivable_fen(&self) -> Long {
        self.0.receivable_fen.into()
    }
    /// Receivable minus payable: positive when the alliance owes the brand.
    async fn net_fen(&self) -> Long {
        totals_of(&self.0).net_fen().into()
    }
    async fn fee_points(&self) -> Long {
        self.0.fee_points.into()
    }
    async fn fee_fen(&self) -> Long {
        self.0.fee_fen.into()
    }
    async fn settlements(&self, ctx: &Context<'_>) -> ApiResult<Vec<Settlement>> {
        Ok(statements::settlements_of(db(ctx), &self.0.id)
            .await?
            .into_iter()
            .map(Settlement)
            .collect())
    }
    /// What settlements paid so far.
    async fn settled_fen(&self, ctx: &Context<'_>) -> ApiResult<Long> {
        let paid: i64 = statements::settlements_of(db(ctx), &self.0.id)
            .await?
            .iter()
            .map(|s| s.amount_fen)
            .sum();
        Ok(paid.into())
    }
    /// What remains to pay, in the net's direction (0 when settled).
    async fn outstanding_fen(&self, ctx: &Context<'_>) -> ApiResult<Long> {
        let paid: i64 = statements::settlements_of(db(ctx), &self.0.id)
            .await?
            .iter()
            .map(|s| s.amount_fen)
            .sum();
        let net = totals_of(&self.0).net_fen();
        Ok((net.abs() - paid).max(0).into())
    }
    /// The statement as CSV: one EXCHANGE record per exchange, one
    /// COUNTERPARTY record per line, one TOTAL; the same sums as above.
    async fn csv(&self, ctx: &Context<'_>) -> ApiResult<String> {
        Ok(statements::csv_of(db(ctx), &self.0).await?)
    }
}

/// One counterparty's line of a closed statement.
#[derive(SimpleObject)]
pub struct ClosedClearingLine {
    pub counterparty: Brand,
    /// Exchanges made before the period that an earlier statement could
    /// not take (they committed after it closed).
    pub adjustment: bool,
    pub exchanges: Long,
    pub points_sent: Long,
    pub points_received: Long,
    pub payable_fen: Long,
    pub receivable_fen: Long,
    pub net_fen: Long,
    pub fee_points: Long,
    pub fee_fen: Long,
}

/// A payment recorded against a closed statement.
pub struct Settlement(pub settlement::Model);

#[Object]
impl Settlement {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn statement_id(&self) -> ID {
        ID(self.0.statement_id.clone())
    }
    /// Paid, in fen (above zero), in the direction the statement's net says.
    async fn amount_fen(&self) -> Long {
        self.0.amount_fen.into()
    }
    /// YYYY-MM-DD.
    async fn paid_on(&self) -> &str {
        &self.0.paid_on
    }
    async fn reference(&self) -> &str {
        &self.0.reference
    }
    async fn recorded_at(&self) -> DateTime<Utc> {
        from_micros(self.0.recorded_at)
    }
}
