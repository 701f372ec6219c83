//! inventory: knows products by SKU only, shares their names, needs their
//! weight and price (@requires) for a shipping estimate that takes an
//! argument, and an import duty that needs the price in dollars (@requires
//! with an argument, which the client may also ask with another). Owns
//! warehouses (composite key), shelves (nested key) and lockers, and keeps
//! stock that a mutation raises.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_graphql::{
    Context, EmptySubscription, Enum, ID, InputObject, Object, Result, Schema, SimpleObject,
};

/// Units on hand per SKU, shared by every request to this subgraph.
#[derive(Clone, Default)]
pub struct Stock(Arc<Mutex<HashMap<String, i32>>>);

impl Stock {
    fn on_hand(&self, sku: &str) -> i32 {
        self.0
            .lock()
            .map_or(0, |stock| stock.get(sku).copied().unwrap_or(0))
    }

    fn receive(&self, sku: &str, quantity: i32) -> i32 {
        let mut stock = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let on_hand = stock.entry(sku.to_owned()).or_insert(0);
        *on_hand += quantity;
        *on_hand
    }
}

/// As products has it: an argument here, so both subgraphs agree.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
enum Currency {
    Cny,
    Usd,
    Eur,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
enum Zone {
    Domestic,
    Abroad,
}

#[derive(SimpleObject, Clone)]
#[graphql(complex)]
pub struct Product {
    sku: String,
    #[graphql(shareable)]
    name: String,
    in_stock: bool,
    /// Weight and price as the gateway sent them, when it did.
    #[graphql(skip)]
    required: Option<(i32, i32)>,
    /// The price in dollar cents as the gateway sent it, when it did.
    #[graphql(skip)]
    price_in_usd: Option<i32>,
}

#[async_graphql::ComplexObject]
impl Product {
    /// Per 100 g, four times as much abroad; free handling from 1000 up.
    #[graphql(external)]
    async fn weight(&self) -> Result<i32> {
        Ok(self.required()?.0)
    }

    #[graphql(external)]
    async fn price(&self) -> Result<i32> {
        Ok(self.required()?.1)
    }

    #[graphql(requires = "weight price")]
    async fn shipping_estimate(&self, zone: Zone) -> Result<i32> {
        let (weight, price) = self.required()?;
        let per_100g = match zone {
            Zone::Domestic => 1,
            Zone::Abroad => 4,
        };
        let handling = if price >= 1000 { 0 } else { 10 };
        Ok(weight / 100 * per_100g + handling)
    }

    #[graphql(external)]
    async fn price_in(&self, currency: Currency) -> Result<i32> {
        match (currency, self.price_in_usd) {
            (Currency::Usd, Some(cents)) => Ok(cents),
            _ => Err("only the price in USD is known here, when it is sent".into()),
        }
    }

    /// A tenth of the price in dollar cents.
    #[graphql(requires = "priceIn(currency: USD)")]
    async fn import_duty(&self) -> Result<i32> {
        self.price_in_usd
            .map(|cents| cents / 10)
            .ok_or_else(|| "the price in USD is required".into())
    }

    async fn on_hand(&self, ctx: &Context<'_>) -> i32 {
        ctx.data_unchecked::<Stock>().on_hand(&self.sku)
    }
}

impl Product {
    fn required(&self) -> Result<(i32, i32)> {
        self.required
            .ok_or_else(|| "weight and price are required".into())
    }
}

#[derive(SimpleObject, Clone)]
pub struct Warehouse {
    country: String,
    code: String,
    city: String,
}

#[derive(SimpleObject, Clone)]
pub struct Shelf {
    number: i32,
    warehouse: Warehouse,
    label: String,
}

#[derive(SimpleObject, Clone)]
pub struct Locker {
    id: ID,
    place: String,
}

/// The warehouse part of a shelf's key.
#[derive(InputObject)]
struct WarehouseKey {
    country: String,
    code: String,
}

fn stock(sku: &str) -> Option<Product> {
    let (name, in_stock) = match sku {
        "S1" => ("Dune", true),
        "S2" => ("Solaris", false),
        "S3" => ("Neuromancer", true),
        // Still on a shelf; the catalogue no longer has it.
        "S-GONE" => ("Old Stock", false),
        _ => return None,
    };
    Some(Product {
        sku: sku.into(),
        name: name.into(),
        in_stock,
        required: None,
        price_in_usd: None,
    })
}

fn warehouses() -> Vec<Warehouse> {
    [("CN", "SH1", "Shanghai"), ("DE", "BE1", "Berlin")]
        .into_iter()
        .map(|(country, code, city)| Warehouse {
            country: country.into(),
            code: code.into(),
            city: city.into(),
        })
        .collect()
}

fn warehouse(country: &str, code: &str) -> Option<Warehouse> {
    warehouses()
        .into_iter()
        .find(|w| w.country == country && w.code == code)
}

fn skus(list: &[&str]) -> Vec<Option<Product>> {
    list.iter().map(|sku| stock(sku)).collect()
}

pub struct Query;

#[Object]
impl Query {
    /// Lists of lists: each aisle is a list of products.
    async fn aisles(&self) -> Vec<Vec<Option<Product>>> {
        vec![skus(&["S1", "S2"]), skus(&["S3"])]
    }

    async fn discontinued(&self) -> Vec<Option<Product>> {
        skus(&["S2", "S-GONE"])
    }

    #[graphql(entity)]
    async fn find_product_by_sku(
        &self,
        #[graphql(key)] sku: String,
        weight: Option<i32>,
        price: Option<i32>,
        price_in: Option<i32>,
    ) -> Option<Product> {
        let required = weight.zip(price);
        stock(&sku).map(|p| Product {
            required,
            price_in_usd: price_in,
            ..p
        })
    }

    #[graphql(entity)]
    async fn find_locker_by_id(&self, id: ID) -> Option<Locker> {
        let place = match id.as_str() {
            "L1" => "Shanghai Pudong",
            "L2" => "Berlin Mitte",
            _ => return None,
        };
        Some(Locker {
            id,
            place: place.into(),
        })
    }

    #[graphql(entity)]
    async fn find_warehouse(&self, country: String, code: String) -> Option<Warehouse> {
        warehouse(&country, &code)
    }

    #[graphql(entity)]
    async fn find_shelf(&self, number: i32, warehouse: WarehouseKey) -> Option<Shelf> {
        let warehouse = self::warehouse(&warehouse.country, &warehouse.code)?;
        (number == 7).then(|| Shelf {
            number,
            label: format!("{}-{number} science fiction", warehouse.code),
            warehouse,
        })
    }
}

pub struct Mutation;

#[Object]
impl Mutation {
    /// Adds `quantity` units to the SKU's stock; null for an unknown SKU.
    async fn restock(&self, ctx: &Context<'_>, sku: String, quantity: i32) -> Option<Product> {
        let product = stock(&sku)?;
        ctx.data_unchecked::<Stock>().receive(&sku, quantity);
        Some(product)
    }
}

pub fn schema(stock: Stock) -> Schema<Query, Mutation, EmptySubscription> {
    Schema::build(Query, Mutation, EmptySubscription)
        .data(stock)
        .finish()
}
