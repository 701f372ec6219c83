//! `GET /events?after=<seq>&limit=<n>`: the outbox as an ordered feed.
//! Readers are other services (their own `service` credential) and
//! operators. A service's read also records its position (`after`: what it
//! has applied) in `feed_readers`, unless it says `durable=false` (a reader
//! that keeps nothing, such as the gateway's copy of revoked keys): the
//! outbox is pruned only below every recorded position
//! ([`super::outbox::prune`]).

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Query, State};

use super::{FeedPage, outbox};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::service::ServiceContext;

pub const DEFAULT_LIMIT: u64 = 100;
pub const MAX_LIMIT: u64 = 1000;

/// Parsed and checked feed parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedQuery {
    pub after: i64,
    pub limit: u64,
    /// Whether the reader's position holds back pruning (default true).
    pub durable: bool,
}

impl FeedQuery {
    pub fn parse(params: &HashMap<String, String>) -> Result<Self, ApiError> {
        let after = match params.get("after") {
            None => 0,
            Some(raw) => raw.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
                ApiError::bad_input("after", "after must be a sequence number >= 0")
            })?,
        };
        let limit = match params.get("limit") {
            None => DEFAULT_LIMIT,
            Some(raw) => raw
                .parse::<u64>()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| {
                    ApiError::bad_input("limit", format!("limit must be between 1 and {MAX_LIMIT}"))
                })?,
        };
        let durable = match params.get("durable").map(String::as_str) {
            None | Some("true") => true,
            Some("false") => false,
            Some(_) => {
                return Err(ApiError::bad_input(
                    "durable",
                    "durable must be true or false",
                ));
            }
        };
        Ok(Self {
            after,
            limit,
            durable,
        })
    }
}

pub async fn serve_feed(
    State(ctx): State<ServiceContext>,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<FeedPage>, ApiError> {
    caller.require_service()?;
    let query = FeedQuery::parse(&params)?;
    if let (Caller::Service { name }, true) = (&caller, query.durable) {
        outbox::record_reader(&ctx.db, name, query.after, ctx.clock.now()).await?;
    }
    // Read before the head: whatever committed before this instant has a
    // number at or below the head read after it.
    let as_of = ctx.clock.now();
    outbox::sequence(&ctx.db).await?;
    let head = outbox::head(&ctx.db).await?;
    let events = outbox::read(&ctx.db, query.after, query.limit).await?;
    Ok(Json(FeedPage {
        events,
        head,
        as_of: Some(as_of),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    #[test]
    fn defaults_and_bounds() {
        assert_eq!(
            FeedQuery::parse(&params(&[])).unwrap(),
            FeedQuery {
                after: 0,
                limit: DEFAULT_LIMIT,
                durable: true,
            }
        );
        assert_eq!(
            FeedQuery::parse(&params(&[
                ("after", "7"),
                ("limit", "1000"),
                ("durable", "false")
            ]))
            .unwrap(),
            FeedQuery {
                after: 7,
                limit: 1000,
                durable: false,
            }
        );
        for bad in [
            ("after", "-1"),
            ("after", "x"),
            ("limit", "0"),
            ("limit", "1001"),
            ("durable", "yes"),
        ] {
            let err = FeedQuery::parse(&params(&[bad])).unwrap_err();
            assert_eq!(err.field.as_deref(), Some(bad.0));
        }
    }
}
