//! The DataLoader every service uses for rows by id: all the ids an
//! `_entities` batch (or a list's nested fields) asks for in one tick are
//! fetched with one SELECT on the table.

use std::collections::HashMap;
use std::marker::PhantomData;

use async_graphql::dataloader::{DataLoader, Loader};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, Iterable, ModelTrait, PrimaryKeyToColumn,
    QueryFilter, QueryOrder, Value,
};

use crate::error::ApiError;

/// Loads rows of `E` (a table with a single text primary key) by id.
pub struct ById<E> {
    db: DatabaseConnection,
    entity: PhantomData<fn() -> E>,
}

impl<E> ById<E> {
    /// A loader for a schema's data (no cache: batching only, so a request
    /// never sees another request's rows).
    pub fn new(db: DatabaseConnection) -> DataLoader<Self> {
        DataLoader::new(
            Self {
                db,
                entity: PhantomData,
            },
            tokio::spawn,
        )
    }
}

impl<E> Loader<String> for ById<E>
where
    E: EntityTrait + 'static,
    E::Model: Clone + Send + Sync + 'static,
{
    type Value = E::Model;
    type Error = ApiError;

    async fn load(&self, ids: &[String]) -> Result<HashMap<String, E::Model>, ApiError> {
        let key = E::PrimaryKey::iter()
            .next()
            .map(PrimaryKeyToColumn::into_column)
            .ok_or_else(|| ApiError::internal(&"entity without a primary key"))?;
        let rows = E::find()
            .filter(key.is_in(ids.iter().cloned()))
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|row| match row.get(key) {
                Value::String(Some(id)) => Some((*id, row)),
                _ => None,
            })
            .collect())
    }
}

/// Loads the rows of `E` whose `column` holds a given parent id (a
/// product's SKUs, a member's identities), for many parents in one SELECT.
/// Each parent's rows come in primary-key order.
pub struct ChildrenOf<E: EntityTrait> {
    db: DatabaseConnection,
    column: E::Column,
}

impl<E: EntityTrait> ChildrenOf<E> {
    pub fn new(db: DatabaseConnection, column: E::Column) -> DataLoader<Self>
    where
        Self: Loader<String>,
    {
        DataLoader::new(Self { db, column }, tokio::spawn)
    }
}

impl<E> Loader<String> for ChildrenOf<E>
where
    E: EntityTrait + 'static,
    E::Model: Clone + Send + Sync + 'static,
    E::Column: Send + Sync,
{
    type Value = Vec<E::Model>;
    type Error = ApiError;

    async fn load(&self, parents: &[String]) -> Result<HashMap<String, Vec<E::Model>>, ApiError> {
        let mut query = E::find().filter(self.column.is_in(parents.iter().cloned()));
        for key in E::PrimaryKey::iter() {
            query = query.order_by_asc(key.into_column());
        }
        let mut out: HashMap<String, Vec<E::Model>> = HashMap::new();
        for row in query.all(&self.db).await? {
            if let Value::String(Some(parent)) = row.get(self.column) {
                out.entry(*parent).or_default().push(row);
            }
        }
        Ok(out)
    }
}

/// The row of `E` with `id`, through the schema's `ById<E>` loader.
pub async fn by_id<E>(
    ctx: &async_graphql::Context<'_>,
    id: &str,
) -> Result<Option<E::Model>, ApiError>
where
    E: EntityTrait + 'static,
    E::Model: Clone + Send + Sync + 'static,
{
    ctx.data_unchecked::<DataLoader<ById<E>>>()
        .load_one(id.to_owned())
        .await
}

/// The rows of `E` under `parent`, through the schema's `ChildrenOf<E>`
/// loader.
pub async fn children<E>(
    ctx: &async_graphql::Context<'_>,
    parent: &str,
) -> Result<Vec<E::Model>, ApiError>
where
    E: EntityTrait + 'static,
    E::Model: Clone + Send + Sync + 'static,
    E::Column: Send + Sync,
{
    Ok(ctx
        .data_unchecked::<DataLoader<ChildrenOf<E>>>()
        .load_one(parent.to_owned())
        .await?
        .unwrap_or_default())
}
