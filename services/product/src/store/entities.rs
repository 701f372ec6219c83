//! sea-orm entities of the product database. Money is integer fen; instants
//! are integer microseconds (see `kit::time`).

macro_rules! entity_boilerplate {
    () => {
        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    };
}

pub mod product {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "products")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub brand_id: String,
        pub name: String,
        /// Lower-cased name, for case-insensitive search on every backend.
        pub name_lower: String,
        #[sea_orm(column_type = "Text")]
        pub description: String,
        pub category: String,
        pub created_at: i64,
        pub updated_at: i64,
    }

    entity_boilerplate!();
}

pub mod sku {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "skus")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub product_id: String,
        pub brand_id: String,
        /// JSON object of attribute name to value.
        #[sea_orm(column_type = "Text")]
        pub attributes: String,
        #[sea_orm(unique)]
        pub barcode: Option<String>,
        pub list_price_fen: i64,
        pub status: crate::domain::catalogue::SkuStatus,
        pub created_at: i64,
    }

    entity_boilerplate!();
}

pub mod location {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "locations")]
    pub struct Model {
        /// A store's id (from the store service) or a warehouse's.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub kind: crate::domain::sourcing::LocationKind,
        pub name: String,
        pub latitude: f64,
        pub longitude: f64,
        pub updated_at: i64,
    }

    entity_boilerplate!();
}

pub mod inventory {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "inventory")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub sku_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub location_id: String,
        pub on_hand: i64,
        pub reserved: i64,
        pub updated_at: i64,
    }

    entity_boilerplate!();
}

pub mod movement {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "inventory_movements")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub sku_id: String,
        pub location_id: String,
        /// RECEIVE, ADJUST, RESERVE, RELEASE or SHIP.
        pub kind: crate::store::inventory::MovementKind,
        pub on_hand_delta: i64,
        pub reserved_delta: i64,
        pub reason: String,
        pub reference: Option<String>,
        pub actor: String,
        pub at: i64,
    }

    entity_boilerplate!();
}

pub mod order {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "orders")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub member_id: Option<String>,
        pub channel: kit::channel::Channel,
        pub store_id: Option<String>,
        pub fulfilment: crate::domain::order::Fulfilment,
        pub ship_latitude: Option<f64>,
        pub ship_longitude: Option<f64>,
        pub status: crate::domain::order::OrderStatus,
        pub total_fen: i64,
        pub refunded_fen: i64,
        #[sea_orm(unique)]
        pub idempotency_key: String,
        /// SHA-256 of the request, to tell a retry from a reused key.
        pub request_hash: String,
        pub pickup_deadline: Option<i64>,
        pub placed_at: i64,
        pub fulfilled_at: Option<i64>,
        pub cancelled_at: Option<i64>,
        pub updated_at: i64,
        /// What a coupon took off, in fen (`total_fen` is after it).
        pub discount_fen: i64,
        pub coupon_id: Option<String>,
    }

    entity_boilerplate!();
}

pub mod order_line {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "order_lines")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub order_id: String,
        pub sku_id: String,
        pub product_id: String,
        pub brand_id: String,
        pub quantity: i64,
        pub unit_price_fen: i64,
        /// What was paid: unit price × quantity − `discount_fen`.
        pub amount_fen: i64,
        pub source_location_id: String,
        pub refunded_quantity: i64,
        /// The line's share of the order's coupon, in fen.
        pub discount_fen: i64,
    }

    entity_boilerplate!();
}

pub mod refund {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "refunds")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub order_id: String,
        #[sea_orm(unique)]
        pub idempotency_key: String,
        pub request_hash: String,
        /// JSON list of refunded lines.
        #[sea_orm(column_type = "Text")]
        pub lines: String,
        pub amount_fen: i64,
        pub created_at: i64,
    }

    entity_boilerplate!();
}

pub mod coupon {
    use sea_orm::entity::prelude::*;

    use crate::domain::coupons::CouponState;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "coupons")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        #[sea_orm(unique)]
        pub code: String,
        /// Whose it is now (the receiver, once given).
        pub member_id: String,
        /// The brand that issued it.
        pub brand_id: String,
        /// The reward redemption, or the drop's grant, that issued it.
        pub source_id: String,
        pub kind: kit::events::schema::CouponKind,
        /// `kit::events::schema::CouponTerms` as JSON.
        pub terms: String,
        /// As stored: never EXPIRED (read from `valid_until`).
        pub state: CouponState,
        pub valid_from: i64,
        pub valid_until: i64,
        /// The order holding or having used it.
        pub order_id: Option<String>,
        /// The member who gave it, if it was given.
        pub given_by: Option<String>,
        pub issued_at: i64,
        pub updated_at: i64,
    }

    entity_boilerplate!();
}
