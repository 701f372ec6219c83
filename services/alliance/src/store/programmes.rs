//! Brands, their programmes and their partner API keys.

use kit::auth::{Actor, Environment, JwtKeys, Scopes, TokenRequest};
use kit::events::outbox::publish;
use kit::events::schema::PartnerKeyRevoked;
use kit::time::to_micros;
use rand::RngCore;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction,
    EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};

use super::audit::{self, AuditRecord};
use super::entities::{brand, partner_key, programme};
use super::{new_id, sha256_hex};
use crate::domain::audit::AuditAction;
use crate::domain::expiry::ExpiryPolicy;
use crate::domain::keys::{self, KeyState};
use crate::domain::points::{CashValue, EarnRate};
use crate::domain::programme::{
    ProgrammeRules, parse_decimal, parse_pending_days, parse_time_zone,
};
use crate::domain::returns::ReturnPolicy;
use crate::domain::sandbox;
use crate::error::{Error, Result};

/// A programme as an operator describes it, parsed.
#[derive(Debug, Clone)]
pub struct ProgrammeSettings {
    pub points_name: String,
    pub rules: ProgrammeRules,
    pub can_send: bool,
    pub can_receive: bool,
}

/// Raw programme input, as it arrives.
#[derive(Debug, Clone)]
pub struct ProgrammeDraft<'a> {
    pub points_name: &'a str,
    pub time_zone: &'a str,
    pub cash_value_fen: &'a str,
    pub points_per_yuan: &'a str,
    pub pending_days: i64,
    pub expiry_months: Option<i64>,
    pub return_policy: ReturnPolicy,
    pub can_send: bool,
    pub can_receive: bool,
}

impl ProgrammeSettings {
    pub fn parse(draft: &ProgrammeDraft<'_>) -> Result<Self> {
        let expiry = match draft.expiry_months {
            None => ExpiryPolicy::Never,
            Some(m) => ExpiryPolicy::months(i32::try_from(m).unwrap_or(i32::MAX))?,
        };
        Ok(Self {
            points_name: kit::input::clean_text("pointsName", draft.points_name, 64)?,
            rules: ProgrammeRules {
                cash_value: CashValue::parse(parse_decimal("cashValueFen", draft.cash_value_fen)?)?,
                earn_rate: EarnRate::parse(parse_decimal("pointsPerYuan", draft.points_per_yuan)?)?,
                pending_days: parse_pending_days(draft.pending_days)?,
                expiry,
                return_policy: draft.return_policy,
                time_zone: parse_time_zone(draft.time_zone)?,
            },
            can_send: draft.can_send,
            can_receive: draft.can_receive,
        })
    }
}

/// The rules of a stored programme. Rows are written only from parsed
/// settings, so a failure here means the row was edited by hand: INTERNAL.
pub fn rules(p: &programme::Model) -> Result<ProgrammeRules> {
    stored_rules(p).map_err(|err| Error::corrupt(format_args!("programme {}: {err}", p.id)))
}

fn stored_rules(p: &programme::Model) -> Result<ProgrammeRules> {
    let expiry = match p.expiry_months {
        None => ExpiryPolicy::Never,
        Some(m) => ExpiryPolicy::months(m as i32)?,
    };
    Ok(ProgrammeRules {
        cash_value: CashValue::parse(parse_decimal("cashValueFen", &p.cash_value_fen)?)?,
        earn_rate: EarnRate::parse(parse_decimal("pointsPerYuan", &p.points_per_yuan)?)?,
        pending_days: parse_pending_days(p.pending_days)?,
        expiry,
        return_policy: p.return_policy,
        time_zone: parse_time_zone(&p.time_zone)?,
    })
}

pub use crate::domain::programme::programme_id_of;

