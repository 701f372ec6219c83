//! Keys revoked before every service kept a list of revoked partner keys
//! (`kit::revocation`) join the alliance's list, and a PartnerKeyRevoked
//! event for each is published, so that the other services list them too:
//! a key revoked a moment before the upgrade may have tokens that live
//! for most of an hour after it, and revoking a revoked key again
//! publishes nothing. In one transaction.

use kit::events::schema::PartnerKeyRevoked;
use sea_orm::{ConnectionTrait, DatabaseTransaction, TransactionTrait};
use sea_orm_migration::SchemaManagerConnection;
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_000700_revoked_keys_listed"
    }
}

#[derive(DeriveIden)]
enum PartnerKeys {
    Table,
    Id,
    BrandId,
    RevokedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let txn = match manager.get_connection() {
            SchemaManagerConnection::Connection(db) => db.begin().await?,
            SchemaManagerConnection::Transaction(outer) => outer.begin().await?,
        };
        announce_revoked(&txn).await?;
        txn.commit().await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        // The kit's migration drops the list; published events stay
        // published.
        Ok(())
    }
}

async fn announce_revoked(txn: &DatabaseTransaction) -> Result<(), DbErr> {
    let revoked = Query::select()
        .columns([
            PartnerKeys::Id,
            PartnerKeys::BrandId,
            PartnerKeys::RevokedAt,
        ])
        .from(PartnerKeys::Table)
        .and_where(Expr::col(PartnerKeys::RevokedAt).is_not_null())
        .order_by(PartnerKeys::RevokedAt, Order::Asc)
        .to_owned();
    let rows = txn
        .query_all(txn.get_database_backend().build(&revoked))
        .await?;
    for row in rows {
        let revoked_at: i64 = row.try_get("", "revoked_at")?;
        let event = PartnerKeyRevoked {
            key_id: row.try_get("", "id")?,
            brand_id: row.try_get("", "brand_id")?,
            revoked_at: kit::time::from_micros(revoked_at),
        };
        kit::revocation::record(txn, &event).await?;
        kit::events::outbox::publish(txn, &event, event.revoked_at).await?;
    }
    Ok(())
}
