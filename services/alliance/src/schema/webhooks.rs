//! GraphQL types of partners' webhooks.

use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use kit::ApiResult;
use kit::paging::{PageRequest, encode_cursor};
use kit::time::from_micros;

use super::db;
use super::types::Brand;
use crate::domain::webhooks::{DeliveryStatus, EventTypes, WebhookEventType};
use crate::store::entities::{webhook_delivery, webhook_endpoint};
use crate::store::webhooks::{self, DeliveryFilter};

/// Where a brand's events are POSTed, signed with the endpoint's secret.
pub struct WebhookEndpoint(pub webhook_endpoint::Model);

#[Object]
impl WebhookEndpoint {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn brand(&self) -> Brand {
        Brand::of(self.0.brand_id.clone())
    }
    async fn url(&self) -> &str {
        &self.0.url
    }
    /// The event types delivered here.
    async fn events(&self) -> Vec<WebhookEventType> {
        EventTypes::from_list(&self.0.events).iter().collect()
    }
    /// Paused by an operator: events are queued and go out on resuming.
    async fn paused(&self) -> bool {
        self.0.paused
    }
    async fn created_at(&self) -> DateTime<Utc> {
        from_micros(self.0.created_at)
    }
    /// The delivery log, newest first.
    async fn deliveries(
        &self,
        ctx: &Context<'_>,
        status: Option<DeliveryStatus>,
        #[graphql(desc = "Page size, 1-100 (default 20).")] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<String, WebhookDelivery, EmptyFields, EmptyFields>> {
        let page = PageRequest::parse(first, after)?;
        let (rows, has_next) =
            webhooks::deliveries_page(db(ctx), &self.0.id, &DeliveryFilter { status }, &page)
                .await?;
        let mut connection = Connection::new(page.after.is_some(), has_next);
        connection.edges.extend(
            rows.into_iter()
                .map(|d| Edge::new(encode_cursor(&d.id), WebhookDelivery(d))),
        );
        Ok(connection)
    }
}

/// A new endpoint and its signing secret, shown in this answer only (and
/// again to a retry of the same request with the same idempotency key).
#[derive(SimpleObject)]
pub struct RegisteredWebhookEndpoint {
    pub endpoint: WebhookEndpoint,
    /// `whsec_...`: the HMAC-SHA256 key of the `Bigmember-Signature`
    /// header.
    pub signing_secret: String,
}

/// One event sent (or being sent) to one endpoint.
pub struct WebhookDelivery(pub webhook_delivery::Model);

#[Object]
impl WebhookDelivery {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    /// The event's id (also `Bigmember-Event-Id` and `id` in the body):
    /// the same on every attempt and redelivery.
    async fn event_id(&self) -> &str {
        &self.0.event_id
    }
    async fn event_type(&self) -> WebhookEventType {
        self.0.event_type
    }
    async fn status(&self) -> DeliveryStatus {
        self.0.status
    }
    /// Attempts made so far (at most `webhooks.max_attempts`).
    async fn attempts(&self) -> i32 {
        i32::try_from(self.0.attempts).unwrap_or(i32::MAX)
    }
    async fn created_at(&self) -> DateTime<Utc> {
        from_micros(self.0.created_at)
    }
    async fn last_attempt_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_attempt_at.map(from_micros)
    }
    /// When the next attempt is due; null once delivered or failed.
    async fn next_attempt_at(&self) -> Option<DateTime<Utc>> {
        (self.0.status == DeliveryStatus::Pending).then(|| from_micros(self.0.next_attempt_at))
    }
    async fn delivered_at(&self) -> Option<DateTime<Utc>> {
        self.0.delivered_at.map(from_micros)
    }
    /// The endpoint's last HTTP status; null if it did not answer.
    async fn last_status(&self) -> Option<i32> {
        self.0.last_status.and_then(|s| i32::try_from(s).ok())
    }
    /// The start of the endpoint's last answer (512 characters), or why
    /// there was none.
    async fn last_answer(&self) -> Option<&str> {
        self.0.last_answer.as_deref()
    }
    /// The delivery this one sends again.
    async fn redelivery_of(&self) -> Option<ID> {
        self.0.redelivery_of.clone().map(ID)
    }
    /// The JSON body sent, exactly.
    async fn payload(&self) -> &str {
        &self.0.body
    }
}
