//! The alliance database's migrations, after the kit's own.

use sea_orm_migration::prelude::*;

mod m20261122_000600_programmes_ledger_exchange;
mod m20261206_000700_revoked_keys_listed;
mod m20261207_000800_key_scopes_and_audit;
mod m20261208_000900_webhooks;
mod m20261208_001000_statements;
mod m20261209_001100_sandboxes;
mod m20261210_001200_campaigns_rewards;
mod m20261214_001600_campaign_segments;
mod m20261214_001700_coupon_drops;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let mut all = kit::migration::kit_migrations();
        all.push(Box::new(
            m20261122_000600_programmes_ledger_exchange::Migration,
        ));
        all.push(Box::new(m20261206_000700_revoked_keys_listed::Migration));
        all.push(Box::new(m20261207_000800_key_scopes_and_audit::Migration));
        all.push(Box::new(m20261208_000900_webhooks::Migration));
        all.push(Box::new(m20261208_001000_statements::Migration));
        all.push(Box::new(m20261209_001100_sandboxes::Migration));
        all.push(Box::new(m20261210_001200_campaigns_rewards::Migration));
        all.push(Box::new(m20261214_001600_campaign_segments::Migration));
        all.push(Box::new(m20261214_001700_coupon_drops::Migration));
        all
    }
}
