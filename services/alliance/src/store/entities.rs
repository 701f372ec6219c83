//! sea-orm entities of the alliance database. Points and fen are i64;
//! exact decimals are kept as their canonical text; instants are integer
//! microseconds (see `kit::time`).

macro_rules! entity_boilerplate {
    () => {
        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    };
}

pub mod brand {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "brands")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub name: String,
        pub created_at: i64,
        pub updated_at: i64,
        /// LIVE, or SANDBOX for a partner's sandbox copy.
        pub environment: kit::auth::Environment,
        /// A sandbox brand's live brand.
        pub live_brand_id: Option<String>,
    }

    entity_boilerplate!();
}

pub mod programme {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "programmes")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        #[sea_orm(unique)]
        pub brand_id: String,
        pub points_name: String,
        pub time_zone: String,
        pub cash_value_fen: String,
        pub points_per_yuan: String,
        pub pending_days: i64,
        pub expiry_months: Option<i64>,
        pub return_policy: crate::domain::returns::ReturnPolicy,
        pub can_send: bool,
        pub can_receive: bool,
        pub created_at: i64,
        pub updated_at: i64,
        /// Its brand's.
        pub environment: kit::auth::Environment,
    }

    entity_boilerplate!();
}

pub mod partner_key {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "partner_keys")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub brand_id: String,
        pub label: String,
        /// SHA-256 of the key, hex; the key itself is never stored.
        #[sea_orm(unique)]
        pub key_hash: String,
        /// The key's first characters, to tell keys apart in a list.
        pub key_prefix: String,
        pub created_at: i64,
        pub last_used_at: Option<i64>,
        pub revoked_at: Option<i64>,
        /// `kit::auth::Scopes::to_list`: names separated by commas.
        pub scopes: String,
        pub expires_at: Option<i64>,
        /// The key issued when this one was rotated.
        pub replaced_by: Option<String>,
    }

    entity_boilerplate!();
}

pub mod audit_entry {
    use sea_orm::entity::prelude::*;

    use crate::domain::audit::AuditAction;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_entries")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub seq: i64,
        pub at: i64,
        /// `kit::auth::Actor`: role and id.
        pub actor: String,
        pub action: AuditAction,
        pub brand_id: Option<String>,
        pub subject_id: String,
        /// JSON object: what changed, without secrets.
        pub detail: String,
    }

    entity_boilerplate!();
}

pub mod account {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "accounts")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub member_id: String,
        pub programme_id: String,
        /// Cached sums of the ledger (checked against it in tests).
        pub active_balance: i64,
        pub pending_balance: i64,
        pub lifetime_earned: i64,
        /// The sequence number of the next ledger entry.
        pub next_seq: i64,
        /// Set when the member was merged: the survivor's account.
        pub merged_into: Option<String>,
        pub created_at: i64,
        pub updated_at: i64,
    }

    entity_boilerplate!();
}

pub mod lot {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "lots")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub account_id: String,
        pub programme_id: String,
        pub state: crate::domain::ledger::LotState,
        pub original: i64,
        pub remaining: i64,
        pub activates_at: Option<i64>,
        pub expires_at: Option<i64>,
        pub created_at: i64,
        pub created_by_entry_id: String,
        /// When `POINTS_EXPIRING_SOON` was published for this lot.
        pub expiry_warned_at: Option<i64>,
    }

    entity_boilerplate!();
}

pub mod entry {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "entries")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub account_id: String,
        pub programme_id: String,
        pub seq: i64,
        pub kind: crate::domain::ledger::EntryKind,
        /// Change to the ACTIVE balance.
        pub points: i64,
        /// Change to the PENDING balance.
        pub pending_points: i64,
        pub balance_after: i64,
        pub pending_after: i64,
        /// Part of a reversal the return policy did not take back.
        pub forgiven_points: i64,
        pub reference: String,
        pub source_system: Option<String>,
        pub external_txn_id: Option<String>,
        pub reverses_entry_id: Option<String>,
        pub actor: String,
        pub reason: String,
        pub created_at: i64,
    }

    entity_boilerplate!();
}

pub mod lot_movement {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "lot_movements")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub entry_id: String,
        pub lot_id: String,
        /// Negative when the entry consumed the lot, positive when it filled it.
        pub points: i64,
    }

    entity_boilerplate!();
}

/// Idempotency keys live in the kit's table (`kit::idempotency`).
pub use kit::idempotency::entity as idempotency_key;

pub mod terms {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "exchange_terms")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub from_programme_id: String,
        pub to_programme_id: String,
        pub rate: String,
        pub fee_bp: i64,
        pub min_block: i64,
        pub daily_limit: i64,
        pub yearly_limit: i64,
        /// Bumped by every change; a change clears both acceptances.
        pub version: i64,
        pub accepted_by_from_at: Option<i64>,
        pub accepted_by_to_at: Option<i64>,
        pub proposed_by: String,
        pub created_at: i64,
        pub updated_at: i64,
    }

    entity_boilerplate!();
}

