//! The alliance subgraph driven over HTTP, on SQLite by default and on
//! PostgreSQL when BIGMEMBER_TEST_DATABASE_URL is set.

mod campaigns;
mod concurrency;
mod exchange;
mod keys;
mod ledger;
mod ledger_model;
mod orders;
mod programmes;
mod rewards;
mod sandbox;
mod statements;
mod support;
mod webhooks;
