//! inventory: knows products by SKU only, shares their names, needs their
//! weight and price (@requires) for a shipping estimate that takes an
//! argument, and owns warehouses (composite key) and shelves (nested key).

use async_graphql::{
    EmptyMutation, EmptySubscription, Enum, InputObject, Object, Result, Schema, SimpleObject,
};

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
    ) -> Option<Product> {
        let required = weight.zip(price);
        stock(&sku).map(|p| Product { required, ..p })
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

pub fn schema() -> Schema<Query, EmptyMutation, EmptySubscription> {
    Schema::new(Query, EmptyMutation, EmptySubscription)
}
