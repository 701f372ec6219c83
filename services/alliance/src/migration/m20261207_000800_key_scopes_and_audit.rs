//! Partner keys gain scopes, an optional expiry and the key that replaced
//! them on rotation; operators' and partners' administrative actions go
//! to an append-only audit log.
//!
//! Keys issued before scopes existed could do everything their brand
//! could; they keep every scope (the column's default for existing rows),
//! so that no integration stops at the upgrade. New keys name theirs.

use kit::auth::Scopes;
use kit::migration::columns::{id, index, int, opt_id, opt_int, text};
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261207_000800_key_scopes_and_audit"
    }
}

#[derive(DeriveIden)]
enum PartnerKeys {
    Table,
    Scopes,
    ExpiresAt,
    ReplacedBy,
}

#[derive(DeriveIden)]
enum AuditEntries {
    Table,
    Seq,
    At,
    Actor,
    Action,
    BrandId,
    SubjectId,
    Detail,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        for column in [
            ColumnDef::new(PartnerKeys::Scopes)
                .string_len(256)
                .not_null()
                .default(Scopes::all().to_list())
                .to_owned(),
            opt_int(PartnerKeys::ExpiresAt),
            opt_id(PartnerKeys::ReplacedBy),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(PartnerKeys::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(AuditEntries::Table)
                    .col(
                        ColumnDef::new(AuditEntries::Seq)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(int(AuditEntries::At))
                    .col(text(AuditEntries::Actor, 160))
                    .col(text(AuditEntries::Action, 32))
                    .col(opt_id(AuditEntries::BrandId))
                    .col(id(AuditEntries::SubjectId))
                    .col(ColumnDef::new(AuditEntries::Detail).text().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_audit_entries_brand",
                AuditEntries::Table,
                vec![
                    AuditEntries::BrandId.into_iden(),
                    AuditEntries::Seq.into_iden(),
                ],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_audit_entries_action",
                AuditEntries::Table,
                vec![
                    AuditEntries::Action.into_iden(),
                    AuditEntries::Seq.into_iden(),
                ],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AuditEntries::Table).to_owned())
            .await?;
        for col in [
            PartnerKeys::Scopes,
            PartnerKeys::ExpiresAt,
            PartnerKeys::ReplacedBy,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(PartnerKeys::Table)
                        .drop_column(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
