//! The store subgraph: stores near me, digital guides, and "whoever brings
//! the member benefits".
//!
//! Layout, as in every service: `schema/` (GraphQL, thin), `domain/` (rules,
//! no I/O), `store/` (sea-orm entities and commands), `migration/`.

pub mod domain;
pub mod error;
pub mod migration;
pub mod schema;
mod seed;
pub mod store;

use axum::Router;
use futures::FutureExt as _;
use kit::service::{ServiceContext, ServiceSpec, graphql_routes};
use sea_orm_migration::MigratorTrait;

/// How the CLI and the test harness know this service.
pub static SPEC: ServiceSpec = ServiceSpec {
    name: "store",
    about: "stores near me, guides and their QR codes, attribution, commissions",
    migrate: |db| migration::Migrator::up(db, None).boxed(),
    routes,
    seed_demo: |db| seed::demo(db).boxed(),
    sdl: schema::sdl,
};

fn routes(ctx: ServiceContext) -> Router {
    graphql_routes(schema::build(ctx.db.clone()), ctx.keys.clone())
}
