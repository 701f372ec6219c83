//! A brand's rewards catalogue as stored, and redemptions: each one debits
//! the reward's price from the member's points (soonest-expiring lots
//! first), takes a unit of a limited reward, counts against the member's
//! limit, and publishes `RewardRedeemed` (the coupon the product service
//! issues), all in one transaction, exactly once per idempotency key.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use kit::auth::Actor;
use kit::events::schema::{CouponTerms, IssuedCoupon, RewardRedeemed};
use kit::paging::PageRequest;
use kit::time::{from_micros, to_micros};
use rand::Rng as _;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};

use super::audit::{self, AuditRecord};
use super::entities::{reward, reward_redemption};
use super::ledger::{Posting, debit, ensure_account, lock_account, verify_books};
use super::programmes::{programme_by_id, rules};
use super::{IdempotencyKey, new_id, retry_once_on_race, sha256_hex};
use crate::domain::audit::AuditAction;
use crate::domain::campaigns::Window;
use crate::domain::ledger::EntryKind;
use crate::domain::rewards::{Availability, RewardGives, coupon_valid_until, out_of_stock};
use crate::error::{Error, Result};

/// What a reward gives, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RewardItem {
    Coupon(CouponTerms),
    /// What the member collects in a store, e.g. "a tote bag".
    Gift(String),
}

/// A reward to add to a programme's catalogue, parsed.
#[derive(Debug, Clone)]
pub struct RewardDraft {
    pub programme_id: String,
    pub name: String,
    pub description: String,
    pub points_price: i64,
    /// None: unlimited.
    pub stock: Option<i64>,
    pub item: RewardItem,
    pub availability: Availability,
}

const CREATE_REWARD: &str = "CREATE_REWARD";
const REDEEM_REWARD: &str = "REDEEM_REWARD";

