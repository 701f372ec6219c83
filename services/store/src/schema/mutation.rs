use std::sync::Arc;

use async_graphql::{Context, ID, Object};
use kit::ApiResult;

use super::inputs::{
    HoursExceptionInput, OpeningIntervalInput, StoreInput, StorePatchInput, parse_hours,
};
use super::types::Store;
use super::{caller, db, load_store, require_store_staff_or_operator};
use crate::domain::store::{StoreKind, StoreStatus};
use crate::store::{self, StorePatch};

pub struct Mutation;

#[Object]
impl Mutation {
    /// Operators: opens a store record.
    async fn create_store(&self, ctx: &Context<'_>, input: StoreInput) -> ApiResult<Store> {
        caller(ctx).require_operator()?;
        let new = input.parse()?;
        Ok(Store(Arc::new(store::create_store(db(ctx), &new).await?)))
    }

    /// Operators: changes a store's description.
    async fn update_store(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: StorePatchInput,
    ) -> ApiResult<Store> {
        caller(ctx).require_operator()?;
        let current = load_store(ctx, &id).await?;
        let patch = input.parse(StoreKind::parse(&current.kind).unwrap_or(StoreKind::Direct))?;
        Ok(Store(Arc::new(
            store::update_store(db(ctx), &id, &patch).await?,
        )))
    }

    /// The store's staff or operators: replaces the opening hours.
    async fn set_store_hours(
        &self,
        ctx: &Context<'_>,
        store_id: ID,
        hours: Vec<OpeningIntervalInput>,
        #[graphql(desc = "Dated exceptions; none if omitted.")] exceptions: Option<
            Vec<HoursExceptionInput>,
        >,
    ) -> ApiResult<Store> {
        require_store_staff_or_operator(caller(ctx), &store_id)?;
        let hours = parse_hours(hours, exceptions.unwrap_or_default())?;
        let patch = StorePatch {
            hours: Some(hours),
            ..StorePatch::default()
        };
        Ok(Store(Arc::new(
            store::update_store(db(ctx), &store_id, &patch).await?,
        )))
    }

    /// The store's staff or operators: OPEN, TEMPORARILY_CLOSED or CLOSED.
    async fn set_store_status(
        &self,
        ctx: &Context<'_>,
        store_id: ID,
        status: StoreStatus,
    ) -> ApiResult<Store> {
        require_store_staff_or_operator(caller(ctx), &store_id)?;
        let patch = StorePatch {
            status: Some(status),
            ..StorePatch::default()
        };
        Ok(Store(Arc::new(
            store::update_store(db(ctx), &store_id, &patch).await?,
        )))
    }
}
