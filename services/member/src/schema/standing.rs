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

/// The `after` and `limit` of a segment's page of members.
#[derive(serde::Deserialize)]
pub struct SegmentPageQuery {
    after: Option<String>,
    limit: Option<i32>,
}

/// A page of the segment's members now (active, live), in id order, for
/// other services (a coupon drop pages through them).
pub async fn serve_segment_members(
    State(ctx): State<ServiceContext>,
    caller: Caller,
    Path(segment_id): Path<String>,
    axum::extract::Query(query): axum::extract::Query<SegmentPageQuery>,
) -> Response {
    if let Err(refused) = caller.require_service() {
        return refused.into_response();
    }
    let answer = async {
        // Other services name member ids, not the graph's cursors.
        let first = match query.limit {
            None => 100,
            Some(n @ 1..=100) => n as u64,
            Some(_) => {
                return Err(crate::error::Error::invalid(
                    "limit",
                    "limit must be between 1 and 100",
                ));
            }
        };
        let page = kit::paging::PageRequest {
            first,
            after: query.after,
        };
        let segment = store::segments::segment_by_id(&ctx.db, &segment_id).await?;
        let rules = store::segments::rules_of(&segment)?;
        let (members, more) =
            store::segments::members_page(&ctx.db, &rules, &page, ctx.clock.now()).await?;
        let member_ids: Vec<String> = members.into_iter().map(|m| m.id).collect();
        Ok::<_, crate::error::Error>(kit::members::SegmentMembersPage {
            next_after: more.then(|| member_ids.last().cloned()).flatten(),
            member_ids,
        })
    }
    .await;
    match answer {
        Ok(page) => Json(page).into_response(),
        Err(err) => kit::ApiError::from(err).into_response(),
    }
}
