//! Members and their identities gain an environment: LIVE, or SANDBOX for
//! test members a partner enrols with a sandbox key. Identities gain a
//! namespace: a PARTNER identity's brand (each partner numbers its own
//! customers), "" for other channels. An identity is unique within its
//! environment, channel and namespace, so a test member can use an
//! external id a live member holds, and two brands' partners the same
//! customer number, without ever meeting. Existing rows are live; existing
//! PARTNER identities take their brand as namespace.

use kit::migration::columns::{environment, index};
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261209_000200_environments"
    }
}

#[derive(DeriveIden)]
enum Members {
    Table,
    Environment,
}

#[derive(DeriveIden)]
enum MemberIdentities {
    Table,
    Channel,
    ExternalId,
    BrandId,
    Environment,
    Namespace,
}

const OLD_INDEX: &str = "uq_identities_channel_external_id";
const NEW_INDEX: &str = "uq_identities_environment_channel_namespace_external_id";

fn unique_identity(name: &str, cols: Vec<DynIden>) -> IndexCreateStatement {
    index(name, MemberIdentities::Table, cols)
        .unique()
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        for (table, column) in [
            (
                Members::Table.into_iden(),
                environment(Members::Environment),
            ),
            (
                MemberIdentities::Table.into_iden(),
                environment(MemberIdentities::Environment),
            ),
            (
                MemberIdentities::Table.into_iden(),
                ColumnDef::new(MemberIdentities::Namespace)
                    .string_len(64)
                    .not_null()
                    .default("")
                    .to_owned(),
            ),
        ] {
            manager
                .alter_table(Table::alter().table(table).add_column(column).to_owned())
                .await?;
        }
        manager
            .exec_stmt(
                Query::update()
                    .table(MemberIdentities::Table)
                    .value(
                        MemberIdentities::Namespace,
                        Expr::col(MemberIdentities::BrandId),
                    )
                    .and_where(Expr::col(MemberIdentities::Channel).eq("PARTNER"))
                    .and_where(Expr::col(MemberIdentities::BrandId).is_not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name(OLD_INDEX)
                    .table(MemberIdentities::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique_identity(
                NEW_INDEX,
                vec![
                    MemberIdentities::Environment.into_iden(),
                    MemberIdentities::Channel.into_iden(),
                    MemberIdentities::Namespace.into_iden(),
                    MemberIdentities::ExternalId.into_iden(),
                ],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(NEW_INDEX)
                    .table(MemberIdentities::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique_identity(
                OLD_INDEX,
                vec![
                    MemberIdentities::Channel.into_iden(),
                    MemberIdentities::ExternalId.into_iden(),
                ],
            ))
            .await?;
        for (table, column) in [
            (
                MemberIdentities::Table.into_iden(),
                MemberIdentities::Namespace.into_iden(),
            ),
            (
                MemberIdentities::Table.into_iden(),
                MemberIdentities::Environment.into_iden(),
            ),
            (Members::Table.into_iden(), Members::Environment.into_iden()),
        ] {
            manager
                .alter_table(Table::alter().table(table).drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}
