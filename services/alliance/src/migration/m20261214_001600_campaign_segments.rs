//! Campaigns limited to the members of one segment.

use kit::migration::columns::opt_id;
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261214_001600_campaign_segments"
    }
}

#[derive(DeriveIden)]
enum Campaigns {
    Table,
    SegmentId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Campaigns::Table)
                    .add_column(opt_id(Campaigns::SegmentId))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Campaigns::Table)
                    .drop_column(Campaigns::SegmentId)
                    .to_owned(),
            )
            .await
    }
}
