//! Closed clearing statements: one numbered, immutable row per brand and
//! month, the clearing entries it took (`clearing_entries.statement_id`),
//! and the settlements recorded against it.

use kit::migration::columns::{id, index, int, opt_id, text};
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261208_001000_statements"
    }
}

#[derive(DeriveIden)]
enum ClearingStatements {
    Table,
    Id,
    BrandId,
    Number,
    Period,
    PeriodFrom,
    PeriodTo,
    Zone,
    Exchanges,
    PointsSent,
    PointsReceived,
    PayableFen,
    ReceivableFen,
    FeePoints,
    FeeFen,
    ClosedAt,
    ClosedBy,
}

#[derive(DeriveIden)]
enum Settlements {
    Table,
    Id,
    StatementId,
    BrandId,
    AmountFen,
    PositionEffectFen,
    PaidOn,
    Reference,
    RecordedAt,
    RecordedBy,
}

#[derive(DeriveIden)]
enum ClearingEntries {
    Table,
    BrandId,
    StatementId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ClearingStatements::Table)
                    .col(id(ClearingStatements::Id).primary_key())
                    .col(id(ClearingStatements::BrandId))
                    .col(int(ClearingStatements::Number))
                    .col(text(ClearingStatements::Period, 7))
                    .col(int(ClearingStatements::PeriodFrom))
                    .col(int(ClearingStatements::PeriodTo))
                    .col(text(ClearingStatements::Zone, 64))
                    .col(int(ClearingStatements::Exchanges))
                    .col(int(ClearingStatements::PointsSent))
                    .col(int(ClearingStatements::PointsReceived))
                    .col(int(ClearingStatements::PayableFen))
                    .col(int(ClearingStatements::ReceivableFen))
                    .col(int(ClearingStatements::FeePoints))
                    .col(int(ClearingStatements::FeeFen))
                    .col(int(ClearingStatements::ClosedAt))
                    .col(text(ClearingStatements::ClosedBy, 160))
                    .to_owned(),
            )
            .await?;
        // One statement per brand and month, numbered without repeats: two
        // closings racing cannot both write one.
        manager
            .create_index(
                index(
                    "idx_clearing_statements_period",
                    ClearingStatements::Table,
                    vec![
                        ClearingStatements::BrandId.into_iden(),
                        ClearingStatements::Period.into_iden(),
                    ],
                )
                .unique()
                .to_owned(),
            )
            .await?;
        manager
            .create_index(
                index(
                    "idx_clearing_statements_number",
                    ClearingStatements::Table,
                    vec![
                        ClearingStatements::BrandId.into_iden(),
                        ClearingStatements::Number.into_iden(),
                    ],
                )
                .unique()
                .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Settlements::Table)
                    .col(id(Settlements::Id).primary_key())
                    .col(id(Settlements::StatementId))
                    .col(id(Settlements::BrandId))
                    .col(int(Settlements::AmountFen))
                    .col(int(Settlements::PositionEffectFen))
                    .col(text(Settlements::PaidOn, 10))
                    .col(text(Settlements::Reference, 128))
                    .col(int(Settlements::RecordedAt))
                    .col(text(Settlements::RecordedBy, 160))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_settlements_statement",
                Settlements::Table,
                vec![Settlements::StatementId.into_iden()],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_settlements_brand",
                Settlements::Table,
                vec![Settlements::BrandId.into_iden()],
            ))
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ClearingEntries::Table)
                    .add_column(opt_id(ClearingEntries::StatementId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_clearing_entries_statement",
                ClearingEntries::Table,
                vec![
                    ClearingEntries::BrandId.into_iden(),
                    ClearingEntries::StatementId.into_iden(),
                ],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_clearing_entries_statement")
                    .table(ClearingEntries::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ClearingEntries::Table)
                    .drop_column(ClearingEntries::StatementId)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(Settlements::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(ClearingStatements::Table).to_owned())
            .await
    }
}
