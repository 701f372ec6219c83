//! The alliance database: entities, and the commands that change it. Every
//! command writes its entries, lot movements, idempotency record and
//! clearing rows in one transaction, or nothing.

pub mod entities;
pub mod exchange;
pub mod ledger;
pub mod orders;
pub mod programmes;

use kit::Caller;
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, Set};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use entities::{idempotency_key, member_alias};

/// A fresh id: UUIDv7, so ids sort by creation time.
pub(crate) fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// SHA-256 of the parts, hex: fingerprints a request or an API key.
pub(crate) fn sha256_hex(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0x1f]);
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A client's retry key, with whose it is: keys of different callers never
/// collide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    scope: String,
    key: String,
}

impl IdempotencyKey {
    pub fn parse(caller: &Caller, raw: &str) -> Result<Self> {
        let key = raw.trim();
        if !kit::input::is_token(key, 8..=128) {
            return Err(Error::invalid(
                "idempotencyKey",
                "idempotencyKey must be 8-128 letters, digits, '-' or '_'",
            ));
        }
        let scope = match caller {
            Caller::Member { member_id } => format!("member:{member_id}"),
            Caller::Partner { brand_id, .. } => format!("brand:{brand_id}"),
            Caller::Staff { guide_id, .. } => format!("staff:{guide_id}"),
            Caller::Operator { .. } => "operator".to_owned(),
            Caller::Anonymous => "anonymous".to_owned(),
        };
        Ok(Self {
            scope,
            key: key.to_owned(),
        })
    }

    /// The id of the result this key produced for the same request, if
    /// any; CONFLICT if it was used for another request.
    pub(crate) async fn replayed<C: ConnectionTrait>(
        &self,
        db: &C,
        operation: &str,
        request_hash: &str,
    ) -> Result<Option<String>> {
        let Some(seen) =
            idempotency_key::Entity::find_by_id((self.scope.clone(), self.key.clone()))
                .one(db)
                .await?
        else {
            return Ok(None);
        };
        if seen.operation != operation || seen.request_hash != request_hash {
            return Err(Error::conflict(
                "this idempotencyKey was already used for a different request",
            ));
        }
        Ok(Some(seen.result_id))
    }

    /// Records the key in the transaction of its effect. A concurrent twin
    /// fails here on the primary key, and its whole transaction rolls back.
    pub(crate) async fn remember<C: ConnectionTrait>(
        &self,
        txn: &C,
        operation: &str,
        request_hash: &str,
        result_id: &str,
        now: i64,
    ) -> Result<()> {
        idempotency_key::ActiveModel {
            scope: Set(self.scope.clone()),
            key: Set(self.key.clone()),
            operation: Set(operation.to_owned()),
            request_hash: Set(request_hash.to_owned()),
            result_id: Set(result_id.to_owned()),
            created_at: Set(now),
        }
        .insert(txn)
        .await?;
        Ok(())
    }
}

/// Runs a command; if it lost a race on a unique key (a retry twin, a
/// concurrent account creation), runs it once more, when it will find the
/// winner's result.
pub(crate) async fn retry_once_on_race<T, F, Fut>(mut command: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    match command().await {
        Err(Error::Db(err)) if kit::db::is_unique_violation(&err) => command().await,
        other => other,
    }
}

/// The surviving id of a member who may have been merged away.
pub(crate) async fn survivor_of<C: ConnectionTrait>(db: &C, member_id: &str) -> Result<String> {
    Ok(member_alias::Entity::find_by_id(member_id.to_owned())
        .one(db)
        .await?
        .map_or_else(|| member_id.to_owned(), |alias| alias.survivor_id))
}
