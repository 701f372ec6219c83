//! The alliance's rules as plain Rust over plain types, without I/O.
//! Points are i64; rates and cash values per point are exact decimals;
//! every rounding is stated where it happens and property-tested.

pub mod audit;
pub mod campaigns;
pub mod exchange;
pub mod expiry;
pub mod keys;
pub mod ledger;
pub mod lots;
pub mod points;
pub mod programme;
pub mod returns;
pub mod rewards;
pub mod sandbox;
pub mod statements;
pub mod webhooks;
