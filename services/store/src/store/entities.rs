//! sea-orm entities of the store database. Instants are integer
//! microseconds (see `kit::time`).

pub mod store {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "stores")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub brand_id: String,
        pub name: String,
        pub kind: crate::domain::store::StoreKind,
        pub franchisee: Option<String>,
        pub address: String,
        pub latitude: f64,
        pub longitude: f64,
        pub time_zone: String,
        /// `OpeningHours` as JSON.
        #[sea_orm(column_type = "Text")]
        pub hours: String,
        pub phone: Option<String>,
        pub status: crate::domain::store::StoreStatus,
        pub created_at: i64,
        pub updated_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod guide {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "guides")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub store_id: String,
        pub brand_id: String,
        pub name: String,
        #[sea_orm(unique)]
        pub code: String,
        pub status: crate::domain::guide::GuideStatus,
        pub created_at: i64,
        pub departed_at: Option<i64>,
        pub code_rotated_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod attribution_rule {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "attribution_rules")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub brand_id: String,
        pub binding_days: Option<i32>,
        pub protection_days: Option<i32>,
        pub on_departure: crate::domain::attribution::DepartureRule,
        pub updated_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod attribution {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "attributions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub member_id: String,
        pub guide_id: Option<String>,
        pub store_id: Option<String>,
        pub bound_at: i64,
        pub expires_at: Option<i64>,
        pub protected_until: Option<i64>,
        pub cause: crate::domain::attribution::BindingCause,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod attribution_change {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "attribution_changes")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub member_id: String,
        pub from_guide_id: Option<String>,
        pub from_store_id: Option<String>,
        pub to_guide_id: Option<String>,
        pub to_store_id: Option<String>,
        pub cause: crate::domain::attribution::BindingCause,
        pub reason: Option<String>,
        pub actor: String,
        pub changed_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod favorite_store {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "favorite_stores")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub member_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub store_id: String,
        pub added_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod commission_rule {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "commission_rules")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub brand_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub store_kind: crate::domain::store::StoreKind,
        pub basis_points: i32,
        pub after_sales_days: i32,
        pub updated_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod commission {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "commissions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub guide_id: String,
        pub store_id: String,
        pub member_id: String,
        pub order_id: String,
        pub line_id: String,
        pub brand_id: String,
        pub basis_points: i32,
        pub base_fen: i64,
        pub refunded_fen: i64,
        /// Pending amount, or the amount approved.
        pub amount_fen: i64,
        pub clawed_back_fen: i64,
        pub status: crate::domain::commission::CommissionStatus,
        pub after_sales_days: i32,
        pub earned_at: i64,
        /// Set when the order is fulfilled.
        pub window_closes_at: Option<i64>,
        pub approved_at: Option<i64>,
        pub updated_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod commission_adjustment {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "commission_adjustments")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub commission_id: String,
        pub guide_id: String,
        pub store_id: String,
        /// REDUCED, CANCELLED or CLAWBACK.
        pub kind: crate::domain::commission::AdjustmentKind,
        /// Negative: what the guide loses.
        pub amount_fen: i64,
        /// The refund or order behind it.
        pub reference: String,
        pub created_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
