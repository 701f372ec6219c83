//! Bindings of members to the guides (and stores) that brought them.

use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbErr,
    EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};

use super::entities::{attribution, attribution_change, attribution_rule, favorite_store, guide};
use super::guides::guide_by_code;
use super::new_id;
use crate::domain::attribution::{
    AttributionRules, Binding, BindingCause, ScanOutcome, decide_scan,
};
use crate::error::{Error, Result};
use kit::auth::Actor;
use kit::events::schema::BindingChanged;
use kit::paging::{PageRequest, split_page};
use kit::time::to_micros;

pub async fn rules_for<C: ConnectionTrait>(db: &C, brand_id: &str) -> Result<AttributionRules> {
    Ok(
        match attribution_rule::Entity::find_by_id(brand_id.to_owned())
            .one(db)
            .await?
        {
            None => AttributionRules::default(),
            Some(row) => AttributionRules {
                binding_days: row.binding_days.map(|d| d as u32),
                protection_days: row.protection_days.map(|d| d as u32),
                on_departure: row.on_departure,
            },
        },
    )
}

/// Sets a brand's rules; they apply to bindings made from now on.
pub async fn set_rules(
    db: &DatabaseConnection,
    brand_id: &str,
    rules: &AttributionRules,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<AttributionRules> {
    let row = attribution_rule::ActiveModel {
        brand_id: Set(brand_id.to_owned()),
        binding_days: Set(rules.binding_days.map(|d| d as i32)),
        protection_days: Set(rules.protection_days.map(|d| d as i32)),
        on_departure: Set(rules.on_departure),
        updated_at: Set(to_micros(now)),
    };
    attribution_rule::Entity::insert(row)
        .on_conflict(
            OnConflict::column(attribution_rule::Column::BrandId)
                .update_columns([
                    attribution_rule::Column::BindingDays,
                    attribution_rule::Column::ProtectionDays,
                    attribution_rule::Column::OnDeparture,
                    attribution_rule::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec(db)
        .await?;
    rules_for(db, brand_id).await
}

pub async fn attribution_of<C: ConnectionTrait>(
    db: &C,
    member_id: &str,
) -> Result<Option<attribution::Model>> {
    Ok(attribution::Entity::find_by_id(member_id.to_owned())
        .one(db)
        .await?)
}

/// Whom an order by a member is attributed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderAttribution {
    /// `None`: bound to a store only, or the guide has since departed.
    pub guide_id: Option<String>,
}

/// Whom an order by `member_id` is attributed to, as this store knows it
/// now: the member's binding, or, for a member id merged into another, the
/// binding it had when merged (an order under that id was placed before the
/// merge, and may be read after it). `None`: bound to nothing here, or the
/// registration that binds the member is not read yet.
pub async fn order_attribution<C: ConnectionTrait>(
    db: &C,
    member_id: &str,
) -> Result<Option<OrderAttribution>> {
    if let Some(row) = attribution_of(db, member_id).await? {
        return Ok(Some(OrderAttribution {
            guide_id: row.guide_id,
        }));
    }
    let last_change = attribution_change::Entity::find()
        .filter(attribution_change::Column::MemberId.eq(member_id))
        .order_by_desc(attribution_change::Column::ChangedAt)
        .order_by_desc(attribution_change::Column::Id)
        .one(db)
        .await?;
    let Some(merged) = last_change.filter(|c| {
        c.cause == BindingCause::Merge && c.to_guide_id.is_none() && c.to_store_id.is_none()
    }) else {
        return Ok(None);
    };
    // A departed guide's bindings were moved or released when they left;
    // the merged member's record of them was not, so check here.
    let guide_id = match merged.from_guide_id {
        Some(id) => guide::Entity::find_by_id(id)
            .one(db)
            .await?
            .filter(|g| g.status == crate::domain::guide::GuideStatus::Active)
            .map(|g| g.id),
        None => None,
    };
    Ok(Some(OrderAttribution { guide_id }))
}

fn binding_of(row: &attribution::Model) -> Binding {
    Binding {
        guide_id: row.guide_id.clone(),
        store_id: row.store_id.clone(),
        expires_at: row.expires_at,
        protected_until: row.protected_until,
    }
}

/// What a scan did.
#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanResult {
    /// The member now belongs to this guide.
    Bound,
    /// The member already belonged to this guide.
    AlreadyBound,
    /// Another guide keeps the member.
    KeptByAnother,
}

/// A guide's code seen for a member (a scan, or a registration through the
/// code), inside `txn`. Unknown or rotated-away codes are NOT_FOUND.
pub async fn bind_by_code(
    txn: &DatabaseTransaction,
    member_id: &str,
    code: &str,
    cause: BindingCause,
    actor: &Actor,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(ScanResult, Option<attribution::Model>)> {
    let guide = guide_by_code(txn, code)
        .await?
        .ok_or_else(|| Error::not_found("no active guide has this code"))?;
    let current = attribution::Entity::find_by_id(member_id.to_owned())
        .lock_exclusive()
        .one(txn)
        .await?;
    match decide_scan(
        current.as_ref().map(binding_of).as_ref(),
        &guide.id,
        &guide.store_id,
        to_micros(now),
    ) {
        ScanOutcome::AlreadyBound => Ok((ScanResult::AlreadyBound, current)),
        ScanOutcome::Kept(_) => Ok((ScanResult::KeptByAnother, current)),
        ScanOutcome::Bind => {
            let bound = bind(
                txn,
                member_id,
                current.as_ref(),
                &guide,
                cause,
                None,
                actor,
                now,
            )
            .await?;
            Ok((ScanResult::Bound, Some(bound)))
        }
    }
}

/// The same, in a transaction of its own. Two scans racing for an unbound
/// member both try to insert its binding; the loser's insert fails on the
/// key, and its retry sees the winner's binding.
pub async fn scan(
    db: &DatabaseConnection,
    member_id: &str,
    code: &str,
    actor: &Actor,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(ScanResult, Option<attribution::Model>)> {
    kit::idempotency::retry_once_on_race(|| async {
        let txn = db.begin().await?;
        let result = bind_by_code(&txn, member_id, code, BindingCause::Scan, actor, now).await?;
        txn.commit().await?;
        Ok(result)
    })
    .await
}

#[allow(clippy::too_many_arguments)]
async fn bind(
    txn: &DatabaseTransaction,
    member_id: &str,
    current: Option<&attribution::Model>,
    guide: &guide::Model,
    cause: BindingCause,
    reason: Option<&str>,
    actor: &Actor,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<attribution::Model> {
    let at = to_micros(now);
    let (expires_at, protected_until) = rules_for(txn, &guide.brand_id).await?.terms(at);
    let row = attribution::ActiveModel {
        member_id: Set(member_id.to_owned()),
        guide_id: Set(Some(guide.id.clone())),
        store_id: Set(Some(guide.store_id.clone())),
        bound_at: Set(at),
        expires_at: Set(expires_at),
        protected_until: Set(protected_until),
        cause: Set(cause),
    };
    let bound = match current {
        Some(_) => row.update(txn).await?,
        None => row.insert(txn).await?,
    };
    record_change(
        txn,
        member_id,
        current,
        Some(&bound),
        cause,
        reason,
        actor,
        now,
    )
    .await?;
    Ok(bound)
}

/// Operators: binds a member to a guide, whatever the rules say.
pub async fn rebind(
    db: &DatabaseConnection,
    member_id: &str,
    guide_id: &str,
    reason: &str,
    actor: &Actor,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<attribution::Model> {
    let txn = db.begin().await?;
    let guide = super::guides::guide_by_id(&txn, guide_id)
        .await?
        .filter(|g| g.status == crate::domain::guide::GuideStatus::Active)
        .ok_or_else(|| Error::invalid("guideId", "no active guide with this id"))?;
    let current = attribution::Entity::find_by_id(member_id.to_owned())
        .lock_exclusive()
        .one(&txn)
        .await?;
    let bound = bind(
        &txn,
        member_id,
        current.as_ref(),
        &guide,
        BindingCause::Operator,
        Some(reason),
        actor,
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(bound)
}

/// On MemberMerged: the survivor keeps its binding, or takes the merged
/// member's if it had none.
pub async fn merge(
    txn: &DatabaseTransaction,
    survivor_id: &str,
    merged_id: &str,
    actor: &Actor,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<()> {
    let Some(merged) = attribution::Entity::find_by_id(merged_id.to_owned())
        .lock_exclusive()
        .one(txn)
        .await?
    else {
        return Ok(());
    };
    let survivor = attribution::Entity::find_by_id(survivor_id.to_owned())
        .lock_exclusive()
        .one(txn)
        .await?;
    attribution::Entity::delete_by_id(merged_id.to_owned())
        .exec(txn)
        .await?;
    record_change(
        txn,
        merged_id,
        Some(&merged),
        None,
        BindingCause::Merge,
        Some("merged into another member"),
        actor,
        now,
    )
    .await?;
    if survivor.is_none() {
        let moved = attribution::ActiveModel {
            member_id: Set(survivor_id.to_owned()),
            ..merged.clone().into_active_model()
        }
        .insert(txn)
        .await?;
        record_change(
            txn,
            survivor_id,
            None,
            Some(&moved),
            BindingCause::Merge,
            Some("taken from the merged member"),
            actor,
            now,
        )
        .await?;
    }
    // Favourites follow the person too.
    let favourites = favorite_store::Entity::find()
        .filter(favorite_store::Column::MemberId.eq(merged_id))
        .all(txn)
        .await?;
    for fav in favourites {
        add_favorite_in(txn, survivor_id, &fav.store_id, fav.added_at).await?;
    }
    favorite_store::Entity::delete_many()
        .filter(favorite_store::Column::MemberId.eq(merged_id))
        .exec(txn)
        .await?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn record_change(
    txn: &DatabaseTransaction,
    member_id: &str,
    before: Option<&attribution::Model>,
    after: Option<&attribution::Model>,
    cause: BindingCause,
    reason: Option<&str>,
    actor: &Actor,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<()> {
    attribution_change::ActiveModel {
        id: Set(new_id()),
        member_id: Set(member_id.to_owned()),
        from_guide_id: Set(before.and_then(|b| b.guide_id.clone())),
        from_store_id: Set(before.and_then(|b| b.store_id.clone())),
        to_guide_id: Set(after.and_then(|a| a.guide_id.clone())),
        to_store_id: Set(after.and_then(|a| a.store_id.clone())),
        cause: Set(cause),
        reason: Set(reason.map(ToOwned::to_owned)),
        actor: Set(actor.as_str().to_owned()),
        changed_at: Set(to_micros(now)),
    }
    .insert(txn)
    .await?;
    // Brands' segments and campaigns read bindings from the feed.
    let brand_id = match after.and_then(|a| a.store_id.as_deref()) {
        Some(store_id) => super::entities::store::Entity::find_by_id(store_id.to_owned())
            .one(txn)
            .await?
            .map(|s| s.brand_id),
        None => None,
    };
    kit::events::outbox::publish(
        txn,
        &BindingChanged {
            member_id: member_id.to_owned(),
            store_id: after.and_then(|a| a.store_id.clone()),
            guide_id: after.and_then(|a| a.guide_id.clone()),
            brand_id,
            cause,
            expires_at: after.and_then(|a| a.expires_at).map(kit::time::from_micros),
            changed_at: now,
        },
        now,
    )
    .await?;
    Ok(())
}

pub async fn attribution_history<C: ConnectionTrait>(
    db: &C,
    member_id: &str,
) -> Result<Vec<attribution_change::Model>> {
    Ok(attribution_change::Entity::find()
        .filter(attribution_change::Column::MemberId.eq(member_id))
        .order_by_desc(attribution_change::Column::ChangedAt)
        .order_by_desc(attribution_change::Column::Id)
        .all(db)
        .await?)
}

/// Members bound to a guide, by member id.
pub async fn members_of_guide<C: ConnectionTrait>(
    db: &C,
    guide_id: &str,
    page: &PageRequest,
) -> Result<(Vec<attribution::Model>, bool)> {
    let mut query = attribution::Entity::find().filter(attribution::Column::GuideId.eq(guide_id));
    if let Some(after) = &page.after {
        query = query.filter(attribution::Column::MemberId.gt(after.as_str()));
    }
    let rows = query
        .order_by_asc(attribution::Column::MemberId)
        .limit(page.fetch_limit())
        .all(db)
        .await?;
    Ok(split_page(rows, page))
}

pub async fn favorites_of<C: ConnectionTrait>(db: &C, member_id: &str) -> Result<Vec<String>> {
    Ok(favorite_store::Entity::find()
        .filter(favorite_store::Column::MemberId.eq(member_id))
        .order_by_asc(favorite_store::Column::AddedAt)
        .all(db)
        .await?
        .into_iter()
        .map(|f| f.store_id)
        .collect())
}

/// At most this many favourite stores per member.
pub const MAX_FAVORITES: usize = 50;

pub async fn add_favorite(
    db: &DatabaseConnection,
    member_id: &str,
    store_id: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<()> {
    if super::store_by_id(db, store_id).await?.is_none() {
        return Err(Error::not_found(format!("store {store_id} not found")));
    }
    let txn = db.begin().await?;
    if favorites_of(&txn, member_id).await?.len() >= MAX_FAVORITES {
        return Err(Error::conflict(format!(
            "at most {MAX_FAVORITES} favourite stores"
        )));
    }
    add_favorite_in(&txn, member_id, store_id, to_micros(now)).await?;
    txn.commit().await?;
    Ok(())
}

async fn add_favorite_in(
    txn: &DatabaseTransaction,
    member_id: &str,
    store_id: &str,
    at: i64,
) -> Result<()> {
    let row = favorite_store::ActiveModel {
        member_id: Set(member_id.to_owned()),
        store_id: Set(store_id.to_owned()),
        added_at: Set(at),
    };
    match favorite_store::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([
                favorite_store::Column::MemberId,
                favorite_store::Column::StoreId,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec(txn)
        .await
    {
        Ok(_) | Err(DbErr::RecordNotInserted) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

pub async fn remove_favorite(
    db: &DatabaseConnection,
    member_id: &str,
    store_id: &str,
) -> Result<()> {
    favorite_store::Entity::delete_many()
        .filter(favorite_store::Column::MemberId.eq(member_id))
        .filter(favorite_store::Column::StoreId.eq(store_id))
        .exec(db)
        .await?;
    Ok(())
}
