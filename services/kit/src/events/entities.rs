//! The kit's own tables, present in every service's database.

pub mod outbox_event {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "outbox_events")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub seq: i64,
        #[sea_orm(unique)]
        pub event_id: String,
        pub kind: String,
        #[sea_orm(column_type = "Text")]
        pub payload: String,
        pub occurred_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// An event written with its fact and not yet numbered: writers insert
/// here, and [`crate::events::outbox::sequence`] moves committed rows into
/// `outbox_events` with the next numbers.
pub mod outbox_pending {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "outbox_pending")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        #[sea_orm(unique)]
        pub event_id: String,
        pub kind: String,
        #[sea_orm(column_type = "Text")]
        pub payload: String,
        pub occurred_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// One row holding the last sequence number handed out. Only the
/// sequencer updates it (never a writer's transaction), and its row lock
/// lets one sequencer at a time number events, so numbers are gapless and
/// in the order events were committed.
pub mod outbox_sequence {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "outbox_sequence")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: i32,
        pub last_seq: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// How far each consumer in this database has applied each feed.
pub mod consumer_position {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "consumer_positions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub consumer: String,
        pub position: i64,
        pub updated_at: i64,
        /// The start of the last poll that found the feed drained: every
        /// event the producer committed before this instant is applied.
        pub caught_up_at: Option<i64>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// An event a consumer set aside after a rule refused it
/// [`crate::events::consumer::MAX_ATTEMPTS`] times (see
/// [`crate::events::parked`]).
pub mod parked_event {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "parked_events")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub consumer: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub seq: i64,
        pub event_id: String,
        pub kind: String,
        /// The event's payload as the feed served it (JSON).
        #[sea_orm(column_type = "Text")]
        pub payload: String,
        pub occurred_at: i64,
        /// Why it was refused, the last time it was tried.
        #[sea_orm(column_type = "Text")]
        pub reason: String,
        pub attempts: i64,
        pub status: ParkedStatus,
        pub parked_at: i64,
        pub updated_at: i64,
    }

    /// Where a parked event stands. Stored as the names below.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
    #[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
    pub enum ParkedStatus {
        /// Set aside; the feed moved on past it.
        #[sea_orm(string_value = "PARKED")]
        Parked,
        /// An operator asked for it to be tried again; the consumer does so
        /// on its next poll.
        #[sea_orm(string_value = "RETRY")]
        Retry,
        /// Applied on a retry.
        #[sea_orm(string_value = "APPLIED")]
        Applied,
        /// An operator decided it is never to be applied.
        #[sea_orm(string_value = "SKIPPED")]
        Skipped,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Each durable reader of this service's feed (a consumer in another
/// service), and the position it last asked from: everything at or below
/// it is applied there.
pub mod feed_reader {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "feed_readers")]
    pub struct Model {
        /// The reader's credential subject (`store:member-feed`).
        #[sea_orm(primary_key, auto_increment = false)]
        pub reader: String,
        pub position: i64,
        /// When it last read (µs since the epoch, the producer's clock).
        pub read_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
