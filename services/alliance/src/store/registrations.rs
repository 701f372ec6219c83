//! Registrations earn: the bonuses of the campaigns running when a member
//! registered at a brand, for registering through one of its guides' codes
//! (the store service's feed says the guide bound them) or for naming a
//! referrer (the member service's feed), the referrer earning too. Applied
//! inside the consumer's transaction, so each exactly once; the entry's
//! reference is a second guard.

use chrono::{DateTime, Utc};
use kit::auth::Actor;
use kit::members::MemberDirectory;
use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter};

use super::campaigns;
use super::entities::entry;
use super::ledger::{
    PendingUntil, Posting, earn_pending, ensure_account, lock_account, verify_books,
};
use super::programmes::{programme_of_brand, rules};
use super::survivor_of;
use crate::domain::campaigns::{Award, Occasion, Recipient, Registration, earn};
use crate::domain::ledger::EntryKind;
use crate::error::Result;

/// How a member registered, as one feed reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Introduction<'a> {
    /// A guide of the brand bound them on registering (store feed).
    Guide,
    /// They named this member as their referrer (member feed).
    Referral { referrer_id: &'a str },
}

/// A member registered at `brand_id` at `at`, introduced as said: each
/// running campaign of the brand's programme for that introduction gives
/// its bonus, as an EARN entry per member that earns (PENDING for the
/// programme's window, like a partner's earn), recording what each
/// campaign gave. A brand without a programme, or no campaign for it,
/// earns nothing. A campaign limited to a segment gives only to a new
/// member the member service (`members`) says is in it.
pub async fn on_registered(
    txn: &DatabaseTransaction,
    member_id: &str,
    brand_id: &str,
    at: DateTime<Utc>,
    introduction: Introduction<'_>,
    members: Option<&MemberDirectory>,
    actor: &Actor,
) -> Result<()> {
    let Some(programme) = programme_of_brand(txn, brand_id).await? else {
        return Ok(());
    };
    let member_id = survivor_of(txn, member_id).await?;
    if campaigns::rules_at(txn, &programme.id, at)
        .await?
        .is_empty()
    {
        return Ok(());
    }
    let running = campaigns::rules_for_member(txn, &programme.id, at, &member_id, members).await?;
    let programme_rules = rules(&programme)?;
    let occasion = Occasion::Registration(Registration {
        at,
        through_guide: introduction == Introduction::Guide,
        referred: matches!(introduction, Introduction::Referral { .. }),
    });
    let (label, referrer_id) = match introduction {
        Introduction::Guide => ("guide", None),
        Introduction::Referral { referrer_id } => {
            ("referral", Some(survivor_of(txn, referrer_id).await?))
        }
    };
    // Each recipient earns by the campaigns that may apply to them: a
    // campaign limited to a segment gives each member only if they are in
    // it.
    let earning_of = |rules: &[crate::domain::campaigns::Rule]| {
        earn(
            &occasion,
            programme_rules.earn_rate,
            rules,
            programme_rules.time_zone,
        )
    };
    let member_earning = earning_of(&running);
    let referrer_earning = match &referrer_id {
        Some(referrer) => {
            let theirs =
                campaigns::rules_for_member(txn, &programme.id, at, referrer, members).await?;
            Some(earning_of(&theirs))
        }
        None => None,
    };
    for recipient in [Recipient::Member, Recipient::Referrer] {
        let earning = match recipient {
            Recipient::Member => Some(&member_earning),
            Recipient::Referrer => referrer_earning.as_ref(),
        };
        let awards: Vec<Award> = earning
            .map(|e| e.awards.as_slice())
            .unwrap_or_default()
            .iter()
            .filter(|a| a.recipient == recipient)
            .cloned()
            .collect();
        let points: i64 = awards.iter().map(|a| a.points).sum();
        let (earner, reference, reason) = match (recipient, &referrer_id) {
            (Recipient::Member, _) => (
                member_id.clone(),
                format!("registration:{label}:{member_id}"),
                format!("registered through a {label}"),
            ),
            (Recipient::Referrer, Some(referrer)) => (
                referrer.clone(),
                format!("referral:{member_id}"),
                "referred a new member".to_owned(),
            ),
            (Recipient::Referrer, None) => continue,
        };
        // A referrer merged into the new member earns nothing from itself.
        if points <= 0 || (recipient == Recipient::Referrer && earner == member_id) {
            continue;
        }
        let already = entry::Entity::find()
            .filter(entry::Column::ProgrammeId.eq(programme.id.as_str()))
            .filter(entry::Column::Kind.eq(EntryKind::Earn))
            .filter(entry::Column::Reference.eq(reference.as_str()))
            .one(txn)
            .await?;
        if already.is_some() {
            continue;
        }
        let at_micros = kit::time::to_micros(at);
        let account_id = ensure_account(txn, &earner, &programme.id, at_micros).await?;
        let mut account = lock_account(txn, &account_id).await?;
        let (written, _) = earn_pending(
            txn,
            &mut account,
            &programme_rules,
            Posting::new(EntryKind::Earn, reference, reason),
            points,
            at,
            PendingUntil::Window,
            actor,
        )
        .await?;
        campaigns::record_awards(txn, &written.id, &awards).await?;
        verify_books(txn, &account.id).await?;
    }
    Ok(())
}
