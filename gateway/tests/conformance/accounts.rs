//! accounts: owns `User`. Refers to media it cannot resolve (`resolvable:
//! false`, a union across subgraphs) and to a shelf by a nested key.

use async_graphql::{EmptyMutation, EmptySubscription, ID, Object, Schema, SimpleObject, Union};

#[derive(SimpleObject, Clone)]
#[graphql(complex)]
pub struct User {
    id: ID,
    username: String,
    name: Option<String>,
}

/// Only the keys: the products subgraph resolves the rest.
#[derive(SimpleObject)]
#[graphql(unresolvable = "id")]
struct Book {
    id: ID,
}

#[derive(SimpleObject)]
#[graphql(unresolvable = "id")]
struct Film {
    id: ID,
}

#[derive(Union)]
enum Viewed {
    Book(Book),
    Film(Film),
}

#[derive(SimpleObject)]
#[graphql(unresolvable = "country code")]
struct Warehouse {
    country: String,
    code: String,
}

/// A nested key: the shelf's number within its warehouse.
#[derive(SimpleObject)]
#[graphql(unresolvable = "number warehouse { country code }")]
struct Shelf {
    number: i32,
    warehouse: Warehouse,
}

#[async_graphql::ComplexObject]
impl User {
    async fn recently_viewed(&self) -> Vec<Viewed> {
        match self.id.as_str() {
            "u1" => vec![
                Viewed::Book(Book { id: ID::from("b2") }),
                Viewed::Film(Film { id: ID::from("f1") }),
            ],
            _ => Vec::new(),
        }
    }

    async fn favourite_shelf(&self) -> Option<Shelf> {
        (self.id.as_str() == "u1").then(|| Shelf {
            number: 7,
            warehouse: Warehouse {
                country: "CN".into(),
                code: "SH1".into(),
            },
        })
    }
}

fn users() -> Vec<User> {
    [("u1", "ada", "Ada Lovelace"), ("u2", "alan", "Alan Turing")]
        .into_iter()
        .map(|(id, username, name)| User {
            id: ID::from(id),
            username: username.into(),
            name: Some(name.into()),
        })
        .collect()
}

pub struct Query;

#[Object]
impl Query {
    async fn me(&self) -> Option<User> {
        users().into_iter().next()
    }

    async fn users(&self) -> Vec<User> {
        users()
    }

    #[graphql(entity)]
    async fn find_user_by_id(&self, id: ID) -> Option<User> {
        users().into_iter().find(|u| u.id == id)
    }
}

pub fn schema() -> Schema<Query, EmptyMutation, EmptySubscription> {
    Schema::new(Query, EmptyMutation, EmptySubscription)
}