fn apply(settings: &ProgrammeSettings, row: &mut programme::ActiveModel) {
    let r = &settings.rules;
    row.points_name = Set(settings.points_name.clone());
    row.time_zone = Set(r.time_zone.name().to_owned());
    row.cash_value_fen = Set(r.cash_value.get().to_string());
    row.points_per_yuan = Set(r.earn_rate.get().to_string());
    row.pending_days = Set(i64::from(r.pending_days));
    row.expiry_months = Set(match r.expiry {
        ExpiryPolicy::Never => None,
        ExpiryPolicy::EndOfMonthAfter { months } => Some(i64::from(months)),
    });
    row.return_policy = Set(r.return_policy);
    row.can_send = Set(settings.can_send);
    row.can_receive = Set(settings.can_receive);
}

/// Onboards a brand with its programme. The brand id is the one the other
/// services already use for it.
pub async fn onboard_brand(
    db: &DatabaseConnection,
    brand_id: &kit::input::ForeignId,
    name: &str,
    settings: &ProgrammeSettings,
    actor: &Actor,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(brand::Model, programme::Model)> {
    let name = kit::input::clean_text("name", name, 128)?;
    sandbox::check_live_brand_id(brand_id.as_str())?;
    if brand::Entity::find_by_id(brand_id.as_str().to_owned())
        .one(db)
        .await?
        .is_some()
    {
        return Err(Error::conflict(format!(
            "brand {} is already in the alliance",
            brand_id.as_str()
        )));
    }
    let at = to_micros(now);
    let txn = db.begin().await?;
    let b = brand::ActiveModel {
        id: Set(brand_id.as_str().to_owned()),
        name: Set(name),
        created_at: Set(at),
        updated_at: Set(at),
        environment: Set(Environment::Live),
        live_brand_id: Set(None),
    }
    .insert(&txn)
    .await?;
    let mut row = programme::ActiveModel {
        id: Set(programme_id_of(&b.id)),
        brand_id: Set(b.id.clone()),
        created_at: Set(at),
        updated_at: Set(at),
        environment: Set(Environment::Live),
        ..Default::default()
    };
    apply(settings, &mut row);
    let p = row.insert(&txn).await?;
    audit::record(
        &txn,
        AuditRecord {
            actor,
            action: AuditAction::BrandOnboarded,
            brand_id: Some(&b.id),
            subject_id: &b.id,
            detail: serde_json::json!({ "name": b.name, "programme": programme_detail(&p) }),
        },
        now,
    )
    .await?;
    txn.commit().await?;
    Ok((b, p))
}

/// Replaces a programme's rules. Points already earned keep the expiry
/// they were given.
pub async fn update_programme(
    db: &DatabaseConnection,
    programme_id: &str,
    settings: &ProgrammeSettings,
    actor: &Actor,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<programme::Model> {
    let txn = db.begin().await?;
    // Locked: the audit's "before" is what this update replaced.
    let existing = programme::Entity::find_by_id(programme_id.to_owned())
        .lock_exclusive()
        .one(&txn)
        .await?
        .ok_or_else(|| Error::not_found(format!("no programme {programme_id}")))?;
    let before = programme_detail(&existing);
    let mut row = existing.into_active_model();
    apply(settings, &mut row);
    row.updated_at = Set(to_micros(now));
    let updated = row.update(&txn).await?;
    audit::record(
        &txn,
        AuditRecord {
            actor,
            action: AuditAction::ProgrammeUpdated,
            brand_id: Some(&updated.brand_id),
            subject_id: &updated.id,
            detail: serde_json::json!({ "before": before, "after": programme_detail(&updated) }),
        },
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(updated)
}

/// A programme's rules as the audit log shows them.
fn programme_detail(p: &programme::Model) -> serde_json::Value {
    serde_json::json!({
        "pointsName": p.points_name,
        "timeZone": p.time_zone,
        "cashValueFen": p.cash_value_fen,
        "pointsPerYuan": p.points_per_yuan,
        "pendingDays": p.pending_days,
        "expiryMonths": p.expiry_months,
        "returnPolicy": p.return_policy,
        "canSend": p.can_send,
        "canReceive": p.can_receive,
    })
}

pub async fn programme_by_id<C: ConnectionTrait>(db: &C, id: &str) -> Result<programme::Model> {
    programme::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?
        .ok_or_else(|| Error::not_found(format!("no programme {id}")))
}

pub async fn programme_of_brand<C: ConnectionTrait>(
    db: &C,
    brand_id: &str,
) -> Result<Option<programme::Model>> {
    Ok(programme::Entity::find()
        .filter(programme::Column::BrandId.eq(brand_id))
        .one(db)
        .await?)
}

pub async fn all_programmes<C: ConnectionTrait>(db: &C) -> Result<Vec<programme::Model>> {
    Ok(programme::Entity::find()
        .order_by_asc(programme::Column::Id)
        .all(db)
        .await?)
}

pub async fn all_brands<C: ConnectionTrait>(db: &C) -> Result<Vec<brand::Model>> {
    Ok(brand::Entity::find()
        .order_by_asc(brand::Column::Id)
        .all(db)
        .await?)
}

/// Issues a SANDBOX key of the live brand `live_brand_id`: a key of its
/// sandbox brand `<id>-sandbox`, which the first such key opens with a
/// copy of the live programme's rules as they are now (later changes to
/// either stay apart), audited as SANDBOX_OPENED. Sandbox and key are
/// written in one transaction; concurrent first keys open one sandbox.
/// NOT_FOUND for a brand not in the alliance, BAD_USER_INPUT for a
/// sandbox brand's id.
pub async fn issue_sandbox_key(
    db: &DatabaseConnection,
    live_brand_id: &str,
    grant: &KeyGrant,
    actor: &Actor,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<IssuedKey> {
    let live = brand::Entity::find_by_id(live_brand_id.to_owned())
        .one(db)
        .await?
        .ok_or_else(|| Error::not_found(format!("no brand {live_brand_id} in the alliance")))?;
    if live.environment != Environment::Live {
        return Err(Error::invalid(
            "brandId",
            format!("{live_brand_id} is a sandbox: name its live brand"),
        ));
    }
    let sandbox_id = sandbox::sandbox_brand_id(&live.id)?;
    // A racing first key opens the sandbox a moment before this one: the
    // unique brand id refuses this opening and the retry finds it open.
    kit::idempotency::retry_once_on_race(|| async {
        let txn = db.begin().await?;
        if brand::Entity::find_by_id(sandbox_id.clone())
            .one(&txn)
            .await?
            .is_none()
        {
            open_sandbox(&txn, &live, &sandbox_id, actor, now).await?;
        }
        let issued = insert_key(&txn, &sandbox_id, grant, actor, now).await?;
        txn.commit().await?;
        Ok(issued)
    })
    .await
}

/// Writes the sandbox brand `sandbox_id` of `live` with a copy of its
/// programme, in `txn`.
async fn open_sandbox(
    txn: &DatabaseTransaction,
    live: &brand::Model,
    sandbox_id: &str,
    actor: &Actor,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<()> {
    let programme = programme_of_brand(txn, &live.id)
        .await?
        .ok_or_else(|| Error::corrupt(format_args!("brand {} has no programme", live.id)))?;
    let at = to_micros(now);
    let b = brand::ActiveModel {
        id: Set(sandbox_id.to_owned()),
        name: Set(format!("{} (sandbox)", live.name)),
        created_at: Set(at),
        updated_at: Set(at),
        environment: Set(Environment::Sandbox),
        live_brand_id: Set(Some(live.id.clone())),
    }
    .insert(txn)
    .await?;
    let mut copy = programme.into_active_model();
    copy.id = Set(programme_id_of(&b.id));
    copy.brand_id = Set(b.id.clone());
    copy.created_at = Set(at);
    copy.updated_at = Set(at);
    copy.environment = Set(Environment::Sandbox);
    let copy = programme::Entity::insert(copy)
        .exec_with_returning(txn)
        .await?;
    audit::record(
        txn,
        AuditRecord {
            actor,
            action: AuditAction::SandboxOpened,
            brand_id: Some(&b.id),
            subject_id: &b.id,
            detail: serde_json::json!({
                "liveBrandId": live.id,
                "programme": programme_detail(&copy),
            }),
        },
        now,
    )
    .await
}

/// A partner key as issued: the only time the key itself is shown.
pub struct IssuedKey {
    pub key: String,
    pub record: partner_key::Model,
}

/// What a new key may do and until when.
#[derive(Debug, Clone)]
pub struct KeyGrant {
    pub label: String,
    pub scopes: Scopes,
    /// µs; `None` never expires.
    pub expires_at: Option<i64>,
}

impl KeyGrant {
    /// Checks a grant as asked for: a label, at least one scope, an expiry
    /// in the future.
    pub fn parse(
        label: &str,
        scopes: Scopes,
        expires_at: Option<chrono::DateTime<chrono::Utc>>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Self> {
        let label = kit::input::clean_text("label", label, 128)?;
        if scopes.is_empty() {
            return Err(Error::invalid("scopes", "a key needs at least one scope"));
        }
        let expires_at = keys::check_expiry(expires_at.map(to_micros), to_micros(now))?;
        Ok(Self {
            label,
            scopes,
            expires_at,
        })
    }
}

/// The scopes a stored key holds.
pub fn scopes_of(key: &partner_key::Model) -> Result<Scopes> {
    Scopes::parse_list(&key.scopes).ok_or_else(|| {
        Error::Api(kit::ApiError::new(
            kit::ErrorCode::Internal,
            format!(
                "partner key {} holds scopes this version does not know",
                key.id
            ),
        ))
    })
}

fn new_key_row(brand_id: &str, grant: &KeyGrant, now: i64) -> (String, partner_key::ActiveModel) {
    let mut secret = [0u8; 24];
    rand::rng().fill_bytes(&mut secret);
    let key = format!("bmk_{}", kit::digest::hex(&secret));
    let row = partner_key::ActiveModel {
        id: Set(new_id()),
        brand_id: Set(brand_id.to_owned()),
        label: Set(grant.label.clone()),
        key_hash: Set(sha256_hex(&[&key])),
        key_prefix: Set(key[..12].to_owned()),
        created_at: Set(now),
        last_used_at: Set(None),
        revoked_at: Set(None),
        scopes: Set(grant.scopes.to_list()),
        expires_at: Set(grant.expires_at),
        replaced_by: Set(None),
    };
    (key, row)
}

fn key_detail(key: &partner_key::Model) -> serde_json::Value {
    serde_json::json!({
        "label": key.label,
        "prefix": key.key_prefix,
        "scopes": key.scopes,
        "expiresAt": key.expires_at.map(kit::time::from_micros),
    })
}

/// Issues a LIVE partner API key for a live brand of the alliance
/// (BAD_USER_INPUT for a sandbox: [`issue_sandbox_key`]).
pub async fn issue_key(
    db: &DatabaseConnection,
    brand_id: &str,
    grant: &KeyGrant,
    actor: &Actor,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<IssuedKey> {
    let sandbox_id = || {
        Error::invalid(
            "brandId",
            format!("{brand_id} is a sandbox: its keys come from issueSandboxKey"),
        )
    };
    if Environment::of_brand(brand_id) != Environment::Live {
        return Err(sandbox_id());
    }
    let brand = brand::Entity::find_by_id(brand_id.to_owned())
        .one(db)
        .await?
        .ok_or_else(|| Error::not_found(format!("no brand {brand_id} in the alliance")))?;
    if brand.environment != Environment::Live {
        return Err(Error::invalid(
            "brandId",
            format!("{brand_id} is a sandbox: its keys come from issueSandboxKey"),
        ));
    }
    let txn = db.begin().await?;
    let issued = insert_key(&txn, brand_id, grant, actor, now).await?;
    txn.commit().await?;
    Ok(issued)
}

/// A new key of `brand_id` in `txn`, audited as KEY_ISSUED.
async fn insert_key(
    txn: &DatabaseTransaction,
    brand_id: &str,
    grant: &KeyGrant,
    actor: &Actor,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<IssuedKey> {
    let (key, row) = new_key_row(brand_id, grant, to_micros(now));
    let record = row.insert(txn).await?;
    audit::record(
        txn,
        AuditRecord {
            actor,
            action: AuditAction::KeyIssued,
            brand_id: Some(brand_id),
            subject_id: &record.id,
            detail: key_detail(&record),
        },
        now,
    )
    .await?;
    Ok(IssuedKey { key, record })
}

/// How long a rotated key keeps working beside its replacement when the
/// operator does not say, in hours.
pub const DEFAULT_OVERLAP_HOURS: i64 = 24;

/// Rotates a live key: a new key with the same brand, label, scopes and
/// expiry, and the old one expiring after `overlap_hours` (or at its own
/// expiry, if sooner) so that both work while the partner switches. CONFLICT for a key already rotated (naming its replacement),
/// revoked or expired: rotate the replacement instead.
pub async fn rotate_key(
    db: &DatabaseConnection,
    key_id: &str,
    overlap_hours: i64,
    actor: &Actor,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(IssuedKey, partner_key::Model)> {
    let at = to_micros(now);
    let txn = db.begin().await?;
    let old = partner_key::Entity::find_by_id(key_id.to_owned())
        .one(&txn)
        .await?
        .ok_or_else(|| Error::not_found(format!("no partner key {key_id}")))?;
    if let Some(newer) = &old.replaced_by {
        return Err(Error::conflict(format!(
            "partner key {key_id} was already rotated into {newer}; rotate that one"
        )));
    }
    match keys::key_state(old.revoked_at, old.expires_at, at) {
        KeyState::Active => {}
        KeyState::Revoked => {
            return Err(Error::conflict(format!("partner key {key_id} is revoked")));
        }
        KeyState::Expired => {
            return Err(Error::conflict(format!("partner key {key_id} has expired")));
        }
    }
    let old_until = keys::expiry_after_rotation(old.expires_at, at, overlap_hours)?;
    // A rotation changes the secret, not the grant: a key that was to
    // expire keeps that end.
    let grant = KeyGrant {
        label: old.label.clone(),
        scopes: scopes_of(&old)?,
        expires_at: old.expires_at,
    };
    let (key, row) = new_key_row(&old.brand_id, &grant, at);
    let record = row.insert(&txn).await?;
    // Only the first of two racing rotations finds the key unreplaced.
    let claimed = partner_key::Entity::update_many()
        .col_expr(
            partner_key::Column::ReplacedBy,
            Expr::value(record.id.clone()),
        )
        .col_expr(partner_key::Column::ExpiresAt, Expr::value(old_until))
        .filter(partner_key::Column::Id.eq(key_id))
        .filter(partner_key::Column::ReplacedBy.is_null())
        .exec(&txn)
        .await?
        .rows_affected
        == 1;
    if !claimed {
        return Err(Error::conflict(format!(
            "partner key {key_id} was rotated at the same moment by another request"
        )));
    }
    audit::record(
        &txn,
        AuditRecord {
            actor,
            action: AuditAction::KeyRotated,
            brand_id: Some(&old.brand_id),
            subject_id: key_id,
            detail: serde_json::json!({
                "replacedBy": record.id,
                "overlapHours": overlap_hours,
                "oldExpiresAt": kit::time::from_micros(old_until),
                "new": key_detail(&record),
            }),
        },
        now,
    )
    .await?;
    let old = partner_key::Entity::find_by_id(key_id.to_owned())
        .one(&txn)
        .await?
        .ok_or_else(|| Error::not_found(format!("no partner key {key_id}")))?;
    txn.commit().await?;
    Ok((IssuedKey { key, record }, old))
}

/// Revokes a partner key: the key's row, this service's list of revoked
/// keys, the audit entry and the [`PartnerKeyRevoked`] event for every
/// other service commit together. Revoking a revoked key changes nothing
/// and publishes nothing (of N identical revocations at once, one does
/// the work).
pub async fn revoke_key(
    db: &DatabaseConnection,
    key_id: &str,
    actor: &Actor,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<partner_key::Model> {
    let txn = db.begin().await?;
    let revoked = partner_key::Entity::update_many()
        .col_expr(partner_key::Column::RevokedAt, Expr::value(to_micros(now)))
        .filter(partner_key::Column::Id.eq(key_id))
        .filter(partner_key::Column::RevokedAt.is_null())
        .exec(&txn)
        .await?
        .rows_affected
        == 1;
    let key = partner_key::Entity::find_by_id(key_id.to_owned())
        .one(&txn)
        .await?
        .ok_or_else(|| Error::not_found(format!("no partner key {key_id}")))?;
    if revoked {
        let event = PartnerKeyRevoked {
            key_id: key.id.clone(),
            brand_id: key.brand_id.clone(),
            revoked_at: now,
        };
        kit::revocation::record(&txn, &event).await?;
        publish(&txn, &event, now).await?;
        audit::record(
            &txn,
            AuditRecord {
                actor,
                action: AuditAction::KeyRevoked,
                brand_id: Some(&key.brand_id),
                subject_id: &key.id,
                detail: serde_json::json!({ "label": key.label, "prefix": key.key_prefix }),
            },
            now,
        )
        .await?;
    }
    txn.commit().await?;
    Ok(key)
}

pub async fn keys_of_brand(
    db: &DatabaseConnection,
    brand_id: &str,
) -> Result<Vec<partner_key::Model>> {
    Ok(partner_key::Entity::find()
        .filter(partner_key::Column::BrandId.eq(brand_id))
        .order_by_asc(partner_key::Column::Id)
        .all(db)
        .await?)
}

/// How long a token minted from a partner key lives.
pub const PARTNER_TOKEN_TTL_MINUTES: i64 = 60;

/// A token minted from a partner key.
pub struct MintedToken {
    pub token: String,
    /// The key, its use recorded.
    pub key: partner_key::Model,
    /// The token's `exp`.
    pub expires_at: chrono::DateTime<chrono::Utc>,
    /// Its brand's, in the token's `env` claim.
    pub environment: Environment,
}

/// A short-lived partner token for an active key, carrying its scopes and
/// its brand's environment and never outliving the key; records its use.
/// An unknown, revoked or expired key is UNAUTHENTICATED.
pub async fn token_for_key(
    db: &DatabaseConnection,
    keys: &JwtKeys,
    api_key: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<MintedToken> {
    let hash = sha256_hex(&[api_key.trim()]);
    let refused = |why: &str| Error::Api(kit::ApiError::unauthenticated(why.to_owned()));
    let found = partner_key::Entity::find()
        .filter(partner_key::Column::KeyHash.eq(hash))
        .one(db)
        .await?
        .ok_or_else(|| refused("unknown or revoked partner API key"))?;
    let at = to_micros(now);
    match keys::key_state(found.revoked_at, found.expires_at, at) {
        KeyState::Active => {}
        KeyState::Revoked => return Err(refused("unknown or revoked partner API key")),
        KeyState::Expired => return Err(refused("this partner API key has expired")),
    }
    let lifetime = chrono::Duration::seconds(keys::token_seconds(
        found.expires_at,
        at,
        PARTNER_TOKEN_TTL_MINUTES * 60,
    ));
    let environment = brand::Entity::find_by_id(found.brand_id.clone())
        .one(db)
        .await?
        .ok_or_else(|| Error::corrupt(format_args!("key {} names no brand", found.id)))?
        .environment;
    // Signed before the use is recorded: a key whose token cannot be made
    // was not used.
    let (token, until) = keys
        .issue_until(
            TokenRequest::partner_scoped(
                found.id.clone(),
                found.brand_id.clone(),
                scopes_of(&found)?,
            )
            .in_environment(environment),
            lifetime,
        )
        .map_err(Error::Api)?;
    let mut row = found.into_active_model();
    row.last_used_at = Set(Some(at));
    let key = row.update(db).await?;
    Ok(MintedToken {
        token,
        key,
        expires_at: until,
        environment,
    })
}
