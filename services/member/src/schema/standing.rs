//! `GET /members/{id}/standing`: who a write for a member acts for, asked by
//! the other services at the moment of each such write (kit::members).
//! Service (and operator) tokens only; 404 when no member has the id.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kit::Caller;
use kit::service::ServiceContext;

use crate::store;

pub async fn serve(
    State(ctx): State<ServiceContext>,
    caller: Caller,
    Path(member_id): Path<String>,
) -> Response {
    if let Err(refused) = caller.require_service() {
        return refused.into_response();
    }
    match store::standing(&ctx.db, &member_id).await {
        Ok(Some(standing)) => Json(standing).into_response(),
        Ok(None) => (
            StatusCode::NOT_FOUND,
            Json(kit::ApiError::not_found(format!("no member {member_id}")).to_json()),
        )
            .into_response(),
        Err(err) => kit::ApiError::from(err).into_response(),
    }
}