/// Adds a reward; a retry with the same key and draft answers the same
/// one. NOT_FOUND for an unknown programme.
pub async fn create(
    db: &DatabaseConnection,
    draft: &RewardDraft,
    key: &IdempotencyKey,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<reward::Model> {
    let (gives, terms, gift) = match &draft.item {
        RewardItem::Coupon(terms) => (
            RewardGives::Coupon,
            Some(serde_json::to_string(terms).map_err(Error::corrupt)?),
            None,
        ),
        RewardItem::Gift(gift) => (RewardGives::Gift, None, Some(gift.clone())),
    };
    let tiers = (!draft.availability.tiers.is_empty()).then(|| {
        serde_json::Value::from(draft.availability.tiers.iter().cloned().collect::<Vec<_>>())
            .to_string()
    });
    let window = draft.availability.window;
    let hash = sha256_hex(&[
        CREATE_REWARD,
        &draft.programme_id,
        &draft.name,
        &draft.description,
        &draft.points_price.to_string(),
        &format!("{:?}", draft.stock),
        terms.as_deref().unwrap_or(""),
        gift.as_deref().unwrap_or(""),
        tiers.as_deref().unwrap_or(""),
        draft.availability.segment_id.as_deref().unwrap_or(""),
        &format!("{:?}", draft.availability.per_member_limit),
        &format!("{:?}", window.map(|w| (w.starts_at(), w.ends_at()))),
    ]);
    retry_once_on_race(|| async {
        if let Some(id) = key.replayed(db, CREATE_REWARD, &hash).await? {
            return reward_by_id(db, &id).await;
        }
        let programme = programme_by_id(db, &draft.programme_id).await?;
        let at = to_micros(now);
        let txn = db.begin().await?;
        let row = reward::ActiveModel {
            id: Set(new_id()),
            programme_id: Set(programme.id.clone()),
            name: Set(draft.name.clone()),
            description: Set(draft.description.clone()),
            points_price: Set(draft.points_price),
            stock: Set(draft.stock),
            remaining: Set(draft.stock),
            gives: Set(gives),
            coupon_terms: Set(terms.clone()),
            gift: Set(gift.clone()),
            eligible_tiers: Set(tiers.clone()),
            eligible_segment_id: Set(draft.availability.segment_id.clone()),
            per_member_limit: Set(draft.availability.per_member_limit),
            starts_at: Set(window.map(|w| to_micros(w.starts_at()))),
            ends_at: Set(window.map(|w| to_micros(w.ends_at()))),
            created_at: Set(at),
            created_by: Set(actor.as_str().to_owned()),
        }
        .insert(&txn)
        .await?;
        key.remember(&txn, CREATE_REWARD, &hash, &row.id, at)
            .await?;
        audit::record(
            &txn,
            AuditRecord {
                actor,
                action: AuditAction::RewardCreated,
                brand_id: Some(&programme.brand_id),
                subject_id: &row.id,
                detail: serde_json::json!({
                    "programmeId": row.programme_id,
                    "name": row.name,
                    "pointsPrice": row.points_price,
                    "stock": row.stock,
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

pub async fn reward_by_id<C: ConnectionTrait>(db: &C, id: &str) -> Result<reward::Model> {
    reward::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?
        .ok_or_else(|| Error::not_found(format!("no reward {id}")))
}

/// A programme's rewards, oldest first; the cursor is the reward's id.
pub async fn rewards_page<C: ConnectionTrait>(
    db: &C,
    programme_id: &str,
    page: &PageRequest,
) -> Result<(Vec<reward::Model>, bool)> {
    let mut q = reward::Entity::find()
        .filter(reward::Column::ProgrammeId.eq(programme_id))
        .order_by_asc(reward::Column::Id)
        .limit(page.fetch_limit());
    if let Some(after) = &page.after {
        q = q.filter(reward::Column::Id.gt(after.as_str()));
    }
    Ok(kit::paging::split_page(q.all(db).await?, page))
}

/// Who may redeem a stored reward, and when.
pub fn availability_of(row: &reward::Model) -> Result<Availability> {
    let unreadable = |what: &str| Error::corrupt(format_args!("reward {}: {what}", row.id));
    let window = match (row.starts_at, row.ends_at) {
        (Some(s), Some(e)) => {
            Some(Window::new(from_micros(s), from_micros(e)).map_err(|_| unreadable("window"))?)
        }
        (None, None) => None,
        _ => return Err(unreadable("window")),
    };
    let tiers = match &row.eligible_tiers {
        Some(json) => serde_json::from_str(json).map_err(|_| unreadable("tiers"))?,
        None => Default::default(),
    };
    Ok(Availability {
        window,
        tiers,
        segment_id: row.eligible_segment_id.clone(),
        per_member_limit: row.per_member_limit,
    })
}

pub fn coupon_terms_of(row: &reward::Model) -> Result<Option<CouponTerms>> {
    row.coupon_terms
        .as_deref()
        .map(serde_json::from_str)
        .transpose()
        .map_err(|_| Error::corrupt(format_args!("reward {}: coupon terms", row.id)))
}

/// A redemption to make: the member (already resolved to who acts, in the
/// programme's environment) and their tier as the member service says.
#[derive(Debug, Clone)]
pub struct RedemptionRequest {
    pub reward_id: String,
    pub member_id: String,
    pub tier: Option<String>,
    /// Whether the member service said the member is in the reward's
    /// segment (asked only when it names one).
    pub in_segment: bool,
}

/// Redeems a reward for a member, exactly once per key: NOT_FOUND,
/// CONFLICT (outside its window), FORBIDDEN (tier), LIMIT_EXCEEDED (the
/// member's limit), OUT_OF_STOCK, INSUFFICIENT_POINTS; nothing is written
/// unless everything is.
pub async fn redeem(
    db: &DatabaseConnection,
    request: &RedemptionRequest,
    key: &IdempotencyKey,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<reward_redemption::Model> {
    let hash = sha256_hex(&[REDEEM_REWARD, &request.reward_id, &request.member_id]);
    retry_once_on_race(|| async {
        if let Some(id) = key.replayed(db, REDEEM_REWARD, &hash).await? {
            return redemption_by_id(db, &id).await;
        }
        let at = to_micros(now);
        let txn = db.begin().await?;
        // The reward's row first, then the account: every redemption of
        // this reward waits here, so the last unit goes once.
        let row = reward::Entity::find_by_id(request.reward_id.clone())
            .lock_exclusive()
            .one(&txn)
            .await?
            .ok_or_else(|| Error::not_found(format!("no reward {}", request.reward_id)))?;
        let programme = programme_by_id(&txn, &row.programme_id).await?;
        let redeemed = reward_redemption::Entity::find()
            .filter(reward_redemption::Column::RewardId.eq(row.id.as_str()))
            .filter(reward_redemption::Column::MemberId.eq(request.member_id.as_str()))
            .count(&txn)
            .await? as i64;
        availability_of(&row)?.check(now, request.tier.as_deref(), request.in_segment, redeemed)?;
        if let Some(remaining) = row.remaining {
            let taken = reward::Entity::update_many()
                .col_expr(
                    reward::Column::Remaining,
                    Expr::col(reward::Column::Remaining).sub(1),
                )
                .filter(reward::Column::Id.eq(row.id.as_str()))
                .filter(reward::Column::Remaining.gt(0))
                .exec(&txn)
                .await?
                .rows_affected;
            if remaining <= 0 || taken != 1 {
                return Err(out_of_stock(&row.id));
            }
        }
        let account_id = ensure_account(&txn, &request.member_id, &programme.id, at).await?;
        let mut account = lock_account(&txn, &account_id).await?;
        let redemption_id = new_id();
        let posting = Posting::new(
            EntryKind::Redeem,
            format!("reward:{redemption_id}"),
            format!("reward {}", row.name),
        );
        let entry = debit(&txn, &mut account, posting, row.points_price, actor, at).await?;
        let coupon = match coupon_terms_of(&row)? {
            Some(terms) => Some(issue_coupon(
                &programme.brand_id,
                terms,
                now,
                rules(&programme)?.time_zone,
            )?),
            None => None,
        };
        let redemption = reward_redemption::ActiveModel {
            id: Set(redemption_id.clone()),
            reward_id: Set(row.id.clone()),
            programme_id: Set(programme.id.clone()),
            member_id: Set(request.member_id.clone()),
            entry_id: Set(entry.id.clone()),
            points: Set(row.points_price),
            coupon_id: Set(coupon.as_ref().map(|c| c.coupon_id.clone())),
            coupon_code: Set(coupon.as_ref().map(|c| c.code.clone())),
            created_at: Set(at),
        }
        .insert(&txn)
        .await?;
        kit::events::outbox::publish(
            &txn,
            &RewardRedeemed {
                redemption_id,
                reward_id: row.id.clone(),
                programme_id: programme.id.clone(),
                brand_id: programme.brand_id.clone(),
                member_id: request.member_id.clone(),
                points: row.points_price,
                coupon,
                redeemed_at: now,
            },
            now,
        )
        .await?;
        key.remember(&txn, REDEEM_REWARD, &hash, &redemption.id, at)
            .await?;
        verify_books(&txn, &account.id).await?;
        txn.commit().await?;
        Ok(redemption)
    })
    .await
}

pub async fn redemption_by_id<C: ConnectionTrait>(
    db: &C,
    id: &str,
) -> Result<reward_redemption::Model> {
    reward_redemption::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?
        .ok_or_else(|| Error::not_found(format!("no reward redemption {id}")))
}

pub(crate) fn issue_coupon(
    brand_id: &str,
    terms: CouponTerms,
    now: DateTime<Utc>,
    zone: Tz,
) -> Result<IssuedCoupon> {
    let valid_until = coupon_valid_until(now, terms.valid_days, zone)?;
    Ok(IssuedCoupon {
        coupon_id: new_id(),
        code: new_coupon_code(),
        brand_id: brand_id.to_owned(),
        terms,
        valid_from: now,
        valid_until,
    })
}

/// 20 characters of Crockford's base32 (100 random bits) in groups of
/// four, e.g. `K7QM-2X9D-...`: unguessable, and easy to read out.
fn new_coupon_code() -> String {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let mut rng = rand::rng();
    let chars: Vec<char> = (0..20)
        .map(|_| ALPHABET[rng.random_range(0..32)] as char)
        .collect();
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coupon_codes_are_long_readable_and_distinct() {
        let codes: std::collections::BTreeSet<String> =
            (0..1000).map(|_| new_coupon_code()).collect();
        assert_eq!(codes.len(), 1000);
        for code in &codes {
            assert_eq!(code.len(), 24, "{code}");
            assert!(
                code.chars()
                    .all(|c| c == '-' || c.is_ascii_digit() || c.is_ascii_uppercase())
            );
            assert!(!code.contains(['I', 'L', 'O', 'U']));
        }
    }
}
