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

fn text(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).string_len(64).not_null().to_owned()
}

fn money(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).big_integer().not_null().to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CommissionRules::Table)
                    .col(text(CommissionRules::BrandId))
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
                    .col(money(CommissionRules::UpdatedAt))
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
                    .col(text(Commissions::Id).primary_key())
                    .col(text(Commissions::GuideId))
                    .col(text(Commissions::StoreId))
                    .col(text(Commissions::MemberId))
                    .col(text(Commissions::OrderId))
                    .col(text(Commissions::LineId))
                    .col(text(Commissions::BrandId))
                    .col(
                        ColumnDef::new(Commissions::BasisPoints)
                            .integer()
                            .not_null(),
                    )
                    .col(money(Commissions::BaseFen))
                    .col(money(Commissions::RefundedFen))
                    .col(money(Commissions::AmountFen))
                    .col(money(Commissions::ClawedBackFen))
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
                    .col(money(Commissions::EarnedAt))
                    .col(
                        ColumnDef::new(Commissions::WindowClosesAt)
                            .big_integer()
                            .null(),
                    )
                    .col(ColumnDef::new(Commissions::ApprovedAt).big_integer().null())
                    .col(money(Commissions::UpdatedAt))
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
                    .col(text(CommissionAdjustments::Id).primary_key())
                    .col(text(CommissionAdjustments::CommissionId))
                    .col(text(CommissionAdjustments::GuideId))
                    .col(text(CommissionAdjustments::StoreId))
                    .col(
                        ColumnDef::new(CommissionAdjustments::Kind)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(money(CommissionAdjustments::AmountFen))
                    .col(text(CommissionAdjustments::Reference))
                    .col(money(CommissionAdjustments::CreatedAt))
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
