//! What this service does with other services' events.

use async_trait::async_trait;
use kit::auth::Actor;
use kit::events::FeedEvent;
use kit::events::consumer::{EventHandler, HandlerError};
use kit::events::schema::{MemberMerged, MemberRegistered};
use sea_orm::DatabaseTransaction;

use crate::domain::attribution::BindingCause;
use crate::error::Error;
use crate::store::attribution;

/// The member service's feed: a registration through a guide's code binds
/// the member to that guide; a merge moves the binding to the survivor.
pub struct MemberFeed;

/// The position name of this consumer in the store database.
pub const MEMBER_FEED: &str = "store:member-feed";

#[async_trait]
impl EventHandler for MemberFeed {
    async fn apply(
        &self,
        txn: &DatabaseTransaction,
        event: &FeedEvent,
    ) -> Result<(), HandlerError> {
        let actor = Actor::system("member-feed");
        if let Some(registered) = event.decode::<MemberRegistered>() {
            let registered = registered?;
            if let Some(code) = registered.guide_code {
                match attribution::bind_by_code(
                    txn,
                    &registered.member_id,
                    &code,
                    BindingCause::Registration,
                    &actor,
                )
                .await
                {
                    Ok(_) => {}
                    // The code names no active guide (mistyped, rotated, or the
                    // guide left): the member simply has no guide.
                    Err(Error::NotFound(_)) => {
                        tracing::info!(seq = event.seq, "registration with an unknown guide code")
                    }
                    Err(err) => return Err(into_handler_error(err)),
                }
            }
        } else if let Some(merged) = event.decode::<MemberMerged>() {
            let merged = merged?;
            attribution::merge(txn, &merged.survivor_id, &merged.merged_id, &actor)
                .await
                .map_err(into_handler_error)?;
        }
        Ok(())
    }
}

fn into_handler_error(err: Error) -> HandlerError {
    match err {
        Error::Db(db) => HandlerError::Db(db),
        other => HandlerError::Rule(other.to_string()),
    }
}
