//! Migrations for the kit's tables (outbox, its sequence, consumer positions,
//! parked events, idempotency keys, revoked partner keys).
//! Every service lists [`kit_migrations`] first in its own migrator.

use sea_orm_migration::prelude::*;

/// Column and index shapes every service's migrations use, so that an id or
/// an amount is the same column everywhere.
pub mod columns {
    use sea_orm_migration::prelude::*;

    /// An id: up to 64 characters (ids of other services included).
    pub fn id(col: impl IntoIden) -> ColumnDef {
        text(col, 64)
    }

    pub fn opt_id(col: impl IntoIden) -> ColumnDef {
        ColumnDef::new(col).string_len(64).null().to_owned()
    }

    /// Required text of at most `len` characters.
    pub fn text(col: impl IntoIden, len: u32) -> ColumnDef {
        ColumnDef::new(col).string_len(len).not_null().to_owned()
    }

    /// A required 64-bit integer: money in fen, points, instants in micros.
    pub fn int(col: impl IntoIden) -> ColumnDef {
        ColumnDef::new(col).big_integer().not_null().to_owned()
    }

    pub fn opt_int(col: impl IntoIden) -> ColumnDef {
        ColumnDef::new(col).big_integer().null().to_owned()
    }

    /// An environment (`kit::auth::Environment`): LIVE unless set, as
    /// every row written before environments existed is.
    pub fn environment(col: impl IntoIden) -> ColumnDef {
        ColumnDef::new(col)
            .string_len(16)
            .not_null()
            .default("LIVE")
            .to_owned()
    }

    /// A named index on `cols`, in order; chain `.unique()` for a unique one.
    pub fn index(
        name: &str,
        table: impl IntoIden + 'static,
        cols: Vec<DynIden>,
    ) -> IndexCreateStatement {
        let mut stmt = Index::create();
        stmt.name(name).table(table);
        for col in cols {
            stmt.col(col);
        }
        stmt.to_owned()
    }
}

pub fn kit_migrations() -> Vec<Box<dyn MigrationTrait>> {
    vec![
        Box::new(CreateOutbox),
        Box::new(CreateConsumerPositions),
        Box::new(AddConsumerCaughtUpAt),
        Box::new(CreateParkedEvents),
        Box::new(CreateIdempotencyKeys),
        Box::new(CreateRevokedPartnerKeys),
        Box::new(CreateFeedReaders),
        Box::new(CreateOutboxPending),
    ]
}

#[derive(DeriveIden)]
enum OutboxEvents {
    Table,
    Seq,
    EventId,
    Kind,
    Payload,
    OccurredAt,
}

#[derive(DeriveIden)]
enum OutboxSequence {
    Table,
    Id,
    LastSeq,
}

#[derive(DeriveIden)]
enum ConsumerPositions {
    Table,
    Consumer,
    Position,
    UpdatedAt,
    CaughtUpAt,
}

pub struct CreateOutbox;

impl MigrationName for CreateOutbox {
    fn name(&self) -> &str {
        "m20261122_000001_kit_outbox"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for CreateOutbox {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OutboxEvents::Table)
                    .col(
                        ColumnDef::new(OutboxEvents::Seq)
                            .big_integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(OutboxEvents::EventId)
                            .string_len(36)
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(OutboxEvents::Kind).string_len(64).not_null())
                    .col(ColumnDef::new(OutboxEvents::Payload).text().not_null())
                    .col(
                        ColumnDef::new(OutboxEvents::OccurredAt)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OutboxSequence::Table)
                    .col(
                        ColumnDef::new(OutboxSequence::Id)
                            .integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(OutboxSequence::LastSeq)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        let seed = Query::insert()
            .into_table(OutboxSequence::Table)
            .columns([OutboxSequence::Id, OutboxSequence::LastSeq])
            .values([1.into(), 0i64.into()])
            .map_err(|e| DbErr::Migration(e.to_string()))?
            .to_owned();
        manager.exec_stmt(seed).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(OutboxSequence::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(OutboxEvents::Table).to_owned())
            .await
    }
}

pub struct CreateConsumerPositions;

impl MigrationName for CreateConsumerPositions {
    fn name(&self) -> &str {
        "m20261122_000002_kit_consumer_positions"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for CreateConsumerPositions {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ConsumerPositions::Table)
                    .col(
                        ColumnDef::new(ConsumerPositions::Consumer)
                            .string_len(128)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(ConsumerPositions::Position)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ConsumerPositions::UpdatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ConsumerPositions::Table).to_owned())
            .await
    }
}

/// When a consumer last found its feed drained, so that a consumer of
/// another feed can wait for it (see `consumer::caught_up_at`).
pub struct AddConsumerCaughtUpAt;

