//! Closing clearing periods, reading closed statements, exporting them and
//! recording their settlements. See `domain::statements` for the rules.

use chrono::{DateTime, Utc};
use kit::auth::Actor;
use kit::paging::PageRequest;
use kit::time::to_micros;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, TransactionTrait,
};

use crate::domain::audit::AuditAction;
use crate::domain::exchange::Period;
use crate::domain::statements::{
    CsvHeading, StatementEntry, Totals, reference, settlement_effect, summarise, to_csv,
};
use crate::error::{Error, Result};
use crate::store::audit::{self, AuditRecord};
use crate::store::entities::{clearing_entry, clearing_statement, settlement};
use crate::store::programmes::{all_brands, programme_of_brand, rules};
use crate::store::{IdempotencyKey, new_id, retry_once_on_race, sha256_hex};

/// Closes `period` for every brand of the alliance (each in its own
/// programme's zone): a numbered statement per brand taking its open
/// clearing entries made before the period's end, a `ClearingStatementClosed`
/// event for its webhooks, and an audit entry, in one transaction. Closing
/// a period again answers the statements it made. BAD_USER_INPUT if the
/// period has not ended for some brand; CONFLICT if a later period is
/// already closed.
pub async fn close_period(
    db: &DatabaseConnection,
    period: Period,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<Vec<clearing_statement::Model>> {
    retry_once_on_race(|| async {
        let name = period.to_string();
        let brands = all_brands(db).await?;
        let mut plans = Vec::new();
        for brand in &brands {
            let Some(programme) = programme_of_brand(db, &brand.id).await? else {
                continue;
            };
            let zone = rules(&programme)?.time_zone;
            let (from, to) = period.bounds(zone)?;
            if to > now {
                return Err(Error::invalid(
                    "period",
                    format!(
                        "{name} has not ended yet in {}'s zone ({})",
                        brand.id,
                        zone.name()
                    ),
                ));
            }
            plans.push((brand.id.clone(), zone, from, to));
        }
        let existing = clearing_statement::Entity::find()
            .filter(clearing_statement::Column::Period.eq(name.as_str()))
            .all(db)
            .await?;
        if !existing.is_empty() && existing.len() >= plans.len() {
            return Ok(sorted(existing));
        }
        let txn = db.begin().await?;
        let mut made = Vec::new();
        for (brand_id, zone, from, to) in plans {
            if let Some(done) = existing.iter().find(|s| s.brand_id == brand_id) {
                made.push(done.clone());
                continue;
            }
            let last = clearing_statement::Entity::find()
                .filter(clearing_statement::Column::BrandId.eq(brand_id.as_str()))
                .order_by_desc(clearing_statement::Column::Number)
                .one(&txn)
                .await?;
            if let Some(last) = &last
                && last.period == name
            {
                // Another closing of this period committed meanwhile (it
                // closes every brand in one transaction): its statements.
                txn.rollback().await?;
                let closed = clearing_statement::Entity::find()
                    .filter(clearing_statement::Column::Period.eq(name.as_str()))
                    .all(db)
                    .await?;
                return Ok(sorted(closed));
            }
            if let Some(last) = &last
                && last.period_to > to_micros(from)
            {
                return Err(Error::conflict(format!(
                    "{brand_id}'s statement for {} is already closed: periods close in order",
                    last.period
                )));
            }
            let number = last.map_or(1, |l| l.number + 1);
            let id = new_id();
            let open = clearing_entry::Entity::find()
                .filter(clearing_entry::Column::BrandId.eq(brand_id.as_str()))
                .filter(clearing_entry::Column::StatementId.is_null())
                .filter(clearing_entry::Column::CreatedAt.lt(to_micros(to)))
                .all(&txn)
                .await?;
            let taken: Vec<&str> = open.iter().map(|e| e.id.as_str()).collect();
            for chunk in taken.chunks(500) {
                clearing_entry::Entity::update_many()
                    .col_expr(
                        clearing_entry::Column::StatementId,
                        Expr::value(Some(id.clone())),
                    )
                    .filter(clearing_entry::Column::Id.is_in(chunk.iter().copied()))
                    .filter(clearing_entry::Column::StatementId.is_null())
                    .exec(&txn)
                    .await?;
            }
            let entries: Vec<StatementEntry> = open.iter().map(as_entry).collect();
            let (_, totals) = summarise(&entries, to_micros(from))?;
            let row = clearing_statement::ActiveModel {
                id: Set(id.clone()),
                brand_id: Set(brand_id.clone()),
                number: Set(number),
                period: Set(name.clone()),
                period_from: Set(to_micros(from)),
                period_to: Set(to_micros(to)),
                zone: Set(zone.name().to_owned()),
                exchanges: Set(totals.exchanges),
                points_sent: Set(totals.points_sent),
                points_received: Set(totals.points_received),
                payable_fen: Set(totals.payable_fen),
                receivable_fen: Set(totals.receivable_fen),
                fee_points: Set(totals.fee_points),
                fee_fen: Set(totals.fee_fen),
                closed_at: Set(to_micros(now)),
                closed_by: Set(actor.as_str().to_owned()),
            }
            .insert(&txn)
            .await?;
            let event = kit::events::schema::ClearingStatementClosed {
                statement_id: id.clone(),
                brand_id: brand_id.clone(),
                number,
                period: name.clone(),
                net_fen: totals.net_fen(),
                closed_at: now,
            };
            kit::events::outbox::publish(&txn, &event, now).await?;
            audit::record(
                &txn,
                AuditRecord {
                    actor,
                    action: AuditAction::StatementClosed,
                    brand_id: Some(&brand_id),
                    subject_id: &id,
                    detail: serde_json::json!({
                        "reference": reference(&brand_id, number),
                        "period": name,
                        "netFen": totals.net_fen(),
                        "exchanges": totals.exchanges,
                    }),
                },
                now,
            )
            .await?;
            made.push(row);
        }
        txn.commit().await?;
        Ok(sorted(made))
    })
    .await
}

fn sorted(mut statements: Vec<clearing_statement::Model>) -> Vec<clearing_statement::Model> {
    statements.sort_by(|a, b| a.brand_id.cmp(&b.brand_id));
    statements
}

fn as_entry(e: &clearing_entry::Model) -> StatementEntry {
    StatementEntry {
        exchange_id: e.exchange_id.clone(),
        counterparty_brand_id: e.counterparty_brand_id.clone(),
        points_sent: e.points_sent,
        points_received: e.points_received,
        amount_fen: e.amount_fen,
        fee_points: e.fee_points,
        fee_fen: e.fee_fen,
        created_at: e.created_at,
    }
}

pub async fn statement_by_id<C: ConnectionTrait>(
    db: &C,
    id: &str,
) -> Result<clearing_statement::Model> {
    clearing_statement::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?
        .ok_or_else(|| Error::not_found(format!("no closed clearing statement {id}")))
}

/// A brand's statement by its number.
pub async fn statement_by_number<C: ConnectionTrait>(
    db: &C,
    brand_id: &str,
    number: i64,
) -> Result<clearing_statement::Model> {
    clearing_statement::Entity::find()
        .filter(clearing_statement::Column::BrandId.eq(brand_id))
        .filter(clearing_statement::Column::Number.eq(number))
        .one(db)
        .await?
        .ok_or_else(|| Error::not_found(format!("{brand_id} has no statement number {number}")))
}

/// A brand's statement of a month.
pub async fn statement_of_period<C: ConnectionTrait>(
    db: &C,
    brand_id: &str,
    period: Period,
) -> Result<clearing_statement::Model> {
    clearing_statement::Entity::find()
        .filter(clearing_statement::Column::BrandId.eq(brand_id))
        .filter(clearing_statement::Column::Period.eq(period.to_string()))
        .one(db)
        .await?
        .ok_or_else(|| Error::not_found(format!("{brand_id} has no closed statement for {period}")))
}

/// A brand's closed statements, newest first; the cursor is the number.
pub async fn statements_page<C: ConnectionTrait>(
    db: &C,
    brand_id: &str,
    page: &PageRequest,
) -> Result<(Vec<clearing_statement::Model>, bool)> {
    let mut q = clearing_statement::Entity::find()
        .filter(clearing_statement::Column::BrandId.eq(brand_id))
        .order_by_desc(clearing_statement::Column::Number)
        .limit(page.fetch_limit());
    if let Some(after) = &page.after {
        let number: i64 = after
            .parse()
            .map_err(|_| Error::invalid("after", "after is not a cursor this API returned"))?;
        q = q.filter(clearing_statement::Column::Number.lt(number));
    }
    Ok(kit::paging::split_page(q.all(db).await?, page))
}

/// The entries a statement took, oldest first.
pub async fn entries_of<C: ConnectionTrait>(
    db: &C,
    statement: &clearing_statement::Model,
) -> Result<Vec<StatementEntry>> {
    Ok(clearing_entry::Entity::find()
        .filter(clearing_entry::Column::BrandId.eq(statement.brand_id.as_str()))
        .filter(clearing_entry::Column::StatementId.eq(statement.id.as_str()))
        .order_by_asc(clearing_entry::Column::CreatedAt)
        .order_by_asc(clearing_entry::Column::Id)
        .all(db)
        .await?
        .iter()
        .map(as_entry)
        .collect())
}

/// A statement's stored totals.
pub fn totals_of(s: &clearing_statement::Model) -> Totals {
    Totals {
        exchanges: s.exchanges,
        points_sent: s.points_sent,
        points_received: s.points_received,
        payable_fen: s.payable_fen,
        receivable_fen: s.receivable_fen,
        fee_points: s.fee_points,
        fee_fen: s.fee_fen,
    }
}

/// The statement as CSV (`domain::statements::to_csv`).
pub async fn csv_of<C: ConnectionTrait>(
    db: &C,
    statement: &clearing_statement::Model,
) -> Result<String> {
    let entries = entries_of(db, statement).await?;
    let reference = reference(&statement.brand_id, statement.number);
    to_csv(
        &CsvHeading {
            reference: &reference,
            brand_id: &statement.brand_id,
            period: &statement.period,
        },
        &entries,
        statement.period_from,
    )
}

pub async fn settlements_of<C: ConnectionTrait>(
    db: &C,
    statement_id: &str,
) -> Result<Vec<settlement::Model>> {
    Ok(settlement::Entity::find()
        .filter(settlement::Column::StatementId.eq(statement_id))
        .order_by_asc(settlement::Column::RecordedAt)
        .order_by_asc(settlement::Column::Id)
        .all(db)
        .await?)
}

/// A payment against a closed statement.
pub struct SettlementDraft<'a> {
    pub statement_id: &'a str,
    pub amount_fen: i64,
    pub paid_on: chrono::NaiveDate,
    pub reference: &'a str,
}

