//! Registration: one member per person, whatever channel they arrive by.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DatabaseTransaction, EntityTrait,
    QueryFilter, Set, TransactionTrait,
};

use super::entities::{identity, member, touchpoint};
use super::{Actor, member_with_phone, new_id, resolve_for_update};
use crate::domain::MemberStatus;
use crate::domain::identity::{ForeignId, GuideCode, NewIdentity};
use crate::domain::profile::{Birthday, Email, Gender, PersonName, PhoneNumber};
use crate::domain::touchpoint::TouchpointKind;
use crate::error::{Error, Result};
use kit::auth::Environment;
use kit::events::outbox::publish;
use kit::events::schema::{IdentityLinked, MemberRegistered};
use kit::time::to_micros;

/// A registration, parsed.
#[derive(Debug, Clone)]
pub struct Registration {
    pub identity: NewIdentity,
    pub phone: Option<PhoneNumber>,
    pub email: Option<Email>,
    pub name: Option<PersonName>,
    pub birthday: Option<Birthday>,
    pub gender: Option<Gender>,
    pub guide_code: Option<GuideCode>,
    /// Who referred them: an id, checked when the member is created.
    pub referrer_id: Option<ForeignId>,
    /// LIVE, or SANDBOX when a sandbox key enrols a test member: its
    /// identities are looked up and kept among that environment's only.
    pub environment: Environment,
}

#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationOutcome {
    /// A new member was created.
    Created,
    /// The identity was already registered: its member is returned.
    AlreadyRegistered,
    /// The phone number belonged to a member: the identity was linked to it.
    LinkedByPhone,
}