impl MigrationName for AddConsumerCaughtUpAt {
    fn name(&self) -> &str {
        "m20261122_000003_kit_consumer_caught_up_at"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for AddConsumerCaughtUpAt {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(ConsumerPositions::Table)
                    .add_column(columns::opt_int(ConsumerPositions::CaughtUpAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(ConsumerPositions::Table)
                    .drop_column(ConsumerPositions::CaughtUpAt)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum ParkedEvents {
    Table,
    Consumer,
    Seq,
    EventId,
    Kind,
    Payload,
    OccurredAt,
    Reason,
    Attempts,
    Status,
    ParkedAt,
    UpdatedAt,
}

/// Events a consumer could not apply because of a rule, set aside so that
/// the feed behind them moves on (see `events::parked`).
pub struct CreateParkedEvents;

impl MigrationName for CreateParkedEvents {
    fn name(&self) -> &str {
        "m20261201_000004_kit_parked_events"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for CreateParkedEvents {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ParkedEvents::Table)
                    .col(columns::text(ParkedEvents::Consumer, 128))
                    .col(columns::int(ParkedEvents::Seq))
                    .col(columns::text(ParkedEvents::EventId, 64))
                    .col(columns::text(ParkedEvents::Kind, 64))
                    .col(ColumnDef::new(ParkedEvents::Payload).text().not_null())
                    .col(columns::int(ParkedEvents::OccurredAt))
                    .col(ColumnDef::new(ParkedEvents::Reason).text().not_null())
                    .col(columns::int(ParkedEvents::Attempts))
                    .col(columns::text(ParkedEvents::Status, 16))
                    .col(columns::int(ParkedEvents::ParkedAt))
                    .col(columns::int(ParkedEvents::UpdatedAt))
                    .primary_key(
                        Index::create()
                            .col(ParkedEvents::Consumer)
                            .col(ParkedEvents::Seq),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ParkedEvents::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum IdempotencyKeys {
    Table,
    Scope,
    Key,
    Operation,
    RequestHash,
    ResultId,
    CreatedAt,
}

/// Every service's record of the idempotency keys it has seen (see
/// `idempotency`). The alliance had this table first, with this shape:
/// there it exists already.
pub struct CreateIdempotencyKeys;

impl MigrationName for CreateIdempotencyKeys {
    fn name(&self) -> &str {
        "m20261201_000005_kit_idempotency_keys"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for CreateIdempotencyKeys {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(IdempotencyKeys::Table)
                    .if_not_exists()
                    .col(columns::text(IdempotencyKeys::Scope, 96))
                    .col(columns::text(IdempotencyKeys::Key, 128))
                    .col(columns::text(IdempotencyKeys::Operation, 32))
                    .col(columns::text(IdempotencyKeys::RequestHash, 64))
                    .col(columns::id(IdempotencyKeys::ResultId))
                    .col(columns::int(IdempotencyKeys::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(IdempotencyKeys::Scope)
                            .col(IdempotencyKeys::Key),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(IdempotencyKeys::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum RevokedPartnerKeys {
    Table,
    KeyId,
    BrandId,
    RevokedAt,
}

/// Every service's list of revoked partner keys (see `revocation`).
pub struct CreateRevokedPartnerKeys;

impl MigrationName for CreateRevokedPartnerKeys {
    fn name(&self) -> &str {
        "m20261206_000006_kit_revoked_partner_keys"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for CreateRevokedPartnerKeys {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RevokedPartnerKeys::Table)
                    .if_not_exists()
                    .col(
                        columns::id(RevokedPartnerKeys::KeyId)
                            .primary_key()
                            .to_owned(),
                    )
                    .col(columns::id(RevokedPartnerKeys::BrandId))
                    .col(columns::int(RevokedPartnerKeys::RevokedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RevokedPartnerKeys::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum FeedReaders {
    Table,
    Reader,
    Position,
    ReadAt,
}

/// Who reads this service's feed, and how far each has applied it: the
/// outbox is pruned only below every reader's position.
pub struct CreateFeedReaders;

impl MigrationName for CreateFeedReaders {
    fn name(&self) -> &str {
        "m20261206_000007_kit_feed_readers"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for CreateFeedReaders {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(FeedReaders::Table)
                    .if_not_exists()
                    .col(
                        columns::text(FeedReaders::Reader, 128)
                            .primary_key()
                            .to_owned(),
                    )
                    .col(columns::int(FeedReaders::Position))
                    .col(columns::int(FeedReaders::ReadAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(FeedReaders::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum OutboxPending {
    Table,
    Id,
    EventId,
    Kind,
    Payload,
    OccurredAt,
}

/// Events written but not yet numbered (see `events::outbox::sequence`):
/// writers insert here, with no row that every writer must lock.
pub struct CreateOutboxPending;

impl MigrationName for CreateOutboxPending {
    fn name(&self) -> &str {
        "m20261207_000008_kit_outbox_pending"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for CreateOutboxPending {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OutboxPending::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(OutboxPending::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(OutboxPending::EventId)
                            .string_len(36)
                            .not_null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(OutboxPending::Kind)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(ColumnDef::new(OutboxPending::Payload).text().not_null())
                    .col(
                        ColumnDef::new(OutboxPending::OccurredAt)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(OutboxPending::Table).to_owned())
            .await
    }
}