pub mod quote {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "quotes")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub member_id: String,
        pub terms_id: String,
        pub terms_version: i64,
        pub from_programme_id: String,
        pub to_programme_id: String,
        pub points_out: i64,
        pub fee_points: i64,
        pub points_in: i64,
        pub rate: String,
        pub created_at: i64,
        pub expires_at: i64,
        pub used_at: Option<i64>,
    }

    entity_boilerplate!();
}

pub mod exchange {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "exchanges")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        #[sea_orm(unique)]
        pub quote_id: String,
        pub member_id: String,
        pub from_programme_id: String,
        pub to_programme_id: String,
        pub from_brand_id: String,
        pub to_brand_id: String,
        pub points_out: i64,
        pub fee_points: i64,
        pub points_in: i64,
        pub rate: String,
        /// What the sending brand owes the receiving one: the cash value of
        /// the points issued.
        pub value_fen: i64,
        /// The cash value of the fee, kept by the sending brand.
        pub fee_value_fen: i64,
        pub out_entry_id: String,
        pub in_entry_id: String,
        pub created_at: i64,
    }

    entity_boilerplate!();
}

pub mod clearing_entry {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "clearing_entries")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub exchange_id: String,
        pub brand_id: String,
        pub counterparty_brand_id: String,
        pub points_sent: i64,
        pub points_received: i64,
        /// Positive: receivable from the counterparty; negative: payable.
        pub amount_fen: i64,
        pub fee_points: i64,
        pub fee_fen: i64,
        pub created_at: i64,
        /// The closed statement that took it; none while its period is open.
        pub statement_id: Option<String>,
    }

    entity_boilerplate!();
}

pub mod order_earn {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "order_earns")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub order_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub programme_id: String,
        pub member_id: String,
        pub paid_fen: i64,
        pub points: i64,
        pub refunded_fen: i64,
        /// Reversed so far, forgiven points included.
        pub reversed_points: i64,
        pub entry_id: Option<String>,
        pub lot_id: Option<String>,
        pub placed_at: i64,
        /// The order was cancelled (nothing was sold).
        pub cancelled: bool,
    }

    entity_boilerplate!();
}

pub mod order_earn_line {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "order_earn_lines")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub line_id: String,
        pub order_id: String,
        pub programme_id: String,
        pub amount_fen: i64,
    }

    entity_boilerplate!();
}

pub mod member_alias {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "member_aliases")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub merged_id: String,
        pub survivor_id: String,
        pub merged_at: i64,
    }

    entity_boilerplate!();
}

pub mod applied_refund {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "applied_refunds")]
    pub struct Model {
        /// The refund id, or `cancel:<order id>` for a cancellation.
        #[sea_orm(primary_key, auto_increment = false)]
        pub refund_id: String,
        pub order_id: String,
        pub applied_at: i64,
    }

    entity_boilerplate!();
}

pub mod webhook_endpoint {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "webhook_endpoints")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub brand_id: String,
        pub url: String,
        /// `domain::webhooks::EventTypes::to_list`: stored names, commas.
        pub events: String,
        /// The signing secret (`whsec_...`), shown to the partner once.
        pub secret: String,
        pub paused: bool,
        pub created_at: i64,
        /// `kit::auth::Actor`.
        pub created_by: String,
    }

    entity_boilerplate!();
}

pub mod webhook_delivery {
    use sea_orm::entity::prelude::*;

    use crate::domain::webhooks::{DeliveryStatus, WebhookEventType};

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "webhook_deliveries")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub endpoint_id: String,
        /// The event's id: the same for every endpoint, every attempt and
        /// every redelivery, so receivers can drop repeats.
        pub event_id: String,
        pub event_type: WebhookEventType,
        /// The exact JSON sent.
        pub body: String,
        pub status: DeliveryStatus,
        pub attempts: i64,
        /// µs since the epoch.
        pub next_attempt_at: i64,
        /// A sender holds it until then (µs); another replica waits.
        pub leased_until: Option<i64>,
        pub last_attempt_at: Option<i64>,
        /// The endpoint's last HTTP status; none if it did not answer.
        pub last_status: Option<i64>,
        /// The start of its last answer, or why there was none.
        pub last_answer: Option<String>,
        pub created_at: i64,
        pub delivered_at: Option<i64>,
        /// The delivery this one sends again, if asked for.
        pub redelivery_of: Option<String>,
    }

    entity_boilerplate!();
}

pub mod clearing_statement {
    use sea_orm::entity::prelude::*;

    /// A closed, numbered, immutable statement of one brand's month.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "clearing_statements")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub brand_id: String,
        /// 1, 2, 3 ... per brand.
        pub number: i64,
        /// YYYY-MM in `zone`.
        pub period: String,
        pub period_from: i64,
        pub period_to: i64,
        pub zone: String,
        pub exchanges: i64,
        pub points_sent: i64,
        pub points_received: i64,
        pub payable_fen: i64,
        pub receivable_fen: i64,
        pub fee_points: i64,
        pub fee_fen: i64,
        pub closed_at: i64,
        pub closed_by: String,
    }

    entity_boilerplate!();
}

