//! The alliance subgraph: points programmes, an exact ledger, and
//! cross-brand exchange.
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
pub mod webhooks;

use axum::Router;
use futures::FutureExt as _;
use kit::service::{Background, Job, ServiceContext, ServiceSpec, graphql_routes};
use sea_orm_migration::MigratorTrait;

/// How the CLI and the test harness know this service.
pub static SPEC: ServiceSpec = ServiceSpec {
    name: "alliance",
    about: "points programmes, an exact ledger, cross-brand exchange and clearing",
    migrate: |db| migration::Migrator::up(db, None).boxed(),
    routes,
    seed_demo: |ctx| seed::demo(&ctx.db, ctx.clock.now()).boxed(),
    sdl: schema::sdl,
    background,
    jobs: &JOBS,
    export_member_data: Some(|ctx, ids| {
        async move { Ok(store::export::member_data(&ctx.db, ids).await?) }.boxed()
    }),
};

static JOBS: [Job; 3] = [
    Job {
        name: "activate-points",
        about: "turn PENDING points ACTIVE once their programme's window has passed",
        run: |ctx| {
            async move {
                let n = store::ledger::activate_due(&ctx.db, ctx.clock.now()).await?;
                Ok(format!("{n} lot(s) of pending points activated"))
            }
            .boxed()
        },
    },
    Job {
        name: "expire-points",
        about: "expire ACTIVE points past their expiry date, soonest first",
        run: |ctx| {
            async move {
                let n = store::ledger::expire_due(&ctx.db, ctx.clock.now()).await?;
                Ok(format!("{n} point(s) expired"))
            }
            .boxed()
        },
    },
    Job {
        name: "warn-expiring-points",
        about: "announce lots expiring within webhooks.expiring_soon_days to partners' webhooks, once per lot",
        run: |ctx| {
            async move {
                let days = ctx.config.webhooks.expiring_soon_days;
                let n = store::ledger::warn_expiring(&ctx.db, ctx.clock.now(), days).await?;
                Ok(format!("{n} lot(s) announced as expiring soon"))
            }
            .boxed()
        },
    },
];

/// Coupon drops grant a page per pass, at the events' poll interval but
/// no more often than this.
const DROP_INTERVAL_MIN: std::time::Duration = std::time::Duration::from_millis(200);

/// How often activation and expiry run under `up`.
const JOB_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);

fn routes(ctx: ServiceContext) -> Router {
    let settings = schema::Settings {
        quote_ttl: std::time::Duration::from_secs(ctx.config.exchange.quote_ttl_secs),
        keys: ctx.keys.clone(),
        webhook_private_urls: ctx.config.webhooks.allow_private_urls,
    };
    graphql_routes(
        schema::build(
            ctx.db.clone(),
            ctx.clock.clone(),
            settings,
            ctx.members.clone(),
        ),
        &ctx,
    )
}

/// Reads the member feed (merges, referrals), the order feed (earning and
/// reversal) and the store feed (guide registrations), fans its own feed
/// out to partners' webhooks and sends them, grants coupon drops, and runs
/// activation, expiry and expiry warnings every minute.
fn background(bg: Background) -> Vec<futures::future::BoxFuture<'static, ()>> {
    let member_feed = bg.feed(
        "member",
        events::MEMBER_FEED,
        events::MemberFeed::asking(bg.ctx.members.clone()),
        "merges do not move points",
    );
    let order_feed = bg.feed(
        "product",
        events::ORDER_FEED,
        events::OrderFeed::asking(bg.ctx.members.clone()),
        "orders earn no points",
    );
    let store_feed = bg.feed(
        "store",
        events::STORE_FEED,
        events::StoreFeed::asking(bg.ctx.members.clone()),
        "registering through a guide earns no campaign bonus",
    );
    let fan_out = bg.own_feed(events::WEBHOOK_FEED, events::WebhookFanOut);
    let sender = webhooks::Sender::new(
        bg.ctx.db.clone(),
        bg.ctx.clock.clone(),
        bg.ctx.config.webhooks.clone(),
    )
    .run(bg.shutdown.clone())
    .boxed();
    let drops = store::drops::run(
        bg.ctx.db.clone(),
        bg.ctx.clock.clone(),
        bg.ctx.members.clone(),
        bg.poll_interval.max(DROP_INTERVAL_MIN),
        bg.shutdown.clone(),
    )
    .boxed();
    member_feed
        .into_iter()
        .chain(order_feed)
        .chain(store_feed)
        .chain([fan_out, sender, drops])
        .chain(bg.jobs(&JOBS, JOB_INTERVAL))
        .collect()
}
