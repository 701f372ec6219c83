//! Partners' webhook endpoints and their deliveries.
//!
//! Events reach here from the outbox: the alliance's own feed (ledger
//! entries, expiry warnings, terms) and the member feed (merges,
//! erasures), each applied once by a feed consumer, whose transaction also
//! writes one delivery row per subscribed endpoint ([`enqueue`]). Sending
//! is `crate::webhooks`; this module only reads and writes rows.

use chrono::{DateTime, Utc};
use kit::auth::Actor;
use kit::paging::PageRequest;
use kit::time::to_micros;
use sea_orm::sea_query::{Condition, Expr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, TransactionTrait,
};

use crate::domain::audit::AuditAction;
use crate::domain::webhooks::{
    AttemptOutcome, DeliveryStatus, EventTypes, WebhookEventType, envelope, new_signing_secret,
};
use crate::error::{Error, Result};
use crate::store::audit::{self, AuditRecord};
use crate::store::entities::{account, brand, programme, webhook_delivery, webhook_endpoint};
use crate::store::{IdempotencyKey, new_id, retry_once_on_race, sha256_hex};

/// Registers an endpoint for `brand_id`; its signing secret is in the
/// returned row (the API shows it in this answer only). The same
/// `key` with the same request answers the first registration again.
pub async fn register(
    db: &DatabaseConnection,
    brand_id: &str,
    url: &str,
    events: &EventTypes,
    key: &IdempotencyKey,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<webhook_endpoint::Model> {
    let hash = sha256_hex(&["WEBHOOK_ENDPOINT", brand_id, url, &events.to_list()]);
    retry_once_on_race(|| async {
        if let Some(id) = key.replayed(db, "WEBHOOK_ENDPOINT", &hash).await? {
            return endpoint_by_id(db, &id).await;
        }
        if brand::Entity::find_by_id(brand_id.to_owned())
            .one(db)
            .await?
            .is_none()
        {
            return Err(Error::not_found(format!("no brand {brand_id}")));
        }
        let at = to_micros(now);
        let txn = db.begin().await?;
        let row = webhook_endpoint::ActiveModel {
            id: Set(new_id()),
            brand_id: Set(brand_id.to_owned()),
            url: Set(url.to_owned()),
            events: Set(events.to_list()),
            secret: Set(new_signing_secret()),
            paused: Set(false),
            created_at: Set(at),
            created_by: Set(actor.as_str().to_owned()),
        }
        .insert(&txn)
        .await?;
        key.remember(&txn, "WEBHOOK_ENDPOINT", &hash, &row.id, at)
            .await?;
        audit::record(
            &txn,
            AuditRecord {
                actor,
                action: AuditAction::WebhookRegistered,
                brand_id: Some(brand_id),
                subject_id: &row.id,
                detail: serde_json::json!({ "url": row.url, "events": row.events }),
            },
            now,
        )
        .await?;
        txn.commit().await?;
        Ok(row)
    })
    .await
}

pub async fn endpoint_by_id<C: ConnectionTrait>(
    db: &C,
    id: &str,
) -> Result<webhook_endpoint::Model> {
    webhook_endpoint::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?
        .ok_or_else(|| Error::not_found(format!("no webhook endpoint {id}")))
}

/// A brand's endpoints, oldest first; the cursor is the endpoint's id
/// (UUIDv7, so ids sort by creation).
pub async fn endpoints_page<C: ConnectionTrait>(
    db: &C,
    brand_id: &str,
    page: &PageRequest,
) -> Result<(Vec<webhook_endpoint::Model>, bool)> {
    let mut q = webhook_endpoint::Entity::find()
        .filter(webhook_endpoint::Column::BrandId.eq(brand_id))
        .order_by_asc(webhook_endpoint::Column::Id)
        .limit(page.fetch_limit());
    if let Some(after) = &page.after {
        q = q.filter(webhook_endpoint::Column::Id.gt(after.as_str()));
    }
    Ok(kit::paging::split_page(q.all(db).await?, page))
}

/// Operators: pauses (or resumes) an endpoint. Events keep being queued
/// for a paused endpoint and go out once it is resumed.
pub async fn set_paused(
    db: &DatabaseConnection,
    id: &str,
    paused: bool,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<webhook_endpoint::Model> {
    let txn = db.begin().await?;
    let endpoint = endpoint_by_id(&txn, id).await?;
    webhook_endpoint::Entity::update_many()
        .col_expr(webhook_endpoint::Column::Paused, Expr::value(paused))
        .filter(webhook_endpoint::Column::Id.eq(id))
        .exec(&txn)
        .await?;
    if endpoint.paused != paused {
        audit::record(
            &txn,
            AuditRecord {
                actor,
                action: if paused {
                    AuditAction::WebhookPaused
                } else {
                    AuditAction::WebhookResumed
                },
                brand_id: Some(&endpoint.brand_id),
                subject_id: id,
                detail: serde_json::json!({ "url": endpoint.url }),
            },
            now,
        )
        .await?;
    }
    txn.commit().await?;
    Ok(webhook_endpoint::Model { paused, ..endpoint })
}

/// One event to announce to brands' endpoints.
pub struct Announcement {
    pub event_type: WebhookEventType,
    /// Ids and amounts only.
    pub data: serde_json::Value,
    pub occurred_at: DateTime<Utc>,
}

/// Queues `announcement` for every endpoint of `brand_ids` registered by
/// the time it happened that listens to its type, inside the consumer's transaction `txn`; how many deliveries.
/// Each brand gets its own event id (its body names the brand).
pub async fn enqueue<C: ConnectionTrait>(
    txn: &C,
    brand_ids: &[String],
    announcement: &Announcement,
    now: DateTime<Utc>,
) -> Result<usize> {
    if brand_ids.is_empty() {
        return Ok(0);
    }
    // An endpoint hears of what happened from its registration on.
    let endpoints = webhook_endpoint::Entity::find()
        .filter(webhook_endpoint::Column::BrandId.is_in(brand_ids.iter().map(String::as_str)))
        .filter(webhook_endpoint::Column::CreatedAt.lte(to_micros(announcement.occurred_at)))
        .order_by_asc(webhook_endpoint::Column::Id)
        .all(txn)
        .await?;
    let at = to_micros(now);
    let mut queued = 0;
    for brand_id in brand_ids {
        let listening: Vec<&webhook_endpoint::Model> = endpoints
            .iter()
            .filter(|e| &e.brand_id == brand_id)
            .filter(|e| EventTypes::from_list(&e.events).contains(announcement.event_type))
            .collect();
        if listening.is_empty() {
            continue;
        }
        let event_id = format!("evt_{}", new_id());
        let body = envelope(
            &event_id,
            announcement.event_type,
            brand_id,
            announcement.occurred_at,
            announcement.data.clone(),
        );
        for endpoint in listening {
            webhook_delivery::ActiveModel {
                id: Set(new_id()),
                endpoint_id: Set(endpoint.id.clone()),
                event_id: Set(event_id.clone()),
                event_type: Set(announcement.event_type),
                body: Set(body.clone()),
                status: Set(DeliveryStatus::Pending),
                attempts: Set(0),
                next_attempt_at: Set(at),
                leased_until: Set(None),
                last_attempt_at: Set(None),
                last_status: Set(None),
                last_answer: Set(None),
                created_at: Set(at),
                delivered_at: Set(None),
                redelivery_of: Set(None),
            }
            .insert(txn)
            .await?;
            queued += 1;
        }
    }
    Ok(queued)
}

/// The brand owning each of `programme_ids` (one per programme, in order,
/// without repeats).
pub async fn brands_of_programmes<C: ConnectionTrait>(
    db: &C,
    programme_ids: &[&str],
) -> Result<Vec<String>> {
    let rows = programme::Entity::find()
        .filter(programme::Column::Id.is_in(programme_ids.iter().copied()))
        .all(db)
        .await?;
    let mut brands: Vec<String> = Vec::new();
    for id in programme_ids {
        if let Some(p) = rows.iter().find(|p| p.id == *id)
            && !brands.contains(&p.brand_id)
        {
            brands.push(p.brand_id.clone());
        }
    }
    Ok(brands)
}

/// The brands in whose programmes any of `member_ids` holds an account.
pub async fn brands_of_members<C: ConnectionTrait>(
    db: &C,
    member_ids: &[String],
) -> Result<Vec<String>> {
    let accounts = account::Entity::find()
        .filter(account::Column::MemberId.is_in(member_ids.iter().map(String::as_str)))
        .all(db)
        .await?;
    let mut programmes: Vec<&str> = accounts.iter().map(|a| a.programme_id.as_str()).collect();
    programmes.sort_unstable();
    programmes.dedup();
    brands_of_programmes(db, &programmes).await
}

/// Which deliveries to list.
#[derive(Debug, Default)]
pub struct DeliveryFilter {
    pub status: Option<DeliveryStatus>,
}

/// An endpoint's deliveries, newest first; the cursor is the delivery's id.
pub async fn deliveries_page<C: ConnectionTrait>(
    db: &C,
    endpoint_id: &str,
    filter: &DeliveryFilter,
    page: &PageRequest,
) -> Result<(Vec<webhook_delivery::Model>, bool)> {
    let mut q = webhook_delivery::Entity::find()
        .filter(webhook_delivery::Column::EndpointId.eq(endpoint_id))
        .order_by_desc(webhook_delivery::Column::Id)
        .limit(page.fetch_limit());
    if let Some(status) = filter.status {
        q = q.filter(webhook_delivery::Column::Status.eq(status));
    }
    if let Some(after) = &page.after {
        q = q.filter(webhook_delivery::Column::Id.lt(after.as_str()));
    }
    Ok(kit::paging::split_page(q.all(db).await?, page))
}

pub async fn delivery_by_id<C: ConnectionTrait>(
    db: &C,
    id: &str,
) -> Result<webhook_delivery::Model> {
    webhook_delivery::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?
        .ok_or_else(|| Error::not_found(format!("no webhook delivery {id}")))
}

/// Sends a delivered or failed delivery again: a new delivery of the same
/// event (same id, same body), due now. CONFLICT while the original is
/// still pending (it will be tried anyway). Asking again while that
/// redelivery is pending answers it, so retries and identical requests at
/// once make one redelivery.
pub async fn redeliver(
    db: &DatabaseConnection,
    id: &str,
    now: DateTime<Utc>,
) -> Result<webhook_delivery::Model> {
    let txn = db.begin().await?;
    // Take the original's row first: redeliveries of one delivery queue
    // here (SQLite has one writer; PostgreSQL locks the row).
    webhook_delivery::Entity::update_many()
        .col_expr(
            webhook_delivery::Column::CreatedAt,
            Expr::col(webhook_delivery::Column::CreatedAt).into(),
        )
        .filter(webhook_delivery::Column::Id.eq(id))
        .exec(&txn)
        .await?;
    let original = delivery_by_id(&txn, id).await?;
    if original.status == DeliveryStatus::Pending {
        return Err(Error::conflict(format!(
            "delivery {id} is still pending: it will be tried at its next attempt"
        )));
    }
    if let Some(waiting) = webhook_delivery::Entity::find()
        .filter(webhook_delivery::Column::RedeliveryOf.eq(id))
        .filter(webhook_delivery::Column::Status.eq(DeliveryStatus::Pending))
        .one(&txn)
        .await?
    {
        return Ok(waiting);
    }
    let at = to_micros(now);
    let row = webhook_delivery::ActiveModel {
        id: Set(new_id()),
        endpoint_id: Set(original.endpoint_id),
        event_id: Set(original.event_id),
        event_type: Set(original.event_type),
        body: Set(original.body),
        status: Set(DeliveryStatus::Pending),
        attempts: Set(0),
        next_attempt_at: Set(at),
        leased_until: Set(None),
        last_attempt_at: Set(None),
        last_status: Set(None),
        last_answer: Set(None),
        created_at: Set(at),
        delivered_at: Set(None),
        redelivery_of: Set(Some(original.id)),
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    Ok(row)
}

/// A delivery ready to send, with where and how to sign it.
#[derive(Debug, Clone)]
pub struct DueDelivery {
    pub delivery: webhook_delivery::Model,
    pub url: String,
    pub secret: String,
    /// Whether its endpoint was paused when it was read.
    pub paused: bool,
}

/// For each endpoint that is not paused and has a delivery due at `now`
/// (pending, not leased), its earliest due one; at most `limit`
/// endpoints, those waiting longest first. Chosen per endpoint, so that
/// one endpoint's backlog (paused, hanging or just busy) never hides
/// another's deliveries.
pub async fn due<C: ConnectionTrait>(
    db: &C,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<DueDelivery>> {
    use sea_orm::sea_query::{Func, SimpleExpr};
    let at = to_micros(now);
    let first_due: SimpleExpr =
        Func::min(Expr::col(webhook_delivery::Column::NextAttemptAt)).into();
    let waiting: Vec<(String, i64)> = webhook_delivery::Entity::find()
        .select_only()
        .column(webhook_delivery::Column::EndpointId)
        .column_as(first_due, "first_due")
        .filter(due_now(at))
        .group_by(webhook_delivery::Column::EndpointId)
        .into_tuple()
        .all(db)
        .await?;
    let endpoints = webhook_endpoint::Entity::find()
        .filter(webhook_endpoint::Column::Id.is_in(waiting.iter().map(|(id, _)| id.as_str())))
        .filter(webhook_endpoint::Column::Paused.eq(false))
        .all(db)
        .await?;
    let mut ready: Vec<(&webhook_endpoint::Model, i64)> = waiting
        .iter()
        .filter_map(|(id, first)| Some((endpoints.iter().find(|e| &e.id == id)?, *first)))
        .collect();
    ready.sort_by_key(|(e, first)| (*first, e.id.clone()));
    let mut out = Vec::new();
    for (endpoint, _) in ready.into_iter().take(limit as usize) {
        if let Some(next) = next_due(db, endpoint, now).await? {
            out.push(next);
        }
    }
    Ok(out)
}

/// `endpoint`'s earliest delivery due at `now`, if any.
pub async fn next_due<C: ConnectionTrait>(
    db: &C,
    endpoint: &webhook_endpoint::Model,
    now: DateTime<Utc>,
) -> Result<Option<DueDelivery>> {
    let delivery = webhook_delivery::Entity::find()
        .filter(webhook_delivery::Column::EndpointId.eq(endpoint.id.as_str()))
        .filter(due_now(to_micros(now)))
        .order_by_asc(webhook_delivery::Column::NextAttemptAt)
        .order_by_asc(webhook_delivery::Column::Id)
        .one(db)
        .await?;
    Ok(delivery.map(|delivery| DueDelivery {
        delivery,
        url: endpoint.url.clone(),
        secret: endpoint.secret.clone(),
        paused: endpoint.paused,
    }))
}

/// Pending, due by `at` (µs), and not held by a sender's lease.
fn due_now(at: i64) -> Condition {
    Condition::all()
        .add(webhook_delivery::Column::Status.eq(DeliveryStatus::Pending))
        .add(webhook_delivery::Column::NextAttemptAt.lte(at))
        .add(
            Condition::any()
                .add(webhook_delivery::Column::LeasedUntil.is_null())
                .add(webhook_delivery::Column::LeasedUntil.lt(at)),
        )
}

/// Takes a due delivery for one attempt until `lease_until` (µs): false if
/// another sender took it first (its lease is current) or it is no longer
/// pending.
pub async fn claim<C: ConnectionTrait>(
    db: &C,
    id: &str,
    now: DateTime<Utc>,
    lease_until: i64,
) -> Result<bool> {
    let at = to_micros(now);
    let taken = webhook_delivery::Entity::update_many()
        .col_expr(
            webhook_delivery::Column::LeasedUntil,
            Expr::value(Some(lease_until)),
        )
        .filter(webhook_delivery::Column::Id.eq(id))
        .filter(webhook_delivery::Column::Status.eq(DeliveryStatus::Pending))
        .filter(
            Condition::any()
                .add(webhook_delivery::Column::LeasedUntil.is_null())
                .add(webhook_delivery::Column::LeasedUntil.lt(at)),
        )
        .exec(db)
        .await?;
    Ok(taken.rows_affected == 1)
}

/// What one attempt found.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// The endpoint's HTTP status; none if it did not answer.
    pub status: Option<u16>,
    /// The start of its answer, or why there was none.
    pub answer: String,
    pub outcome: AttemptOutcome,
    /// When to try again (µs), for [`AttemptOutcome::Retry`].
    pub next_attempt_at: i64,
}

/// Records an attempt on a delivery this sender claimed, and releases it.
pub async fn record_attempt<C: ConnectionTrait>(
    db: &C,
    delivery: &webhook_delivery::Model,
    attempt: &Attempt,
    now: DateTime<Utc>,
) -> Result<()> {
    let at = to_micros(now);
    let status = match attempt.outcome {
        AttemptOutcome::Delivered => DeliveryStatus::Delivered,
        AttemptOutcome::Retry => DeliveryStatus::Pending,
        AttemptOutcome::Failed => DeliveryStatus::Failed,
    };
    let answer: String = attempt
        .answer
        .chars()
        .take(crate::domain::webhooks::ANSWER_KEPT_CHARS)
        .collect();
    webhook_delivery::Entity::update_many()
        .col_expr(webhook_delivery::Column::Status, Expr::value(status))
        .col_expr(
            webhook_delivery::Column::Attempts,
            Expr::value(delivery.attempts + 1),
        )
        .col_expr(
            webhook_delivery::Column::NextAttemptAt,
            Expr::value(attempt.next_attempt_at),
        )
        .col_expr(
            webhook_delivery::Column::LeasedUntil,
            Expr::value(Option::<i64>::None),
        )
        .col_expr(
            webhook_delivery::Column::LastAttemptAt,
            Expr::value(Some(at)),
        )
        .col_expr(
            webhook_delivery::Column::LastStatus,
            Expr::value(attempt.status.map(i64::from)),
        )
        .col_expr(
            webhook_delivery::Column::LastAnswer,
            Expr::value(Some(answer)),
        )
        .col_expr(
            webhook_delivery::Column::DeliveredAt,
            Expr::value((attempt.outcome == AttemptOutcome::Delivered).then_some(at)),
        )
        .filter(webhook_delivery::Column::Id.eq(delivery.id.as_str()))
        .filter(webhook_delivery::Column::Status.eq(DeliveryStatus::Pending))
        .exec(db)
        .await?;
    Ok(())
}
