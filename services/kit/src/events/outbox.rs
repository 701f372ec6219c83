//! Writing events into the outbox, and reading them back in order.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbErr,
    EntityTrait, NotSet, QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};

use super::entities::{feed_reader, outbox_event, outbox_pending, outbox_sequence};
use super::{DomainEvent, FeedEvent};
use crate::time::{from_micros, to_micros};

const SEQUENCE_ROW: i32 = 1;

/// Pending events numbered per sequencer transaction.
const SEQUENCE_BATCH: u64 = 1_000;

/// Appends `event` to the outbox inside `txn`, the transaction that records
/// the fact. It takes no lock another writer waits for: the event is
/// numbered once committed, by the next [`sequence`] (each feed read and
/// each relay pass runs one). Returns the event's id.
pub async fn publish<E: DomainEvent>(
    txn: &DatabaseTransaction,
    event: &E,
    occurred_at: DateTime<Utc>,
) -> Result<String, DbErr> {
    let payload = serde_json::to_string(event)
        .map_err(|e| DbErr::Custom(format!("event {} does not serialise: {e}", E::KIND)))?;
    let event_id = uuid::Uuid::now_v7().to_string();
    outbox_pending::ActiveModel {
        id: NotSet,
        event_id: Set(event_id.clone()),
        kind: Set(E::KIND.to_owned()),
        payload: Set(payload),
        occurred_at: Set(to_micros(occurred_at)),
    }
    .insert(txn)
    .await?;
    metrics::counter!("events_published_total", "type" => E::KIND).increment(1);
    Ok(event_id)
}

/// Numbers the committed pending events after the last number handed out,
/// in the order they were written, moving them into the feed; how many.
/// Sequencers take turns on the counter row (its lock is the first thing
/// each takes), so numbers are gapless and follow commit order: an event
/// committed before this call began has a number when it returns.
pub async fn sequence(db: &DatabaseConnection) -> Result<u64, DbErr> {
    let mut numbered = 0;
    loop {
        // Nothing waiting (the usual case for a poll): no write, no lock.
        if outbox_pending::Entity::find().one(db).await?.is_none() {
            return Ok(numbered);
        }
        let txn = db.begin().await?;
        let locked = outbox_sequence::Entity::update_many()
            .col_expr(
                outbox_sequence::Column::LastSeq,
                Expr::col(outbox_sequence::Column::LastSeq).into(),
            )
            .filter(outbox_sequence::Column::Id.eq(SEQUENCE_ROW))
            .exec(&txn)
            .await?;
        if locked.rows_affected != 1 {
            return Err(DbErr::Custom(
                "outbox_sequence row is missing: migrations not applied?".into(),
            ));
        }
        let head = head(&txn).await?;
        let pending = outbox_pending::Entity::find()
            .order_by_asc(outbox_pending::Column::Id)
            .limit(SEQUENCE_BATCH)
            .all(&txn)
            .await?;
        let count = pending.len() as u64;
        if count == 0 {
            txn.commit().await?;
            return Ok(numbered);
        }
        let ids: Vec<i64> = pending.iter().map(|row| row.id).collect();
        outbox_event::Entity::insert_many(pending.into_iter().zip(head + 1..).map(|(row, seq)| {
            outbox_event::ActiveModel {
                seq: Set(seq),
                event_id: Set(row.event_id),
                kind: Set(row.kind),
                payload: Set(row.payload),
                occurred_at: Set(row.occurred_at),
            }
        }))
        .exec(&txn)
        .await?;
        outbox_sequence::Entity::update_many()
            .col_expr(
                outbox_sequence::Column::LastSeq,
                (head + count as i64).into(),
            )
            .filter(outbox_sequence::Column::Id.eq(SEQUENCE_ROW))
            .exec(&txn)
            .await?;
        outbox_pending::Entity::delete_many()
            .filter(outbox_pending::Column::Id.is_in(ids))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        numbered += count;
        if count < SEQUENCE_BATCH {
            return Ok(numbered);
        }
    }
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

/// Records that `reader` (a service's credential subject) has applied
/// everything up to `position` of this feed.
pub async fn record_reader<C: ConnectionTrait>(
    db: &C,
    reader: &str,
    position: i64,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    use sea_orm::sea_query::OnConflict;
    feed_reader::Entity::insert(feed_reader::ActiveModel {
        reader: Set(reader.to_owned()),
        position: Set(position),
        read_at: Set(to_micros(now)),
    })
    .on_conflict(
        OnConflict::column(feed_reader::Column::Reader)
            .update_columns([feed_reader::Column::Position, feed_reader::Column::ReadAt])
            .to_owned(),
    )
    .exec(db)
    .await?;
    Ok(())
}

/// Deletes the events every recorded reader has applied and that are
/// older than `retention` at `now`; how many. A reader not heard from for
/// longer than `retention` (gone, or a transport no longer used) is not
/// waited for: when it comes back it finds the events it missed gone and
/// says so (`ConsumerError::Gap`). The JetStream relay is the exception
/// while `relayed` (the service's events go to JetStream): an event it has
/// not published is kept however long it is away, since no consumer could
/// get it otherwise; once events travel over HTTP, its record is ignored.
/// With no live reader, age alone decides. The sequence goes on from the
/// head, so the feed's numbers never repeat.
pub async fn prune<C: ConnectionTrait>(
    db: &C,
    now: DateTime<Utc>,
    retention: std::time::Duration,
    relayed: bool,
) -> Result<u64, DbErr> {
    let retention = chrono::Duration::from_std(retention)
        .map_err(|e| DbErr::Custom(format!("events.outbox_retention_hours: {e}")))?;
    let relay = super::jetstream::RELAY_READER;
    // A relay that has not yet recorded where it is (its first pass has
    // not run, or NATS has been away since) may still publish anything.
    if relayed
        && feed_reader::Entity::find_by_id(relay.to_owned())
            .one(db)
            .await?
            .is_none()
    {
        return Ok(0);
    }
    let live = feed_reader::Column::ReadAt
        .gte(to_micros(now - retention))
        .and(feed_reader::Column::Reader.ne(relay));
    let waited_for = if relayed {
        live.or(feed_reader::Column::Reader.eq(relay))
    } else {
        live
    };
    let applied_everywhere = feed_reader::Entity::find()
        .filter(waited_for)
        .order_by_asc(feed_reader::Column::Position)
        .one(db)
        .await?
        .map(|slowest| slowest.position);
    let mut doomed = outbox_event::Entity::delete_many()
        .filter(outbox_event::Column::OccurredAt.lt(to_micros(now - retention)));
    if let Some(position) = applied_everywhere {
        doomed = doomed.filter(outbox_event::Column::Seq.lte(position));
    }
    Ok(doomed.exec(db).await?.rows_affected)
}

/// Prunes the outbox ([`prune`]) now and then every `every` until
/// `shutdown`, logging what it did. Every replica may run it: a delete
/// that finds nothing left to delete is harmless.
pub async fn prune_periodically(
    db: sea_orm::DatabaseConnection,
    clock: crate::time::Clock,
    retention: std::time::Duration,
    relayed: bool,
    every: std::time::Duration,
    mut shutdown: crate::shutdown::Shutdown,
) {
    loop {
        match prune(&db, clock.now(), retention, relayed).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                pruned = n,
                "outbox events every reader has applied, past retention, deleted"
            ),
            Err(err) => tracing::warn!(error = %err, "pruning the outbox failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.wait() => return,
        }
    }
}
