use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261122_000500_catalogue_inventory_orders"
    }
}

#[derive(DeriveIden)]
enum Products {
    Table,
    Id,
    BrandId,
    Name,
    NameLower,
    Description,
    Category,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Skus {
    Table,
    Id,
    ProductId,
    BrandId,
    Attributes,
    Barcode,
    ListPriceFen,
    Status,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Locations {
    Table,
    Id,
    Kind,
    Name,
    Latitude,
    Longitude,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Inventory {
    Table,
    SkuId,
    LocationId,
    OnHand,
    Reserved,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum InventoryMovements {
    Table,
    Id,
    SkuId,
    LocationId,
    Kind,
    OnHandDelta,
    ReservedDelta,
    Reason,
    Reference,
    Actor,
    At,
}

#[derive(DeriveIden)]
enum Orders {
    Table,
    Id,
    MemberId,
    Channel,
    StoreId,
    Fulfilment,
    ShipLatitude,
    ShipLongitude,
    Status,
    TotalFen,
    RefundedFen,
    IdempotencyKey,
    RequestHash,
    PickupDeadline,
    PlacedAt,
    FulfilledAt,
    CancelledAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum OrderLines {
    Table,
    Id,
    OrderId,
    SkuId,
    ProductId,
    BrandId,
    Quantity,
    UnitPriceFen,
    AmountFen,
    SourceLocationId,
    RefundedQuantity,
}

#[derive(DeriveIden)]
enum Refunds {
    Table,
    Id,
    OrderId,
    IdempotencyKey,
    RequestHash,
    Lines,
    AmountFen,
    CreatedAt,
}

fn id(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).string_len(64).not_null().to_owned()
}

fn int(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).big_integer().not_null().to_owned()
}

fn index(
    name: &str,
    table: impl IntoIden + 'static,
    cols: Vec<DynIden>,
    unique: bool,
) -> IndexCreateStatement {
    let mut stmt = Index::create();
    stmt.name(name).table(table);
    for col in cols {
        stmt.col(col);
    }
    if unique {
        stmt.unique();
    }
    stmt.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Products::Table)
                    .col(id(Products::Id).primary_key())
                    .col(id(Products::BrandId))
                    .col(ColumnDef::new(Products::Name).string_len(256).not_null())
                    .col(
                        ColumnDef::new(Products::NameLower)
                            .string_len(256)
                            .not_null(),
                    )
                    .col(ColumnDef::new(Products::Description).text().not_null())
                    .col(ColumnDef::new(Products::Category).string_len(64).not_null())
                    .col(int(Products::CreatedAt))
                    .col(int(Products::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_products_brand",
                Products::Table,
                vec![Products::BrandId.into_iden(), Products::Id.into_iden()],
                false,
            ))
            .await?;
        manager
            .create_index(index(
                "idx_products_category",
                Products::Table,
                vec![Products::Category.into_iden(), Products::Id.into_iden()],
                false,
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Skus::Table)
                    .col(id(Skus::Id).primary_key())
                    .col(id(Skus::ProductId))
                    .col(id(Skus::BrandId))
                    .col(ColumnDef::new(Skus::Attributes).text().not_null())
                    .col(
                        ColumnDef::new(Skus::Barcode)
                            .string_len(14)
                            .null()
                            .unique_key(),
                    )
                    .col(int(Skus::ListPriceFen).check(Expr::col(Skus::ListPriceFen).gt(0)))
                    .col(ColumnDef::new(Skus::Status).string_len(16).not_null())
                    .col(int(Skus::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_skus_product",
                Skus::Table,
                vec![Skus::ProductId.into_iden()],
                false,
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Locations::Table)
                    .col(id(Locations::Id).primary_key())
                    .col(ColumnDef::new(Locations::Kind).string_len(16).not_null())
                    .col(ColumnDef::new(Locations::Name).string_len(256).not_null())
                    .col(ColumnDef::new(Locations::Latitude).double().not_null())
                    .col(ColumnDef::new(Locations::Longitude).double().not_null())
                    .col(int(Locations::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        // The database itself refuses an oversell: reserved never exceeds on
        // hand, and neither goes negative.
        manager
            .create_table(
                Table::create()
                    .table(Inventory::Table)
                    .col(id(Inventory::SkuId))
                    .col(id(Inventory::LocationId))
                    .col(int(Inventory::OnHand).check(Expr::col(Inventory::OnHand).gte(0)))
                    .col(int(Inventory::Reserved).check(Expr::col(Inventory::Reserved).gte(0)))
                    .col(int(Inventory::UpdatedAt))
                    .check(Expr::col(Inventory::Reserved).lte(Expr::col(Inventory::OnHand)))
                    .primary_key(
                        Index::create()
                            .col(Inventory::SkuId)
                            .col(Inventory::LocationId),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_inventory_location",
                Inventory::Table,
                vec![
                    Inventory::LocationId.into_iden(),
                    Inventory::SkuId.into_iden(),
                ],
                false,
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(InventoryMovements::Table)
                    .col(id(InventoryMovements::Id).primary_key())
                    .col(id(InventoryMovements::SkuId))
                    .col(id(InventoryMovements::LocationId))
                    .col(
                        ColumnDef::new(InventoryMovements::Kind)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(int(InventoryMovements::OnHandDelta))
                    .col(int(InventoryMovements::ReservedDelta))
                    .col(
                        ColumnDef::new(InventoryMovements::Reason)
                            .string_len(500)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(InventoryMovements::Reference)
                            .string_len(64)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(InventoryMovements::Actor)
                            .string_len(160)
                            .not_null(),
                    )
                    .col(int(InventoryMovements::At))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_movements_sku_location",
                InventoryMovements::Table,
                vec![
                    InventoryMovements::SkuId.into_iden(),
                    InventoryMovements::LocationId.into_iden(),
                    InventoryMovements::At.into_iden(),
                ],
                false,
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Orders::Table)
                    .col(id(Orders::Id).primary_key())
                    .col(ColumnDef::new(Orders::MemberId).string_len(64).null())
                    .col(ColumnDef::new(Orders::Channel).string_len(32).not_null())
                    .col(ColumnDef::new(Orders::StoreId).string_len(64).null())
                    .col(ColumnDef::new(Orders::Fulfilment).string_len(16).not_null())
                    .col(ColumnDef::new(Orders::ShipLatitude).double().null())
                    .col(ColumnDef::new(Orders::ShipLongitude).double().null())
                    .col(ColumnDef::new(Orders::Status).string_len(24).not_null())
                    .col(int(Orders::TotalFen))
                    .col(int(Orders::RefundedFen))
                    .col(
                        ColumnDef::new(Orders::IdempotencyKey)
                            .string_len(64)
                            .not_null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(Orders::RequestHash)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(ColumnDef::new(Orders::PickupDeadline).big_integer().null())
                    .col(int(Orders::PlacedAt))
                    .col(ColumnDef::new(Orders::FulfilledAt).big_integer().null())
                    .col(ColumnDef::new(Orders::CancelledAt).big_integer().null())
                    .col(int(Orders::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_orders_member",
                Orders::Table,
                vec![Orders::MemberId.into_iden(), Orders::Id.into_iden()],
                false,
            ))
            .await?;
        manager
            .create_index(index(
                "idx_orders_store",
                Orders::Table,
                vec![Orders::StoreId.into_iden(), Orders::Id.into_iden()],
                false,
            ))
            .await?;
        manager
            .create_index(index(
                "idx_orders_pickup_due",
                Orders::Table,
                vec![
                    Orders::Status.into_iden(),
                    Orders::PickupDeadline.into_iden(),
                ],
                false,
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OrderLines::Table)
                    .col(id(OrderLines::Id).primary_key())
                    .col(id(OrderLines::OrderId))
                    .col(id(OrderLines::SkuId))
                    .col(id(OrderLines::ProductId))
                    .col(id(OrderLines::BrandId))
                    .col(int(OrderLines::Quantity).check(Expr::col(OrderLines::Quantity).gt(0)))
                    .col(int(OrderLines::UnitPriceFen))
                    .col(int(OrderLines::AmountFen))
                    .col(id(OrderLines::SourceLocationId))
                    .col(int(OrderLines::RefundedQuantity))
                    .check(
                        Expr::col(OrderLines::RefundedQuantity)
                            .lte(Expr::col(OrderLines::Quantity)),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_order_lines_order",
                OrderLines::Table,
                vec![OrderLines::OrderId.into_iden()],
                false,
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Refunds::Table)
                    .col(id(Refunds::Id).primary_key())
                    .col(id(Refunds::OrderId))
                    .col(
                        ColumnDef::new(Refunds::IdempotencyKey)
                            .string_len(64)
                            .not_null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(Refunds::RequestHash)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(ColumnDef::new(Refunds::Lines).text().not_null())
                    .col(int(Refunds::AmountFen))
                    .col(int(Refunds::CreatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Refunds::Table.into_iden(),
            OrderLines::Table.into_iden(),
            Orders::Table.into_iden(),
            InventoryMovements::Table.into_iden(),
            Inventory::Table.into_iden(),
            Locations::Table.into_iden(),
            Skus::Table.into_iden(),
            Products::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
