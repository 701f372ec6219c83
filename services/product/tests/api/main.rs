//! The product subgraph driven over HTTP, on SQLite by default and on
//! PostgreSQL when BIGMEMBER_TEST_DATABASE_URL is set.

mod catalogue;
mod concurrency;
mod coupons;
mod orders;
mod support;
