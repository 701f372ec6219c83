//! Merging two member records found to be one person.

use sea_orm::ActiveEnum as _;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DatabaseTransaction, DbErr, EntityTrait,
    IntoActiveModel, QueryFilter, QuerySelect, Set, TransactionTrait,
};

use super::entities::{consent, identity, member, merge, tag, touchpoint};
use super::{Actor, new_id};
use crate::domain::MemberStatus;
use crate::domain::consent::{ConsentDecision, later};
use crate::domain::merge::{MergeRequest, Profile, fill_gaps, merged_growth};
use crate::domain::tier::TierChangeCause;
use crate::error::{Error, Result};
use kit::events::outbox::publish;
use kit::events::schema::MemberMerged;
use kit::time::to_micros;

/// Merges `merged_id` into `survivor_id`: identities, tags, touchpoints and
/// consents move; the survivor keeps its profile (filling gaps), the higher
/// tier and both growth values; the merged id resolves to the survivor from
/// now on. Repeating a merge that already happened returns the survivor.
pub async fn merge(
    db: &DatabaseConnection,
    req: &MergeRequest,
    actor: &Actor,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<member::Model> {
    let txn = db.begin().await?;
    // Lock in id order so two opposite merges cannot deadlock.
    let mut ids = [req.survivor_id.clone(), req.merged_id.clone()];
    ids.sort();
    let locked = member::Entity::find()
        .filter(member::Column::Id.is_in(ids.clone()))
        .lock_exclusive()
        .all(&txn)
        .await?;
    let find = |id: &str| {
        locked
            .iter()
            .find(|m| m.id == id)
            .cloned()
            .ok_or_else(|| Error::member_not_found(id))
    };
    let survivor = find(&req.survivor_id)?;
    let merged = find(&req.merged_id)?;
    if merged.merged_into.as_deref() == Some(survivor.id.as_str()) {
        txn.commit().await?;
        return Ok(survivor);
    }
    crate::domain::environment::check_merge(survivor.environment, merged.environment)?;
    for (role, row) in [("survivor", &survivor), ("merged member", &merged)] {
        if row.status != MemberStatus::Active {
            return Err(Error::conflict(format!(
                "the {role} {} is {}",
                row.id,
                row.status.to_value().to_lowercase()
            )));
        }
    }
    let at = to_micros(now);
    let profile = fill_gaps(profile_of(&survivor), profile_of(&merged));
    let ladder = super::ladder(&txn).await?;
    let tier = ladder.higher(&survivor.tier, &merged.tier).to_owned();
    let growth = merged_growth(survivor.growth_value, merged.growth_value);

    // The merged record first gives up its personal fields (its phone must be
    // free before the survivor can take it) and points at the survivor.
    let mut gone = merged.clone().into_active_model();
    gone.status = Set(MemberStatus::Merged);
    gone.merged_into = Set(Some(survivor.id.clone()));
    clear_personal(&mut gone);
    gone.updated_at = Set(at);
    gone.update(&txn).await?;
    // Ids merged into the merged member earlier now point at the survivor,
    // keeping every alias one hop from a live record.
    member::Entity::update_many()
        .col_expr(member::Column::MergedInto, survivor.id.clone().into())
        .filter(member::Column::MergedInto.eq(merged.id.clone()))
        .exec(&txn)
        .await?;

    move_children(&txn, &survivor.id, &merged.id).await?;

    let mut kept = survivor.clone().into_active_model();
    kept.name = Set(profile.name);
    kept.phone = Set(profile.phone);
    kept.email = Set(profile.email);
    kept.birthday = Set(profile.birthday);
    kept.gender = Set(profile.gender);
    kept.growth_value = Set(growth);
    kept.updated_at = Set(at);
    let mut result = kept.update(&txn).await?;
    if tier != result.tier {
        result = super::tiers::change_tier(
            &txn,
            result,
            &tier,
            TierChangeCause::Merge,
            Some(&req.reason),
            actor,
            now,
        )
        .await?;
    }
    merge::ActiveModel {
        id: Set(new_id()),
        survivor_id: Set(survivor.id.clone()),
        merged_id: Set(merged.id.clone()),
        reason: Set(req.reason.clone()),
        actor: Set(actor.as_str().to_owned()),
        merged_at: Set(at),
    }
    .insert(&txn)
    .await?;
    publish(
        &txn,
        &MemberMerged {
            survivor_id: survivor.id.clone(),
            merged_id: merged.id.clone(),
            merged_at: now,
        },
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(result)
}

async fn move_children(
    txn: &DatabaseTransaction,
    survivor_id: &str,
    merged_id: &str,
) -> Result<()> {
    identity::Entity::update_many()
        .col_expr(identity::Column::MemberId, survivor_id.into())
        .filter(identity::Column::MemberId.eq(merged_id))
        .exec(txn)
        .await?;
    touchpoint::Entity::update_many()
        .col_expr(touchpoint::Column::MemberId, survivor_id.into())
        .filter(touchpoint::Column::MemberId.eq(merged_id))
        .exec(txn)
        .await?;
    super::segments::merge_member(txn, survivor_id, merged_id).await?;

    let merged_tags = tag::Entity::find()
        .filter(tag::Column::MemberId.eq(merged_id))
        .all(txn)
        .await?;
    if !merged_tags.is_empty() {
        let rows = merged_tags.iter().map(|t| tag::ActiveModel {
            member_id: Set(survivor_id.to_owned()),
            tag: Set(t.tag.clone()),
            added_at: Set(t.added_at),
            added_by: Set(t.added_by.clone()),
        });
        match tag::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::columns([tag::Column::MemberId, tag::Column::Tag])
                    .do_nothing()
                    .to_owned(),
            )
            .exec(txn)
            .await
        {
            Ok(_) | Err(DbErr::RecordNotInserted) => {}
            Err(e) => return Err(e.into()),
        }
        tag::Entity::delete_many()
            .filter(tag::Column::MemberId.eq(merged_id))
            .exec(txn)
            .await?;
    }

    // Per purpose, the later decision wins.
    let merged_consents = consent::Entity::find()
        .filter(consent::Column::MemberId.eq(merged_id))
        .all(txn)
        .await?;
    for theirs in merged_consents {
        let ours = consent::Entity::find_by_id((survivor_id.to_owned(), theirs.purpose))
            .one(txn)
            .await?;
        let their_decision = ConsentDecision {
            granted: theirs.granted,
            changed_at: theirs.changed_at,
        };
        match ours {
            Some(ours) => {
                let decided = later(
                    ConsentDecision {
                        granted: ours.granted,
                        changed_at: ours.changed_at,
                    },
                    their_decision,
                );
                let mut row = ours.into_active_model();
                row.granted = Set(decided.granted);
                row.changed_at = Set(decided.changed_at);
                row.update(txn).await?;
            }
            None => {
                consent::ActiveModel {
                    member_id: Set(survivor_id.to_owned()),
                    purpose: Set(theirs.purpose),
                    granted: Set(their_decision.granted),
                    changed_at: Set(their_decision.changed_at),
                }
                .insert(txn)
                .await?;
            }
        }
    }
    consent::Entity::delete_many()
        .filter(consent::Column::MemberId.eq(merged_id))
        .exec(txn)
        .await?;
    Ok(())
}

pub(crate) fn profile_of(m: &member::Model) -> Profile {
    Profile {
        name: m.name.clone(),
        phone: m.phone.clone(),
        email: m.email.clone(),
        birthday: m.birthday,
        gender: m.gender,
    }
}

pub(crate) fn clear_personal(row: &mut member::ActiveModel) {
    row.name = Set(None);
    row.phone = Set(None);
    row.email = Set(None);
    row.birthday = Set(None);
    row.gender = Set(None);
}
