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
        pub kind: String,
        pub franchisee: Option<String>,
        pub address: String,
        pub latitude: f64,
        pub longitude: f64,
        pub time_zone: String,
        /// `OpeningHours` as JSON.
        #[sea_orm(column_type = "Text")]
        pub hours: String,
        pub phone: Option<String>,
        pub status: String,
        pub created_at: i64,
        pub updated_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
