use kit::migration::columns::{index, text};
use sea_orm_migration::prelude::*;

/// Member-service ids are UUIDs: 36 characters.
fn member_id(col: impl IntoIden) -> ColumnDef {
    text(col, 36)
}

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261122_000100_members"
    }
}

#[derive(DeriveIden)]
enum Members {
    Table,
    Id,
    Status,
    MergedInto,
    Name,
    Phone,
    Email,
    Birthday,
    Gender,
    RegistrationChannel,
    RegistrationBrandId,
    GuideCode,
    Tier,
    GrowthValue,
    RegisteredAt,
    UpdatedAt,
    ErasedAt,
}

#[derive(DeriveIden)]
enum MemberIdentities {
    Table,
    Id,
    MemberId,
    Channel,
    ExternalId,
    BrandId,
    LinkedAt,
}

#[derive(DeriveIden)]
enum MemberTags {
    Table,
    MemberId,
    Tag,
    AddedAt,
    AddedBy,
}

#[derive(DeriveIden)]
enum Touchpoints {
    Table,
    Id,
    MemberId,
    Kind,
    Channel,
    StoreId,
    OccurredAt,
    RecordedAt,
    Attributes,
    IdempotencyKey,
    RecordedBy,
}

#[derive(DeriveIden)]
enum Consents {
    Table,
    MemberId,
    Purpose,
    Granted,
    ChangedAt,
}

#[derive(DeriveIden)]
enum TierLevels {
    Table,
    Code,
    Name,
    Threshold,
}

#[derive(DeriveIden)]
enum TierChanges {
    Table,
    Id,
    MemberId,
    FromTier,
    ToTier,
    Cause,
    Reason,
    Actor,
    ChangedAt,
}

#[derive(DeriveIden)]
enum MemberMerges {
    Table,
    Id,
    SurvivorId,
    MergedId,
    Reason,
    Actor,
    MergedAt,
}

