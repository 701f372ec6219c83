use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261122_000300_guides_attribution"
    }
}

#[derive(DeriveIden)]
enum Guides {
    Table,
    Id,
    StoreId,
    BrandId,
    Name,
    Code,
    Status,
    CreatedAt,
    DepartedAt,
    CodeRotatedAt,
}

#[derive(DeriveIden)]
enum AttributionRules {
    Table,
    BrandId,
    BindingDays,
    ProtectionDays,
    OnDeparture,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Attributions {
    Table,
    MemberId,
    GuideId,
    StoreId,
    BoundAt,
    ExpiresAt,
    ProtectedUntil,
    Cause,
}

#[derive(DeriveIden)]
enum AttributionChanges {
    Table,
    Id,
    MemberId,
    FromGuideId,
    FromStoreId,
    ToGuideId,
    ToStoreId,
    Cause,
    Reason,
    Actor,
    ChangedAt,
}

#[derive(DeriveIden)]
enum FavoriteStores {
    Table,
    MemberId,
    StoreId,
    AddedAt,
}

fn id(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).string_len(64).not_null().to_owned()
}

fn optional_id(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).string_len(64).null().to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Guides::Table)
                    .col(id(Guides::Id).primary_key())
                    .col(id(Guides::StoreId))
                    .col(id(Guides::BrandId))
                    .col(ColumnDef::new(Guides::Name).string_len(128).not_null())
                    .col(
                        ColumnDef::new(Guides::Code)
                            .string_len(64)
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(Guides::Status).string_len(16).not_null())
                    .col(ColumnDef::new(Guides::CreatedAt).big_integer().not_null())
                    .col(ColumnDef::new(Guides::DepartedAt).big_integer().null())
                    .col(
                        ColumnDef::new(Guides::CodeRotatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_guides_store")
                    .table(Guides::Table)
                    .col(Guides::StoreId)
                    .col(Guides::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AttributionRules::Table)
                    .col(id(AttributionRules::BrandId).primary_key())
                    .col(
                        ColumnDef::new(AttributionRules::BindingDays)
                            .integer()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(AttributionRules::ProtectionDays)
                            .integer()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(AttributionRules::OnDeparture)
                            .string_len(24)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AttributionRules::UpdatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Attributions::Table)
                    .col(id(Attributions::MemberId).primary_key())
                    .col(optional_id(Attributions::GuideId))
                    .col(optional_id(Attributions::StoreId))
                    .col(
                        ColumnDef::new(Attributions::BoundAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Attributions::ExpiresAt).big_integer().null())
                    .col(
                        ColumnDef::new(Attributions::ProtectedUntil)
                            .big_integer()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(Attributions::Cause)
                            .string_len(24)
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_attributions_guide")
                    .table(Attributions::Table)
                    .col(Attributions::GuideId)
                    .col(Attributions::MemberId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AttributionChanges::Table)
                    .col(id(AttributionChanges::Id).primary_key())
                    .col(id(AttributionChanges::MemberId))
                    .col(optional_id(AttributionChanges::FromGuideId))
                    .col(optional_id(AttributionChanges::FromStoreId))
                    .col(optional_id(AttributionChanges::ToGuideId))
                    .col(optional_id(AttributionChanges::ToStoreId))
                    .col(
                        ColumnDef::new(AttributionChanges::Cause)
                            .string_len(24)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AttributionChanges::Reason)
                            .string_len(1000)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(AttributionChanges::Actor)
                            .string_len(160)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AttributionChanges::ChangedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_attribution_changes_member")
                    .table(AttributionChanges::Table)
                    .col(AttributionChanges::MemberId)
                    .col(AttributionChanges::ChangedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(FavoriteStores::Table)
                    .col(id(FavoriteStores::MemberId))
                    .col(id(FavoriteStores::StoreId))
                    .col(
                        ColumnDef::new(FavoriteStores::AddedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(FavoriteStores::MemberId)
                            .col(FavoriteStores::StoreId),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            FavoriteStores::Table.into_iden(),
            AttributionChanges::Table.into_iden(),
            Attributions::Table.into_iden(),
            AttributionRules::Table.into_iden(),
            Guides::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
