//! Keys revoked before every service kept a list of revoked partner keys
//! (`kit::revocation`) join the alliance's list, so that their tokens stay
//! refused here. Other services learn of revocations made from this version
//! on (through the alliance's feed); partner tokens live an hour, so keys
//! revoked before it have no live tokens left by the time that matters.

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

#[derive(DeriveIden)]
enum RevokedPartnerKeys {
    Table,
    KeyId,
    BrandId,
    RevokedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let revoked = Query::select()
            .columns([
                PartnerKeys::Id,
                PartnerKeys::BrandId,
                PartnerKeys::RevokedAt,
            ])
            .from(PartnerKeys::Table)
            .and_where(Expr::col(PartnerKeys::RevokedAt).is_not_null())
            .to_owned();
        let listed = Query::insert()
            .into_table(RevokedPartnerKeys::Table)
            .columns([
                RevokedPartnerKeys::KeyId,
                RevokedPartnerKeys::BrandId,
                RevokedPartnerKeys::RevokedAt,
            ])
            .select_from(revoked)
            .map_err(|e| DbErr::Migration(e.to_string()))?
            .to_owned();
        manager.exec_stmt(listed).await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        // The kit's migration drops the list itself.
        Ok(())
    }
}