/// Registers `reg`. Idempotent on the identity; a known phone links instead
/// of duplicating. A concurrent registration of the same identity or phone
/// that wins the race is detected by the unique constraint and the loser
/// retries once, then finds the winner's member.
pub async fn register(
    db: &DatabaseConnection,
    reg: &Registration,
    actor: &Actor,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(member::Model, RegistrationOutcome)> {
    kit::idempotency::retry_once_on_race(|| attempt(db, reg, actor, now)).await
}

async fn attempt(
    db: &DatabaseConnection,
    reg: &Registration,
    actor: &Actor,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(member::Model, RegistrationOutcome)> {
    let txn = db.begin().await?;
    let existing = identity::Entity::find()
        .filter(identity::Column::Channel.eq(reg.identity.channel))
        .filter(identity::Column::ExternalId.eq(reg.identity.external_id.as_str()))
        .filter(identity::Column::Environment.eq(reg.environment))
        .filter(identity::Column::Namespace.eq(reg.identity.namespace()))
        .one(&txn)
        .await?;
    if let Some(existing) = existing {
        let member = resolve_for_update(&txn, &existing.member_id).await?;
        txn.commit().await?;
        return Ok((member, RegistrationOutcome::AlreadyRegistered));
    }
    if let Some(phone) = &reg.phone
        && let Some(holder) = member_with_phone(&txn, phone.as_str()).await?
    {
        let holder = super::lock_active(&txn, &holder.id).await?;
        insert_identity(&txn, &holder, &reg.identity, now).await?;
        txn.commit().await?;
        return Ok((holder, RegistrationOutcome::LinkedByPhone));
    }
    let member = create(&txn, reg, actor, now).await?;
    txn.commit().await?;
    Ok((member, RegistrationOutcome::Created))
}

async fn create(
    txn: &DatabaseTransaction,
    reg: &Registration,
    actor: &Actor,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<member::Model> {
    let ladder = super::ladder(txn).await?;
    let entry = ladder
        .entry()
        .ok_or_else(|| Error::conflict("no tier levels are defined"))?
        .code
        .clone();
    let at = to_micros(now);
    let id = new_id();
    let brand_id = reg
        .identity
        .brand_id
        .as_ref()
        .map(|b| b.as_str().to_owned());
    let guide_code = reg.guide_code.clone().map(GuideCode::into_string);
    let referrer_id = match &reg.referrer_id {
        Some(id) => Some(referrer(txn, id.as_str(), reg.environment).await?),
        None => None,
    };
    let member = member::ActiveModel {
        id: Set(id.clone()),
        status: Set(MemberStatus::Active),
        merged_into: Set(None),
        name: Set(reg.name.as_ref().map(|n| n.as_str().to_owned())),
        phone: Set(reg.phone.as_ref().map(|p| p.as_str().to_owned())),
        email: Set(reg.email.as_ref().map(|e| e.as_str().to_owned())),
        birthday: Set(reg.birthday.map(Birthday::date)),
        gender: Set(reg.gender),
        registration_channel: Set(reg.identity.channel),
        registration_brand_id: Set(brand_id.clone()),
        guide_code: Set(guide_code.clone()),
        referrer_id: Set(referrer_id.clone()),
        tier: Set(entry),
        growth_value: Set(0),
        registered_at: Set(at),
        updated_at: Set(at),
        erased_at: Set(None),
        environment: Set(reg.environment),
    }
    .insert(txn)
    .await?;
    insert_identity_row(txn, &member, &reg.identity, at).await?;
    touchpoint::ActiveModel {
        id: Set(new_id()),
        member_id: Set(id.clone()),
        kind: Set(TouchpointKind::Registered),
        channel: Set(reg.identity.channel),
        store_id: Set(None),
        occurred_at: Set(at),
        recorded_at: Set(at),
        attributes: Set(match &guide_code {
            Some(code) => serde_json::json!({ "guideCode": code }).to_string(),
            None => "{}".to_owned(),
        }),
        idempotency_key: Set(None),
        recorded_by: Set(actor.as_str().to_owned()),
    }
    .insert(txn)
    .await?;
    publish(
        txn,
        &MemberRegistered {
            member_id: id,
            channel: reg.identity.channel,
            guide_code,
            brand_id,
            registered_at: now,
            referrer_id,
        },
        now,
    )
    .await?;
    Ok(member)
}

/// The member a new member's `referrerId` names, as recorded: the id
/// itself, or its survivor's after a merge. BAD_USER_INPUT (`referrerId`)
/// unless that member is active and of `environment` (test members refer
/// test members only).
async fn referrer(txn: &DatabaseTransaction, id: &str, environment: Environment) -> Result<String> {
    let not_found = || Error::invalid("referrerId", "no active member has this id");
    let mut id = id.to_owned();
    // Merges chain rarely and shortly; the bound only stops a cycle.
    for _ in 0..16 {
        let row = member::Entity::find_by_id(id.clone())
            .one(txn)
            .await?
            .ok_or_else(not_found)?;
        match (row.status, row.merged_into) {
            (MemberStatus::Merged, Some(survivor)) => id = survivor,
            (MemberStatus::Active, _) if row.environment == environment => return Ok(row.id),
            _ => return Err(not_found()),
        }
    }
    Err(not_found())
}

/// Links `identity` to `member` (in its environment) and publishes
/// IdentityLinked.
pub(crate) async fn insert_identity(
    txn: &DatabaseTransaction,
    member: &member::Model,
    identity: &NewIdentity,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<()> {
    insert_identity_row(txn, member, identity, to_micros(now)).await?;
    publish(
        txn,
        &IdentityLinked {
            member_id: member.id.clone(),
            channel: identity.channel,
            brand_id: identity.brand_id.as_ref().map(|b| b.as_str().to_owned()),
        },
        now,
    )
    .await?;
    Ok(())
}

async fn insert_identity_row(
    txn: &DatabaseTransaction,
    member: &member::Model,
    new: &NewIdentity,
    at: i64,
) -> Result<()> {
    identity::ActiveModel {
        id: Set(new_id()),
        member_id: Set(member.id.clone()),
        environment: Set(member.environment),
        namespace: Set(new.namespace()),
        channel: Set(new.channel),
        external_id: Set(new.external_id.as_str().to_owned()),
        brand_id: Set(new.brand_id.as_ref().map(|b| b.as_str().to_owned())),
        linked_at: Set(at),
    }
    .insert(txn)
    .await?;
    Ok(())
}
