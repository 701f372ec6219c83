//! The member subgraph: one member across every channel.
//!
//! Layout, as in every service: `schema/` (GraphQL, thin), `domain/` (rules,
//! no I/O), `store/` (sea-orm entities and commands), `migration/`.

pub mod domain;
pub mod error;
pub mod migration;
pub mod schema;
pub mod seed;
pub mod store;

use axum::Router;
use futures::FutureExt as _;
use kit::service::{ServiceContext, ServiceSpec, graphql_routes};
use sea_orm_migration::MigratorTrait;

/// How the CLI and the test harness know this service.
pub static SPEC: ServiceSpec = ServiceSpec {
    name: "member",
    about: "members, channel identities, merges, tags, tiers, consent and touchpoints",
    migrate: |db| migration::Migrator::up(db, None).boxed(),
    routes,
    seed_demo: |ctx| seed::demo_members(&ctx.db, ctx.config.demo.members, ctx.clock.now()).boxed(),
    sdl: schema::sdl,
    // The member service reads only the alliance's feed (revoked partner
    // keys).
    background: |bg| bg.revoked_partner_keys().into_iter().collect(),
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
            .with_state(ctx),
    )
}
