//! Coupons as stored: issued from a redeemed reward (the alliance's
//! `RewardRedeemed`, applied once), held in a member's wallet, claimed,
//! given, voided; reserved by an order inside the order's own transaction
//! (with its stock), released if the order is cancelled, used once it is
//! handed over. Claims, gifts and uses are published (the member service
//! records each as a touchpoint).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use kit::channel::Channel;
use kit::events::outbox::publish;
use kit::events::schema::{
    CouponClaimed, CouponGiven, CouponGranted, CouponTerms, CouponUsed, IssuedCoupon,
    RewardRedeemed,
};
use kit::paging::PageRequest;
use kit::time::{from_micros, to_micros};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};

use super::entities::{coupon, order, order_line};
use crate::domain::coupons::{CouponLine, CouponState, check_use, discounts, state_at};
use crate::error::{Error, Result};

/// Issues the coupon a redemption gave, once: a replayed event changes
/// nothing. Returns whether it was new.
pub async fn issue(txn: &DatabaseTransaction, redeemed: &RewardRedeemed) -> Result<bool> {
    let Some(issued) = &redeemed.coupon else {
        return Ok(false);
    };
    insert_issued(
        txn,
        issued,
        &redeemed.member_id,
        &redeemed.redemption_id,
        redeemed.redeemed_at,
    )
    .await
}

/// Issues the coupon a drop granted, once (as [`issue`]).
pub async fn issue_granted(txn: &DatabaseTransaction, granted: &CouponGranted) -> Result<bool> {
    insert_issued(
        txn,
        &granted.coupon,
        &granted.member_id,
        &granted.grant_id,
        granted.granted_at,
    )
    .await
}

