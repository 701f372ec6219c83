//! Rate limits per caller (`gateway.rate_limits`): a token bucket per
//! caller for its role, and one per caller and operation name for the
//! operations that have their own. The caller is who the token names (a
//! member, a partner brand, a staff member's store, an operator) or, for an
//! anonymous request, the client's IP address.
//!
//! Buckets are counted in memory (governor's keyed GCRA limiters; this
//! process only) or in Redis (one GCRA step per request in a Lua script on
//! Redis's own clock, so every gateway replica counts against the same
//! bucket). If Redis cannot be reached the request passes, with a WARN and
//! `shared_store_errors_total{store="rate_limits"}`: a limiter outage must
//! not take the graph down with it.

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use kit::auth::Caller;
use kit::config::{Bucket, RateLimitSettings, SharedStore};

/// Who a request is counted as: its role and, within it, who the token
/// names (or the client's address). Limiters are keyed by it as it is, so
/// counting a request copies nothing.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CallerKey {
    pub role: &'static str,
    pub id: String,
}

/// Who a bucket is counted for.
pub fn caller_key(caller: &Caller, peer: Option<std::net::IpAddr>) -> CallerKey {
    let (role, id) = match caller {
        Caller::Anonymous => (
            "anonymous",
            peer.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string()),
        ),
        Caller::Member { member_id } => ("member", member_id.clone()),
        Caller::Partner { brand_id, .. } => ("partner", brand_id.clone()),
        Caller::Staff { store_id, .. } => ("staff", store_id.clone()),
        Caller::Operator { operator_id } => ("operator", operator_id.clone()),
        Caller::Service { name } => ("service", name.clone()),
    };
    CallerKey { role, id }
}

/// The configured buckets and where they are counted.
pub struct RateLimits {
    roles: BTreeMap<String, Bucket>,
    operations: BTreeMap<String, Bucket>,
    store: Store,
}

/// Which kind of bucket: one per role, or one per operation name.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Role,
    Operation,
}

/// One bucket's keyed limiter, and how many requests it has counted (so
/// that the map of callers is swept now and then, not sized per request:
/// sizing it locks every shard).
struct Limiter {
    keyed: DefaultKeyedRateLimiter<CallerKey>,
    checks: std::sync::atomic::AtomicU64,
}

/// Every this many requests a bucket forgets callers whose buckets are
/// full again, if it holds more than [`SWEEP_ABOVE`] of them.
const SWEEP_EVERY: u64 = 4_096;
const SWEEP_ABOVE: usize = 10_000;

enum Store {
    /// One keyed limiter per configured bucket, by role and by operation.
    Memory {
        roles: BTreeMap<String, Limiter>,
        operations: BTreeMap<String, Limiter>,
    },
    Redis(Box<RedisBuckets>),
}

/// Why a request was refused: its bucket is empty until `retry_after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    pub retry_after: Duration,
}

impl Limited {
    /// `Retry-After` in whole seconds, rounded up, at least 1.
    pub fn retry_after_secs(&self) -> u64 {
        let d = self.retry_after;
        (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
    }
}

impl RateLimits {
    /// `None` when no bucket is configured (nothing to count).
    pub fn new(settings: &RateLimitSettings) -> Result<Option<Self>, String> {
        if settings.roles.is_empty() && settings.operations.is_empty() {
            return Ok(None);
        }
        let limiters = |buckets: &BTreeMap<String, Bucket>, kind: &str| {
            buckets
                .iter()
                .map(|(name, bucket)| {
                    quota(*bucket)
                        .map(|q| {
                            let limiter = Limiter {
                                keyed: governor::RateLimiter::keyed(q),
                                checks: std::sync::atomic::AtomicU64::new(0),
                            };
                            (name.clone(), limiter)
                        })
                        .map_err(|e| format!("{kind} {name}: {e}"))
                })
                .collect::<Result<BTreeMap<_, _>, String>>()
        };
        let roles = limiters(&settings.roles, "role")?;
        let operations = limiters(&settings.operations, "operation")?;
        let store = match settings.store {
            SharedStore::Memory => Store::Memory { roles, operations },
            SharedStore::Redis => Store::Redis(Box::new(RedisBuckets::new(
                &settings.redis_url,
                &settings.redis_key_prefix,
            )?)),
        };
        Ok(Some(Self {
            roles: settings.roles.clone(),
            operations: settings.operations.clone(),
            store,
        }))
    }

    /// Takes a token from the caller's role bucket (before anything else
    /// is done for the request).
    pub async fn check_caller(&self, caller: &CallerKey) -> Result<(), Limited> {
        match self.roles.get_key_value(caller.role) {
            Some((name, bucket)) => self.take(Kind::Role, name, *bucket, caller).await,
            None => Ok(()),
        }
    }

