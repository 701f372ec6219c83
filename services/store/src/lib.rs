//! The store subgraph: stores near me, digital guides, and "whoever brings
//! the member benefits".
//!
//! Layout, as in every service: `schema/` (GraphQL, thin), `domain/` (rules,
//! no I/O), `store/` (sea-orm entities and commands), `migration/`.

pub mod domain;
pub mod error;
pub mod events;
pub mod migration;
pub mod schema;
mod seed;
pub mod store;

use axum::Router;
use futures::FutureExt as _;
use kit::service::{Background, Job, ServiceContext, ServiceSpec, graphql_routes};
use sea_orm_migration::MigratorTrait;

/// How the CLI and the test harness know this service.
pub static SPEC: ServiceSpec = ServiceSpec {
    name: "store",
    about: "stores near me, guides and their QR codes, attribution, commissions",
    migrate: |db| migration::Migrator::up(db, None).boxed(),
    routes,
    seed_demo: |ctx| seed::demo(&ctx.db, ctx.clock.now()).boxed(),
    sdl: schema::sdl,
    background,
    jobs: &[Job {
        name: "approve-commissions",
        about: "approve commissions whose after-sales window has closed",
        run: |ctx| {
            async move {
                let n = store::commissions::approve_due(&ctx.db, ctx.clock.now_micros()).await?;
                Ok(format!("{n} commission(s) approved"))
            }
            .boxed()
        },
    }],
    export_member_data: Some(|ctx, ids| {
        async move { Ok(store::export::member_data(&ctx.db, ids).await?) }.boxed()
    }),
};

/// Reads the member feed (attribution), the order feed (commissions) and
/// the alliance's (revoked partner keys), and approves commissions as their
/// windows close.
fn background(bg: Background) -> Vec<futures::future::BoxFuture<'static, ()>> {
    let member_feed = bg.feed(
        "member",
        events::MEMBER_FEED,
        events::MemberFeed,
        "registrations through guide codes are not attributed",
    );
    let order_feed = events::OrderFeed {
        waits_for: bg
            .peers
            .contains_key("member")
            .then_some(events::MEMBER_FEED),
    };
    let order_feed = bg.feed(
        "product",
        events::ORDER_FEED,
        order_feed,
        "orders credit no commissions",
    );
    member_feed
        .into_iter()
        .chain(order_feed)
        .chain(bg.revoked_partner_keys())
        .chain(bg.jobs(SPEC.jobs, APPROVAL_INTERVAL))
        .collect()
}

/// How often due commissions are approved.
const APPROVAL_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);

fn routes(ctx: ServiceContext) -> Router {
    graphql_routes(
        schema::build(ctx.db.clone(), ctx.clock.clone(), ctx.members.clone()),
        &ctx,
    )
}
