//! reviews: adds reviews to products and users, provides the author's
//! username itself (@provides), took `Product.reviewCount` over from
//! products (@override), and adds a rating count to every kind of media
//! without knowing the kinds (@interfaceObject).

use async_graphql::{
    EmptyMutation, EmptySubscription, Enum, ID, Object, Result, Schema, SimpleObject,
};

/// Knows one more value than the products subgraph.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
enum Category {
    Book,
    Film,
    Game,
}

#[derive(SimpleObject, Clone)]
#[graphql(complex)]
pub struct Review {
    id: ID,
    body: String,
    rating: i32,
    topic: Category,
    #[graphql(skip)]
    author_id: &'static str,
    #[graphql(skip)]
    upc: &'static str,
}

#[derive(SimpleObject, Clone)]
#[graphql(complex)]
pub struct User {
    id: ID,
    /// `String` here, `String!` in accounts: the supergraph's type is
    /// `String`, so a query may select it beside `Bot.nickname` (`String`)
    /// and accounts still sees two types under one name.
    #[graphql(shareable)]
    nickname: Option<String>,
    /// Only known where a review provides it.
    #[graphql(skip)]
    username: Option<String>,
}

#[derive(SimpleObject, Clone)]
#[graphql(complex)]
pub struct Product {
    upc: String,
}

#[derive(SimpleObject, Clone)]
#[graphql(complex, interface_object)]
pub struct Media {
    id: ID,
}

fn reviews() -> Vec<Review> {
    to_reviews([
        ("r1", "1", "u1", "Love it", 5, Category::Book),
        ("r2", "1", "u2", "Too long", 3, Category::Book),
        ("r3", "2", "u1", "Slow but great", 4, Category::Film),
        ("r4", "3", "u2", "Played the game too", 4, Category::Game),
    ])
}

/// Reviews kept after their product (upc 9) left the catalogue.
fn archived_reviews() -> Vec<Review> {
    to_reviews([
        ("r0", "9", "u2", "Gone but not forgotten", 2, Category::Film),
        ("r1", "1", "u1", "Love it", 5, Category::Book),
    ])
}

fn to_reviews<const N: usize>(
    rows: [(
        &'static str,
        &'static str,
        &'static str,
        &str,
        i32,
        Category,
    ); N],
) -> Vec<Review> {
    rows.into_iter()
        .map(|(id, upc, author_id, body, rating, topic)| Review {
            id: ID::from(id),
            body: body.into(),
            rating,
            topic,
            author_id,
            upc,
        })
        .collect()
}

fn nickname(user_id: &str) -> Option<String> {
    match user_id {
        "u1" => Some("Countess".into()),
        "u2" => Some("Prof".into()),
        _ => None,
    }
}

/// Which product each piece of media is about.
fn upc_of_media(id: &str) -> Option<&'static str> {
    match id {
        "b1" => Some("1"),
        "f1" => Some("2"),
        "b2" => Some("3"),
        _ => None,
    }
}

#[async_graphql::ComplexObject]
impl Review {
    #[graphql(provides = "username")]
    async fn author(&self) -> User {
        let username = match self.author_id {
            "u1" => "ada",
            _ => "alan",
        };
        User {
            nickname: nickname(self.author_id),
            id: ID::from(self.author_id),
            username: Some(username.into()),
        }
    }

    async fn product(&self) -> Option<Product> {
        Some(Product {
            upc: self.upc.into(),
        })
    }
}

#[async_graphql::ComplexObject]
impl User {
    #[graphql(external)]
    async fn username(&self) -> Result<&str> {
        self.username
            .as_deref()
            .ok_or_else(|| "the username is provided only on a review's author".into())
    }

    async fn reviews(&self) -> Vec<Review> {
        reviews()
            .into_iter()
            .filter(|r| r.author_id == self.id.as_str())
            .collect()
    }
}

#[async_graphql::ComplexObject]
impl Product {
    async fn reviews(&self) -> Vec<Review> {
        reviews()
            .into_iter()
            .filter(|r| r.upc == self.upc)
            .collect()
    }

    #[graphql(override_from = "products")]
    async fn review_count(&self) -> i32 {
        reviews().iter().filter(|r| r.upc == self.upc).count() as i32
    }
}

#[async_graphql::ComplexObject]
impl Media {
    async fn rating_count(&self) -> i32 {
        upc_of_media(self.id.as_str()).map_or(0, |upc| {
            reviews().iter().filter(|r| r.upc == upc).count() as i32
        })
    }
}

pub struct Query;

#[Object]
impl Query {
    async fn latest_reviews(&self, #[graphql(default = 10)] first: usize) -> Vec<Review> {
        reviews().into_iter().rev().take(first).collect()
    }

    async fn archived_reviews(&self) -> Vec<Review> {
        archived_reviews()
    }

    /// Media this subgraph cannot tell apart: the gateway must ask products
    /// which kind each one is.
    async fn latest_media(&self) -> Vec<Media> {
        ["f1", "b1"].map(|id| Media { id: ID::from(id) }).to_vec()
    }

    #[graphql(entity)]
    async fn find_user_by_id(&self, id: ID) -> User {
        User {
            nickname: nickname(&id),
            id,
            username: None,
        }
    }

    #[graphql(entity)]
    async fn find_product_by_upc(&self, upc: String) -> Product {
        Product { upc }
    }

    #[graphql(entity)]
    async fn find_media_by_id(&self, id: ID) -> Media {
        Media { id }
    }
}

pub fn schema() -> Schema<Query, EmptyMutation, EmptySubscription> {
    Schema::new(Query, EmptyMutation, EmptySubscription)
}
