//! Exchange between programmes: terms both partners accept, single-use
//! quotes, all-or-nothing confirmations, and the clearing they leave.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use kit::Caller;
use kit::auth::Actor;
use kit::time::to_micros;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};

use super::audit::{self, AuditRecord};
use super::entities::{clearing_entry, exchange, programme, quote, terms};
use super::ledger::{
    Posting, account_of, credit, debit, ensure_account, lock_account, verify_books,
};
use super::programmes::{programme_by_id, rules};
use super::{IdempotencyKey, new_id, retry_once_on_race, survivor_of};
use crate::domain::audit::AuditAction;
use crate::domain::exchange::{Period, Terms, check_quote, limit_windows, quote as price_quote};
use crate::domain::ledger::EntryKind;
use crate::domain::points::value_fen;
use crate::domain::programme::parse_decimal;
use crate::error::{Error, Result};

/// Which partner's acceptance.
#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum TermsSide {
    /// The programme whose points are sent.
    From,
    /// The programme whose points are issued.
    To,
}

/// Terms as proposed, before parsing.
#[derive(Debug, Clone)]
pub struct TermsDraft {
    pub from_programme_id: String,
    pub to_programme_id: String,
    pub rate: String,
    pub fee_bp: i32,
    pub min_block: i64,
    pub daily_limit: i64,
    pub yearly_limit: i64,
}

pub fn parse_terms(row: &terms::Model) -> Result<Terms> {
    Terms::parse(
        parse_decimal("rate", &row.rate)?,
        i32::try_from(row.fee_bp).unwrap_or(i32::MAX),
        row.min_block,
        row.daily_limit,
        row.yearly_limit,
    )
}

pub fn is_active(row: &terms::Model) -> bool {
    row.accepted_by_from_at.is_some() && row.accepted_by_to_at.is_some()
}

/// The side of `terms` the caller speaks for: a partner its own brand's,
/// an operator the one it names.
fn side_of(
    caller: &Caller,
    from: &programme::Model,
    to: &programme::Model,
    named: Option<TermsSide>,
) -> Result<Option<TermsSide>> {
    match caller {
        Caller::Operator { .. } => Ok(named),
        Caller::Partner { brand_id, .. } if *brand_id == from.brand_id => Ok(Some(TermsSide::From)),
        Caller::Partner { brand_id, .. } if *brand_id == to.brand_id => Ok(Some(TermsSide::To)),
        _ => Err(Error::forbidden(
            "only the two partners of these terms or an operator may do this",
        )),
    }
}

