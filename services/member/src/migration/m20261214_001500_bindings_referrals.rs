//! The store each member is bound to (from the store service's feed, for
//! segments), and who referred a member (for referral campaigns).

use kit::migration::columns::{id, index, int, opt_id, opt_int};
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261214_001500_bindings_referrals"
    }
}

#[derive(DeriveIden)]
enum MemberBindings {
    Table,
    MemberId,
    StoreId,
    ExpiresAt,
    ChangedAt,
}

#[derive(DeriveIden)]
enum Members {
    Table,
    ReferrerId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(MemberBindings::Table)
                    .col(id(MemberBindings::MemberId).primary_key())
                    .col(id(MemberBindings::StoreId))
                    .col(opt_int(MemberBindings::ExpiresAt))
                    .col(int(MemberBindings::ChangedAt))
                    .to_owned(),
            )
            .await?;
        // A segment's rule names stores; the EXISTS looks up by member.
        manager
            .create_index(index(
                "idx_member_bindings_store",
                MemberBindings::Table,
                vec![MemberBindings::StoreId.into_iden()],
            ))
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Members::Table)
                    .add_column(opt_id(Members::ReferrerId))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Members::Table)
                    .drop_column(Members::ReferrerId)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(MemberBindings::Table).to_owned())
            .await
    }
}
