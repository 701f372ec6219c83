//! sea-orm entities of the member database. Instants are integer
//! microseconds (see `kit::time`).

pub mod member {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "members")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub status: crate::domain::MemberStatus,
        pub merged_into: Option<String>,
        pub name: Option<String>,
        #[sea_orm(unique)]
        pub phone: Option<String>,
        pub email: Option<String>,
        pub birthday: Option<Date>,
        pub gender: Option<crate::domain::profile::Gender>,
        pub registration_channel: kit::channel::Channel,
        pub registration_brand_id: Option<String>,
        pub guide_code: Option<String>,
        /// The member who referred them, if any.
        pub referrer_id: Option<String>,
        pub tier: String,
        pub growth_value: i64,
        pub registered_at: i64,
        pub updated_at: i64,
        pub erased_at: Option<i64>,
        /// LIVE, or SANDBOX for a test member a sandbox key enrolled.
        pub environment: kit::auth::Environment,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod identity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "member_identities")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub member_id: String,
        pub channel: kit::channel::Channel,
        pub external_id: String,
        pub brand_id: Option<String>,
        pub linked_at: i64,
        /// Its member's: an identity is unique within an environment.
        pub environment: kit::auth::Environment,
        /// A PARTNER identity's brand, else "" (`NewIdentity::namespace`):
        /// unique with environment, channel and external id.
        pub namespace: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod tag {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "member_tags")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub member_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub tag: String,
        pub added_at: i64,
        pub added_by: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod touchpoint {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "touchpoints")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub member_id: String,
        pub kind: crate::domain::touchpoint::TouchpointKind,
        pub channel: kit::channel::Channel,
        pub store_id: Option<String>,
        pub occurred_at: i64,
        pub recorded_at: i64,
        #[sea_orm(column_type = "Text")]
        pub attributes: String,
        #[sea_orm(unique)]
        pub idempotency_key: Option<String>,
        pub recorded_by: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod consent {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "consents")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub member_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub purpose: crate::domain::consent::ConsentPurpose,
        pub granted: bool,
        pub changed_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod tier_level {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "tier_levels")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub code: String,
        pub name: String,
        #[sea_orm(unique)]
        pub threshold: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod tier_change {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "tier_changes")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub member_id: String,
        pub from_tier: Option<String>,
        pub to_tier: String,
        pub cause: crate::domain::tier::TierChangeCause,
        pub reason: Option<String>,
        pub actor: String,
        pub changed_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod merge {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "member_merges")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub survivor_id: String,
        #[sea_orm(unique)]
        pub merged_id: String,
        pub reason: String,
        pub actor: String,
        pub merged_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod segment {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "segments")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub name: String,
        /// `store::segments::StoredRules` as JSON.
        pub rules: String,
        pub created_at: i64,
        /// `kit::auth::Actor`.
        pub created_by: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod member_purchase {
    use sea_orm::entity::prelude::*;

    /// An order as segments read it (from the product service's feed).
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "member_purchases")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub order_id: String,
        pub member_id: String,
        /// Paid, less what was refunded, in fen.
        pub paid_fen: i64,
        pub placed_at: i64,
        pub cancelled: bool,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod member_binding {
    use sea_orm::entity::prelude::*;

    /// The store a member is bound to (from the store service's feed).
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "member_bindings")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub member_id: String,
        pub store_id: String,
        /// When the binding lapses, in microseconds; none: it does not.
        pub expires_at: Option<i64>,
        pub changed_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod member_points {
    use sea_orm::entity::prelude::*;

    /// A member's ACTIVE balance in a programme (from the alliance's feed).
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "member_points")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub member_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub programme_id: String,
        pub active_balance: i64,
        pub updated_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