/// `<table>.member_id` references `members.id`.
fn member_fk(
    table: impl IntoIden + 'static,
    column: impl IntoIden + 'static,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, column)
        .to(Members::Table, Members::Id)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Members::Table)
                    .col(member_id(Members::Id).primary_key())
                    .col(ColumnDef::new(Members::Status).string_len(16).not_null())
                    .col(ColumnDef::new(Members::MergedInto).string_len(36).null())
                    .col(ColumnDef::new(Members::Name).string_len(256).null())
                    .col(
                        ColumnDef::new(Members::Phone)
                            .string_len(32)
                            .null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(Members::Email).string_len(256).null())
                    .col(ColumnDef::new(Members::Birthday).date().null())
                    .col(ColumnDef::new(Members::Gender).string_len(16).null())
                    .col(
                        ColumnDef::new(Members::RegistrationChannel)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Members::RegistrationBrandId)
                            .string_len(64)
                            .null(),
                    )
                    .col(ColumnDef::new(Members::GuideCode).string_len(64).null())
                    .col(ColumnDef::new(Members::Tier).string_len(32).not_null())
                    .col(
                        ColumnDef::new(Members::GrowthValue)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Members::RegisteredAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Members::UpdatedAt).big_integer().not_null())
                    .col(ColumnDef::new(Members::ErasedAt).big_integer().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_members_merged_into",
                Members::Table,
                vec![Members::MergedInto.into_iden()],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_members_registered_at",
                Members::Table,
                vec![Members::RegisteredAt.into_iden()],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_members_tier",
                Members::Table,
                vec![Members::Tier.into_iden()],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(MemberIdentities::Table)
                    .col(member_id(MemberIdentities::Id).primary_key())
                    .col(member_id(MemberIdentities::MemberId))
                    .col(
                        ColumnDef::new(MemberIdentities::Channel)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(MemberIdentities::ExternalId)
                            .string_len(128)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(MemberIdentities::BrandId)
                            .string_len(64)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(MemberIdentities::LinkedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .foreign_key(&mut member_fk(
                        MemberIdentities::Table,
                        MemberIdentities::MemberId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                index(
                    "uq_identities_channel_external_id",
                    MemberIdentities::Table,
                    vec![
                        MemberIdentities::Channel.into_iden(),
                        MemberIdentities::ExternalId.into_iden(),
                    ],
                )
                .unique()
                .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_identities_member",
                MemberIdentities::Table,
                vec![MemberIdentities::MemberId.into_iden()],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(MemberTags::Table)
                    .col(member_id(MemberTags::MemberId))
                    .col(ColumnDef::new(MemberTags::Tag).string_len(160).not_null())
                    .col(ColumnDef::new(MemberTags::AddedAt).big_integer().not_null())
                    .col(
                        ColumnDef::new(MemberTags::AddedBy)
                            .string_len(160)
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(MemberTags::MemberId)
                            .col(MemberTags::Tag),
                    )
                    .foreign_key(&mut member_fk(MemberTags::Table, MemberTags::MemberId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_member_tags_tag",
                MemberTags::Table,
                vec![MemberTags::Tag.into_iden()],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Touchpoints::Table)
                    .col(member_id(Touchpoints::Id).primary_key())
                    .col(member_id(Touchpoints::MemberId))
                    .col(ColumnDef::new(Touchpoints::Kind).string_len(32).not_null())
                    .col(
                        ColumnDef::new(Touchpoints::Channel)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(ColumnDef::new(Touchpoints::StoreId).string_len(64).null())
                    .col(
                        ColumnDef::new(Touchpoints::OccurredAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Touchpoints::RecordedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Touchpoints::Attributes).text().not_null())
                    .col(
                        ColumnDef::new(Touchpoints::IdempotencyKey)
                            .string_len(64)
                            .null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(Touchpoints::RecordedBy)
                            .string_len(160)
                            .not_null(),
                    )
                    .foreign_key(&mut member_fk(Touchpoints::Table, Touchpoints::MemberId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_touchpoints_timeline",
                Touchpoints::Table,
                vec![
                    Touchpoints::MemberId.into_iden(),
                    Touchpoints::OccurredAt.into_iden(),
                    Touchpoints::Id.into_iden(),
                ],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Consents::Table)
                    .col(member_id(Consents::MemberId))
                    .col(ColumnDef::new(Consents::Purpose).string_len(32).not_null())
                    .col(ColumnDef::new(Consents::Granted).boolean().not_null())
                    .col(ColumnDef::new(Consents::ChangedAt).big_integer().not_null())
                    .primary_key(
                        Index::create()
                            .col(Consents::MemberId)
                            .col(Consents::Purpose),
                    )
                    .foreign_key(&mut member_fk(Consents::Table, Consents::MemberId))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(TierLevels::Table)
                    .col(
                        ColumnDef::new(TierLevels::Code)
                            .string_len(32)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(TierLevels::Name).string_len(160).not_null())
                    .col(
                        ColumnDef::new(TierLevels::Threshold)
                            .big_integer()
                            .not_null()
                            .unique_key(),
                    )
                    .to_owned(),
            )
            .await?;
        let mut levels = Query::insert();
        levels.into_table(TierLevels::Table).columns([
            TierLevels::Code,
            TierLevels::Name,
            TierLevels::Threshold,
        ]);
        for (code, name, threshold) in [
            ("BASIC", "Basic", 0i64),
            ("SILVER", "Silver", 1_000),
            ("GOLD", "Gold", 5_000),
            ("PLATINUM", "Platinum", 20_000),
        ] {
            levels
                .values([code.into(), name.into(), threshold.into()])
                .map_err(|e| DbErr::Migration(e.to_string()))?;
        }
        manager.exec_stmt(levels.to_owned()).await?;

        manager
            .create_table(
                Table::create()
                    .table(TierChanges::Table)
                    .col(member_id(TierChanges::Id).primary_key())
                    .col(member_id(TierChanges::MemberId))
                    .col(ColumnDef::new(TierChanges::FromTier).string_len(32).null())
                    .col(
                        ColumnDef::new(TierChanges::ToTier)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(ColumnDef::new(TierChanges::Cause).string_len(16).not_null())
                    .col(ColumnDef::new(TierChanges::Reason).string_len(2000).null())
                    .col(
                        ColumnDef::new(TierChanges::Actor)
                            .string_len(160)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(TierChanges::ChangedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_tier_changes_member",
                TierChanges::Table,
                vec![
                    TierChanges::MemberId.into_iden(),
                    TierChanges::ChangedAt.into_iden(),
                ],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(MemberMerges::Table)
                    .col(member_id(MemberMerges::Id).primary_key())
                    .col(member_id(MemberMerges::SurvivorId))
                    .col(member_id(MemberMerges::MergedId).unique_key())
                    .col(
                        ColumnDef::new(MemberMerges::Reason)
                            .string_len(2000)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(MemberMerges::Actor)
                            .string_len(160)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(MemberMerges::MergedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_member_merges_survivor",
                MemberMerges::Table,
                vec![MemberMerges::SurvivorId.into_iden()],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            MemberMerges::Table.into_iden(),
            TierChanges::Table.into_iden(),
            TierLevels::Table.into_iden(),
            Consents::Table.into_iden(),
            Touchpoints::Table.into_iden(),
            MemberTags::Table.into_iden(),
            MemberIdentities::Table.into_iden(),
            Members::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
