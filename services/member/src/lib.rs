pub mod domain;
pub mod error;
pub mod migration;
pub mod store;
