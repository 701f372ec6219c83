//! Earning campaigns as stored: created (idempotently, audited), ended
//! early, listed, and read back as the domain's rules for earning. Each
//! EARN entry's awards are kept beside it (`earn_awards`).

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use kit::ErrorCode;
use kit::auth::Actor;
use kit::members::MemberDirectory;
use kit::paging::PageRequest;
use kit::time::{from_micros, to_micros};
use rust_decimal::Decimal;
use sea_orm::{
    ActiveEnum, ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection,
    DatabaseTransaction, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, Set,
    TransactionTrait,
};

use super::audit::{self, AuditRecord};
use super::entities::{campaign, earn_award};
use super::programmes::programme_by_id;
use super::{IdempotencyKey, new_id, retry_once_on_race, sha256_hex};
use crate::domain::audit::AuditAction;
use crate::domain::campaigns::{
    Award, Bonus, CampaignStatus, Factor, Reward, RewardKind, Rule, Stacking, Target, TargetKind,
    Window, for_member, segments_named,
};
use crate::error::{Error, Result};

/// A campaign to create, parsed.
#[derive(Debug, Clone)]
pub struct CampaignDraft {
    pub programme_id: String,
    pub name: String,
    pub window: Window,
    pub priority: i32,
    pub stacking: Stacking,
    pub reward: Reward,
    pub segment_id: Option<String>,
}

const CREATE_CAMPAIGN: &str = "CREATE_CAMPAIGN";

