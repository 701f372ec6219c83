//! Changes to the member record: profile, tags, consent.

use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, IntoActiveModel,
    QueryFilter, Set, TransactionTrait,
};

use super::entities::{consent, member, tag};
use super::{Actor, lock_active, member_with_phone};
use crate::domain::consent::ConsentPurpose;
use crate::domain::profile::ProfilePatch;
use crate::domain::tag::Tag;
use crate::error::{Error, Result};
use kit::time::to_micros;

/// Applies a profile patch. A phone number held by another member is a
/// CONFLICT (merge them instead).
pub async fn update_profile(
    db: &DatabaseConnection,
    member_id: &str,
    patch: &ProfilePatch,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<member::Model> {
    let result = async {
        let txn = db.begin().await?;
        let current = lock_active(&txn, member_id).await?;
        crate::domain::environment::check_contact_details(
            current.environment,
            patch.phone.is_some(),
            patch.email.is_some(),
        )?;
        if let Some(phone) = &patch.phone
            && let Some(holder) = member_with_phone(&txn, phone.as_str()).await?
            && holder.id != current.id
        {
            return Err(Error::conflict(
                "this phone number belongs to another member",
            ));
        }
        let mut row = current.into_active_model();
        if let Some(name) = &patch.name {
            row.name = Set(Some(name.as_str().to_owned()));
        }
        if let Some(phone) = &patch.phone {
            row.phone = Set(Some(phone.as_str().to_owned()));
        }
        if let Some(email) = &patch.email {
            row.email = Set(Some(email.as_str().to_owned()));
        }
        if let Some(birthday) = patch.birthday {
            row.birthday = Set(Some(birthday.date()));
        }
        if let Some(gender) = patch.gender {
            row.gender = Set(Some(gender));
        }
        row.updated_at = Set(to_micros(now));
        let updated = row.update(&txn).await?;
        txn.commit().await?;
        Ok(updated)
    }
    .await;
    match result {
        Err(Error::Db(err)) if kit::db::is_unique_violation(&err) => Err(Error::conflict(
            "this phone number belongs to another member",
        )),
        other => other,
    }
}

/// Adds tags; tags already present are kept as they were.
pub async fn add_tags(
    db: &DatabaseConnection,
    member_id: &str,
    tags: &[Tag],
    actor: &Actor,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<member::Model> {
    let txn = db.begin().await?;
    let member = lock_active(&txn, member_id).await?;
    let at = to_micros(now);
    let rows = tags.iter().map(|t| tag::ActiveModel {
        member_id: Set(member.id.clone()),
        tag: Set(t.as_str().to_owned()),
        added_at: Set(at),
        added_by: Set(actor.as_str().to_owned()),
    });
    let inserted = tag::Entity::insert_many(rows)
        .on_conflict(
            OnConflict::columns([tag::Column::MemberId, tag::Column::Tag])
                .do_nothing()
                .to_owned(),
        )
        .exec(&txn)
        .await;
    match inserted {
        Ok(_) | Err(DbErr::RecordNotInserted) => {}
        Err(e) => return Err(e.into()),
    }
    txn.commit().await?;
    Ok(member)
}

pub async fn remove_tags(
    db: &DatabaseConnection,
    member_id: &str,
    tags: &[Tag],
) -> Result<member::Model> {
    let txn = db.begin().await?;
    let member = lock_active(&txn, member_id).await?;
    tag::Entity::delete_many()
        .filter(tag::Column::MemberId.eq(member.id.clone()))
        .filter(tag::Column::Tag.is_in(tags.iter().map(|t| t.as_str().to_owned())))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(member)
}

/// Records a consent decision. Repeating the current decision keeps the time
/// it was first made.
pub async fn set_consent(
    db: &DatabaseConnection,
    member_id: &str,
    purpose: ConsentPurpose,
    granted: bool,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<member::Model> {
    let txn = db.begin().await?;
    let member = lock_active(&txn, member_id).await?;
    let current = consent::Entity::find_by_id((member.id.clone(), purpose))
        .one(&txn)
        .await?;
    match current {
        Some(row) if row.granted == granted => {}
        Some(row) => {
            let mut row = row.into_active_model();
            row.granted = Set(granted);
            row.changed_at = Set(to_micros(now));
            row.update(&txn).await?;
        }
        None => {
            consent::ActiveModel {
                member_id: Set(member.id.clone()),
                purpose: Set(purpose),
                granted: Set(granted),
                changed_at: Set(to_micros(now)),
            }
            .insert(&txn)
            .await?;
        }
    }
    txn.commit().await?;
    Ok(member)
}
