//! Brands and programmes gain an environment: LIVE, or SANDBOX for the
//! copy of a partner's programme its sandbox keys act on
//! (`<brand>-sandbox`, pointing at its live brand). Existing rows are
//! live.

use kit::migration::columns::{environment, opt_id};
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261209_001100_sandboxes"
    }
}

#[derive(DeriveIden)]
enum Brands {
    Table,
    Environment,
    LiveBrandId,
}

#[derive(DeriveIden)]
enum Programmes {
    Table,
    Environment,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        for (table, column) in [
            (Brands::Table.into_iden(), environment(Brands::Environment)),
            (Brands::Table.into_iden(), opt_id(Brands::LiveBrandId)),
            (
                Programmes::Table.into_iden(),
                environment(Programmes::Environment),
            ),
        ] {
            manager
                .alter_table(Table::alter().table(table).add_column(column).to_owned())
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, column) in [
            (
                Programmes::Table.into_iden(),
                Programmes::Environment.into_iden(),
            ),
            (Brands::Table.into_iden(), Brands::LiveBrandId.into_iden()),
            (Brands::Table.into_iden(), Brands::Environment.into_iden()),
        ] {
            manager
                .alter_table(Table::alter().table(table).drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}
