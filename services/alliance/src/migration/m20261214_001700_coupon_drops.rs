//! Coupon drops: a reward's coupon given, without points, to every member
//! of a segment, page by page; and each grant (one per member and drop).

use kit::migration::columns::{id, index, int, opt_id, opt_int, text};
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261214_001700_coupon_drops"
    }
}

#[derive(DeriveIden)]
enum CouponDrops {
    Table,
    Id,
    ProgrammeId,
    RewardId,
    SegmentId,
    Status,
    AfterMemberId,
    Granted,
    CreatedAt,
    CreatedBy,
    FinishedAt,
    Failure,
}

#[derive(DeriveIden)]
enum CouponGrants {
    Table,
    DropId,
    MemberId,
    Id,
    CouponId,
    CouponCode,
    GrantedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CouponDrops::Table)
                    .col(id(CouponDrops::Id).primary_key())
                    .col(id(CouponDrops::ProgrammeId))
                    .col(id(CouponDrops::RewardId))
                    .col(id(CouponDrops::SegmentId))
                    .col(text(CouponDrops::Status, 16))
                    .col(opt_id(CouponDrops::AfterMemberId))
                    .col(int(CouponDrops::Granted))
                    .col(int(CouponDrops::CreatedAt))
                    .col(text(CouponDrops::CreatedBy, 160))
                    .col(opt_int(CouponDrops::FinishedAt))
                    .col(ColumnDef::new(CouponDrops::Failure).string_len(200).null())
                    .to_owned(),
            )
            .await?;
        // The runner picks the running drops.
        manager
            .create_index(index(
                "idx_coupon_drops_status",
                CouponDrops::Table,
                vec![CouponDrops::Status.into_iden()],
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CouponGrants::Table)
                    .col(id(CouponGrants::DropId))
                    .col(id(CouponGrants::MemberId))
                    .col(id(CouponGrants::Id))
                    .col(id(CouponGrants::CouponId))
                    .col(text(CouponGrants::CouponCode, 32))
                    .col(int(CouponGrants::GrantedAt))
                    .primary_key(
                        Index::create()
                            .col(CouponGrants::DropId)
                            .col(CouponGrants::MemberId),
                    )
                    .to_owned(),
            )
            .await?;
        // A member's grants (exports, merges).
        manager
            .create_index(index(
                "idx_coupon_grants_member",
                CouponGrants::Table,
                vec![CouponGrants::MemberId.into_iden()],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            CouponGrants::Table.into_iden(),
            CouponDrops::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
