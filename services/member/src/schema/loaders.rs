//! DataLoaders: every lookup by member id in one request is batched into one
//! query per table.

use std::collections::HashMap;

use async_graphql::dataloader::Loader;
use kit::ApiError;
use sea_orm::DatabaseConnection;

use crate::store::{
    self,
    entities::{identity, member},
};

/// Members by id; a merged id loads its survivor. One SELECT per batch.
pub struct MemberLoader(pub DatabaseConnection);

impl Loader<String> for MemberLoader {
    type Value = member::Model;
    type Error = ApiError;

    async fn load(&self, ids: &[String]) -> Result<HashMap<String, member::Model>, ApiError> {
        Ok(store::members_by_ids(&self.0, ids).await?)
    }
}

pub struct IdentityLoader(pub DatabaseConnection);

impl Loader<String> for IdentityLoader {
    type Value = Vec<identity::Model>;
    type Error = ApiError;

    async fn load(
        &self,
        member_ids: &[String],
    ) -> Result<HashMap<String, Vec<identity::Model>>, ApiError> {
        Ok(store::identities_of(&self.0, member_ids).await?)
    }
}

pub struct TagLoader(pub DatabaseConnection);

impl Loader<String> for TagLoader {
    type Value = Vec<String>;
    type Error = ApiError;

    async fn load(&self, member_ids: &[String]) -> Result<HashMap<String, Vec<String>>, ApiError> {
        Ok(store::tags_of(&self.0, member_ids).await?)
    }
}
