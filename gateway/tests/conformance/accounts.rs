//! accounts: owns `User` and `Bot` (an `Account` union whose `nickname`
//! is `String!` on one and `String` on the other, so the planner must alias
//! one of them). Refers to media it cannot resolve (`resolvable: false`, a
//! union across subgraphs), to a shelf by a nested key, and to lockers by a
//! key that may be null. `visit` counts its calls, for the coalescing cases.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_graphql::{
    Context, EmptyMutation, EmptySubscription, ID, Object, Schema, SimpleObject, Union,
};

/// How many times `visit` has been answered.
#[derive(Clone, Default)]
pub struct Visits(pub Arc<AtomicUsize>);

#[derive(SimpleObject, Clone)]
#[graphql(complex)]
pub struct User {
    id: ID,
    username: String,
    name: Option<String>,
    /// `String!` here, `String` on `Bot` (and in reviews).
    #[graphql(shareable)]
    nickname: String,
}

#[derive(SimpleObject, Clone)]
pub struct Bot {
    id: ID,
    nickname: Option<String>,
}

#[derive(Union, Clone)]
enum Account {
    User(User),
    Bot(Bot),
}

/// A key that can be null here (`ID`); inventory resolves lockers by a
/// non-null one, so a locker without an id cannot be sent there.
#[derive(SimpleObject)]
#[graphql(unresolvable = "id")]
struct Locker {
    id: Option<ID>,
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

    async fn greeting(&self, salutation: String) -> String {
        format!("{salutation} {}", self.username)
    }

    async fn friends(&self) -> Vec<Account> {
        match self.id.as_str() {
            "u1" => vec![
                Account::Bot(bots().remove(0)),
                Account::User(users().remove(1)),
            ],
            _ => vec![Account::User(users().remove(0))],
        }
    }

    async fn lockers(&self) -> Vec<Option<Locker>> {
        match self.id.as_str() {
            "u1" => [Some("L1"), None, Some("L2")]
                .map(|id| {
                    Some(Locker {
                        id: id.map(ID::from),
                    })
                })
                .into_iter()
                .collect(),
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
    [
        ("u1", "ada", "Ada Lovelace", "Countess"),
        ("u2", "alan", "Alan Turing", "Prof"),
    ]
    .into_iter()
    .map(|(id, username, name, nickname)| User {
        id: ID::from(id),
        username: username.into(),
        name: Some(name.into()),
        nickname: nickname.into(),
    })
    .collect()
}

fn bots() -> Vec<Bot> {
    [("bot-1", Some("beep")), ("bot-2", None)]
        .into_iter()
        .map(|(id, nickname)| Bot {
            id: ID::from(id),
            nickname: nickname.map(Into::into),
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

    /// Users and bots, interleaved.
    async fn accounts(&self) -> Vec<Account> {
        let (mut users, mut bots) = (users(), bots());
        vec![
            Account::User(users.remove(0)),
            Account::Bot(bots.remove(0)),
            Account::Bot(bots.remove(0)),
            Account::User(users.remove(0)),
        ]
    }

    async fn greet(&self, name: String) -> String {
        format!("Hello, {name}")
    }

    /// The number of visits so far, this one included.
    async fn visit(&self, ctx: &Context<'_>) -> usize {
        ctx.data_unchecked::<Visits>()
            .0
            .fetch_add(1, Ordering::SeqCst)
            + 1
    }

    #[graphql(entity)]
    async fn find_user_by_id(&self, id: ID) -> Option<User> {
        users().into_iter().find(|u| u.id == id)
    }
}

pub fn schema(visits: Visits) -> Schema<Query, EmptyMutation, EmptySubscription> {
    Schema::build(Query, EmptyMutation, EmptySubscription)
        .data(visits)
        .finish()
}
