use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261122_000200_stores"
    }
}

#[derive(DeriveIden)]
enum Stores {
    Table,
    Id,
    BrandId,
    Name,
    Kind,
    Franchisee,
    Address,
    Latitude,
    Longitude,
    TimeZone,
    Hours,
    Phone,
    Status,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Stores::Table)
                    .col(
                        ColumnDef::new(Stores::Id)
                            .string_len(36)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Stores::BrandId).string_len(64).not_null())
                    .col(ColumnDef::new(Stores::Name).string_len(256).not_null())
                    .col(ColumnDef::new(Stores::Kind).string_len(16).not_null())
                    .col(ColumnDef::new(Stores::Franchisee).string_len(256).null())
                    .col(ColumnDef::new(Stores::Address).string_len(512).not_null())
                    .col(ColumnDef::new(Stores::Latitude).double().not_null())
                    .col(ColumnDef::new(Stores::Longitude).double().not_null())
                    .col(ColumnDef::new(Stores::TimeZone).string_len(64).not_null())
                    .col(ColumnDef::new(Stores::Hours).text().not_null())
                    .col(ColumnDef::new(Stores::Phone).string_len(32).null())
                    .col(ColumnDef::new(Stores::Status).string_len(24).not_null())
                    .col(ColumnDef::new(Stores::CreatedAt).big_integer().not_null())
                    .col(ColumnDef::new(Stores::UpdatedAt).big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        // The radius search's prefilter: a latitude band, then longitude.
        manager
            .create_index(
                Index::create()
                    .name("idx_stores_lat_lng")
                    .table(Stores::Table)
                    .col(Stores::Latitude)
                    .col(Stores::Longitude)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_stores_brand")
                    .table(Stores::Table)
                    .col(Stores::BrandId)
                    .col(Stores::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Stores::Table).to_owned())
            .await
    }
}
