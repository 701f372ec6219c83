//! Segments, and the facts they read that other services own: each
//! member's purchases (from the product service's order feed) and points
//! balances (from the alliance's feed).

use kit::migration::columns::{id, index, int, text};
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261210_001400_segments"
    }
}

#[derive(DeriveIden)]
enum Segments {
    Table,
    Id,
    Name,
    Rules,
    CreatedAt,
    CreatedBy,
}

#[derive(DeriveIden)]
enum MemberPurchases {
    Table,
    OrderId,
    MemberId,
    PaidFen,
    PlacedAt,
    Cancelled,
}

#[derive(DeriveIden)]
enum MemberPoints {
    Table,
    MemberId,
    ProgrammeId,
    ActiveBalance,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Segments::Table)
                    .col(id(Segments::Id).primary_key())
                    .col(text(Segments::Name, 120))
                    .col(ColumnDef::new(Segments::Rules).text().not_null())
                    .col(int(Segments::CreatedAt))
                    .col(text(Segments::CreatedBy, 160))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(MemberPurchases::Table)
                    .col(id(MemberPurchases::OrderId).primary_key())
                    .col(id(MemberPurchases::MemberId))
                    .col(int(MemberPurchases::PaidFen))
                    .col(int(MemberPurchases::PlacedAt))
                    .col(
                        ColumnDef::new(MemberPurchases::Cancelled)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .to_owned(),
            )
            .await?;
        // A member's purchases in a window (EXISTS and SUM per member).
        manager
            .create_index(index(
                "idx_member_purchases_member",
                MemberPurchases::Table,
                vec![
                    MemberPurchases::MemberId.into_iden(),
                    MemberPurchases::PlacedAt.into_iden(),
                ],
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(MemberPoints::Table)
                    .col(id(MemberPoints::MemberId))
                    .col(id(MemberPoints::ProgrammeId))
                    .col(int(MemberPoints::ActiveBalance))
                    .col(int(MemberPoints::UpdatedAt))
                    .primary_key(
                        Index::create()
                            .col(MemberPoints::MemberId)
                            .col(MemberPoints::ProgrammeId),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_member_points_balance",
                MemberPoints::Table,
                vec![
                    MemberPoints::ProgrammeId.into_iden(),
                    MemberPoints::ActiveBalance.into_iden(),
                ],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            MemberPoints::Table.into_iden(),
            MemberPurchases::Table.into_iden(),
            Segments::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
