//! The member subgraph: one member across every channel.
//!
//! Layout, as in every service: `schema/` (GraphQL, thin), `domain/` (rules,
//! no I/O), `store/` (sea-orm entities and commands), `migration/`.

pub mod domain;
pub mod error;
pub mod events;
pub mod migration;
pub mod schema;
pub mod seed;
pub mod store;

use axum::Router;
use futures::FutureExt as _;
use kit::service::{Background, ServiceContext, ServiceSpec, graphql_routes};
use sea_orm_migration::MigratorTrait;

/// How the CLI and the test harness know this service.
pub static SPEC: ServiceSpec = ServiceSpec {
    name: "member",
    about: "members, channel identities, merges, tags, tiers, consent and touchpoints",
    migrate: |db| migration::Migrator::up(db, None).boxed(),
    routes,
    seed_demo: |ctx| seed::demo_members(&ctx.db, ctx.config.demo.members, ctx.clock.now()).boxed(),
    sdl: schema::sdl,
    background,
    jobs: &[],
    export_member_data: None,
};

fn routes(ctx: ServiceContext) -> Router {
    graphql_routes(
        schema::build(ctx.db.clone(), ctx.clock.clone(), ctx.member_data.clone()),
        &ctx,
    )
    .merge(
        Router::new()
            .route(
                kit::members::STANDING_ROUTE,
                axum::routing::get(schema::standing::serve),
            )
            .route(
                kit::members::SEGMENT_ROUTE,
                axum::routing::get(schema::standing::serve_segment),
            )
            .route(
                kit::members::SEGMENT_MEMBERS_ROUTE,
                axum::routing::get(schema::standing::serve_segment_members),
            )
            .with_state(ctx),
    )
}

/// Reads the product service's orders (purchases, for segments), the
/// store service's bindings (for segments) and the alliance's feed (points
/// balances, for segments; revoked partner keys), the last at the position
/// the revocation reader always used.
fn background(bg: Background) -> Vec<futures::future::BoxFuture<'static, ()>> {
    let orders = bg.feed(
        "product",
        events::ORDER_FEED,
        events::OrderFeed,
        "segments see no purchases",
    );
    let alliance = bg.feed(
        "alliance",
        kit::revocation::alliance_feed(SPEC.name),
        events::AllianceFeed,
        "revoked partner keys' tokens keep working here until they expire, and segments see no points",
    );
    let stores = bg.feed(
        "store",
        events::STORE_FEED,
        events::StoreFeed,
        "segments see no store bindings",
    );
    orders.into_iter().chain(alliance).chain(stores).collect()
}
