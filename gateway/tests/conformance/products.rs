//! products: owns `Product` (two keys), the `Media` interface entity and its
//! implementations, and a field that another subgraph has taken over. Some
//! of what it answers is `@inaccessible` (an enum value, a whole type in a
//! union) and must never reach a client.

use async_graphql::{
    EmptyMutation, EmptySubscription, Enum, ID, Interface, Object, Result, Schema, SimpleObject,
    Union,
};

/// The reviews subgraph knows one more value (GAME): output enums compose
/// into the union of their values.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
enum Category {
    Book,
    Film,
    /// Not in the API: a client must never see it.
    #[graphql(inaccessible)]
    Music,
}

/// Prices are kept in fen (CNY); the others are converted at fixed rates.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum Currency {
    Cny,
    Usd,
    Eur,
}

#[derive(SimpleObject, Clone)]
#[graphql(complex)]
pub struct Product {
    upc: String,
    sku: String,
    #[graphql(shareable)]
    name: String,
    price: i32,
    weight: i32,
    category: Category,
    /// Hidden from the graph; a client asking for it fails validation.
    #[graphql(inaccessible)]
    cost_price: i32,
    /// Stale here: the reviews subgraph took it over with @override.
    review_count: i32,
    /// Includes MUSIC (inaccessible) for some products.
    formats: Vec<Option<Category>>,
    #[graphql(skip)]
    media_id: &'static str,
    #[graphql(skip)]
    warehouse: (&'static str, &'static str),
}

#[derive(SimpleObject, Clone)]
#[graphql(unresolvable = "country code")]
struct Warehouse {
    country: String,
    code: String,
}

#[async_graphql::ComplexObject]
impl Product {
    async fn media(&self) -> Option<Media> {
        media().into_iter().find(|m| m.media_id() == self.media_id)
    }

    /// The price in another currency, in its cents (7 CNY to the dollar,
    /// 8 to the euro, rounded down).
    async fn price_in(&self, currency: Currency) -> i32 {
        match currency {
            Currency::Cny => self.price,
            Currency::Usd => self.price / 7,
            Currency::Eur => self.price / 8,
        }
    }

    async fn ships_from(&self) -> Warehouse {
        Warehouse {
            country: self.warehouse.0.into(),
            code: self.warehouse.1.into(),
        }
    }
}

#[derive(SimpleObject, Clone)]
pub struct Book {
    id: ID,
    title: String,
    pages: i32,
}

#[derive(SimpleObject, Clone)]
pub struct Film {
    id: ID,
    title: String,
    minutes: i32,
}

#[derive(Interface, Clone)]
#[graphql(field(name = "id", ty = "&ID"), field(name = "title", ty = "&String"))]
pub enum Media {
    Book(Book),
    Film(Film),
}

impl Media {
    fn media_id(&self) -> &str {
        match self {
            Media::Book(b) => b.id.as_str(),
            Media::Film(f) => f.id.as_str(),
        }
    }
}

/// Not in the API: a search that finds one must not show it.
#[derive(SimpleObject, Clone)]
#[graphql(inaccessible)]
pub struct Podcast {
    id: ID,
    title: String,
}

#[derive(Union)]
enum SearchResult {
    Book(Book),
    Film(Film),
    Podcast(Podcast),
}

fn podcasts() -> Vec<Podcast> {
    vec![Podcast {
        id: ID::from("p1"),
        title: "Radio Solaris".into(),
    }]
}

