//! Coupon drops: a brand gives a reward's coupon, without points, to every
//! member of a segment. Created at once; then a runner pages through the
//! segment's members at the member service, granting each page in one
//! transaction with the drop's cursor, so a crash resumes where the last
//! page committed and no member is granted twice (one grant per member and
//! drop, by key). The product service issues each coupon from its
//! `CouponGranted` event.

use chrono::{DateTime, Utc};
use kit::auth::Actor;
use kit::events::schema::CouponGranted;
use kit::members::MemberDirectory;
use kit::paging::PageRequest;
use kit::time::to_micros;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};

use super::audit::{self, AuditRecord};
use super::entities::{coupon_drop, coupon_grant};
use super::programmes::{programme_by_id, rules};
use super::rewards::{coupon_terms_of, issue_coupon, reward_by_id};
use super::{IdempotencyKey, new_id, retry_once_on_race, sha256_hex};
use crate::domain::audit::AuditAction;
use crate::domain::rewards::DropStatus;
use crate::error::{Error, Result};

const DROP_COUPONS: &str = "DROP_COUPONS";

/// How many members one page (one transaction) grants.
pub const PAGE: u32 = 100;

/// Starts a drop of `reward_id`'s coupon to segment `segment_id`; a retry
/// with the same key and request answers the same drop. NOT_FOUND for an
/// unknown reward; BAD_USER_INPUT (`rewardId`) for a reward that gives no
/// coupon; FORBIDDEN for a sandbox programme's reward. The segment is the member service's, read when the drop runs.
pub async fn create(
    db: &DatabaseConnection,
    reward_id: &str,
    segment_id: &str,
    key: &IdempotencyKey,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<coupon_drop::Model> {
    let hash = sha256_hex(&[DROP_COUPONS, reward_id, segment_id]);
    retry_once_on_race(|| async {
        if let Some(id) = key.replayed(db, DROP_COUPONS, &hash).await? {
            return drop_by_id(db, &id).await;
        }
        let reward = reward_by_id(db, reward_id).await?;
        if coupon_terms_of(&reward)?.is_none() {
            return Err(Error::invalid(
                "rewardId",
                "only a reward that gives a coupon can be dropped",
            ));
        }
        let programme = programme_by_id(db, &reward.programme_id).await?;
        // Segments hold live members only: a sandbox's coupons never reach
        // them.
        if programme.environment != kit::auth::Environment::Live {
            return Err(Error::forbidden(
                "a sandbox programme cannot drop coupons: segments hold live members only",
            ));
        }
        let at = to_micros(now);
        let txn = db.begin().await?;
        let row = coupon_drop::ActiveModel {
            id: Set(new_id()),
            programme_id: Set(programme.id.clone()),
            reward_id: Set(reward.id.clone()),
            segment_id: Set(segment_id.to_owned()),
            status: Set(DropStatus::Running),
            after_member_id: Set(None),
            granted: Set(0),
            created_at: Set(at),
            created_by: Set(actor.as_str().to_owned()),
            finished_at: Set(None),
            failure: Set(None),
        }
        .insert(&txn)
        .await?;
        key.remember(&txn, DROP_COUPONS, &hash, &row.id, at).await?;
        audit::record(
            &txn,
            AuditRecord {
                actor,
                action: AuditAction::CouponsDropped,
                brand_id: Some(&programme.brand_id),
                subject_id: &row.id,
                detail: serde_json::json!({
                    "programmeId": row.programme_id,
                    "rewardId": row.reward_id,
                    "segmentId": row.segment_id,
                }),
            },
            now,
        )
        .await?;
        txn.commit().await?;
        Ok(row)
    })
    .await
}

pub async fn drop_by_id<C: ConnectionTrait>(db: &C, id: &str) -> Result<coupon_drop::Model> {
    coupon_drop::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?
        .ok_or_else(|| Error::not_found(format!("no coupon drop {id}")))
}

/// A programme's drops, newest first; the cursor is the drop's id.
pub async fn drops_page<C: ConnectionTrait>(
    db: &C,
    programme_id: &str,
    page: &PageRequest,
) -> Result<(Vec<coupon_drop::Model>, bool)> {
    let mut q = coupon_drop::Entity::find()
        .filter(coupon_drop::Column::ProgrammeId.eq(programme_id))
        .order_by_desc(coupon_drop::Column::Id)
        .limit(page.fetch_limit());
    if let Some(after) = &page.after {
        q = q.filter(coupon_drop::Column::Id.lt(after.as_str()));
    }
    Ok(kit::paging::split_page(q.all(db).await?, page))
}

/// What one pass of the runner did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    pub granted: u64,
    pub finished: u64,
}

