//! Brands, their programmes and their partner API keys.

use kit::auth::{JwtKeys, TokenRequest};
use kit::events::outbox::publish;
use kit::events::schema::PartnerKeyRevoked;
use kit::time::to_micros;
use rand::RngCore;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, Set, TransactionTrait,
};

use super::entities::{brand, partner_key, programme};
use super::{new_id, sha256_hex};
use crate::domain::expiry::ExpiryPolicy;
use crate::domain::points::{CashValue, EarnRate};
use crate::domain::programme::{
    ProgrammeRules, parse_decimal, parse_pending_days, parse_time_zone,
};
use crate::domain::returns::ReturnPolicy;
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

/// The programme id of a brand: one programme per brand.
pub fn programme_id_of(brand_id: &str) -> String {
    format!("{brand_id}-points")
}

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
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(brand::Model, programme::Model)> {
    let name = kit::input::clean_text("name", name, 128)?;
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
    let now = to_micros(now);
    let txn = db.begin().await?;
    let b = brand::ActiveModel {
        id: Set(brand_id.as_str().to_owned()),
        name: Set(name),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    let mut row = programme::ActiveModel {
        id: Set(programme_id_of(&b.id)),
        brand_id: Set(b.id.clone()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    apply(settings, &mut row);
    let p = row.insert(&txn).await?;
    txn.commit().await?;
    Ok((b, p))
}

/// Replaces a programme's rules. Points already earned keep the expiry
/// they were given.
pub async fn update_programme(
    db: &DatabaseConnection,
    programme_id: &str,
    settings: &ProgrammeSettings,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<programme::Model> {
    let existing = programme_by_id(db, programme_id).await?;
    let mut row = existing.into_active_model();
    apply(settings, &mut row);
    row.updated_at = Set(to_micros(now));
    Ok(row.update(db).await?)
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

/// A partner key as issued: the only time the key itself is shown.
pub struct IssuedKey {
    pub key: String,
    pub record: partner_key::Model,
}

/// Issues a partner API key for a brand of the alliance.
pub async fn issue_key(
    db: &DatabaseConnection,
    brand_id: &str,
    label: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<IssuedKey> {
    let label = kit::input::clean_text("label", label, 128)?;
    if brand::Entity::find_by_id(brand_id.to_owned())
        .one(db)
        .await?
        .is_none()
    {
        return Err(Error::not_found(format!(
            "no brand {brand_id} in the alliance"
        )));
    }
    let mut secret = [0u8; 24];
    rand::rng().fill_bytes(&mut secret);
    let key = format!("bmk_{}", kit::digest::hex(&secret));
    let record = partner_key::ActiveModel {
        id: Set(new_id()),
        brand_id: Set(brand_id.to_owned()),
        label: Set(label),
        key_hash: Set(sha256_hex(&[&key])),
        key_prefix: Set(key[..12].to_owned()),
        created_at: Set(to_micros(now)),
        last_used_at: Set(None),
        revoked_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok(IssuedKey { key, record })
}

/// Revokes a partner key: the key's row, this service's list of revoked
/// keys and the [`PartnerKeyRevoked`] event for every other service commit
/// together. Revoking a revoked key changes nothing and publishes nothing
/// (of N identical revocations at once, one does the work).
pub async fn revoke_key(
    db: &DatabaseConnection,
    key_id: &str,
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

/// A short-lived partner token for a live key; records its use.
pub async fn token_for_key(
    db: &DatabaseConnection,
    keys: &JwtKeys,
    api_key: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(String, partner_key::Model)> {
    let hash = sha256_hex(&[api_key.trim()]);
    let found = partner_key::Entity::find()
        .filter(partner_key::Column::KeyHash.eq(hash))
        .one(db)
        .await?
        .filter(|k| k.revoked_at.is_none())
        .ok_or_else(|| {
            Error::Api(kit::ApiError::unauthenticated(
                "unknown or revoked partner API key",
            ))
        })?;
    // Signed before the use is recorded: a key whose token cannot be made
    // was not used.
    let token = keys
        .issue(
            TokenRequest::partner(found.id.clone(), found.brand_id.clone()),
            chrono::Duration::minutes(PARTNER_TOKEN_TTL_MINUTES),
        )
        .map_err(Error::Api)?;
    let mut row = found.into_active_model();
    row.last_used_at = Set(Some(to_micros(now)));
    let key = row.update(db).await?;
    Ok((token, key))
}
