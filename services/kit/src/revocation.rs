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
//!
//! The gateway, which has no database, keeps the list in memory
//! ([`RevokedKeySet`], [`follow`]): it reads the alliance's feed from the
//! start when it starts and then every poll, and refuses a listed key's
//! token with 401 before counting it against any rate limit or planning
//! anything. The subgraphs' own check stays the authority (the gateway's
//! copy is empty until its first read).

use std::collections::HashSet;
use std::sync::{Arc, RwLock};
use std::time::Duration;

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
            // Points and terms are the alliance's own business (the
            // product service reads rewards with its own handler).
            PartnerEvent::PointsPosted(_)
            | PartnerEvent::PointsExpiringSoon(_)
            | PartnerEvent::TermsChanged(_)
            | PartnerEvent::StatementClosed(_)
            | PartnerEvent::RewardRedeemed(_)
            | PartnerEvent::CouponGranted(_) => Ok(()),
        }
    }
}

/// The alliance's revoked keys, in memory (the gateway's copy).
#[derive(Clone, Default)]
pub struct RevokedKeySet(Arc<RwLock<HashSet<String>>>);

impl RevokedKeySet {
    pub fn contains(&self, key_id: &str) -> bool {
        self.0
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains(key_id)
    }

    fn insert(&self, key_id: String) {
        self.0
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key_id);
    }

    /// UNAUTHENTICATED for a partner caller whose key is listed.
    pub fn refuse(&self, caller: &Caller) -> Result<(), ApiError> {
        match caller {
            Caller::Partner { key_id, .. } if self.contains(key_id) => {
                Err(ApiError::unauthenticated("this partner key was revoked"))
            }
            _ => Ok(()),
        }
    }
}

/// Keeps `set` up to date with the alliance's feed read by `reader`: from
/// the feed's start, then every `poll` until `shutdown`. A feed that cannot
/// be read is logged once at WARN (and again when it recovers) and tried
/// again every poll.
pub async fn follow(
    set: RevokedKeySet,
    reader: crate::events::consumer::FeedReader,
    poll: Duration,
    mut shutdown: crate::shutdown::Shutdown,
) {
    let mut position = 0;
    let mut failing = false;
    loop {
        let drained = match reader.page(position, crate::events::feed::MAX_LIMIT).await {
            Ok(page) => {
                if failing {
                    tracing::info!(
                        "the alliance's feed is read again: revoked partner keys are followed"
                    );
                    failing = false;
                }
                for event in &page.events {
                    match event.decode::<PartnerKeyRevoked>() {
                        Some(Ok(revoked)) => set.insert(revoked.key_id),
                        Some(Err(e)) => {
                            tracing::warn!(seq = event.seq, error = %e, "an unreadable PartnerKeyRevoked event was skipped");
                        }
                        // Other events of the alliance mean nothing here.
                        None => {}
                    }
                    position = position.max(event.seq);
                }
                page.events.is_empty() || position >= page.head
            }
            Err(e) => {
                if !failing {
                    tracing::warn!(error = %e, "the alliance's feed cannot be read: revoked partner keys are refused by the services only until it can");
                    failing = true;
                }
                true
            }
        };
        if drained {
            tokio::select! {
                _ = tokio::time::sleep(poll) => {}
                _ = shutdown.wait() => return,
            }
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