/// Creates a campaign; a retry with the same key and draft answers the
/// same one (CONFLICT for another draft under the key). NOT_FOUND for an
/// unknown programme; BAD_USER_INPUT (`lastDay`) for a window already over.
pub async fn create(
    db: &DatabaseConnection,
    draft: &CampaignDraft,
    key: &IdempotencyKey,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<campaign::Model> {
    let stored = Stored::of(&draft.reward);
    let (starts, ends) = (
        draft.window.starts_at().to_rfc3339(),
        draft.window.ends_at().to_rfc3339(),
    );
    let (priority, stacking) = (draft.priority.to_string(), draft.stacking.to_value());
    let stored_json = serde_json::json!(stored).to_string();
    let mut parts = vec![
        CREATE_CAMPAIGN,
        &draft.programme_id,
        &draft.name,
        &starts,
        &ends,
        &priority,
        &stacking,
        &stored_json,
    ];
    // Only when given: retries of campaigns created before segments keep
    // their hash.
    if let Some(segment) = &draft.segment_id {
        parts.push(segment);
    }
    let hash = sha256_hex(&parts);
    retry_once_on_race(|| async {
        if let Some(id) = key.replayed(db, CREATE_CAMPAIGN, &hash).await? {
            return campaign_by_id(db, &id).await;
        }
        let programme = programme_by_id(db, &draft.programme_id).await?;
        if draft.window.ends_at() <= now {
            return Err(Error::invalid(
                "lastDay",
                "the campaign's window is already over",
            ));
        }
        let at = to_micros(now);
        let txn = db.begin().await?;
        let row = campaign::ActiveModel {
            id: Set(new_id()),
            programme_id: Set(programme.id.clone()),
            name: Set(draft.name.clone()),
            kind: Set(draft.reward.kind()),
            factor: Set(stored.factor.clone()),
            target: Set(stored.target),
            target_ids: Set(stored.target_ids.clone()),
            bonus_points: Set(stored.bonus_points),
            referrer_points: Set(stored.referrer_points),
            segment_id: Set(draft.segment_id.clone()),
            priority: Set(draft.priority),
            stacking: Set(draft.stacking),
            starts_at: Set(to_micros(draft.window.starts_at())),
            ends_at: Set(to_micros(draft.window.ends_at())),
            ended_at: Set(None),
            created_at: Set(at),
            created_by: Set(actor.as_str().to_owned()),
        }
        .insert(&txn)
        .await?;
        key.remember(&txn, CREATE_CAMPAIGN, &hash, &row.id, at)
            .await?;
        audit::record(
            &txn,
            AuditRecord {
                actor,
                action: AuditAction::CampaignCreated,
                brand_id: Some(&programme.brand_id),
                subject_id: &row.id,
                detail: serde_json::json!({
                    "programmeId": row.programme_id,
                    "name": row.name,
                    "kind": row.kind,
                    "startsAt": draft.window.starts_at(),
                    "endsAt": draft.window.ends_at(),
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

/// Ends a campaign now: orders placed from now on no longer earn by it.
/// Ending one already over, or already ended, changes nothing (and is
/// not audited again).
pub async fn end(
    db: &DatabaseConnection,
    id: &str,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<campaign::Model> {
    let txn = db.begin().await?;
    let row = campaign::Entity::find_by_id(id.to_owned())
        .lock_exclusive()
        .one(&txn)
        .await?
        .ok_or_else(|| Error::not_found(format!("no campaign {id}")))?;
    // Ended once only: a concurrent caller whose clock read came first
    // must not move the end it finds.
    if row.ended_at.is_some() || window_of(&row)?.ends_at() <= now {
        return Ok(row);
    }
    let programme = programme_by_id(&txn, &row.programme_id).await?;
    let mut ended = row.into_active_model();
    ended.ended_at = Set(Some(to_micros(now)));
    let row = ended.update(&txn).await?;
    audit::record(
        &txn,
        AuditRecord {
            actor,
            action: AuditAction::CampaignEnded,
            brand_id: Some(&programme.brand_id),
            subject_id: &row.id,
            detail: serde_json::json!({ "programmeId": row.programme_id, "endedAt": now }),
        },
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(row)
}

pub async fn campaign_by_id<C: ConnectionTrait>(db: &C, id: &str) -> Result<campaign::Model> {
    campaign::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?
        .ok_or_else(|| Error::not_found(format!("no campaign {id}")))
}

/// A programme's campaigns, oldest first; the cursor is the campaign's id
/// (UUIDv7, so ids sort by creation).
pub async fn campaigns_page<C: ConnectionTrait>(
    db: &C,
    programme_id: &str,
    page: &PageRequest,
) -> Result<(Vec<campaign::Model>, bool)> {
    let mut q = campaign::Entity::find()
        .filter(campaign::Column::ProgrammeId.eq(programme_id))
        .order_by_asc(campaign::Column::Id)
        .limit(page.fetch_limit());
    if let Some(after) = &page.after {
        q = q.filter(campaign::Column::Id.gt(after.as_str()));
    }
    Ok(kit::paging::split_page(q.all(db).await?, page))
}

/// The rules of a programme's campaigns whose window holds `at`.
pub async fn rules_at<C: ConnectionTrait>(
    db: &C,
    programme_id: &str,
    at: DateTime<Utc>,
) -> Result<Vec<Rule>> {
    let micros = to_micros(at);
    let rows = campaign::Entity::find()
        .filter(campaign::Column::ProgrammeId.eq(programme_id))
        .filter(campaign::Column::EndsAt.gt(micros))
        .filter(campaign::Column::StartsAt.lte(micros))
        .all(db)
        .await?;
    let mut rules = Vec::with_capacity(rows.len());
    for row in &rows {
        let rule = rule_of(row)?;
        if rule.window.contains(at) {
            rules.push(rule);
        }
    }
    Ok(rules)
}

/// The rules running in `programme_id` at `at` that may apply to
/// `member_id`: those limited to a segment only if the member service
/// (`members`) says the member is in it. A segment it does not know, or no
/// member service to ask, leaves the member out (nothing that needs a
/// segment is given). SUBGRAPH_UNAVAILABLE when it does not answer: the
/// caller's event waits.
pub async fn rules_for_member<C: ConnectionTrait>(
    db: &C,
    programme_id: &str,
    at: DateTime<Utc>,
    member_id: &str,
    members: Option<&MemberDirectory>,
) -> Result<Vec<Rule>> {
    let running = rules_at(db, programme_id, at).await?;
    let mut member_of = BTreeSet::new();
    if let Some(members) = members {
        for segment in segments_named(&running) {
            match members.in_segment(member_id, &segment).await {
                Ok(true) => {
                    member_of.insert(segment);
                }
                Ok(false) => {}
                Err(err) if matches!(err.code, ErrorCode::NotFound | ErrorCode::Forbidden) => {}
                Err(err) => return Err(err.into()),
            }
        }
    }
    Ok(for_member(running, &member_of))
}

/// Records what each campaign gave in an EARN entry.
pub async fn record_awards(
    txn: &DatabaseTransaction,
    entry_id: &str,
    awards: &[Award],
) -> Result<()> {
    for award in awards {
        earn_award::ActiveModel {
            entry_id: Set(entry_id.to_owned()),
            campaign_id: Set(award.rule_id.clone()),
            recipient: Set(award.recipient),
            points: Set(award.points),
        }
        .insert(txn)
        .await?;
    }
    Ok(())
}

/// Where a stored campaign stands at `now`: ENDED once ended early (even
/// before its first day), else by its window.
pub fn status_of(row: &campaign::Model, now: DateTime<Utc>) -> Result<CampaignStatus> {
    Ok(match row.ended_at {
        Some(_) => CampaignStatus::Ended,
        None => CampaignStatus::at(window_of(row)?, now),
    })
}

/// A stored campaign's window: as planned, cut short if it was ended.
pub fn window_of(row: &campaign::Model) -> Result<Window> {
    let planned = Window::new(from_micros(row.starts_at), from_micros(row.ends_at))
        .map_err(|_| unreadable(row, "window"))?;
    Ok(match row.ended_at {
        Some(ended) => planned.ended_at(from_micros(ended)),
        None => planned,
    })
}

/// A stored campaign as the domain's rule.
pub fn rule_of(row: &campaign::Model) -> Result<Rule> {
    let bonus = |points: Option<i64>, what: &str| {
        points
            .and_then(|p| Bonus::parse("bonusPoints", p).ok())
            .ok_or_else(|| unreadable(row, what))
    };
    let reward = match row.kind {
        RewardKind::Multiplier => {
            let factor = row
                .factor
                .as_deref()
                .and_then(|f| f.parse::<Decimal>().ok())
                .and_then(|f| Factor::parse(f).ok())
                .ok_or_else(|| unreadable(row, "factor"))?;
            let ids: Vec<String> = match &row.target_ids {
                Some(json) => {
                    serde_json::from_str(json).map_err(|_| unreadable(row, "targetIds"))?
                }
                None => Vec::new(),
            };
            let kind = row.target.ok_or_else(|| unreadable(row, "target"))?;
            Reward::Multiplier {
                factor,
                target: Target::from_stored(kind, ids),
            }
        }
        RewardKind::FirstPurchase => Reward::FirstPurchase(bonus(row.bonus_points, "bonus")?),
        RewardKind::BirthdayMonth => Reward::BirthdayMonth(bonus(row.bonus_points, "bonus")?),
        RewardKind::GuideRegistration => {
            Reward::GuideRegistration(bonus(row.bonus_points, "bonus")?)
        }
        RewardKind::Referral => Reward::Referral {
            member: bonus(row.bonus_points, "bonus")?,
            referrer: bonus(row.referrer_points, "referrer bonus")?,
        },
    };
    Ok(Rule {
        id: row.id.clone(),
        window: window_of(row)?,
        priority: row.priority,
        stacking: row.stacking,
        reward,
        segment_id: row.segment_id.clone(),
    })
}

fn unreadable(row: &campaign::Model, what: &str) -> Error {
    Error::corrupt(format_args!("campaign {} has an unreadable {what}", row.id))
}

/// A reward's columns.
#[derive(Debug, Clone, Default, serde::Serialize)]
struct Stored {
    factor: Option<String>,
    target: Option<TargetKind>,
    target_ids: Option<String>,
    bonus_points: Option<i64>,
    referrer_points: Option<i64>,
}

impl Stored {
    fn of(reward: &Reward) -> Self {
        match reward {
            Reward::Multiplier { factor, target } => {
                let ids = target.ids();
                Stored {
                    factor: Some(factor.get().normalize().to_string()),
                    target: Some(target.kind()),
                    target_ids: (!ids.is_empty()).then(|| serde_json::Value::from(ids).to_string()),
                    ..Stored::default()
                }
            }
            Reward::FirstPurchase(b) | Reward::BirthdayMonth(b) | Reward::GuideRegistration(b) => {
                Stored {
                    bonus_points: Some(b.get()),
                    ..Stored::default()
                }
            }
            Reward::Referral { member, referrer } => Stored {
                bonus_points: Some(member.get()),
                referrer_points: Some(referrer.get()),
                ..Stored::default()
            },
        }
    }
}
