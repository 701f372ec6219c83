//! The member database's migrations, after the kit's own.

use sea_orm_migration::prelude::*;

mod m20261122_000100_members;
mod m20261209_000200_environments;
mod m20261210_001400_segments;
mod m20261214_001500_bindings_referrals;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let mut all = kit::migration::kit_migrations();
        all.push(Box::new(m20261122_000100_members::Migration));
        all.push(Box::new(m20261209_000200_environments::Migration));
        all.push(Box::new(m20261210_001400_segments::Migration));
        all.push(Box::new(m20261214_001500_bindings_referrals::Migration));
        all
    }
}
