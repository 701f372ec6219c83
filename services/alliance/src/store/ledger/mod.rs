//! Points accounts and their ledger. Every change to an account happens with
//! its row locked (`SELECT … FOR UPDATE` on PostgreSQL; SQLite has one
//! writer), writes one immutable entry per effect, and moves lots so that
//! the ACTIVE balance is always the sum of the ACTIVE and ARREARS lots and
//! the PENDING balance the sum of the PENDING lots.
//!
//! By responsibility: [`posting`] (the primitives), [`commands`] (partner
//! and operator commands), [`jobs`] (activation, expiry and its warning), [`merge`]
//! (member merges), [`reads`].

mod commands;
mod jobs;
mod merge;
mod posting;
mod reads;

pub use commands::{PartnerTransaction, Posted, adjust, earn, open_account, redeem};
pub use jobs::{activate_due, expire_due, warn_expiring};
pub(crate) use merge::merge_member;
pub(crate) use posting::{
    PendingUntil, Posting, ReversalRequest, credit, debit, earn_pending, ensure_account,
    lock_account, release_on_hand_over, reverse_earning, verify_books,
};
pub use reads::{
    account_by_id, account_of, accounts_of_member, entries_page, entry_by_id, movements_of,
    open_lots,
};
