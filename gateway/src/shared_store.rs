//! The Redis behind state that every gateway replica shares (rate-limit
//! buckets, APQ documents): connected on first use, given
//! [`PATIENCE`] to connect or answer, and not asked again for
//! [`BACKOFF`] after it could not be reached, so that no request waits on
//! a Redis that is not there. What to do without it is the caller's
//! choice (both callers carry on without the shared state, with a WARN and
//! `shared_store_errors_total{store}`).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use redis::aio::ConnectionManager;

/// How long Redis may take to connect or answer.
pub const PATIENCE: Duration = Duration::from_millis(250);

/// How long the gateway stops asking a Redis it could not reach.
pub const BACKOFF: Duration = Duration::from_secs(5);

/// One Redis server, for one use (`store` names it in logs and metrics).
pub struct RedisStore {
    store: &'static str,
    client: redis::Client,
    connection: tokio::sync::OnceCell<ConnectionManager>,
    down_until: Mutex<Option<Instant>>,
}

impl RedisStore {
    /// Reads the URL (nothing is connected yet); `key` is the
    /// configuration key the URL came from, for the error.
    pub fn open(url: &str, key: &str, store: &'static str) -> Result<Self, String> {
        let client = redis::Client::open(url).map_err(|e| format!("{key}: {e}"))?;
        Ok(Self {
            store,
            client,
            connection: tokio::sync::OnceCell::new(),
            down_until: Mutex::new(None),
        })
    }

    /// A connection, or `None` while Redis is known to be unreachable.
    pub async fn connection(&self) -> Option<ConnectionManager> {
        let now = Instant::now();
        let down_until = *self.down_until.lock().unwrap_or_else(|p| p.into_inner());
        if down_until.is_some_and(|until| now < until) {
            metrics::counter!("shared_store_errors_total", "store" => self.store).increment(1);
            return None;
        }
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(PATIENCE)
            .set_response_timeout(PATIENCE)
            .set_number_of_retries(1);
        match self
            .connection
            .get_or_try_init(|| self.client.get_connection_manager_with_config(config))
            .await
        {
            Ok(c) => Some(c.clone()),
            Err(err) => {
                *self.down_until.lock().unwrap_or_else(|p| p.into_inner()) = Some(now + BACKOFF);
                self.failed(&err);
                None
            }
        }
    }

    /// Records a failed command (logged without its arguments: keys may
    /// be derived from callers).
    pub fn failed(&self, err: &redis::RedisError) {
        metrics::counter!("shared_store_errors_total", "store" => self.store).increment(1);
        tracing::warn!(store = self.store, error = %err, "Redis unreachable; carrying on without it");
    }
}
