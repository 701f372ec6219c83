//! The store database's migrations, after the kit's own.

use sea_orm_migration::prelude::*;

mod m20261122_000200_stores;
mod m20261122_000300_guides_attribution;
mod m20261122_000400_commissions;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let mut all = kit::migration::kit_migrations();
        all.push(Box::new(m20261122_000200_stores::Migration));
        all.push(Box::new(m20261122_000300_guides_attribution::Migration));
        all.push(Box::new(m20261122_000400_commissions::Migration));
        all
    }
}