pub mod settlement {
    use sea_orm::entity::prelude::*;

    /// A payment recorded against a closed statement.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "settlements")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub statement_id: String,
        pub brand_id: String,
        /// What was paid, above zero, in fen.
        pub amount_fen: i64,
        /// Its effect on the brand's clearing position (negative: the
        /// alliance paid the brand).
        pub position_effect_fen: i64,
        /// YYYY-MM-DD.
        pub paid_on: String,
        /// The bank's or the partner's reference.
        pub reference: String,
        pub recorded_at: i64,
        pub recorded_by: String,
    }

    entity_boilerplate!();
}

pub mod campaign {
    use sea_orm::entity::prelude::*;

    use crate::domain::campaigns::{RewardKind, Stacking, TargetKind};

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "campaigns")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub programme_id: String,
        pub name: String,
        pub kind: RewardKind,
        /// Of a MULTIPLIER: its factor, an exact decimal ("2", "1.5").
        pub factor: Option<String>,
        /// Of a MULTIPLIER: what it counts.
        pub target: Option<TargetKind>,
        /// Of a MULTIPLIER naming ids: a JSON array of them.
        pub target_ids: Option<String>,
        /// Of the bonus kinds (and the new member's, of a REFERRAL).
        pub bonus_points: Option<i64>,
        /// Of a REFERRAL: the referrer's points.
        pub referrer_points: Option<i64>,
        /// Only for members of this segment (the member service's).
        pub segment_id: Option<String>,
        pub priority: i32,
        pub stacking: Stacking,
        pub starts_at: i64,
        /// As planned; an ended campaign's end is `ended_at`.
        pub ends_at: i64,
        pub ended_at: Option<i64>,
        pub created_at: i64,
        /// `kit::auth::Actor`.
        pub created_by: String,
    }

    entity_boilerplate!();
}

pub mod earn_award {
    use sea_orm::entity::prelude::*;

    use crate::domain::campaigns::Recipient;

    /// Points one campaign gave in one EARN entry.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "earn_awards")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub entry_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub campaign_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub recipient: Recipient,
        pub points: i64,
    }

    entity_boilerplate!();
}

pub mod reward {
    use sea_orm::entity::prelude::*;

    use crate::domain::rewards::RewardGives;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "rewards")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub programme_id: String,
        pub name: String,
        pub description: String,
        pub points_price: i64,
        /// Units it started with; None: unlimited.
        pub stock: Option<i64>,
        /// Units left; None: unlimited.
        pub remaining: Option<i64>,
        pub gives: RewardGives,
        /// Of a COUPON reward: `kit::events::schema::CouponTerms` as JSON.
        pub coupon_terms: Option<String>,
        /// Of a GIFT reward: what the member collects.
        pub gift: Option<String>,
        /// A JSON array of tier codes; None: every tier.
        pub eligible_tiers: Option<String>,
        /// A member service segment its redeemers must be in; None: anyone.
        pub eligible_segment_id: Option<String>,
        pub per_member_limit: Option<i64>,
        pub starts_at: Option<i64>,
        pub ends_at: Option<i64>,
        pub created_at: i64,
        /// `kit::auth::Actor`.
        pub created_by: String,
    }

    entity_boilerplate!();
}

pub mod reward_redemption {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "reward_redemptions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub reward_id: String,
        pub programme_id: String,
        pub member_id: String,
        /// Its REDEEM entry.
        pub entry_id: String,
        pub points: i64,
        pub coupon_id: Option<String>,
        pub coupon_code: Option<String>,
        pub created_at: i64,
    }

    entity_boilerplate!();
}

pub mod coupon_drop {
    use sea_orm::entity::prelude::*;

    use crate::domain::rewards::DropStatus;

    /// A reward's coupon given, without points, to every member of a
    /// segment (the member service's), page by page.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "coupon_drops")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub programme_id: String,
        pub reward_id: String,
        pub segment_id: String,
        pub status: DropStatus,
        /// The last member id granted: the next page starts after it.
        pub after_member_id: Option<String>,
        pub granted: i64,
        pub created_at: i64,
        /// `kit::auth::Actor`.
        pub created_by: String,
        pub finished_at: Option<i64>,
        /// Why it FAILED.
        pub failure: Option<String>,
    }

    entity_boilerplate!();
}

pub mod coupon_grant {
    use sea_orm::entity::prelude::*;

    /// One member's coupon of a drop.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "coupon_grants")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub drop_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub member_id: String,
        pub id: String,
        pub coupon_id: String,
        pub coupon_code: String,
        pub granted_at: i64,
    }

    entity_boilerplate!();
}