/// Grants one page (`page_size` members, 1-100) of every running drop. A
/// drop whose segment the member service does not know FAILS; with no
/// member service connected, or none answering, it waits (tried again on
/// the next pass).
pub async fn run_once(
    db: &DatabaseConnection,
    members: &MemberDirectory,
    page_size: u32,
    now: DateTime<Utc>,
) -> Result<Pass> {
    let running = coupon_drop::Entity::find()
        .filter(coupon_drop::Column::Status.eq(DropStatus::Running))
        .order_by_asc(coupon_drop::Column::Id)
        .all(db)
        .await?;
    let mut pass = Pass::default();
    for drop in running {
        let page = match members
            .segment_members(&drop.segment_id, drop.after_member_id.as_deref(), page_size)
            .await
        {
            Ok(page) => page,
            Err(err) if err.code == kit::ErrorCode::NotFound => {
                fail(db, &drop, &err.message, now).await?;
                pass.finished += 1;
                continue;
            }
            Err(err) => {
                tracing::warn!(drop = %drop.id, code = ?err.code, "coupon drop waits: {}", err.message);
                continue;
            }
        };
        let granted = grant_page(db, &drop, &page, now).await?;
        pass.granted += granted;
        if page.next_after.is_none() {
            pass.finished += 1;
        }
    }
    Ok(pass)
}

/// Grants `page` of `drop` in one transaction, with the drop's cursor,
/// only if the drop is still where it was read (a replica's runner that
/// got there first wins; this one's work is rolled back).
async fn grant_page(
    db: &DatabaseConnection,
    drop: &coupon_drop::Model,
    page: &kit::members::SegmentMembersPage,
    now: DateTime<Utc>,
) -> Result<u64> {
    let reward = reward_by_id(db, &drop.reward_id).await?;
    let programme = programme_by_id(db, &drop.programme_id).await?;
    let terms = coupon_terms_of(&reward)?
        .ok_or_else(|| Error::corrupt(format_args!("drop {}: reward without terms", drop.id)))?;
    let zone = rules(&programme)?.time_zone;
    let at = to_micros(now);
    let txn = db.begin().await?;
    let mut granted = 0;
    for member_id in &page.member_ids {
        let coupon = issue_coupon(&programme.brand_id, terms.clone(), now, zone)?;
        let grant_id = new_id();
        let inserted = coupon_grant::Entity::insert(coupon_grant::ActiveModel {
            drop_id: Set(drop.id.clone()),
            member_id: Set(member_id.clone()),
            id: Set(grant_id.clone()),
            coupon_id: Set(coupon.coupon_id.clone()),
            coupon_code: Set(coupon.code.clone()),
            granted_at: Set(at),
        })
        .on_conflict(
            OnConflict::columns([coupon_grant::Column::DropId, coupon_grant::Column::MemberId])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
        if inserted == 0 {
            continue; // granted already (a member listed again)
        }
        granted += 1;
        kit::events::outbox::publish(
            &txn,
            &CouponGranted {
                grant_id,
                drop_id: drop.id.clone(),
                reward_id: reward.id.clone(),
                programme_id: programme.id.clone(),
                brand_id: programme.brand_id.clone(),
                member_id: member_id.clone(),
                coupon,
                granted_at: now,
            },
            now,
        )
        .await?;
    }
    let mut condition = coupon_drop::Column::Id
        .eq(drop.id.as_str())
        .and(coupon_drop::Column::Status.eq(DropStatus::Running));
    condition = match &drop.after_member_id {
        Some(after) => condition.and(coupon_drop::Column::AfterMemberId.eq(after.as_str())),
        None => condition.and(coupon_drop::Column::AfterMemberId.is_null()),
    };
    let mut row = drop.clone().into_active_model();
    if let Some(last) = page.member_ids.last() {
        row.after_member_id = Set(Some(last.clone()));
    }
    row.granted = Set(drop.granted + granted as i64);
    if page.next_after.is_none() {
        row.status = Set(DropStatus::Done);
        row.finished_at = Set(Some(at));
    }
    let moved = coupon_drop::Entity::update_many()
        .set(row)
        .filter(condition)
        .exec(&txn)
        .await?
        .rows_affected;
    if moved != 1 {
        // Another runner granted this page first: keep its work.
        txn.rollback().await?;
        return Ok(0);
    }
    txn.commit().await?;
    Ok(granted)
}

/// Ends a drop that cannot run, saying why (if it is still running).
async fn fail(
    db: &DatabaseConnection,
    drop: &coupon_drop::Model,
    why: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    coupon_drop::Entity::update_many()
        .col_expr(
            coupon_drop::Column::Status,
            sea_orm::sea_query::Expr::value(DropStatus::Failed),
        )
        .col_expr(
            coupon_drop::Column::Failure,
            sea_orm::sea_query::Expr::value(why.chars().take(200).collect::<String>()),
        )
        .col_expr(
            coupon_drop::Column::FinishedAt,
            sea_orm::sea_query::Expr::value(to_micros(now)),
        )
        .filter(coupon_drop::Column::Id.eq(drop.id.as_str()))
        .filter(coupon_drop::Column::Status.eq(DropStatus::Running))
        .exec(db)
        .await?;
    Ok(())
}

/// Runs [`run_once`] every `interval` until shutdown.
pub async fn run(
    db: DatabaseConnection,
    clock: kit::time::Clock,
    members: MemberDirectory,
    interval: std::time::Duration,
    mut shutdown: kit::shutdown::Shutdown,
) {
    loop {
        match run_once(&db, &members, PAGE, clock.now()).await {
            Ok(pass) if pass.granted > 0 || pass.finished > 0 => {
                tracing::info!(
                    granted = pass.granted,
                    finished = pass.finished,
                    "coupon drops"
                );
            }
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %err, "coupon drops failed; trying again"),
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = shutdown.wait() => return,
        }
    }
}
