//! The consumer side of a feed: poll, apply each event, and store the
//! position in the same transaction as the event's effect.

use std::time::Duration;

use async_trait::async_trait;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, DatabaseConnection, DatabaseTransaction, DbErr, EntityTrait, QueryFilter, Set,
    TransactionTrait,
};

use super::entities::consumer_position;
use super::{FeedEvent, FeedPage};
use crate::auth::JwtKeys;
use crate::shutdown::Shutdown;
use crate::time::now_micros;

/// What a consumer does with one event. It must use `txn` for every write,
/// so that the effect and the new position commit together.
#[async_trait]
pub trait EventHandler: Send + Sync {
    async fn apply(&self, txn: &DatabaseTransaction, event: &FeedEvent)
    -> Result<(), HandlerError>;
}

/// A handler's failure; the event is retried on the next poll.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error(transparent)]
    Db(#[from] DbErr),
    #[error("event payload does not match its type: {0}")]
    Payload(#[from] serde_json::Error),
    #[error("{0}")]
    Rule(String),
}

#[derive(Debug, thiserror::Error)]
pub enum ConsumerError {
    #[error("feed {url} unreachable: {source}")]
    Unreachable { url: String, source: reqwest::Error },
    #[error("feed {url} answered {status}")]
    Status { url: String, status: u16 },
    #[error("feed {url} sent an unreadable page: {source}")]
    Page { url: String, source: reqwest::Error },
    #[error("database: {0}")]
    Db(#[from] DbErr),
    #[error("event {seq} ({kind}) failed: {source}")]
    Handler {
        seq: i64,
        kind: String,
        source: HandlerError,
    },
}

/// Reads one producer's feed into this service's database.
pub struct FeedConsumer<H> {
    name: String,
    feed_url: String,
    db: DatabaseConnection,
    keys: JwtKeys,
    handler: H,
    http: reqwest::Client,
    batch: u64,
}

impl<H: EventHandler> FeedConsumer<H> {
    /// `name` identifies the consumer's position (one per feed it reads);
    /// `base_url` is the producer's address, e.g. `http://127.0.0.1:4001`.
    pub fn new(
        name: impl Into<String>,
        base_url: &str,
        db: DatabaseConnection,
        keys: JwtKeys,
        handler: H,
    ) -> Self {
        Self {
            name: name.into(),
            feed_url: format!("{}/events", base_url.trim_end_matches('/')),
            db,
            keys,
            handler,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
            batch: 100,
        }
    }

    pub fn with_batch(mut self, batch: u64) -> Self {
        self.batch = batch.clamp(1, super::feed::MAX_LIMIT);
        self
    }

    /// The sequence number of the last event applied.
    pub async fn position(&self) -> Result<i64, DbErr> {
        Ok(consumer_position::Entity::find_by_id(self.name.clone())
            .one(&self.db)
            .await?
            .map(|row| row.position)
            .unwrap_or(0))
    }

    /// Fetches one page after the stored position and applies it event by
    /// event. Returns how many events were applied. An event whose handler
    /// fails stops the page: its effect is rolled back and the position stays
    /// before it, so the next poll retries it.
    pub async fn poll_once(&self) -> Result<usize, ConsumerError> {
        self.ensure_position_row().await?;
        let mut position = self.position().await?;
        let page = self.fetch(position).await?;
        let mut applied = 0;
        for event in &page.events {
            if event.seq <= position {
                continue;
            }
            let txn = self.db.begin().await?;
            if let Err(source) = self.handler.apply(&txn, event).await {
                txn.rollback().await?;
                metrics::counter!("events_failed_total", "consumer" => self.name.clone())
                    .increment(1);
                return Err(ConsumerError::Handler {
                    seq: event.seq,
                    kind: event.kind.clone(),
                    source,
                });
            }
            // Compare-and-set: if another instance moved the position, its
            // transaction applied this event; ours must not commit.
            let moved = consumer_position::Entity::update_many()
                .col_expr(consumer_position::Column::Position, event.seq.into())
                .col_expr(consumer_position::Column::UpdatedAt, now_micros().into())
                .filter(consumer_position::Column::Consumer.eq(self.name.clone()))
                .filter(consumer_position::Column::Position.eq(position))
                .exec(&txn)
                .await?;
            if moved.rows_affected != 1 {
                txn.rollback().await?;
                tracing::info!(consumer = %self.name, seq = event.seq, "position moved by another instance");
                return Ok(applied);
            }
            txn.commit().await?;
            position = event.seq;
            applied += 1;
            metrics::counter!("events_applied_total", "consumer" => self.name.clone()).increment(1);
        }
        Ok(applied)
    }

    /// Polls until the feed is drained.
    pub async fn catch_up(&self) -> Result<usize, ConsumerError> {
        let mut total = 0;
        loop {
            let n = self.poll_once().await?;
            total += n;
            if (n as u64) < self.batch {
                return Ok(total);
            }
        }
    }

    /// Polls every `interval` until `shutdown`. Failures are logged and
    /// retried with a doubling delay (at most a minute), so a producer that
    /// is down costs one line a minute, not one per poll.
    pub async fn run(self, interval: Duration, mut shutdown: Shutdown) {
        let mut failures: u32 = 0;
        loop {
            let delay = match self.catch_up().await {
                Ok(_) => {
                    failures = 0;
                    interval
                }
                Err(err) => {
                    failures = failures.saturating_add(1);
                    let delay = backoff(interval, failures);
                    tracing::warn!(
                        consumer = %self.name,
                        error = %err,
                        retry_in_ms = delay.as_millis() as u64,
                        "event consumer poll failed"
                    );
                    delay
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = shutdown.wait() => return,
            }
        }
    }

    async fn ensure_position_row(&self) -> Result<(), DbErr> {
        let row = consumer_position::ActiveModel {
            consumer: Set(self.name.clone()),
            position: Set(0),
            updated_at: Set(now_micros()),
        };
        match consumer_position::Entity::insert(row)
            .on_conflict(
                OnConflict::column(consumer_position::Column::Consumer)
                    .do_nothing()
                    .to_owned(),
            )
            .exec(&self.db)
            .await
        {
            Ok(_) | Err(DbErr::RecordNotInserted) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn fetch(&self, after: i64) -> Result<FeedPage, ConsumerError> {
        let url = &self.feed_url;
        let response = self
            .http
            .get(url)
            .query(&[
                ("after", after.to_string()),
                ("limit", self.batch.to_string()),
            ])
            .bearer_auth(self.keys.service_token(&self.name))
            .send()
            .await
            .map_err(|source| ConsumerError::Unreachable {
                url: url.clone(),
                source,
            })?;
        if !response.status().is_success() {
            return Err(ConsumerError::Status {
                url: url.clone(),
                status: response.status().as_u16(),
            });
        }
        response
            .json::<FeedPage>()
            .await
            .map_err(|source| ConsumerError::Page {
                url: url.clone(),
                source,
            })
    }
}

/// The delay after `failures` consecutive failures.
fn backoff(interval: Duration, failures: u32) -> Duration {
    let factor = 2u32.saturating_pow(failures.min(16));
    interval.saturating_mul(factor).min(Duration::from_secs(60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_a_minute() {
        let base = Duration::from_millis(500);
        assert_eq!(backoff(base, 1), Duration::from_secs(1));
        assert_eq!(backoff(base, 3), Duration::from_secs(4));
        assert_eq!(backoff(base, 30), Duration::from_secs(60));
    }
}