fn products() -> Vec<Product> {
    [
        (
            "1",
            "S1",
            "Dune",
            1200,
            500,
            Category::Book,
            "b1",
            ("CN", "SH1"),
        ),
        (
            "2",
            "S2",
            "Solaris",
            900,
            300,
            Category::Film,
            "f1",
            ("CN", "SH1"),
        ),
        (
            "3",
            "S3",
            "Neuromancer",
            800,
            400,
            Category::Book,
            "b2",
            ("DE", "BE1"),
        ),
    ]
    .into_iter()
    .map(
        |(upc, sku, name, price, weight, category, media_id, warehouse)| Product {
            upc: upc.into(),
            sku: sku.into(),
            name: name.into(),
            price,
            weight,
            category,
            cost_price: price / 2,
            review_count: 0,
            formats: match upc {
                "1" => vec![Some(Category::Book)],
                "2" => vec![Some(Category::Film), Some(Category::Music)],
                _ => vec![Some(Category::Book), Some(Category::Music)],
            },
            media_id,
            warehouse,
        },
    )
    .collect()
}

fn media() -> Vec<Media> {
    let book = |id: &str, title: &str, pages| {
        Media::Book(Book {
            id: ID::from(id),
            title: title.into(),
            pages,
        })
    };
    vec![
        book("b1", "Dune", 412),
        book("b2", "Neuromancer", 271),
        Media::Film(Film {
            id: ID::from("f1"),
            title: "Solaris".into(),
            minutes: 167,
        }),
    ]
}

fn everything() -> Vec<SearchResult> {
    let media = media().into_iter().map(|m| match m {
        Media::Book(b) => SearchResult::Book(b),
        Media::Film(f) => SearchResult::Film(f),
    });
    media
        .chain(podcasts().into_iter().map(SearchResult::Podcast))
        .collect()
}

fn title(result: &SearchResult) -> &str {
    match result {
        SearchResult::Book(b) => &b.title,
        SearchResult::Film(f) => &f.title,
        SearchResult::Podcast(p) => &p.title,
    }
}

pub struct Query;

#[Object]
impl Query {
    async fn top_products(&self, #[graphql(default = 5)] first: usize) -> Vec<Product> {
        products().into_iter().take(first).collect()
    }

    async fn product(&self, upc: String) -> Option<Product> {
        products().into_iter().find(|p| p.upc == upc)
    }

    async fn media(&self) -> Vec<Media> {
        media()
    }

    async fn search(&self, term: String) -> Vec<SearchResult> {
        everything()
            .into_iter()
            .filter(|r| title(r).contains(&term))
            .collect()
    }

    /// One thing by id, of any kind (a podcast too).
    async fn pick(&self, id: ID) -> Option<SearchResult> {
        everything().into_iter().find(|r| match r {
            SearchResult::Book(b) => b.id == id,
            SearchResult::Film(f) => f.id == id,
            SearchResult::Podcast(p) => p.id == id,
        })
    }

    /// MUSIC, which the API does not have.
    async fn bestseller_category(&self) -> Option<Category> {
        Some(Category::Music)
    }

    /// An unknown UPC is an error (which fails the whole `_entities`).
    #[graphql(entity)]
    async fn find_product_by_upc(&self, upc: String) -> Result<Product> {
        products()
            .into_iter()
            .find(|p| p.upc == upc)
            .ok_or_else(|| format!("no product with upc {upc}").into())
    }

    /// An unknown SKU is a null entity, without an error.
    #[graphql(entity)]
    async fn find_product_by_sku(&self, sku: String) -> Option<Product> {
        products().into_iter().find(|p| p.sku == sku)
    }

    #[graphql(entity)]
    async fn find_media_by_id(&self, id: ID) -> Option<Media> {
        media().into_iter().find(|m| m.media_id() == id.as_str())
    }

    #[graphql(entity)]
    async fn find_book_by_id(&self, id: ID) -> Option<Book> {
        media().into_iter().find_map(|m| match m {
            Media::Book(b) if b.id == id => Some(b),
            _ => None,
        })
    }

    #[graphql(entity)]
    async fn find_film_by_id(&self, id: ID) -> Option<Film> {
        media().into_iter().find_map(|m| match m {
            Media::Film(f) if f.id == id => Some(f),
            _ => None,
        })
    }
}

pub fn schema() -> Schema<Query, EmptyMutation, EmptySubscription> {
    Schema::new(Query, EmptyMutation, EmptySubscription)
}
