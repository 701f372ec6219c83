//! The member subgraph driven over HTTP, on SQLite by default and on
//! PostgreSQL when BIGMEMBER_TEST_DATABASE_URL is set.

mod access;
mod entities;
mod events;
mod identities;
mod input_rules;
mod merge;
mod observability;
mod privacy;
mod registration;
mod sandbox;
mod segments;
mod support;
mod tags_tiers_touchpoints;
