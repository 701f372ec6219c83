//! Exactly-once writes, one way in every service.
//!
//! A client sends an `idempotencyKey` with a write it may retry. The rules:
//! - a key belongs to its caller (a member, a partner brand, a staff
//!   member, operators): two callers' keys never meet;
//! - the same key with the same request (same operation, same request
//!   hash) gives the first answer again, and writes nothing;
//! - the same key with another request is CONFLICT, and writes nothing.
//!
//! The key is recorded ([`IdempotencyKey::remember`]) in the transaction of
//! the write's effect, in the `idempotency_keys` table every service has:
//! of two identical requests at the same moment, one commits and the
//! other fails on the key and rolls back whole; [`retry_once_on_race`] runs
//! the loser again, which then finds the winner's answer.

use sea_orm::{ActiveModelTrait, ConnectionTrait, DbErr, EntityTrait, Set};

use crate::auth::Caller;
use crate::error::ApiError;

/// The shortest and longest key accepted (a UUID fits).
pub const KEY_LENGTH: std::ops::RangeInclusive<usize> = 8..=128;

/// A client's retry key, with whose it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    scope: String,
    key: String,
}

/// What a key has seen before, for one operation and request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// Never used: do the write, and remember the key with it.
    First,
    /// Used for this very request: answer with this result again.
    Replay { result_id: String },
    /// Used for another request (or operation): CONFLICT.
    Reused,
}

/// The rule, over what is recorded for a key (if anything).
pub fn decide(recorded: Option<&entity::Model>, operation: &str, request_hash: &str) -> Seen {
    match recorded {
        None => Seen::First,
        Some(r) if r.operation == operation && r.request_hash == request_hash => Seen::Replay {
            result_id: r.result_id.clone(),
        },
        Some(_) => Seen::Reused,
    }
}

impl IdempotencyKey {
    /// `raw` as `caller`'s key: 8-128 letters, digits, '-' or '_'
    /// (BAD_USER_INPUT on `idempotencyKey` otherwise).
    pub fn parse(caller: &Caller, raw: &str) -> Result<Self, ApiError> {
        let key = raw.trim();
        if !crate::input::is_token(key, KEY_LENGTH) {
            return Err(ApiError::bad_input(
                "idempotencyKey",
                "idempotencyKey must be 8-128 letters, digits, '-' or '_' (a UUID works)",
            ));
        }
        let scope = match caller {
            Caller::Member { member_id } => format!("member:{member_id}"),
            Caller::Partner { brand_id, .. } => format!("brand:{brand_id}"),
            Caller::Staff { guide_id, .. } => format!("staff:{guide_id}"),
            Caller::Operator { .. } => "operator".to_owned(),
            Caller::Service { name } => format!("service:{name}"),
            Caller::Anonymous => "anonymous".to_owned(),
        };
        Ok(Self {
            scope,
            key: key.to_owned(),
        })
    }

    /// Whose key it is (`member:<id>`, `brand:<id>`, `staff:<id>`,
    /// `operator`).
    pub fn scope(&self) -> &str {
        &self.scope
    }

    /// The key as the client sent it (trimmed).
    pub fn key(&self) -> &str {
        &self.key
    }

    /// SHA-256 (hex, 64 characters) of the scope and key: for a row that
    /// keeps which key wrote it (unique, without keeping the key itself).
    pub fn fingerprint(&self) -> String {
        crate::digest::sha256_hex(&[&self.scope, &self.key])
    }

    /// What this key has seen for `operation` and `request_hash`.
    async fn seen<C: ConnectionTrait>(
        &self,
        db: &C,
        operation: &str,
        request_hash: &str,
    ) -> Result<Seen, DbErr> {
        let recorded = entity::Entity::find_by_id((self.scope.clone(), self.key.clone()))
            .one(db)
            .await?;
        Ok(decide(recorded.as_ref(), operation, request_hash))
    }

    /// The result to answer again, `None` for a first use, or
    /// [`KeyError::Reused`] (CONFLICT) for a key used for another request.
    pub async fn replayed<C: ConnectionTrait>(
        &self,
        db: &C,
        operation: &str,
        request_hash: &str,
    ) -> Result<Option<String>, KeyError> {
        match self.seen(db, operation, request_hash).await? {
            Seen::First => Ok(None),
            Seen::Replay { result_id } => Ok(Some(result_id)),
            Seen::Reused => Err(KeyError::Reused),
        }
    }

