//! The store subgraph driven over HTTP, on SQLite by default and on
//! PostgreSQL when BIGMEMBER_TEST_DATABASE_URL is set.

mod attribution;
mod commissions;
mod guides;
mod near;
mod stores;
mod support;