/// Records a settlement: at most what is outstanding (BAD_USER_INPUT
/// `amountFen` beyond it), exactly once per idempotency key. The statement
/// row is locked while the outstanding amount is read, so two settlements
/// at once cannot both pay the last fen.
pub async fn record_settlement(
    db: &DatabaseConnection,
    draft: &SettlementDraft<'_>,
    key: &IdempotencyKey,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<settlement::Model> {
    let reference_text = kit::input::clean_text("reference", draft.reference, 128)?;
    let paid_on = draft.paid_on.format("%Y-%m-%d").to_string();
    let hash = sha256_hex(&[
        "SETTLEMENT",
        draft.statement_id,
        &draft.amount_fen.to_string(),
        &paid_on,
        &reference_text,
    ]);
    retry_once_on_race(|| async {
        if let Some(id) = key.replayed(db, "SETTLEMENT", &hash).await? {
            return settlement::Entity::find_by_id(id.clone())
                .one(db)
                .await?
                .ok_or_else(|| Error::not_found(format!("no settlement {id}")));
        }
        let txn = db.begin().await?;
        let statement = clearing_statement::Entity::find_by_id(draft.statement_id.to_owned())
            .lock_exclusive()
            .one(&txn)
            .await?
            .ok_or_else(|| {
                Error::not_found(format!(
                    "no closed clearing statement {}",
                    draft.statement_id
                ))
            })?;
        // Serialise settlements of one statement (SQLite has one writer).
        clearing_statement::Entity::update_many()
            .col_expr(
                clearing_statement::Column::ClosedAt,
                Expr::col(clearing_statement::Column::ClosedAt).into(),
            )
            .filter(clearing_statement::Column::Id.eq(statement.id.as_str()))
            .exec(&txn)
            .await?;
        // Paid from the month's start, and not later than tomorrow.
        let earliest = kit::time::from_micros(statement.period_from).date_naive();
        let latest = (now + chrono::Duration::days(1)).date_naive();
        if draft.paid_on < earliest || draft.paid_on > latest {
            return Err(Error::invalid(
                "paidOn",
                format!("paidOn must be between {earliest} and {latest}"),
            ));
        }
        let settled: i64 = settlements_of(&txn, &statement.id)
            .await?
            .iter()
            .map(|s| s.amount_fen)
            .sum();
        let effect = settlement_effect(totals_of(&statement).net_fen(), settled, draft.amount_fen)?;
        let at = to_micros(now);
        let row = settlement::ActiveModel {
            id: Set(new_id()),
            statement_id: Set(statement.id.clone()),
            brand_id: Set(statement.brand_id.clone()),
            amount_fen: Set(draft.amount_fen),
            position_effect_fen: Set(effect),
            paid_on: Set(paid_on.clone()),
            reference: Set(reference_text.clone()),
            recorded_at: Set(at),
            recorded_by: Set(actor.as_str().to_owned()),
        }
        .insert(&txn)
        .await?;
        key.remember(&txn, "SETTLEMENT", &hash, &row.id, at).await?;
        audit::record(
            &txn,
            AuditRecord {
                actor,
                action: AuditAction::SettlementRecorded,
                brand_id: Some(&statement.brand_id),
                subject_id: &statement.id,
                detail: serde_json::json!({
                    "settlementId": row.id,
                    "amountFen": draft.amount_fen,
                    "paidOn": paid_on,
                    "reference": reference_text,
                }),
            },
            now,
        )
        .await?;
        txn.commit().await?;
        Ok(row)
    })
    .await
}

/// What all settlements of a brand moved its clearing position by.
pub async fn settled_effect<C: ConnectionTrait>(db: &C, brand_id: &str) -> Result<i64> {
    let effects: Vec<i64> = settlement::Entity::find()
        .select_only()
        .column(settlement::Column::PositionEffectFen)
        .filter(settlement::Column::BrandId.eq(brand_id))
        .into_tuple()
        .all(db)
        .await?;
    Ok(kit::scalar::checked_total("the settled total", effects)?)
}
