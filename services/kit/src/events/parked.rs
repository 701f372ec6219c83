//! Events a consumer set aside. An event that a rule refuses (not one that
//! waits for another feed, and not a database failure, which are retried
//! for as long as it takes) is tried [`MAX_ATTEMPTS`] times, then parked:
//! kept here whole, counted in `events_parked_total`, named in a WARN, and
//! the feed moves on behind it. An operator lists parked events
//! (`bigmember events parked`), then either asks for one to be tried again
//! (`bigmember events retry`: the running consumer applies it on its next
//! poll, out of its feed order) or skips it for good (`bigmember events
//! skip`).
//!
//! [`MAX_ATTEMPTS`]: super::consumer::MAX_ATTEMPTS

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, Set,
};

use super::entities::parked_event::{Column, Entity};
pub use super::entities::parked_event::{Model as ParkedEvent, ParkedStatus};
use crate::error::{ApiError, ErrorCode};

/// What an operator asks of a parked event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Retry,
    Skip,
}

/// The status a decision moves a parked event to: a parked or skipped
/// event may be retried, a parked or retrying one skipped, and asking again
/// for what is already asked changes nothing. An applied event is done:
/// CONFLICT.
pub fn decide(current: ParkedStatus, decision: Decision) -> Result<ParkedStatus, ApiError> {
    use ParkedStatus::*;
    match (current, decision) {
        (Parked | Retry | Skipped, Decision::Retry) => Ok(Retry),
        (Parked | Retry | Skipped, Decision::Skip) => Ok(Skipped),
        (Applied, _) => Err(ApiError::new(
            ErrorCode::Conflict,
            "the event was applied on a retry already",
        )),
    }
}

/// Parked events in `db`, oldest first; only those with `status` if given.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    status: Option<ParkedStatus>,
) -> Result<Vec<ParkedEvent>, sea_orm::DbErr> {
    let mut query = Entity::find();
    if let Some(status) = status {
        query = query.filter(Column::Status.eq(status));
    }
    query
        .order_by_asc(Column::ParkedAt)
        .order_by_asc(Column::Consumer)
        .order_by_asc(Column::Seq)
        .all(db)
        .await
}

/// Applies an operator's decision to the event `seq` parked by `consumer`.
/// NOT_FOUND when no such event is parked; CONFLICT when it was applied.
pub async fn decide_on<C: ConnectionTrait>(
    db: &C,
    consumer: &str,
    seq: i64,
    decision: Decision,
    now_micros: i64,
) -> Result<ParkedEvent, ApiError> {
    let Some(row) = Entity::find_by_id((consumer.to_owned(), seq))
        .one(db)
        .await?
    else {
        return Err(ApiError::not_found(format!(
            "no event {seq} is parked by consumer {consumer}"
        )));
    };
    let status = decide(row.status, decision)?;
    if status == row.status {
        return Ok(row);
    }
    let mut row = row.into_active_model();
    row.status = Set(status);
    row.updated_at = Set(now_micros);
    Ok(row.update(db).await?)
}

/// The events `consumer` is asked to try again, in feed order.
pub(crate) async fn due<C: ConnectionTrait>(
    db: &C,
    consumer: &str,
) -> Result<Vec<ParkedEvent>, sea_orm::DbErr> {
    Entity::find()
        .filter(Column::Consumer.eq(consumer))
        .filter(Column::Status.eq(ParkedStatus::Retry))
        .order_by_asc(Column::Seq)
        .all(db)
        .await
}

/// Sets `event` aside for `consumer` after `attempts` refusals.
pub(crate) async fn park<C: ConnectionTrait>(
    db: &C,
    consumer: &str,
    event: &super::FeedEvent,
    reason: &str,
    attempts: u32,
    now_micros: i64,
) -> Result<(), sea_orm::DbErr> {
    super::entities::parked_event::ActiveModel {
        consumer: Set(consumer.to_owned()),
        seq: Set(event.seq),
        event_id: Set(event.id.clone()),
        kind: Set(event.kind.clone()),
        payload: Set(event.payload.to_string()),
        occurred_at: Set(crate::time::to_micros(event.occurred_at)),
        reason: Set(reason.to_owned()),
        attempts: Set(i64::from(attempts)),
        status: Set(ParkedStatus::Parked),
        parked_at: Set(now_micros),
        updated_at: Set(now_micros),
    }
    .insert(db)
    .await
    .map(|_| ())
}

/// Records how a retry went: APPLIED, or PARKED again with the new reason.
pub(crate) async fn settle<C: ConnectionTrait>(
    db: &C,
    row: ParkedEvent,
    refused: Option<String>,
    now_micros: i64,
) -> Result<(), sea_orm::DbErr> {
    let attempts = row.attempts + 1;
    let mut row = row.into_active_model();
    row.attempts = Set(attempts);
    row.updated_at = Set(now_micros);
    match refused {
        None => row.status = Set(ParkedStatus::Applied),
        Some(reason) => {
            row.status = Set(ParkedStatus::Parked);
            row.reason = Set(reason);
        }
    }
    row.update(db).await.map(|_| ())
}

impl ParkedEvent {
    /// The event as its feed served it.
    pub fn to_feed_event(&self) -> super::FeedEvent {
        super::FeedEvent {
            seq: self.seq,
            id: self.event_id.clone(),
            kind: self.kind.clone(),
            occurred_at: crate::time::from_micros(self.occurred_at),
            payload: serde_json::from_str(&self.payload).unwrap_or(serde_json::Value::Null),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions_move_parked_events_and_an_applied_one_stays() {
        use ParkedStatus::*;
        for (from, decision, to) in [
            (Parked, Decision::Retry, Retry),
            (Retry, Decision::Retry, Retry),
            (Skipped, Decision::Retry, Retry),
            (Parked, Decision::Skip, Skipped),
            (Retry, Decision::Skip, Skipped),
            (Skipped, Decision::Skip, Skipped),
        ] {
            assert_eq!(decide(from, decision).unwrap(), to, "{from:?} {decision:?}");
        }
        for decision in [Decision::Retry, Decision::Skip] {
            assert_eq!(
                decide(Applied, decision).unwrap_err().code,
                ErrorCode::Conflict
            );
        }
    }
}
