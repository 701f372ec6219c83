use kit::migration::columns::{id, int, text};
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261122_000400_commissions"
    }
}

#[derive(DeriveIden)]
enum CommissionRules {
    Table,
    BrandId,
    StoreKind,
    BasisPoints,
    AfterSalesDays,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Commissions {
    Table,
    Id,
    GuideId,
    StoreId,
    MemberId,
    OrderId,
    LineId,
    BrandId,
    BasisPoints,
    BaseFen,
    RefundedFen,
    AmountFen,
    ClawedBackFen,
    Status,
    AfterSalesDays,
    EarnedAt,
    WindowClosesAt,
    ApprovedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum CommissionAdjustments {
    Table,
    Id,
    CommissionId,
    GuideId,
    StoreId,
    Kind,
    AmountFen,
    Reference,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CommissionRules::Table)
                    .col(id(CommissionRules::BrandId))
                    .col(
                        ColumnDef::new(CommissionRules::StoreKind)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(CommissionRules::BasisPoints)
                            .integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(CommissionRules::AfterSalesDays)
                            .integer()
                            .not_null(),
                    )
                    .col(int(CommissionRules::UpdatedAt))
                    .primary_key(
                        Index::create()
                            .col(CommissionRules::BrandId)
                            .col(CommissionRules::StoreKind),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Commissions::Table)
                    .col(id(Commissions::Id).primary_key())
                    .col(id(Commissions::GuideId))
                    .col(id(Commissions::StoreId))
                    .col(id(Commissions::MemberId))
                    .col(id(Commissions::OrderId))
                    .col(id(Commissions::LineId))
                    .col(id(Commissions::BrandId))
                    .col(
                        ColumnDef::new(Commissions::BasisPoints)
                            .integer()
                            .not_null(),
                    )
                    .col(int(Commissions::BaseFen))
                    .col(int(Commissions::RefundedFen))
                    .col(int(Commissions::AmountFen))
                    .col(int(Commissions::ClawedBackFen))
                    .col(
                        ColumnDef::new(Commissions::Status)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Commissions::AfterSalesDays)
                            .integer()
                            .not_null(),
                    )
                    .col(int(Commissions::EarnedAt))
                    .col(
                        ColumnDef::new(Commissions::WindowClosesAt)
                            .big_integer()
                            .null(),
                    )
                    .col(ColumnDef::new(Commissions::ApprovedAt).big_integer().null())
                    .col(int(Commissions::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_commissions_order_line")
                    .table(Commissions::Table)
                    .col(Commissions::OrderId)
                    .col(Commissions::LineId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_commissions_guide")
                    .table(Commissions::Table)
                    .col(Commissions::GuideId)
                    .col(Commissions::EarnedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_commissions_store")
                    .table(Commissions::Table)
                    .col(Commissions::StoreId)
                    .col(Commissions::EarnedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_commissions_due")
                    .table(Commissions::Table)
                    .col(Commissions::Status)
                    .col(Commissions::WindowClosesAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CommissionAdjustments::Table)
                    .col(id(CommissionAdjustments::Id).primary_key())
                    .col(id(CommissionAdjustments::CommissionId))
                    .col(id(CommissionAdjustments::GuideId))
                    .col(id(CommissionAdjustments::StoreId))
                    .col(
                        ColumnDef::new(CommissionAdjustments::Kind)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(int(CommissionAdjustments::AmountFen))
                    .col(text(CommissionAdjustments::Reference, 64))
                    .col(int(CommissionAdjustments::CreatedAt))
                    .to_owned(),
            )
            .await?;
        // One adjustment per commission and refund (or cancelled order): a
        // replayed event finds it and changes nothing.
        manager
            .create_index(
                Index::create()
                    .name("uq_commission_adjustments_reference")
                    .table(CommissionAdjustments::Table)
                    .col(CommissionAdjustments::CommissionId)
                    .col(CommissionAdjustments::Reference)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_commission_adjustments_store")
                    .table(CommissionAdjustments::Table)
                    .col(CommissionAdjustments::StoreId)
                    .col(CommissionAdjustments::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            CommissionAdjustments::Table.into_iden(),
            Commissions::Table.into_iden(),
            CommissionRules::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
