//! Partners' webhooks: the endpoints a brand registers, and one delivery
//! row per event and endpoint (its body fixed when the event is fanned out,
//! so a retry or a redelivery sends the same bytes under the same event
//! id). Lots remember when their expiry was announced, so that the
//! "expiring soon" event goes out once per lot.

use kit::migration::columns::{id, index, int, opt_id, opt_int, text};
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261208_000900_webhooks"
    }
}

#[derive(DeriveIden)]
enum WebhookEndpoints {
    Table,
    Id,
    BrandId,
    Url,
    Events,
    Secret,
    Paused,
    CreatedAt,
    CreatedBy,
}

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    Id,
    EndpointId,
    EventId,
    EventType,
    Body,
    Status,
    Attempts,
    NextAttemptAt,
    LeasedUntil,
    LastAttemptAt,
    LastStatus,
    LastAnswer,
    CreatedAt,
    DeliveredAt,
    RedeliveryOf,
}

#[derive(DeriveIden)]
enum Lots {
    Table,
    ExpiryWarnedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(WebhookEndpoints::Table)
                    .col(id(WebhookEndpoints::Id).primary_key())
                    .col(id(WebhookEndpoints::BrandId))
                    .col(text(WebhookEndpoints::Url, 2048))
                    .col(text(WebhookEndpoints::Events, 512))
                    .col(text(WebhookEndpoints::Secret, 128))
                    .col(
                        ColumnDef::new(WebhookEndpoints::Paused)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .col(int(WebhookEndpoints::CreatedAt))
                    .col(text(WebhookEndpoints::CreatedBy, 160))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_webhook_endpoints_brand",
                WebhookEndpoints::Table,
                vec![
                    WebhookEndpoints::BrandId.into_iden(),
                    WebhookEndpoints::CreatedAt.into_iden(),
                ],
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookDeliveries::Table)
                    .col(id(WebhookDeliveries::Id).primary_key())
                    .col(id(WebhookDeliveries::EndpointId))
                    .col(id(WebhookDeliveries::EventId))
                    .col(text(WebhookDeliveries::EventType, 32))
                    .col(ColumnDef::new(WebhookDeliveries::Body).text().not_null())
                    .col(text(WebhookDeliveries::Status, 16))
                    .col(int(WebhookDeliveries::Attempts))
                    .col(int(WebhookDeliveries::NextAttemptAt))
                    .col(opt_int(WebhookDeliveries::LeasedUntil))
                    .col(opt_int(WebhookDeliveries::LastAttemptAt))
                    .col(opt_int(WebhookDeliveries::LastStatus))
                    .col(
                        ColumnDef::new(WebhookDeliveries::LastAnswer)
                            .string_len(1024)
                            .null(),
                    )
                    .col(int(WebhookDeliveries::CreatedAt))
                    .col(opt_int(WebhookDeliveries::DeliveredAt))
                    .col(opt_id(WebhookDeliveries::RedeliveryOf))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_webhook_deliveries_due",
                WebhookDeliveries::Table,
                vec![
                    WebhookDeliveries::Status.into_iden(),
                    WebhookDeliveries::NextAttemptAt.into_iden(),
                ],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_webhook_deliveries_endpoint",
                WebhookDeliveries::Table,
                vec![
                    WebhookDeliveries::EndpointId.into_iden(),
                    WebhookDeliveries::CreatedAt.into_iden(),
                ],
            ))
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Lots::Table)
                    .add_column(opt_int(Lots::ExpiryWarnedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Lots::Table)
                    .drop_column(Lots::ExpiryWarnedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(WebhookDeliveries::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(WebhookEndpoints::Table).to_owned())
            .await
    }
}
