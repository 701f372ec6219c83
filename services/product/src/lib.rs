//! The product subgraph: one catalogue, one stock picture, orders that never
//! oversell.
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
use kit::service::{Background, Job, ServiceContext, ServiceSpec, graphql_routes};
use sea_orm_migration::MigratorTrait;

/// How the CLI and the test harness know this service.
pub static SPEC: ServiceSpec = ServiceSpec {
    name: "product",
    about: "catalogue, stock per location, orders that never oversell",
    migrate: |db| migration::Migrator::up(db, None).boxed(),
    routes,
    seed_demo: |ctx| seed::demo(&ctx.db, ctx.clock.now()).boxed(),
    sdl: schema::sdl,
    background,
    jobs: &[Job {
        name: "expire-pickups",
        about: "cancel pickup orders not collected by their deadline, releasing their stock",
        run: |ctx| {
            async move {
                let cancelled = store::orders::expire_pickups(&ctx.db, ctx.clock.now()).await?;
                Ok(format!(
                    "{} uncollected pickup order(s) cancelled",
                    cancelled.len()
                ))
            }
            .boxed()
        },
    }],
    export_member_data: Some(|ctx, ids| {
        async move { Ok(store::export::member_data(&ctx.db, ids).await?) }.boxed()
    }),
};

fn routes(ctx: ServiceContext) -> Router {
    graphql_routes(
        schema::build(ctx.db.clone(), ctx.clock.clone(), ctx.members.clone()),
        &ctx,
    )
}

/// How often uncollected pickups are looked for.
const PICKUP_EXPIRY_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);

/// Reads the member feed (erasures, merges) and the alliance's (revoked
/// partner keys, redeemed rewards' coupons), and cancels pickups not
/// collected by their deadline, every minute.
fn background(bg: Background) -> Vec<futures::future::BoxFuture<'static, ()>> {
    let member_feed = bg.feed(
        "member",
        events::MEMBER_FEED,
        events::MemberFeed,
        "erasures do not clear delivery locations here, merges do not move orders",
    );
    // Revoked keys and redeemed rewards' coupons, at the position the
    // revocation reader always used.
    let alliance_feed = bg.feed(
        "alliance",
        kit::revocation::alliance_feed(SPEC.name),
        events::AllianceFeed,
        "revoked partner keys' tokens keep working here until they expire, and redeemed rewards issue no coupons",
    );
    member_feed
        .into_iter()
        .chain(alliance_feed)
        .chain(bg.jobs(SPEC.jobs, PICKUP_EXPIRY_INTERVAL))
        .collect()
}
