//! Commissions in the graph.

use async_graphql::{ComplexObject, Context, ID, InputObject, SimpleObject};
use chrono::{DateTime, Utc};
use kit::ApiResult;
use kit::Long;
use kit::scalar::{checked_sum, checked_total};
use kit::time::{from_micros, to_micros};

use super::guides::Guide;
use super::{db, load_guide};
use crate::domain::commission::{CommissionStatus, StatementLine, month_containing};
use crate::domain::store::StoreKind;
use crate::error::{Error, Result};
use crate::store::commissions::{self, Period};
use crate::store::entities::{commission, commission_adjustment, commission_rule};

/// A half-open period: from (inclusive) to (exclusive), at most 366 days.
#[derive(InputObject, Clone, Copy)]
pub struct PeriodInput {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// The period asked for, or (none asked) the calendar month holding `now`
/// in the store's zone.
pub fn resolve_period(
    input: Option<PeriodInput>,
    now: DateTime<Utc>,
    zone: chrono_tz::Tz,
) -> Result<PeriodView> {
    let period = match input {
        Some(input) => input.parse()?,
        None => {
            let (from, to) = month_containing(now, zone);
            Period {
                from: to_micros(from),
                to: to_micros(to),
            }
        }
    };
    Ok(PeriodView {
        from: from_micros(period.from),
        to: from_micros(period.to),
        zone: zone.name().to_owned(),
        period,
    })
}

/// The period a statement covers: [from, to), and the store's zone (the
/// one a default month is counted in).
#[derive(SimpleObject, Clone)]
pub struct PeriodView {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// IANA time zone, e.g. Asia/Shanghai.
    pub zone: String,
    #[graphql(skip)]
    pub period: Period,
}

impl PeriodInput {
    pub fn parse(self) -> Result<Period> {
        if self.to <= self.from {
            return Err(Error::invalid(
                "period",
                "period.to must be after period.from",
            ));
        }
        if self.to - self.from > chrono::Duration::days(366) {
            return Err(Error::invalid("period", "a period is at most 366 days"));
        }
        Ok(Period {
            from: to_micros(self.from),
            to: to_micros(self.to),
        })
    }
}

/// One order line's commission.
#[derive(SimpleObject)]
pub struct CommissionEntry {
    pub id: ID,
    pub order_id: ID,
    pub line_id: ID,
    pub member_id: ID,
    pub brand_id: ID,
    pub basis_points: i32,
    /// Paid amount of the line, fen.
    pub base_fen: Long,
    pub refunded_fen: Long,
    /// Pending amount, or the amount approved, fen.
    pub amount_fen: Long,
    pub clawed_back_fen: Long,
    pub status: CommissionStatus,
    pub earned_at: DateTime<Utc>,
    /// Null until the order is fulfilled.
    pub window_closes_at: Option<DateTime<Utc>>,
    pub approved_at: Option<DateTime<Utc>>,
}

impl From<commission::Model> for CommissionEntry {
    fn from(r: commission::Model) -> Self {
        Self {
            id: ID(r.id),
            order_id: ID(r.order_id),
            line_id: ID(r.line_id),
            member_id: ID(r.member_id),
            brand_id: ID(r.brand_id),
            basis_points: r.basis_points,
            base_fen: r.base_fen.into(),
            refunded_fen: r.refunded_fen.into(),
            amount_fen: r.amount_fen.into(),
            clawed_back_fen: r.clawed_back_fen.into(),
            status: r.status,
            earned_at: from_micros(r.earned_at),
            window_closes_at: r.window_closes_at.map(from_micros),
            approved_at: r.approved_at.map(from_micros),
        }
    }
}

/// A clawback: a negative entry after an approved commission was refunded.
#[derive(SimpleObject)]
pub struct Clawback {
    pub commission_id: ID,
    /// Negative, fen.
    pub amount_fen: Long,
    /// The refund behind it.
    pub reference: String,
    pub created_at: DateTime<Utc>,
}

impl From<commission_adjustment::Model> for Clawback {
    fn from(a: commission_adjustment::Model) -> Self {
        Self {
            commission_id: ID(a.commission_id),
            amount_fen: a.amount_fen.into(),
            reference: a.reference,
            created_at: from_micros(a.created_at),
        }
    }
}

/// A guide's commissions for a period.
#[derive(SimpleObject)]
pub struct GuideCommissions {
    pub period: PeriodView,
    pub entries: Vec<CommissionEntry>,
    pub clawbacks: Vec<Clawback>,
    pub pending_fen: Long,
    pub approved_fen: Long,
    /// Clawed back in the period (positive).
    pub clawed_back_fen: Long,
}

pub async fn guide_commissions(
    ctx: &Context<'_>,
    guide_id: &str,
    shown: PeriodView,
    status: Option<CommissionStatus>,
) -> Result<GuideCommissions> {
    let period = shown.period;
    let rows = commissions::commissions_of_guide(db(ctx), guide_id, period, status).await?;
    let claws = commissions::clawbacks(
        db(ctx),
        commission_adjustment::Column::GuideId,
        guide_id,
        period,
    )
    .await?;
    let sum = |s: CommissionStatus| {
        checked_total(
            "a commission total",
            rows.iter().filter(|r| r.status == s).map(|r| r.amount_fen),
        )
    };
    let clawed_back = checked_total("the clawed-back total", claws.iter().map(|c| -c.amount_fen))?;
    Ok(GuideCommissions {
        period: shown,
        pending_fen: sum(CommissionStatus::Pending)?.into(),
        approved_fen: sum(CommissionStatus::Approved)?.into(),
        clawed_back_fen: clawed_back.into(),
        entries: rows.into_iter().map(CommissionEntry::from).collect(),
        clawbacks: claws.into_iter().map(Clawback::from).collect(),
    })
}

/// One guide's line in a store statement.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct StatementLineView {
    #[graphql(skip)]
    pub guide_id: String,
    pub pending_fen: Long,
    pub approved_fen: Long,
    pub clawed_back_fen: Long,
    /// Approved less clawed back.
    pub net_fen: Long,
}

