//! Members and their identities gain an environment: LIVE, or SANDBOX for
//! test members a partner enrols with a sandbox key. An identity is
//! unique within its environment, so a test member can use an external id
//! a live member holds without ever meeting them. Existing rows are live.

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
    Environment,
}

fn unique_identity(name: &str, cols: Vec<DynIden>) -> IndexCreateStatement {
    index(name, MemberIdentities::Table, cols)
        .unique()
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Members::Table)
                    .add_column(environment(Members::Environment))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(MemberIdentities::Table)
                    .add_column(environment(MemberIdentities::Environment))
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("uq_identities_channel_external_id")
                    .table(MemberIdentities::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique_identity(
                "uq_identities_environment_channel_external_id",
                vec![
                    MemberIdentities::Environment.into_iden(),
                    MemberIdentities::Channel.into_iden(),
                    MemberIdentities::ExternalId.into_iden(),
                ],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("uq_identities_environment_channel_external_id")
                    .table(MemberIdentities::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique_identity(
                "uq_identities_channel_external_id",
                vec![
                    MemberIdentities::Channel.into_iden(),
                    MemberIdentities::ExternalId.into_iden(),
                ],
            ))
            .await?;
        for (table, column) in [
            (Members::Table.into_iden(), Members::Environment.into_iden()),
            (
                MemberIdentities::Table.into_iden(),
                MemberIdentities::Environment.into_iden(),
            ),
        ] {
            manager
                .alter_table(Table::alter().table(table).drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}