    /// Takes a token from the caller's bucket for `operation`, if it has one.
    pub async fn check_operation(
        &self,
        operation: Option<&str>,
        caller: &CallerKey,
    ) -> Result<(), Limited> {
        match operation.and_then(|o| self.operations.get_key_value(o)) {
            Some((name, bucket)) => self.take(Kind::Operation, name, *bucket, caller).await,
            None => Ok(()),
        }
    }

    async fn take(
        &self,
        kind: Kind,
        name: &str,
        bucket: Bucket,
        caller: &CallerKey,
    ) -> Result<(), Limited> {
        match &self.store {
            Store::Memory { roles, operations } => {
                let limiters = match kind {
                    Kind::Role => roles,
                    Kind::Operation => operations,
                };
                let Some(limiter) = limiters.get(name) else {
                    return Ok(());
                };
                // Forget callers whose buckets are full again, now and
                // then, so the map does not grow with every caller ever seen.
                let checks = limiter
                    .checks
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if checks % SWEEP_EVERY == SWEEP_EVERY - 1 && limiter.keyed.len() > SWEEP_ABOVE {
                    limiter.keyed.retain_recent();
                }
                limiter
                    .keyed
                    .check_key(caller)
                    .map_err(|not_until| Limited {
                        retry_after: not_until.wait_time_from(DefaultClock::default().now()),
                    })
            }
            Store::Redis(redis) => redis.take(kind, name, bucket, caller).await,
        }
    }
}

fn quota(bucket: Bucket) -> Result<Quota, String> {
    bucket.check()?;
    let per_minute =
        NonZeroU32::new(bucket.per_minute).ok_or("a rate limit's per_minute must be above zero")?;
    let burst = NonZeroU32::new(bucket.burst).ok_or("a rate limit's burst must be above zero")?;
    Ok(Quota::per_minute(per_minute).allow_burst(burst))
}

/// Buckets in Redis: one key per bucket and caller holding its
/// theoretical arrival time (GCRA), in µs of Redis's clock.
struct RedisBuckets {
    redis: crate::shared_store::RedisStore,
    prefix: String,
    script: redis::Script,
}

/// One GCRA step: KEYS[1] the bucket, ARGV[1] µs between tokens, ARGV[2]
/// the burst. Returns 0 if a token was taken, else µs until one is free.
const GCRA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local next_tat = tat + interval
local free_at = next_tat - interval * burst
if free_at > now then return free_at - now end
redis.call('SET', KEYS[1], string.format('%d', next_tat), 'PX', math.ceil((next_tat - now) / 1000) + 1)
return 0
";

impl RedisBuckets {
    fn new(url: &str, prefix: &str) -> Result<Self, String> {
        Ok(Self {
            redis: crate::shared_store::RedisStore::open(
                url,
                "gateway.rate_limits.redis_url",
                "rate_limits",
            )?,
            prefix: prefix.to_owned(),
            script: redis::Script::new(GCRA),
        })
    }

    /// Passes (uncounted) when Redis cannot be reached.
    async fn take(
        &self,
        kind: Kind,
        name: &str,
        bucket: Bucket,
        caller: &CallerKey,
    ) -> Result<(), Limited> {
        let Some(mut connection) = self.redis.connection().await else {
            return Ok(());
        };
        let kind = match kind {
            Kind::Role => "role",
            Kind::Operation => "operation",
        };
        // Callers are hashed: no member id or IP address is kept in Redis.
        let key = format!(
            "{}{}",
            self.prefix,
            kit::digest::sha256_hex(&[kind, name, caller.role, &caller.id])
        );
        let interval_us = 60_000_000 / u64::from(bucket.per_minute.max(1));
        let answer: Result<u64, redis::RedisError> = self
            .script
            .key(key)
            .arg(interval_us)
            .arg(bucket.burst)
            .invoke_async(&mut connection)
            .await;
        match answer {
            Ok(0) => Ok(()),
            Ok(wait_us) => Err(Limited {
                retry_after: Duration::from_micros(wait_us),
            }),
            Err(err) => {
                self.redis.failed(&err);
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_whole_seconds_and_at_least_one() {
        let secs = |ms| {
            Limited {
                retry_after: Duration::from_millis(ms),
            }
            .retry_after_secs()
        };
        assert_eq!(secs(0), 1);
        assert_eq!(secs(1), 1);
        assert_eq!(secs(1000), 1);
        assert_eq!(secs(1001), 2);
        assert_eq!(secs(59_999), 60);
    }
}
