//! The product database's migrations, after the kit's own.

use sea_orm_migration::prelude::*;

mod m20261122_000500_catalogue_inventory_orders;
mod m20261210_001300_coupons;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let mut all = kit::migration::kit_migrations();
        all.push(Box::new(
            m20261122_000500_catalogue_inventory_orders::Migration,
        ));
        all.push(Box::new(m20261210_001300_coupons::Migration));
        all
    }
}
