//! Writing events into the outbox, and reading them back in order.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};

use super::entities::{outbox_event, outbox_sequence};
use super::{DomainEvent, FeedEvent};
use crate::time::{from_micros, to_micros};

const SEQUENCE_ROW: i32 = 1;

/// Appends `event` to the outbox inside `txn`, the transaction that records
/// the fact. Returns the event's sequence number.
pub async fn publish<E: DomainEvent>(
    txn: &DatabaseTransaction,
    event: &E,
    occurred_at: DateTime<Utc>,
) -> Result<i64, DbErr> {
    let payload = serde_json::to_string(event)
        .map_err(|e| DbErr::Custom(format!("event {} does not serialise: {e}", E::KIND)))?;
    let updated = outbox_sequence::Entity::update_many()
        .col_expr(
            outbox_sequence::Column::LastSeq,
            Expr::col(outbox_sequence::Column::LastSeq).add(1),
        )
        .filter(outbox_sequence::Column::Id.eq(SEQUENCE_ROW))
        .exec(txn)
        .await?;
    if updated.rows_affected != 1 {
        return Err(DbErr::Custom(
            "outbox_sequence row is missing: migrations not applied?".into(),
        ));
    }
    let seq = outbox_sequence::Entity::find_by_id(SEQUENCE_ROW)
        .one(txn)
        .await?
        .map(|row| row.last_seq)
        .ok_or_else(|| DbErr::Custom("outbox_sequence row vanished".into()))?;
    outbox_event::ActiveModel {
        seq: Set(seq),
        event_id: Set(uuid::Uuid::now_v7().to_string()),
        kind: Set(E::KIND.to_owned()),
        payload: Set(payload),
        occurred_at: Set(to_micros(occurred_at)),
    }
    .insert(txn)
    .await?;
    metrics::counter!("events_published_total", "type" => E::KIND).increment(1);
    Ok(seq)
}

/// Events after `after`, oldest first, at most `limit`.
pub async fn read<C: ConnectionTrait>(
    db: &C,
    after: i64,
    limit: u64,
) -> Result<Vec<FeedEvent>, DbErr> {
    let rows = outbox_event::Entity::find()
        .filter(outbox_event::Column::Seq.gt(after))
        .order_by_asc(outbox_event::Column::Seq)
        .limit(limit)
        .all(db)
        .await?;
    rows.into_iter()
        .map(|row| {
            let payload = serde_json::from_str(&row.payload).map_err(|e| {
                DbErr::Custom(format!("outbox event {} has bad JSON: {e}", row.seq))
            })?;
            Ok(FeedEvent {
                seq: row.seq,
                id: row.event_id,
                kind: row.kind,
                occurred_at: from_micros(row.occurred_at),
                payload,
            })
        })
        .collect()
}

/// The highest sequence number handed out.
pub async fn head<C: ConnectionTrait>(db: &C) -> Result<i64, DbErr> {
    Ok(outbox_sequence::Entity::find_by_id(SEQUENCE_ROW)
        .one(db)
        .await?
        .map(|row| row.last_seq)
        .unwrap_or(0))
}
