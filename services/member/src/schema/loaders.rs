//! The member DataLoader: lookups by member id are batched into one query,
//! and a merged id loads its survivor. Identities and tags load through the
//! kit's `ChildrenOf`.

use std::collections::HashMap;

use async_graphql::dataloader::Loader;
use kit::ApiError;
use sea_orm::DatabaseConnection;

use crate::store::{self, entities::member};

/// Members by id; a merged id loads its survivor. One SELECT per batch.
pub struct MemberLoader(pub DatabaseConnection);

impl Loader<String> for MemberLoader {
    type Value = member::Model;
    type Error = ApiError;

    async fn load(&self, ids: &[String]) -> Result<HashMap<String, member::Model>, ApiError> {
        Ok(store::members_by_ids(&self.0, ids).await?)
    }
}