#[ComplexObject]
impl StatementLineView {
    async fn guide(&self, ctx: &Context<'_>) -> ApiResult<Guide> {
        Ok(Guide(std::sync::Arc::new(
            load_guide(ctx, &self.guide_id).await?,
        )))
    }
}

impl StatementLineView {
    fn new(l: StatementLine) -> Result<Self, kit::ApiError> {
        Ok(Self {
            net_fen: checked_sum("a net line", l.approved_fen, -l.clawed_back_fen)?.into(),
            guide_id: l.guide_id,
            pending_fen: l.pending_fen.into(),
            approved_fen: l.approved_fen.into(),
            clawed_back_fen: l.clawed_back_fen.into(),
        })
    }
}

/// A store's commission statement for a period.
#[derive(SimpleObject)]
pub struct CommissionStatement {
    pub store_id: ID,
    pub period: PeriodView,
    pub lines: Vec<StatementLineView>,
    pub pending_fen: Long,
    pub approved_fen: Long,
    pub clawed_back_fen: Long,
    pub net_fen: Long,
}

impl CommissionStatement {
    /// The statement of `lines`; LIMIT_EXCEEDED if a total would leave the
    /// range a `Long` carries.
    pub fn new(
        store_id: &str,
        period: PeriodView,
        lines: Vec<StatementLine>,
    ) -> Result<Self, kit::ApiError> {
        let total = |what: &str, f: fn(&StatementLine) -> i64| {
            checked_total(what, lines.iter().map(f)).map(Long::from)
        };
        Ok(Self {
            store_id: ID(store_id.to_owned()),
            period,
            pending_fen: total("the pending total", |l| l.pending_fen)?,
            approved_fen: total("the approved total", |l| l.approved_fen)?,
            clawed_back_fen: total("the clawed-back total", |l| l.clawed_back_fen)?,
            net_fen: total("the net total", StatementLine::net_fen)?,
            lines: lines
                .into_iter()
                .map(StatementLineView::new)
                .collect::<Result<_, _>>()?,
        })
    }
}

#[derive(SimpleObject)]
pub struct CommissionRuleView {
    pub brand_id: ID,
    pub store_kind: StoreKind,
    pub basis_points: i32,
    pub after_sales_days: i32,
}

impl From<commission_rule::Model> for CommissionRuleView {
    fn from(r: commission_rule::Model) -> Self {
        Self {
            brand_id: ID(r.brand_id),
            store_kind: r.store_kind,
            basis_points: r.basis_points,
            after_sales_days: r.after_sales_days,
        }
    }
}
