//! Coupons: each one a member's, issued from a redeemed reward, with its
//! terms and its state; orders and their lines record what a coupon took
//! off (`discount_fen`; a line's `amount_fen` is what was paid).

use kit::migration::columns::{id, index, int, opt_id, text};
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261210_001300_coupons"
    }
}

#[derive(DeriveIden)]
enum Coupons {
    Table,
    Id,
    Code,
    MemberId,
    BrandId,
    SourceId,
    Kind,
    Terms,
    State,
    ValidFrom,
    ValidUntil,
    OrderId,
    GivenBy,
    IssuedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Orders {
    Table,
    DiscountFen,
    CouponId,
}

#[derive(DeriveIden)]
enum OrderLines {
    Table,
    DiscountFen,
}

fn zero_fen(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col)
        .big_integer()
        .not_null()
        .default(0)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Coupons::Table)
                    .col(id(Coupons::Id).primary_key())
                    .col(text(Coupons::Code, 32).unique_key())
                    .col(id(Coupons::MemberId))
                    .col(id(Coupons::BrandId))
                    .col(id(Coupons::SourceId))
                    .col(text(Coupons::Kind, 16))
                    .col(ColumnDef::new(Coupons::Terms).text().not_null())
                    .col(text(Coupons::State, 16))
                    .col(int(Coupons::ValidFrom))
                    .col(int(Coupons::ValidUntil))
                    .col(opt_id(Coupons::OrderId))
                    .col(opt_id(Coupons::GivenBy))
                    .col(int(Coupons::IssuedAt))
                    .col(int(Coupons::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        // A member's wallet, paged by id.
        manager
            .create_index(index(
                "idx_coupons_member",
                Coupons::Table,
                vec![Coupons::MemberId.into_iden(), Coupons::Id.into_iden()],
            ))
            .await?;
        // SQLite alters one column per statement.
        manager
            .alter_table(
                Table::alter()
                    .table(Orders::Table)
                    .add_column(zero_fen(Orders::DiscountFen))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Orders::Table)
                    .add_column(opt_id(Orders::CouponId))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(OrderLines::Table)
                    .add_column(zero_fen(OrderLines::DiscountFen))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(OrderLines::Table)
                    .drop_column(OrderLines::DiscountFen)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Orders::Table)
                    .drop_column(Orders::CouponId)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Orders::Table)
                    .drop_column(Orders::DiscountFen)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(Coupons::Table).to_owned())
            .await
    }
}
