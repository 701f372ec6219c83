//! `GET /members/{id}/standing`: who a write for a member acts for, asked by
//! the other services at the moment of each such write (kit::members);
//! `GET /members/{id}/segments/{segment}`: whether they are in a segment
//! now (reward eligibility). Service (and operator) tokens only; 404 when
//! no member (or segment) has the id.

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

/// Whether the member (a merged id: its survivor) is in the segment now.
pub async fn serve_segment(
    State(ctx): State<ServiceContext>,
    caller: Caller,
    Path((member_id, segment_id)): Path<(String, String)>,
) -> Response {
    if let Err(refused) = caller.require_service() {
        return refused.into_response();
    }
    let answer = async {
        let segment = store::segments::segment_by_id(&ctx.db, &segment_id).await?;
        let rules = store::segments::rules_of(&segment)?;
        let Some(standing) = store::standing(&ctx.db, &member_id).await? else {
            return Err(crate::error::Error::member_not_found(&member_id));
        };
        let now = ctx.clock.now();
        store::segments::contains(&ctx.db, &rules, &standing.member_id, now).await
    }
    .await;
    match answer {
        Ok(member) => Json(serde_json::json!({ "member": member })).into_response(),
        Err(err) => kit::ApiError::from(err).into_response(),
    }
}