    /// Records the key in the transaction of its effect. A concurrent twin
    /// fails here on the primary key, and its whole transaction rolls back.
    pub async fn remember<C: ConnectionTrait>(
        &self,
        txn: &C,
        operation: &str,
        request_hash: &str,
        result_id: &str,
        now_micros: i64,
    ) -> Result<(), DbErr> {
        entity::ActiveModel {
            scope: Set(self.scope.clone()),
            key: Set(self.key.clone()),
            operation: Set(operation.to_owned()),
            request_hash: Set(request_hash.to_owned()),
            result_id: Set(result_id.to_owned()),
            created_at: Set(now_micros),
        }
        .insert(txn)
        .await
        .map(|_| ())
    }
}

/// Why a key cannot be used: the database failed, or the key was used for
/// another request (every service's error converts it: CONFLICT).
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(transparent)]
    Db(#[from] DbErr),
    #[error("this idempotencyKey was already used for a different request")]
    Reused,
}

/// The refusal of a key used for another request.
pub fn reused() -> ApiError {
    ApiError::conflict(KeyError::Reused.to_string())
}

/// SHA-256 (hex) of a request's canonical JSON: tells a retry (same key,
/// same request) from a reused key.
pub fn request_hash(request: &serde_json::Value) -> String {
    crate::digest::sha256_hex(&[&request.to_string()])
}

/// An error that may be a lost race on a unique key: a retry twin that
/// committed first, or a row another request created at the same moment.
pub trait LostRace {
    fn lost_race(&self) -> bool;
}

impl LostRace for DbErr {
    fn lost_race(&self) -> bool {
        crate::db::is_unique_violation(self)
    }
}

/// Runs a write; if it lost a race on a unique key, runs it once more,
/// when it finds the winner's answer (or the row the winner created).
pub async fn retry_once_on_race<T, E, F, Fut>(mut write: F) -> Result<T, E>
where
    E: LostRace,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    match write().await {
        Err(err) if err.lost_race() => write().await,
        other => other,
    }
}

/// A fresh id for a new row: a UUIDv7, so ids sort by creation time.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Every key used, with the result it produced (table `idempotency_keys`).
pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "idempotency_keys")]
    pub struct Model {
        /// Whose key: `member:<id>`, `brand:<id>`, `staff:<id>` or `operator`.
        #[sea_orm(primary_key, auto_increment = false)]
        pub scope: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub key: String,
        pub operation: String,
        pub request_hash: String,
        /// The id of what the first request produced.
        pub result_id: String,
        pub created_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recorded(operation: &str, hash: &str) -> entity::Model {
        entity::Model {
            scope: "member:m1".into(),
            key: "key-0001".into(),
            operation: operation.into(),
            request_hash: hash.into(),
            result_id: "r-1".into(),
            created_at: 0,
        }
    }

    #[test]
    fn a_key_replays_its_request_and_refuses_any_other() {
        assert_eq!(decide(None, "placeOrder", "h1"), Seen::First);
        let first = recorded("placeOrder", "h1");
        assert_eq!(
            decide(Some(&first), "placeOrder", "h1"),
            Seen::Replay {
                result_id: "r-1".into()
            }
        );
        assert_eq!(decide(Some(&first), "placeOrder", "h2"), Seen::Reused);
        assert_eq!(decide(Some(&first), "refundOrder", "h1"), Seen::Reused);
    }

    #[test]
    fn keys_belong_to_their_caller_and_are_bounded() {
        let member = |id: &str| Caller::Member {
            member_id: id.into(),
        };
        let a = IdempotencyKey::parse(&member("m1"), " key-0001 ").unwrap();
        let b = IdempotencyKey::parse(&member("m2"), "key-0001").unwrap();
        assert_eq!(a.key(), b.key());
        assert_ne!(a, b, "two members' keys never meet");
        assert_eq!(a.scope(), "member:m1");
        let partner = Caller::Partner {
            brand_id: "coffee".into(),
            key_id: "k".into(),
            scopes: crate::auth::Scopes::all(),
            environment: crate::auth::Environment::Live,
        };
        assert_eq!(
            IdempotencyKey::parse(&partner, "key-0001").unwrap().scope(),
            "brand:coffee"
        );
        for bad in ["short", "has a space", &"x".repeat(129), "ключ-ключ"] {
            let err = IdempotencyKey::parse(&member("m1"), bad).unwrap_err();
            assert_eq!(err.field.as_deref(), Some("idempotencyKey"), "{bad}");
        }
        assert!(IdempotencyKey::parse(&member("m1"), &"x".repeat(128)).is_ok());
    }

    #[test]
    fn the_request_hash_tells_requests_apart() {
        let a = request_hash(&serde_json::json!({ "lines": [["sku-1", 2]] }));
        let b = request_hash(&serde_json::json!({ "lines": [["sku-1", 3]] }));
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert_eq!(
            a,
            request_hash(&serde_json::json!({ "lines": [["sku-1", 2]] }))
        );
    }
}
