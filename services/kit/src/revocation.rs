//! Revoked partner keys, known to every service.
//!
//! The alliance owns partner keys. When an operator revokes one, the
//! alliance records it in its own `revoked_partner_keys` table in the same
//! transaction, and publishes [`PartnerKeyRevoked`] on its feed; every other
//! service applies that event into its own copy of the table
//! ([`RevokedKeys`]). Each service's `POST /graphql` refuses a partner token
//! whose key is listed ([`refuse_revoked`]) before anything executes, so a
//! revoked key's tokens stop working everywhere: at the alliance at once,
//! elsewhere as soon as the service has read the alliance's feed (one poll,
//! `events.poll_interval_ms`). A service that cannot reach the alliance
//! honours such a token until it catches up or the token expires
//! (partner tokens live an hour).
//!
//! The list is read per partner request (one primary-key lookup) rather
//! than cached: every replica of a service shares its database, so one
//! replica applying the event is enough for all of them.

use async_trait::async_trait;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait, Set};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::events::consumer::{EventHandler, HandlerError};
use crate::events::schema::{PartnerEvent, PartnerKeyRevoked};
use crate::time::to_micros;

/// The position name, in each consuming service's database, of its reader
/// of the alliance's feed (`<service>:alliance-feed`).
pub fn alliance_feed(service: &str) -> String {
    format!("{service}:alliance-feed")
}

/// Adds a revoked key to this database's list; a key listed already stays
/// as it is (the event may be read again, or revoked twice).
pub async fn record(conn: &impl ConnectionTrait, revoked: &PartnerKeyRevoked) -> Result<(), DbErr> {
    entity::Entity::insert(entity::ActiveModel {
        key_id: Set(revoked.key_id.clone()),
        brand_id: Set(revoked.brand_id.clone()),
        revoked_at: Set(to_micros(revoked.revoked_at)),
    })
    .on_conflict(
        OnConflict::column(entity::Column::KeyId)
            .do_nothing()
            .to_owned(),
    )
    .do_nothing()
    .exec(conn)
    .await?;
    Ok(())
}

/// UNAUTHENTICATED for a partner caller whose key is on this database's
/// list; every other caller passes without a lookup. Partner tokens the CLI
/// signs with the platform secret name no issued key and are never listed.
pub async fn refuse_revoked(conn: &impl ConnectionTrait, caller: &Caller) -> Result<(), ApiError> {
    let Caller::Partner { key_id, .. } = caller else {
        return Ok(());
    };
    let listed = entity::Entity::find_by_id(key_id.clone())
        .one(conn)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "reading the revoked partner keys failed");
            ApiError::new(
                crate::error::ErrorCode::Internal,
                "the partner key could not be checked",
            )
        })?;
    match listed {
        Some(_) => Err(ApiError::unauthenticated("this partner key was revoked")),
        None => Ok(()),
    }
}

/// Applies the alliance's feed: each revoked key joins this service's list.
pub struct RevokedKeys;

#[async_trait]
impl EventHandler for RevokedKeys {
    type Events = PartnerEvent;

    async fn apply(
        &self,
        txn: &DatabaseTransaction,
        _seq: i64,
        event: PartnerEvent,
        _now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), HandlerError> {
        match event {
            PartnerEvent::KeyRevoked(revoked) => Ok(record(txn, &revoked).await?),
        }
    }
}

/// Every revoked partner key this service knows of (table
/// `revoked_partner_keys`).
pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "revoked_partner_keys")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub key_id: String,
        pub brand_id: String,
        /// When the alliance revoked it (µs since the epoch, UTC).
        pub revoked_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