/// Proposes (or changes) the terms of a pair. A change clears both
/// acceptances; a partner proposing accepts its own side at once.
pub async fn propose_terms(
    db: &DatabaseConnection,
    caller: &Caller,
    draft: &TermsDraft,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<terms::Model> {
    if draft.from_programme_id == draft.to_programme_id {
        return Err(Error::invalid(
            "toProgrammeId",
            "a programme cannot exchange with itself",
        ));
    }
    let rate = parse_decimal("rate", &draft.rate)?;
    Terms::parse(
        rate,
        draft.fee_bp,
        draft.min_block,
        draft.daily_limit,
        draft.yearly_limit,
    )?;
    let from = programme_by_id(db, &draft.from_programme_id).await?;
    let to = programme_by_id(db, &draft.to_programme_id).await?;
    let side = side_of(caller, &from, &to, None)?;
    crate::domain::sandbox::check_same_environment(from.environment, to.environment)?;
    let now = to_micros(now);
    let existing = terms::Entity::find()
        .filter(terms::Column::FromProgrammeId.eq(from.id.as_str()))
        .filter(terms::Column::ToProgrammeId.eq(to.id.as_str()))
        .one(db)
        .await?;
    let is_new = existing.is_none();
    let mut row = match existing {
        Some(t) => {
            let version = t.version + 1;
            let mut row = t.into_active_model();
            row.version = Set(version);
            row
        }
        None => terms::ActiveModel {
            id: Set(new_id()),
            from_programme_id: Set(from.id.clone()),
            to_programme_id: Set(to.id.clone()),
            version: Set(1),
            created_at: Set(now),
            ..Default::default()
        },
    };
    row.rate = Set(rate.to_string());
    row.fee_bp = Set(i64::from(draft.fee_bp));
    row.min_block = Set(draft.min_block);
    row.daily_limit = Set(draft.daily_limit);
    row.yearly_limit = Set(draft.yearly_limit);
    row.accepted_by_from_at = Set((side == Some(TermsSide::From)).then_some(now));
    row.accepted_by_to_at = Set((side == Some(TermsSide::To)).then_some(now));
    let actor = Actor::of(caller);
    row.proposed_by = Set(actor.as_str().to_owned());
    row.updated_at = Set(now);
    let txn = db.begin().await?;
    let saved = if is_new {
        row.insert(&txn).await?
    } else {
        row.update(&txn).await?
    };
    terms_changed(&txn, &saved, "PROPOSED", None, now).await?;
    for brand in [&from.brand_id, &to.brand_id] {
        audit::record(
            &txn,
            AuditRecord {
                actor: &actor,
                action: AuditAction::TermsProposed,
                brand_id: Some(brand),
                subject_id: &saved.id,
                detail: terms_detail(&saved),
            },
            kit::time::from_micros(now),
        )
        .await?;
    }
    txn.commit().await?;
    Ok(saved)
}

/// Both partners hear of a change to their terms (webhooks).
async fn terms_changed(
    txn: &sea_orm::DatabaseTransaction,
    t: &terms::Model,
    change: &str,
    side: Option<&str>,
    now: i64,
) -> Result<()> {
    let at = kit::time::from_micros(now);
    let event = kit::events::schema::ExchangeTermsChanged {
        terms_id: t.id.clone(),
        from_programme_id: t.from_programme_id.clone(),
        to_programme_id: t.to_programme_id.clone(),
        version: t.version,
        change: change.to_owned(),
        side: side.map(str::to_owned),
        changed_at: at,
    };
    kit::events::outbox::publish(txn, &event, at).await?;
    Ok(())
}

/// Terms as the audit log shows them.
fn terms_detail(t: &terms::Model) -> serde_json::Value {
    serde_json::json!({
        "from": t.from_programme_id,
        "to": t.to_programme_id,
        "version": t.version,
        "rate": t.rate,
        "feeBasisPoints": t.fee_bp,
        "minBlock": t.min_block,
        "dailyLimit": t.daily_limit,
        "yearlyLimit": t.yearly_limit,
    })
}

/// Accepts one side of a version of the terms; CONFLICT if they changed
/// since the caller read them.
pub async fn accept_terms(
    db: &DatabaseConnection,
    caller: &Caller,
    terms_id: &str,
    version: i64,
    named: Option<TermsSide>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<terms::Model> {
    let t = terms_by_id(db, terms_id).await?;
    let from = programme_by_id(db, &t.from_programme_id).await?;
    let to = programme_by_id(db, &t.to_programme_id).await?;
    let side = side_of(caller, &from, &to, named)?
        .ok_or_else(|| Error::invalid("side", "an operator must name the side it accepts for"))?;
    let now = to_micros(now);
    let column = match side {
        TermsSide::From => terms::Column::AcceptedByFromAt,
        TermsSide::To => terms::Column::AcceptedByToAt,
    };
    let txn = db.begin().await?;
    let updated = terms::Entity::update_many()
        .col_expr(column, Expr::value(Some(now)))
        .col_expr(terms::Column::UpdatedAt, Expr::value(now))
        .filter(terms::Column::Id.eq(terms_id))
        .filter(terms::Column::Version.eq(version))
        .exec(&txn)
        .await?;
    if updated.rows_affected != 1 {
        return Err(Error::conflict(format!(
            "these terms are at version {}, not {version}; read them again before accepting",
            t.version
        )));
    }
    let accepted = terms_by_id(&txn, terms_id).await?;
    let side_name = match side {
        TermsSide::From => "FROM",
        TermsSide::To => "TO",
    };
    terms_changed(&txn, &accepted, "ACCEPTED", Some(side_name), now).await?;
    let actor = Actor::of(caller);
    for brand in [&from.brand_id, &to.brand_id] {
        let mut detail = terms_detail(&accepted);
        detail["side"] = serde_json::json!(format!("{side:?}").to_uppercase());
        audit::record(
            &txn,
            AuditRecord {
                actor: &actor,
                action: AuditAction::TermsAccepted,
                brand_id: Some(brand),
                subject_id: &accepted.id,
                detail,
            },
            kit::time::from_micros(now),
        )
        .await?;
    }
    txn.commit().await?;
    Ok(accepted)
}

pub async fn terms_by_id<C: ConnectionTrait>(db: &C, id: &str) -> Result<terms::Model> {
    terms::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?
        .ok_or_else(|| Error::not_found(format!("no exchange terms {id}")))
}

/// Terms the caller may see: members the active ones, partners their own,
/// operators all.
pub async fn visible_terms(
    db: &DatabaseConnection,
    caller: &Caller,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<Vec<terms::Model>> {
    let mut q = terms::Entity::find()
        .order_by_asc(terms::Column::FromProgrammeId)
        .order_by_asc(terms::Column::ToProgrammeId);
    if let Some(from) = from {
        q = q.filter(terms::Column::FromProgrammeId.eq(from));
    }
    if let Some(to) = to {
        q = q.filter(terms::Column::ToProgrammeId.eq(to));
    }
    let all = q.all(db).await?;
    Ok(match caller {
        Caller::Operator { .. } => all,
        Caller::Partner { brand_id, .. } => {
            let own = super::programmes::programme_id_of(brand_id);
            all.into_iter()
                .filter(|t| t.from_programme_id == own || t.to_programme_id == own)
                .collect()
        }
        _ => {
            // Members and the public: live terms only.
            let sandboxes: std::collections::HashSet<String> = programme::Entity::find()
                .filter(programme::Column::Environment.eq(kit::auth::Environment::Sandbox))
                .all(db)
                .await?
                .into_iter()
                .map(|p| p.id)
                .collect();
            all.into_iter()
                .filter(is_active)
                .filter(|t| !sandboxes.contains(&t.from_programme_id))
                .collect()
        }
    })
}

/// What the member is offered before quoting: active terms between
/// programmes that send and receive.
async fn active_terms(
    db: &DatabaseConnection,
    from: &programme::Model,
    to: &programme::Model,
) -> Result<(terms::Model, Terms)> {
    if !from.can_send {
        return Err(Error::invalid(
            "fromProgrammeId",
            format!("{} does not send points to other programmes", from.id),
        ));
    }
    if !to.can_receive {
        return Err(Error::invalid(
            "toProgrammeId",
            format!("{} does not receive points from other programmes", to.id),
        ));
    }
    let row = terms::Entity::find()
        .filter(terms::Column::FromProgrammeId.eq(from.id.as_str()))
        .filter(terms::Column::ToProgrammeId.eq(to.id.as_str()))
        .one(db)
        .await?
        .filter(is_active)
        .ok_or_else(|| {
            Error::not_found(format!(
                "no active exchange terms from {} to {}",
                from.id, to.id
            ))
        })?;
    let parsed = parse_terms(&row)?;
    Ok((row, parsed))
}

/// Source points a member has exchanged over this pair since each window start.
async fn used<C: ConnectionTrait>(
    db: &C,
    member_id: &str,
    from: &programme::Model,
    to_id: &str,
    now: DateTime<Utc>,
) -> Result<(i64, i64)> {
    let tz = rules(from)?.time_zone;
    let (day_start, year_start) = limit_windows(now, tz);
    let rows: Vec<(i64, i64)> = exchange::Entity::find()
        .select_only()
        .column(exchange::Column::PointsOut)
        .column(exchange::Column::CreatedAt)
        .filter(exchange::Column::MemberId.eq(member_id))
        .filter(exchange::Column::FromProgrammeId.eq(from.id.as_str()))
        .filter(exchange::Column::ToProgrammeId.eq(to_id))
        .filter(exchange::Column::CreatedAt.gte(to_micros(year_start)))
        .into_tuple()
        .all(db)
        .await?;
    let day_start = to_micros(day_start);
    let today = rows
        .iter()
        .filter(|(_, at)| *at >= day_start)
        .map(|(p, _)| p)
        .sum();
    let year = rows.iter().map(|(p, _)| p).sum();
    Ok((today, year))
}

/// Prices an exchange for a member and holds it for `ttl`.
pub async fn create_quote(
    db: &DatabaseConnection,
    member_id: &str,
    from_id: &str,
    to_id: &str,
    points: i64,
    ttl: std::time::Duration,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<quote::Model> {
    if from_id == to_id {
        return Err(Error::invalid(
            "toProgramme",
            "a programme cannot exchange with itself",
        ));
    }
    let member_id = survivor_of(db, member_id).await?;
    let from = programme_by_id(db, from_id).await?;
    let to = programme_by_id(db, to_id).await?;
    let (row, t) = active_terms(db, &from, &to).await?;
    let (today, year) = used(db, &member_id, &from, &to.id, now).await?;
    let amounts = price_quote(&t, points, today, year)?;
    let available = account_of(db, &member_id, &from.id)
        .await?
        .map_or(0, |a| a.active_balance);
    if available < points {
        return Err(Error::InsufficientPoints {
            available: available.max(0),
            wanted: points,
        });
    }
    let created = to_micros(now);
    let ttl = chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::seconds(60));
    Ok(quote::ActiveModel {
        id: Set(new_id()),
        member_id: Set(member_id),
        terms_id: Set(row.id),
        terms_version: Set(row.version),
        from_programme_id: Set(from.id),
        to_programme_id: Set(to.id),
        points_out: Set(amounts.points_out),
        fee_points: Set(amounts.fee_points),
        points_in: Set(amounts.points_in),
        rate: Set(row.rate),
        created_at: Set(created),
        expires_at: Set(to_micros(now + ttl)),
        used_at: Set(None),
    }
    .insert(db)
    .await?)
}

/// Confirms a quote, all or nothing: EXCHANGE_OUT from the sending
/// programme's lots, EXCHANGE_IN as a new lot with the receiving
/// programme's expiry, the two clearing rows, and the quote marked used.
pub async fn confirm(
    db: &DatabaseConnection,
    member_id: &str,
    quote_id: &str,
    key: &IdempotencyKey,
    actor: &Actor,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<exchange::Model> {
    retry_once_on_race(|| confirm_once(db, member_id, quote_id, key, actor, now)).await
}

async fn confirm_once(
    db: &DatabaseConnection,
    member_id: &str,
    quote_id: &str,
    key: &IdempotencyKey,
    actor: &Actor,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<exchange::Model> {
    const OPERATION: &str = "EXCHANGE";
    if let Some(exchange_id) = key.replayed(db, OPERATION, quote_id).await? {
        return exchange_by_id(db, &exchange_id).await;
    }
    let member_id = survivor_of(db, member_id).await?;
    let q = quote::Entity::find_by_id(quote_id.to_owned())
        .one(db)
        .await?
        .filter(|q| q.member_id == member_id)
        .ok_or_else(|| Error::not_found(format!("no quote {quote_id} for this member")))?;
    let now_us = to_micros(now);
    if let Err(refused) = check_quote(q.expires_at, q.used_at.is_some(), now_us) {
        // A twin with this same key may have used it since the first
        // look: that is a replay, not a used quote.
        if let Some(exchange_id) = key.replayed(db, OPERATION, quote_id).await? {
            return exchange_by_id(db, &exchange_id).await;
        }
        return Err(refused);
    }
    let from = programme_by_id(db, &q.from_programme_id).await?;
    let to = programme_by_id(db, &q.to_programme_id).await?;
    let (row, t) = active_terms(db, &from, &to).await?;
    if row.version != q.terms_version {
        return Err(Error::conflict(
            "the exchange terms changed after this quote; ask for a new one",
        ));
    }
    let from_rules = rules(&from)?;
    let to_rules = rules(&to)?;

    let txn = db.begin().await?;
    // Single use: only one confirmation can flip the quote.
    let claimed = quote::Entity::update_many()
        .col_expr(quote::Column::UsedAt, Expr::value(Some(now_us)))
        .filter(quote::Column::Id.eq(quote_id))
        .filter(quote::Column::UsedAt.is_null())
        .exec(&txn)
        .await?;
    if claimed.rows_affected != 1 {
        txn.rollback().await?;
        // A twin with this same key may have just used it: that is a replay.
        if let Some(exchange_id) = key.replayed(db, OPERATION, quote_id).await? {
            return exchange_by_id(db, &exchange_id).await;
        }
        return Err(Error::QuoteUsed);
    }
    let from_account_id = account_of(&txn, &member_id, &from.id)
        .await?
        .map(|a| a.id)
        .ok_or(Error::InsufficientPoints {
            available: 0,
            wanted: q.points_out,
        })?;
    let to_account_id = ensure_account(&txn, &member_id, &to.id, now_us).await?;
    // Both accounts locked in id order: no two confirmations deadlock.
    let (mut from_account, mut to_account) = if from_account_id < to_account_id {
        let a = lock_account(&txn, &from_account_id).await?;
        (a, lock_account(&txn, &to_account_id).await?)
    } else {
        let b = lock_account(&txn, &to_account_id).await?;
        (lock_account(&txn, &from_account_id).await?, b)
    };
    // Limits are checked again under the lock: quotes of one member racing
    // each other cannot together pass them.
    let (today, year) = used(&txn, &member_id, &from, &to.id, now).await?;
    price_quote(&t, q.points_out, today, year)?;

    let exchange_id = new_id();
    let reference = format!("exchange:{exchange_id}");
    let out = debit(
        &txn,
        &mut from_account,
        Posting::new(
            EntryKind::ExchangeOut,
            reference.clone(),
            format!("exchanged into {}", to.id),
        ),
        q.points_out,
        actor,
        now_us,
    )
    .await?;
    let (into, _) = credit(
        &txn,
        &mut to_account,
        Posting::new(
            EntryKind::ExchangeIn,
            reference,
            format!("exchanged from {}", from.id),
        ),
        q.points_in,
        to_rules.expires_at(now),
        actor,
        now_us,
    )
    .await?;
    let value = value_fen(q.points_in, to_rules.cash_value)?;
    let fee_value = value_fen(q.fee_points, from_rules.cash_value)?;
    let made = exchange::ActiveModel {
        id: Set(exchange_id.clone()),
        quote_id: Set(q.id.clone()),
        member_id: Set(member_id.clone()),
        from_programme_id: Set(from.id.clone()),
        to_programme_id: Set(to.id.clone()),
        from_brand_id: Set(from.brand_id.clone()),
        to_brand_id: Set(to.brand_id.clone()),
        points_out: Set(q.points_out),
        fee_points: Set(q.fee_points),
        points_in: Set(q.points_in),
        rate: Set(q.rate.clone()),
        value_fen: Set(value),
        fee_value_fen: Set(fee_value),
        out_entry_id: Set(out.id),
        in_entry_id: Set(into.id),
        created_at: Set(now_us),
    }
    .insert(&txn)
    .await?;
    for (brand, counterparty, sent, received, amount, fee_points, fee_fen) in [
        (
            &from.brand_id,
            &to.brand_id,
            q.points_out,
            0,
            -value,
            q.fee_points,
            fee_value,
        ),
        (&to.brand_id, &from.brand_id, 0, q.points_in, value, 0, 0),
    ] {
        clearing_entry::ActiveModel {
            id: Set(new_id()),
            exchange_id: Set(exchange_id.clone()),
            brand_id: Set(brand.clone()),
            counterparty_brand_id: Set(counterparty.clone()),
            points_sent: Set(sent),
            points_received: Set(received),
            amount_fen: Set(amount),
            fee_points: Set(fee_points),
            fee_fen: Set(fee_fen),
            created_at: Set(now_us),
            statement_id: Set(None),
        }
        .insert(&txn)
        .await?;
    }
    key.remember(&txn, OPERATION, quote_id, &exchange_id, now_us)
        .await?;
    verify_books(&txn, &from_account_id).await?;
    verify_books(&txn, &to_account_id).await?;
    txn.commit().await?;
    Ok(made)
}

pub async fn exchange_by_id<C: ConnectionTrait>(db: &C, id: &str) -> Result<exchange::Model> {
    exchange::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?
        .ok_or_else(|| Error::not_found(format!("no exchange {id}")))
}

/// One counterparty's line of a clearing statement.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatementLine {
    pub counterparty_brand_id: String,
    pub exchanges: i64,
    /// This brand's points members sent to the counterparty.
    pub points_sent: i64,
    /// This brand's points issued to members arriving from it.
    pub points_received: i64,
    pub payable_fen: i64,
    pub receivable_fen: i64,
    /// Fees this brand kept on what it sent.
    pub fee_points: i64,
    pub fee_fen: i64,
}

/// A brand's clearing statement for a month: per counterparty, the points
/// The month a clearing statement covers: [from, to) in the brand
/// programme's zone.
#[derive(Debug, Clone, Copy)]
pub struct StatementPeriod {
    pub month: Period,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub zone: chrono_tz::Tz,
}

/// sent and received, what it owes and is owed, and the net.
pub async fn clearing_statement(
    db: &DatabaseConnection,
    brand_id: &str,
    period: Option<Period>,
    now: DateTime<Utc>,
) -> Result<(StatementPeriod, Vec<StatementLine>)> {
    let programme = super::programmes::programme_of_brand(db, brand_id)
        .await?
        .ok_or_else(|| Error::not_found(format!("no brand {brand_id} in the alliance")))?;
    let zone = rules(&programme)?.time_zone;
    let month = period.unwrap_or_else(|| Period::containing(now, zone));
    let (from, to) = month.bounds(zone)?;
    let shown = StatementPeriod {
        month,
        from,
        to,
        zone,
    };
    let (start, end) = (to_micros(from), to_micros(to));
    let rows = clearing_entry::Entity::find()
        .filter(clearing_entry::Column::BrandId.eq(brand_id))
        .filter(clearing_entry::Column::CreatedAt.gte(start))
        .filter(clearing_entry::Column::CreatedAt.lt(end))
        .all(db)
        .await?;
    let mut lines: BTreeMap<String, StatementLine> = BTreeMap::new();
    for r in rows {
        let line = lines
            .entry(r.counterparty_brand_id.clone())
            .or_insert_with(|| StatementLine {
                counterparty_brand_id: r.counterparty_brand_id.clone(),
                ..Default::default()
            });
        line.exchanges += 1;
        line.points_sent += r.points_sent;
        line.points_received += r.points_received;
        if r.amount_fen < 0 {
            line.payable_fen -= r.amount_fen;
        } else {
            line.receivable_fen += r.amount_fen;
        }
        line.fee_points += r.fee_points;
        line.fee_fen += r.fee_fen;
    }
    Ok((shown, lines.into_values().collect()))
}

/// A brand's open clearing position: everything its exchanges made it owe
/// and be owed, less what settlements paid; positive when the alliance
/// owes it.
pub async fn clearing_position(db: &DatabaseConnection, brand_id: &str) -> Result<i64> {
    let amounts: Vec<i64> = clearing_entry::Entity::find()
        .select_only()
        .column(clearing_entry::Column::AmountFen)
        .filter(clearing_entry::Column::BrandId.eq(brand_id))
        .into_tuple()
        .all(db)
        .await?;
    // Refused rather than carried past what the graph holds exactly.
    let gross = kit::scalar::checked_total("the clearing position", amounts)?;
    let settled = super::statements::settled_effect(db, brand_id).await?;
    Ok(kit::scalar::checked_sum(
        "the clearing position",
        gross,
        settled,
    )?)
}
