//! Earning campaigns: rules on top of a programme's base rate, each with a
//! window; and, per EARN entry, the points each campaign gave (so a member
//! can see why they earned what they did); which orders' earnings were
//! cancelled. A brand's rewards catalogue, and each redemption of a reward
//! (its REDEEM entry, its coupon).

use kit::migration::columns::{id, index, int, opt_id, opt_int, text};
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261210_001200_campaigns_rewards"
    }
}

#[derive(DeriveIden)]
enum Campaigns {
    Table,
    Id,
    ProgrammeId,
    Name,
    Kind,
    Factor,
    Target,
    TargetIds,
    BonusPoints,
    ReferrerPoints,
    Priority,
    Stacking,
    StartsAt,
    EndsAt,
    EndedAt,
    CreatedAt,
    CreatedBy,
}

#[derive(DeriveIden)]
enum EarnAwards {
    Table,
    EntryId,
    CampaignId,
    Recipient,
    Points,
}

#[derive(DeriveIden)]
enum OrderEarns {
    Table,
    OrderId,
    Cancelled,
}

#[derive(DeriveIden)]
enum AppliedRefunds {
    Table,
    OrderId,
    RefundId,
}

#[derive(DeriveIden)]
enum Rewards {
    Table,
    Id,
    ProgrammeId,
    Name,
    Description,
    PointsPrice,
    Stock,
    Remaining,
    Gives,
    CouponTerms,
    Gift,
    EligibleTiers,
    EligibleSegmentId,
    PerMemberLimit,
    StartsAt,
    EndsAt,
    CreatedAt,
    CreatedBy,
}

#[derive(DeriveIden)]
enum RewardRedemptions {
    Table,
    Id,
    RewardId,
    ProgrammeId,
    MemberId,
    EntryId,
    Points,
    CouponId,
    CouponCode,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Campaigns::Table)
                    .col(id(Campaigns::Id).primary_key())
                    .col(id(Campaigns::ProgrammeId))
                    .col(text(Campaigns::Name, 120))
                    .col(text(Campaigns::Kind, 24))
                    .col(ColumnDef::new(Campaigns::Factor).string_len(16).null())
                    .col(ColumnDef::new(Campaigns::Target).string_len(16).null())
                    .col(ColumnDef::new(Campaigns::TargetIds).text().null())
                    .col(opt_int(Campaigns::BonusPoints))
                    .col(opt_int(Campaigns::ReferrerPoints))
                    .col(ColumnDef::new(Campaigns::Priority).integer().not_null())
                    .col(text(Campaigns::Stacking, 16))
                    .col(int(Campaigns::StartsAt))
                    .col(int(Campaigns::EndsAt))
                    .col(opt_int(Campaigns::EndedAt))
                    .col(int(Campaigns::CreatedAt))
                    .col(text(Campaigns::CreatedBy, 160))
                    .to_owned(),
            )
            .await?;
        // Earning reads a programme's campaigns whose window holds an
        // instant; listings page a programme's by id.
        manager
            .create_index(index(
                "idx_campaigns_programme_window",
                Campaigns::Table,
                vec![
                    Campaigns::ProgrammeId.into_iden(),
                    Campaigns::EndsAt.into_iden(),
                ],
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(EarnAwards::Table)
                    .col(id(EarnAwards::EntryId))
                    .col(id(EarnAwards::CampaignId))
                    .col(text(EarnAwards::Recipient, 16))
                    .col(int(EarnAwards::Points))
                    .primary_key(
                        Index::create()
                            .col(EarnAwards::EntryId)
                            .col(EarnAwards::CampaignId)
                            .col(EarnAwards::Recipient),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_earn_awards_campaign",
                EarnAwards::Table,
                vec![EarnAwards::CampaignId.into_iden()],
            ))
            .await?;
        // A cancelled order was no purchase (a first-purchase bonus looks
        // past it); a refunded one was.
        manager
            .alter_table(
                Table::alter()
                    .table(OrderEarns::Table)
                    .add_column(
                        ColumnDef::new(OrderEarns::Cancelled)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .to_owned(),
            )
            .await?;
        // Orders cancelled before: their cancellation was recorded as an
        // applied refund `cancel:<order id>`.
        manager
            .exec_stmt(
                Query::update()
                    .table(OrderEarns::Table)
                    .value(OrderEarns::Cancelled, true)
                    .and_where(Expr::exists(
                        Query::select()
                            .expr(Expr::val(1))
                            .from(AppliedRefunds::Table)
                            .and_where(
                                Expr::col((AppliedRefunds::Table, AppliedRefunds::OrderId))
                                    .equals((OrderEarns::Table, OrderEarns::OrderId)),
                            )
                            .and_where(
                                Expr::col((AppliedRefunds::Table, AppliedRefunds::RefundId))
                                    .like("cancel:%"),
                            )
                            .to_owned(),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Rewards::Table)
                    .col(id(Rewards::Id).primary_key())
                    .col(id(Rewards::ProgrammeId))
                    .col(text(Rewards::Name, 120))
                    .col(text(Rewards::Description, 500))
                    .col(int(Rewards::PointsPrice))
                    .col(opt_int(Rewards::Stock))
                    .col(opt_int(Rewards::Remaining))
                    .col(text(Rewards::Gives, 16))
                    .col(ColumnDef::new(Rewards::CouponTerms).text().null())
                    .col(ColumnDef::new(Rewards::Gift).string_len(500).null())
                    .col(ColumnDef::new(Rewards::EligibleTiers).text().null())
                    .col(opt_id(Rewards::EligibleSegmentId))
                    .col(opt_int(Rewards::PerMemberLimit))
                    .col(opt_int(Rewards::StartsAt))
                    .col(opt_int(Rewards::EndsAt))
                    .col(int(Rewards::CreatedAt))
                    .col(text(Rewards::CreatedBy, 160))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_rewards_programme",
                Rewards::Table,
                vec![Rewards::ProgrammeId.into_iden(), Rewards::Id.into_iden()],
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RewardRedemptions::Table)
                    .col(id(RewardRedemptions::Id).primary_key())
                    .col(id(RewardRedemptions::RewardId))
                    .col(id(RewardRedemptions::ProgrammeId))
                    .col(id(RewardRedemptions::MemberId))
                    .col(id(RewardRedemptions::EntryId))
                    .col(int(RewardRedemptions::Points))
                    .col(opt_id(RewardRedemptions::CouponId))
                    .col(
                        ColumnDef::new(RewardRedemptions::CouponCode)
                            .string_len(32)
                            .null(),
                    )
                    .col(int(RewardRedemptions::CreatedAt))
                    .to_owned(),
            )
            .await?;
        // The per-member limit counts a member's redemptions of a reward.
        manager
            .create_index(index(
                "idx_reward_redemptions_member",
                RewardRedemptions::Table,
                vec![
                    RewardRedemptions::RewardId.into_iden(),
                    RewardRedemptions::MemberId.into_iden(),
                ],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RewardRedemptions::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Rewards::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(OrderEarns::Table)
                    .drop_column(OrderEarns::Cancelled)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(EarnAwards::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Campaigns::Table).to_owned())
            .await
    }
}