/// Inserts `issued` for `member_id`, from `source_id` (the redemption or
/// grant), unless it is there already.
async fn insert_issued(
    txn: &DatabaseTransaction,
    issued: &IssuedCoupon,
    member_id: &str,
    source_id: &str,
    issued_at: DateTime<Utc>,
) -> Result<bool> {
    let terms = serde_json::to_string(&issued.terms).map_err(Error::corrupt)?;
    let at = to_micros(issued_at);
    let inserted = coupon::Entity::insert(coupon::ActiveModel {
        id: Set(issued.coupon_id.clone()),
        code: Set(normalise_code(&issued.code)),
        member_id: Set(member_id.to_owned()),
        brand_id: Set(issued.brand_id.clone()),
        source_id: Set(source_id.to_owned()),
        kind: Set(issued.terms.benefit.kind()),
        terms: Set(terms),
        state: Set(CouponState::Issued),
        valid_from: Set(to_micros(issued.valid_from)),
        valid_until: Set(to_micros(issued.valid_until)),
        order_id: Set(None),
        given_by: Set(None),
        issued_at: Set(at),
        updated_at: Set(at),
    })
    .on_conflict(
        OnConflict::column(coupon::Column::Id)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(txn)
    .await?;
    Ok(inserted == 1)
}

pub fn terms_of(c: &coupon::Model) -> Result<CouponTerms> {
    serde_json::from_str(&c.terms)
        .map_err(|_| Error::corrupt(format_args!("coupon {} terms", c.id)))
}

pub async fn coupon_by_id<C: ConnectionTrait>(db: &C, id: &str) -> Result<coupon::Model> {
    coupon::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?
        .ok_or_else(|| Error::not_found(format!("no coupon {id}")))
}

/// A coupon code however it is typed or read out (any case, with spaces,
/// dashes or neither): its letters and digits, upper case, in groups of
/// four joined by dashes, as codes are stored (`K7QM-2X9D-...`).
pub fn normalise_code(code: &str) -> String {
    let chars: Vec<char> = code
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect();
    chars
        .chunks(4)
        .map(|group| group.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// Puts the coupon `code` on an order being placed, in its transaction:
/// the coupon is locked, checked (the order's member's, unspent, in its
/// days), its discount spread over `lines` (each line's `discount_fen`,
/// and `amount_fen` less it), and it is RESERVED by `order_id`. Returns
/// its id and the total taken off. NOT_FOUND for an unknown code; the
/// loser of two orders racing for one coupon gets CONFLICT.
pub async fn reserve_for_order(
    txn: &DatabaseTransaction,
    code: &str,
    member_id: &str,
    order_id: &str,
    lines: &mut [order_line::Model],
    categories: &HashMap<String, String>,
    now: DateTime<Utc>,
) -> Result<(String, i64)> {
    let found = coupon::Entity::find()
        .filter(coupon::Column::Code.eq(normalise_code(code)))
        .lock_exclusive()
        .one(txn)
        .await?
        .ok_or_else(|| Error::not_found("no coupon with this code"))?;
    check_use(
        &found.member_id,
        member_id,
        found.state,
        from_micros(found.valid_from),
        from_micros(found.valid_until),
        now,
    )?;
    let terms = terms_of(&found)?;
    let seen: Vec<CouponLine> = lines
        .iter()
        .map(|l| CouponLine {
            sku_id: l.sku_id.clone(),
            brand_id: l.brand_id.clone(),
            category: categories.get(&l.product_id).cloned(),
            unit_price_fen: l.unit_price_fen,
            amount_fen: l.amount_fen,
        })
        .collect();
    let off = discounts(&terms, &found.brand_id, &seen)?;
    // The state is checked again in the write: of two orders racing for
    // the coupon, exactly one moves it.
    let moved = coupon::Entity::update_many()
        .col_expr(coupon::Column::State, Expr::value(CouponState::Reserved))
        .col_expr(coupon::Column::OrderId, Expr::value(order_id))
        .col_expr(coupon::Column::UpdatedAt, Expr::value(to_micros(now)))
        .filter(coupon::Column::Id.eq(found.id.as_str()))
        .filter(coupon::Column::State.is_in([CouponState::Issued, CouponState::Claimed]))
        .exec(txn)
        .await?
        .rows_affected;
    if moved != 1 {
        return Err(Error::conflict("this coupon is held by another order"));
    }
    for (line, taken) in lines.iter_mut().zip(&off) {
        line.discount_fen = *taken;
        line.amount_fen -= taken;
    }
    Ok((found.id, off.iter().sum()))
}

/// Moves a coupon an order holds: `from` → `to` (CONFLICT if the order
/// does not hold it in `from`).
async fn move_held(
    txn: &DatabaseTransaction,
    coupon_id: &str,
    order_id: &str,
    from: CouponState,
    to: CouponState,
    now: DateTime<Utc>,
) -> Result<()> {
    let mut update = coupon::Entity::update_many()
        .col_expr(coupon::Column::State, Expr::value(to))
        .col_expr(coupon::Column::UpdatedAt, Expr::value(to_micros(now)));
    if to == CouponState::Claimed {
        update = update.col_expr(coupon::Column::OrderId, Expr::value(Option::<String>::None));
    }
    let moved = update
        .filter(coupon::Column::Id.eq(coupon_id))
        .filter(coupon::Column::OrderId.eq(order_id))
        .filter(coupon::Column::State.eq(from))
        .exec(txn)
        .await?
        .rows_affected;
    if moved != 1 {
        return Err(Error::conflict(format!(
            "coupon {coupon_id} is not held by order {order_id}"
        )));
    }
    Ok(())
}

/// The order was cancelled: its coupon is the member's again (CLAIMED;
/// EXPIRED if its days are over).
pub async fn release(
    txn: &DatabaseTransaction,
    coupon_id: &str,
    order_id: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    move_held(
        txn,
        coupon_id,
        order_id,
        CouponState::Reserved,
        CouponState::Claimed,
        now,
    )
    .await
}

/// The order was handed over: its coupon is spent (published as
/// `CouponUsed`, with the order's channel and store).
pub async fn mark_used(
    txn: &DatabaseTransaction,
    coupon_id: &str,
    order: &order::Model,
    now: DateTime<Utc>,
) -> Result<()> {
    move_held(
        txn,
        coupon_id,
        &order.id,
        CouponState::Reserved,
        CouponState::Used,
        now,
    )
    .await?;
    let used = coupon_by_id(txn, coupon_id).await?;
    publish(
        txn,
        &CouponUsed {
            coupon_id: used.id,
            member_id: used.member_id,
            brand_id: used.brand_id,
            order_id: order.id.clone(),
            channel: order.channel,
            store_id: order.store_id.clone(),
            used_at: now,
        },
        now,
    )
    .await?;
    Ok(())
}

/// The order was refunded in full: its coupon comes back only if its
/// brand said so (`restoreOnRefund`). Returns whether it came back.
pub async fn restore_after_refund(
    txn: &DatabaseTransaction,
    coupon_id: &str,
    order_id: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    let found = coupon_by_id(txn, coupon_id).await?;
    if !terms_of(&found)?.restore_on_refund || found.state != CouponState::Used {
        return Ok(false);
    }
    move_held(
        txn,
        coupon_id,
        order_id,
        CouponState::Used,
        CouponState::Claimed,
        now,
    )
    .await?;
    Ok(true)
}

/// A member's coupons, newest first; `state` filters by the state shown at
/// `now` (EXPIRED included).
pub async fn wallet_page<C: ConnectionTrait>(
    db: &C,
    member_id: &str,
    state: Option<CouponState>,
    page: &PageRequest,
    now: DateTime<Utc>,
) -> Result<(Vec<coupon::Model>, bool)> {
    let mut q = coupon::Entity::find()
        .filter(coupon::Column::MemberId.eq(member_id))
        .order_by_desc(coupon::Column::Id)
        .limit(page.fetch_limit());
    let at = to_micros(now);
    q = match state {
        None => q,
        Some(CouponState::Expired) => q
            .filter(coupon::Column::State.is_in([CouponState::Issued, CouponState::Claimed]))
            .filter(coupon::Column::ValidUntil.lte(at)),
        Some(s @ (CouponState::Issued | CouponState::Claimed)) => q
            .filter(coupon::Column::State.eq(s))
            .filter(coupon::Column::ValidUntil.gt(at)),
        Some(s) => q.filter(coupon::Column::State.eq(s)),
    };
    if let Some(after) = &page.after {
        q = q.filter(coupon::Column::Id.lt(after.as_str()));
    }
    Ok(kit::paging::split_page(q.all(db).await?, page))
}

/// Loads and locks a coupon for a change by its member.
async fn lock_own(txn: &DatabaseTransaction, id: &str, member_id: &str) -> Result<coupon::Model> {
    let found = coupon::Entity::find_by_id(id.to_owned())
        .lock_exclusive()
        .one(txn)
        .await?
        .ok_or_else(|| Error::not_found(format!("no coupon {id}")))?;
    if found.member_id != member_id {
        return Err(Error::forbidden("this coupon is another member's"));
    }
    Ok(found)
}

async fn set_state(
    txn: &DatabaseTransaction,
    found: coupon::Model,
    state: CouponState,
    member_id: Option<&str>,
    given_by: Option<&str>,
    now: DateTime<Utc>,
) -> Result<coupon::Model> {
    let mut update = coupon::Entity::update_many()
        .col_expr(coupon::Column::State, Expr::value(state))
        .col_expr(coupon::Column::UpdatedAt, Expr::value(to_micros(now)));
    if let Some(to) = member_id {
        update = update.col_expr(coupon::Column::MemberId, Expr::value(to));
    }
    if let Some(from) = given_by {
        update = update.col_expr(coupon::Column::GivenBy, Expr::value(from));
    }
    update
        .filter(coupon::Column::Id.eq(found.id.as_str()))
        .exec(txn)
        .await?;
    coupon_by_id(txn, &found.id).await
}

/// The member keeps an ISSUED coupon (it can no longer be given). Claiming
/// a claimed one changes nothing; anything else is a CONFLICT.
pub async fn claim(
    db: &DatabaseConnection,
    id: &str,
    member_id: &str,
    channel: Channel,
    now: DateTime<Utc>,
) -> Result<coupon::Model> {
    let txn = db.begin().await?;
    let found = lock_own(&txn, id, member_id).await?;
    let claimed = match state_at(found.state, from_micros(found.valid_until), now) {
        CouponState::Claimed => found,
        CouponState::Issued => {
            let claimed = set_state(&txn, found, CouponState::Claimed, None, None, now).await?;
            publish(
                &txn,
                &CouponClaimed {
                    coupon_id: claimed.id.clone(),
                    member_id: claimed.member_id.clone(),
                    brand_id: claimed.brand_id.clone(),
                    channel,
                    claimed_at: now,
                },
                now,
            )
            .await?;
            claimed
        }
        other => {
            return Err(Error::conflict(format!(
                "a {} coupon cannot be claimed",
                name(other)
            )));
        }
    };
    txn.commit().await?;
    Ok(claimed)
}

/// Gives an unclaimed (ISSUED) coupon to another member: it is theirs,
/// still ISSUED, and names who gave it. CONFLICT for any other state;
/// BAD_USER_INPUT to give it to oneself; a retry of a gift that was made
/// answers the coupon as given.
pub async fn give(
    db: &DatabaseConnection,
    id: &str,
    from: &str,
    to: &str,
    channel: Channel,
    now: DateTime<Utc>,
) -> Result<coupon::Model> {
    let txn = db.begin().await?;
    let found = coupon::Entity::find_by_id(id.to_owned())
        .lock_exclusive()
        .one(&txn)
        .await?
        .ok_or_else(|| Error::not_found(format!("no coupon {id}")))?;
    // Given already, by this member to that one: a retry gets the answer.
    if found.member_id == to && found.given_by.as_deref() == Some(from) {
        return Ok(found);
    }
    if found.member_id != from {
        return Err(Error::forbidden("this coupon is another member's"));
    }
    if from == to {
        return Err(Error::invalid(
            "toMemberId",
            "a coupon cannot be given to its own member",
        ));
    }
    match state_at(found.state, from_micros(found.valid_until), now) {
        CouponState::Issued => {}
        other => {
            return Err(Error::conflict(format!(
                "only an unclaimed coupon can be given; this one is {}",
                name(other)
            )));
        }
    }
    let given = set_state(&txn, found, CouponState::Issued, Some(to), Some(from), now).await?;
    publish(
        &txn,
        &CouponGiven {
            coupon_id: given.id.clone(),
            from_member_id: from.to_owned(),
            to_member_id: to.to_owned(),
            brand_id: given.brand_id.clone(),
            channel,
            given_at: now,
        },
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(given)
}

/// Withdraws an unspent coupon (its brand or an operator). Voiding a
/// voided one changes nothing; a RESERVED or USED one is a CONFLICT.
pub async fn void(db: &DatabaseConnection, id: &str, now: DateTime<Utc>) -> Result<coupon::Model> {
    let txn = db.begin().await?;
    let found = coupon::Entity::find_by_id(id.to_owned())
        .lock_exclusive()
        .one(&txn)
        .await?
        .ok_or_else(|| Error::not_found(format!("no coupon {id}")))?;
    let voided = match found.state {
        CouponState::Voided => found,
        CouponState::Issued | CouponState::Claimed | CouponState::Expired => {
            set_state(&txn, found, CouponState::Voided, None, None, now).await?
        }
        other => {
            return Err(Error::conflict(format!(
                "a {} coupon cannot be voided",
                name(other)
            )));
        }
    };
    txn.commit().await?;
    Ok(voided)
}

/// A merged member's coupons are the survivor's.
pub async fn merge_member<C: ConnectionTrait>(
    db: &C,
    survivor_id: &str,
    merged_id: &str,
) -> Result<u64> {
    Ok(coupon::Entity::update_many()
        .col_expr(coupon::Column::MemberId, Expr::value(survivor_id))
        .filter(coupon::Column::MemberId.eq(merged_id))
        .exec(db)
        .await?
        .rows_affected)
}

fn name(state: CouponState) -> String {
    use sea_orm::ActiveEnum as _;
    state.to_value()
}
