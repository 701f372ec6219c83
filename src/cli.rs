use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{Args, Parser, Subcommand};
use kit::auth::{JwtKeys, Role, Scope, Scopes, TokenRequest};
use kit::config::{Config, Overrides, ServiceOverrides};
use kit::events::jetstream::Transport;
use kit::service::{self, ServiceSpec};
use kit::shutdown;
use kit::time::Clock;

/// Every service this build contains, in start order.
pub const SERVICES: &[&ServiceSpec] =
    &[&member::SPEC, &store::SPEC, &product::SPEC, &alliance::SPEC];

#[derive(Parser, Debug)]
#[command(
    name = "bigmember",
    version,
    about = "A federated GraphQL member platform: one member across every channel, stores, stock and a points alliance.",
    long_about = "A federated GraphQL member platform: one member across every channel, stores, stock and a points alliance.\n\n\
        Start everything with demo data on embedded SQLite files under ./data with `bigmember up --demo` \
        (the graph is http://127.0.0.1:4000/graphql), and sign a token for your first query with \
        `bigmember token --role operator`.\n\n\
        Configuration comes from built-in defaults, then bigmember.toml (or --config), then BIGMEMBER_* \
        environment variables (nested keys joined by __, e.g. BIGMEMBER_SERVICES__MEMBER__PORT), then flags."
)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Debug)]
struct GlobalArgs {
    /// Configuration file (TOML). Default: ./bigmember.toml if present.
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        help_heading = "Global options"
    )]
    config: Option<PathBuf>,
    /// Where SQLite files and the development signing secret live [default: data].
    #[arg(
        long,
        global = true,
        value_name = "DIR",
        help_heading = "Global options"
    )]
    data_dir: Option<PathBuf>,
    /// Log filter for stderr, e.g. `info` or `member=debug,sea_orm=warn`
    /// [default: info for servers, warn for one-shot commands].
    #[arg(
        long,
        global = true,
        value_name = "FILTER",
        help_heading = "Global options"
    )]
    log: Option<String>,
    /// For demos only: the platform's clock starts at this RFC 3339 instant
    /// (e.g. 2026-11-30T23:50:00Z) and runs on from there [default: the system clock].
    #[arg(
        long,
        global = true,
        value_name = "INSTANT",
        help_heading = "Global options"
    )]
    now: Option<String>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Start every service, each on its own port and SQLite file, until Ctrl-C.
    Up(UpArgs),
    /// Serve one service.
    Serve(ServeArgs),
    /// Apply pending database migrations (every service, or one).
    Migrate(TargetArgs),
    /// Load the demo data set into the databases (safe to repeat).
    Seed(TargetArgs),
    /// Sign a bearer token with the configured secret (for development and demos).
    Token(TokenArgs),
    /// Run a periodic job once, now (they also run every minute under `up`).
    Job(JobArgs),
    /// Write each subgraph's SDL to schema/ and compose schema/supergraph.graphql (needs Node.js).
    Compose(ComposeArgs),
    /// Print the gateway's query plan for an operation (which subgraphs it asks, in what order).
    Plan(PlanArgs),
    /// Events between services: list, retry or skip the ones a consumer set aside; prune the outbox.
    Events(EventsArgs),
    /// Check the configuration (file, BIGMEMBER_* variables, flags) and print what is in effect.
    Config(ConfigArgs),
    /// Print a brand's closed clearing statement as CSV (the same as the graph's `csv`).
    Statement(StatementArgs),
}

#[derive(Args, Debug)]
#[command(
    long_about = "Print a brand's closed clearing statement as CSV, from the alliance's database.

        One EXCHANGE record per exchange, one COUNTERPARTY record per line and one TOTAL record,         amounts in fen: the same bytes as `closedClearingStatement(id) { csv }` in the graph. Name         the statement by its number or by its month; an operator closes months with         `closeClearingPeriod`."
)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["number", "period"])))]
struct StatementArgs {
    /// The brand, e.g. coffee.
    #[arg(long)]
    brand: String,
    /// The statement's number (1, 2, 3 ... per brand).
    #[arg(long)]
    number: Option<i64>,
    /// The month it closed, as YYYY-MM.
    #[arg(long)]
    period: Option<String>,
}

#[derive(Args, Debug)]
#[command(
    long_about = "Check the configuration and print what is in effect.\n\n\
        Reads built-in defaults, then bigmember.toml (or --config), then BIGMEMBER_* variables, then \
        flags, exactly as every other command does. An unknown key, an unknown service or settings \
        that cannot work (a CORS origin pattern that does not compile, say) fail with a message naming \
        them; otherwise the whole configuration is printed as TOML, secrets redacted."
)]
struct ConfigArgs {
    #[command(subcommand)]
    action: ConfigAction,
}

#[derive(Subcommand, Debug)]
enum ConfigAction {
    /// Fail naming what is wrong, or print the configuration in effect (secrets redacted).
    Check,
}

#[derive(Args, Debug)]
#[command(
    long_about = "Events between services: the ones a consumer set aside, and the outbox.\n\n\
        A consumer tries an event its rules refuse (not one waiting for another feed, not a database \
        failure) a bounded number of times, then parks it: the feed moves on behind it, the \
        events_parked_total metric counts it and a WARN names it. List parked events, fix the cause, \
        then retry one (the running service applies it on its next poll, after the events that \
        passed it) or skip it for good. `prune` deletes now what every reader has applied past \
        events.outbox_retention_hours (each service also does so every 10 minutes)."
)]
struct EventsArgs {
    #[command(subcommand)]
    action: EventsAction,
}

#[derive(Subcommand, Debug)]
enum EventsAction {
    /// List parked events (every service, or one), oldest first.
    Parked {
        /// Only this service [default: all].
        #[arg(long, value_parser = service_names())]
        service: Option<String>,
        /// Every status (also retried, applied and skipped) [default: only those waiting].
        #[arg(long)]
        all: bool,
    },
    /// Ask the service to apply a parked event again on its next poll.
    Retry(ParkedEventArgs),
    /// Never apply a parked event (it stays listed as SKIPPED).
    Skip(ParkedEventArgs),
    /// Delete, now, the outbox events every reader (and the JetStream
    /// relay) has applied that are older than events.outbox_retention_hours
    /// (each service also does this every 10 minutes).
    Prune {
        /// Only this service [default: all].
        #[arg(long, value_parser = service_names())]
        service: Option<String>,
    },
}

#[derive(Args, Debug)]
struct ParkedEventArgs {
    /// The service whose consumer parked it.
    #[arg(value_parser = service_names())]
    service: String,
    /// The consumer, as `events parked` lists it (e.g. store:order-feed).
    consumer: String,
    /// The event's place in its feed, as `events parked` lists it.
    seq: i64,
}

#[derive(Args, Debug)]
struct PlanArgs {
    /// The operation (GraphQL text).
    operation: String,
    /// Its name, when the text holds several.
    #[arg(long)]
    operation_name: Option<String>,
    /// The supergraph to plan over [default: gateway.supergraph, else the one built in].
    #[arg(long, value_name = "FILE")]
    supergraph: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct ComposeArgs {
    /// The folder with package.json and compose.mjs.
    #[arg(long, default_value = "schema", value_name = "DIR")]
    schema_dir: PathBuf,
}

#[derive(Args, Debug)]
struct UpArgs {
    /// Load the demo data set before serving (safe to repeat).
    #[arg(long)]
    demo: bool,
}

#[derive(Args, Debug)]
struct ServeArgs {
    /// The service to serve, or `gateway`.
    #[arg(value_parser = serve_names())]
    service: String,
    /// gateway only: the supergraph file to serve (reloaded on SIGHUP or change)
    /// [default: gateway.supergraph, else the one built in].
    #[arg(long, value_name = "FILE")]
    supergraph: Option<PathBuf>,
    /// Port to listen on [default: the service's port in configuration, member 4001].
    #[arg(long)]
    port: Option<u16>,
    /// sqlite://FILE or postgres://USER@HOST/DB [default: sqlite://<data-dir>/<service>.db].
    #[arg(long, env = "DATABASE_URL", value_name = "URL")]
    database_url: Option<String>,
}

#[derive(Args, Debug)]
struct TargetArgs {
    /// Only this service [default: all].
    #[arg(long, value_parser = service_names())]
    service: Option<String>,
    /// Database URL for --service (default: from configuration).
    #[arg(long, requires = "service", value_name = "URL")]
    database_url: Option<String>,
}

#[derive(Args, Debug)]
struct JobArgs {
    /// The job to run.
    #[arg(value_parser = job_names())]
    name: String,
}

/// Each job, with its one-line description for `--help`.
fn job_names() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(
        SERVICES
            .iter()
            .flat_map(|s| s.jobs.iter())
            .map(|j| clap::builder::PossibleValue::new(j.name).help(j.about)),
    )
}

#[derive(Args, Debug)]
struct TokenArgs {
    /// member, partner, staff, operator, or service (a service's own
    /// credential: reads feeds, is not an operator). In production
    /// (`auth.mode`), partner and service only: people's tokens come from
    /// the identity provider.
    #[arg(long, value_parser = ["member", "partner", "staff", "operator", "service"])]
    role: String,
    /// Subject: member id (required for a member token: writes act only for
    /// a member who exists; `up --demo` prints the demo member's), guide id,
    /// partner key id, operator id or service name [default for those:
    /// dev-<role>].
    #[arg(long)]
    sub: Option<String>,
    /// Brand id (partner and staff). A sandbox's id (`coffee-sandbox`)
    /// makes a sandbox partner token.
    #[arg(long)]
    brand: Option<String>,
    /// Store id (staff).
    #[arg(long)]
    store: Option<String>,
    /// A partner token's scopes, separated by commas (any case): earn,
    /// redeem, read_accounts, enrol_members, manage_terms, read_statements,
    /// manage_webhooks, manage_rewards [default: all of them].
    #[arg(long)]
    scopes: Option<String>,
    /// Hours the token stays valid.
    #[arg(long, default_value_t = 24)]
    ttl_hours: i64,
}

fn serve_names() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(
        SERVICES
            .iter()
            .map(|s| s.name)
            .chain(std::iter::once("gateway")),
    )
}

fn service_names() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(SERVICES.iter().map(|s| s.name))
}

fn spec(name: &str) -> anyhow::Result<&'static ServiceSpec> {
    SERVICES
        .iter()
        .copied()
        .find(|s| s.name == name)
        .with_context(|| format!("no service named {name}"))
}

pub async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut overrides = Overrides {
        data_dir: cli.global.data_dir.clone(),
        log: cli.global.log.clone(),
        now: cli.global.now.clone(),
        ..Overrides::default()
    };
    match &cli.command {
        Command::Serve(args) if args.service != "gateway" => {
            overrides.services.insert(
                args.service.clone(),
                ServiceOverrides {
                    port: args.port,
                    database_url: args.database_url.clone(),
                },
            );
        }
        Command::Migrate(target) | Command::Seed(target) => {
            if let (Some(service), Some(url)) = (&target.service, &target.database_url) {
                overrides.services.insert(
                    service.clone(),
                    ServiceOverrides {
                        port: None,
                        database_url: Some(url.clone()),
                    },
                );
            }
        }
        _ => {}
    }
    let config = Config::load(cli.global.config.as_deref(), &overrides)?;
    kit::tls::install(&config.tls.ca_files).map_err(|e| anyhow::anyhow!(e))?;
    // One clock for the whole process: every service of `up` shares it.
    let clock = config.clock()?;
    match cli.command {
        Command::Up(args) => up(&config, &clock, args.demo).await,
        Command::Serve(args) if args.service == "gateway" => {
            crate::gateway::serve(&config, args.supergraph, args.port).await
        }
        Command::Serve(args) => serve(&config, &clock, spec(&args.service)?).await,
        Command::Migrate(target) => migrate(&config, target.service.as_deref()).await,
        Command::Seed(target) => seed(&config, &clock, target.service.as_deref()).await,
        Command::Token(args) => token(&config, args),
        Command::Job(args) => job(&config, &clock, &args.name).await,
        Command::Compose(args) => crate::compose::compose(&config, &args.schema_dir),
        Command::Events(args) => events(&config, &clock, args.action).await,
        Command::Statement(args) => statement(&config, &clock, args).await,
        Command::Config(ConfigArgs {
            action: ConfigAction::Check,
        }) => {
            crate::gateway::check(&config)?;
            let text = toml::to_string(&config.redacted())
                .context("the configuration cannot be printed as TOML")?;
            println!("# the configuration is valid; in effect (secrets redacted):\n{text}");
            Ok(())
        }
        Command::Plan(args) => {
            crate::gateway::print_plan(
                &config,
                args.supergraph,
                &args.operation,
                args.operation_name.as_deref(),
            )
            .await
        }
    }
}

fn selected(only: Option<&str>) -> anyhow::Result<Vec<&'static ServiceSpec>> {
    match only {
        Some(name) => Ok(vec![spec(name)?]),
        None => Ok(SERVICES.to_vec()),
    }
}

/// Connects a service to its configured database and migrates it.
async fn prepare(
    config: &Config,
    clock: &Clock,
    spec: &ServiceSpec,
    keys: &JwtKeys,
) -> anyhow::Result<service::ServiceContext> {
    let url = config.database_url(spec.name)?;
    service::prepare(
        spec,
        &url,
        None,
        keys.clone(),
        None,
        Arc::new(config.clone()),
        clock.clone(),
    )
    .await
    .with_context(|| format!("{}: cannot open and migrate its database", spec.name))
}

async fn bind(
    config: &Config,
    spec: &ServiceSpec,
) -> anyhow::Result<(tokio::net::TcpListener, SocketAddr)> {
    let port = config.service(spec.name)?.port;
    let addr = SocketAddr::new(config.host, port);
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| {
        format!(
            "{}: cannot listen on {addr} (in use?); choose another with --port or BIGMEMBER_SERVICES__{}__PORT",
            spec.name,
            spec.name.to_uppercase()
        )
    })?;
    // Port 0 asks the OS for a free port: report the one it gave.
    let addr = listener.local_addr()?;
    Ok((listener, addr))
}

async fn serve(config: &Config, clock: &Clock, spec: &'static ServiceSpec) -> anyhow::Result<()> {
    let _telemetry = kit::telemetry::init(spec.name, config.log_filter("info"))?;
    let keys = config.keys()?;
    keys.ready().await;
    let ctx = prepare(config, clock, spec, &keys).await?;
    // Before the port and its line: a service that cannot reach NATS never
    // looks ready.
    let transport = Transport::connect(&config.events).await?;
    let (listener, addr) = bind(config, spec).await?;
    let stop_requested = shutdown::os_signal();
    println!("{} subgraph: http://{addr}/graphql", spec.name);
    let (trigger, stop) = shutdown::channel();
    let background = start_background(
        config,
        spec,
        &ctx,
        config.peers(spec.name),
        &transport,
        &stop,
    );
    let server = tokio::spawn(service::serve(listener, service::app(spec, ctx), stop));
    stop_requested.await;
    tracing::info!("stopping");
    trigger.fire();
    server.await??;
    futures::future::join_all(background).await;
    Ok(())
}

/// How often each service deletes what every reader of its feed has applied
/// and retention lets go.
const OUTBOX_PRUNE_INTERVAL: Duration = Duration::from_secs(600);

/// Starts a service's consumers, jobs and outbox pruning; they end when
/// `stop` fires.
fn start_background(
    config: &Config,
    spec: &ServiceSpec,
    ctx: &service::ServiceContext,
    peers: BTreeMap<String, String>,
    transport: &Transport,
    stop: &shutdown::Shutdown,
) -> Vec<tokio::task::JoinHandle<()>> {
    // Every other service asks the member service who a write for a
    // member acts for (kit::members).
    if spec.name != "member" {
        match peers.get("member") {
            Some(url) => ctx.members.connect(url),
            None => tracing::warn!(
                service = spec.name,
                "no member service configured: writes for members are not checked against it"
            ),
        }
    } else {
        // A member's export gathers every service's part (kit::members).
        for holder in SERVICES.iter().filter(|s| s.export_member_data.is_some()) {
            match peers.get(holder.name) {
                Some(url) => ctx.member_data.connect(holder.name, url),
                None => tracing::warn!(
                    service = holder.name,
                    "service not configured: members' exports leave out what it holds"
                ),
            }
        }
    }
    let work = (spec.background)(service::Background {
        ctx: ctx.clone(),
        peers,
        poll_interval: Duration::from_millis(config.events.poll_interval_ms.max(10)),
        shutdown: stop.clone(),
        transport: transport.clone(),
    });
    // On JetStream, each replica's relay publishes its outbox; they race
    // harmlessly (kit::events::jetstream).
    let relay = match transport {
        Transport::Http => None,
        Transport::JetStream(js) => Some(
            kit::events::jetstream::Relay::new(
                (**js).clone(),
                spec.name,
                ctx.db.clone(),
                ctx.clock.clone(),
            )
            .run(
                Duration::from_millis(config.events.relay_interval_ms.max(1)),
                stop.clone(),
            ),
        ),
    };
    let pruning = kit::events::outbox::prune_periodically(
        ctx.db.clone(),
        ctx.clock.clone(),
        Duration::from_secs(config.events.outbox_retention_hours.saturating_mul(3_600)),
        matches!(transport, Transport::JetStream(_)),
        OUTBOX_PRUNE_INTERVAL,
        stop.clone(),
    );
    work.into_iter()
        .map(tokio::spawn)
        .chain(std::iter::once(tokio::spawn(pruning)))
        .chain(relay.map(tokio::spawn))
        .collect()
}

async fn up(config: &Config, clock: &Clock, demo: bool) -> anyhow::Result<()> {
    let _telemetry = kit::telemetry::init("up", config.log_filter("info"))?;
    let keys = config.keys()?;
    keys.ready().await;
    // NATS first, when events travel there: nothing starts without it.
    let transport = Transport::connect(&config.events).await?;
    let (trigger, stop) = shutdown::channel();
    let mut servers = Vec::new();
    let mut started = Vec::new();
    let stop_requested = shutdown::os_signal();
    let clock_note = if clock.is_system() {
        String::new()
    } else {
        format!(", clock set to {} (demo)", clock.now().to_rfc3339())
    };
    println!(
        "bigmember is starting (data in {}{clock_note}):",
        config.data_dir.display()
    );
    for spec in SERVICES {
        let ctx = prepare(config, clock, spec, &keys).await?;
        if demo {
            println!("  {}", load_demo(spec, &ctx).await?);
        }
        let (listener, addr) = bind(config, spec).await?;
        println!(
            "  {:<9} http://{addr}/graphql   (health /healthz, metrics /metrics, events /events)",
            spec.name
        );
        let app = service::app(spec, ctx.clone());
        servers.push((
            spec.name,
            tokio::spawn(service::serve(listener, app, stop.clone())),
        ));
        started.push((*spec, ctx, addr));
    }
    let demo_member = if demo {
        let databases = started
            .iter()
            .map(|(spec, ctx, _)| (spec.name, ctx.db.clone()))
            .collect();
        crate::demo::load(&databases, config.demo.members, clock.now()).await?
    } else {
        None
    };
    // Every service is listening: now each can read the others' feeds, at
    // the addresses they really got.
    let addresses: BTreeMap<String, String> = started
        .iter()
        .map(|(spec, _, addr)| (spec.name.to_owned(), format!("http://{addr}")))
        .collect();
    let mut background = Vec::new();
    for (spec, ctx, _) in &started {
        let peers = addresses
            .iter()
            .filter(|(name, _)| name.as_str() != spec.name)
            .map(|(n, u)| (n.clone(), u.clone()))
            .collect();
        background.extend(start_background(
            config, spec, ctx, peers, &transport, &stop,
        ));
    }
    // The demo lets pages on this machine call the graph from a browser
    // (a front-end on another port), unless CORS is configured.
    let mut gateway_config = config.clone();
    if demo && !config.gateway.cors.lets_anyone_in() {
        gateway_config.gateway.cors = kit::config::CorsSettings::local_pages();
    }
    let (gateway_addr, gateway) =
        crate::gateway::start(&gateway_config, &keys, &addresses, stop.clone()).await?;
    servers.push(("gateway", gateway));
    println!(
        "  graph     http://{gateway_addr}/graphql   (one graph over every service; GraphiQL in a browser)"
    );
    println!();
    println!(
        "Events travel {}.",
        match config.events.transport {
            kit::config::EventTransport::Http => "over HTTP (each consumer polls GET /events)",
            kit::config::EventTransport::Nats => "on NATS JetStream (events.transport = \"nats\")",
        }
    );
    println!("Ready: the graph answers at http://{gateway_addr}/graphql");
    if demo {
        print_demo_tokens(&keys, demo_member.as_deref());
    } else {
        println!("Sign a token for your first query: bigmember token --role operator");
    }
    println!("Press Ctrl-C to stop.");
    stop_requested.await;
    println!("stopping...");
    trigger.fire();
    for (name, server) in servers {
        server
            .await?
            .with_context(|| format!("{name} stopped with an error"))?;
    }
    futures::future::join_all(background).await;
    println!("stopped cleanly");
    Ok(())
}

async fn migrate(config: &Config, only: Option<&str>) -> anyhow::Result<()> {
    let _telemetry = kit::telemetry::init("migrate", config.log_filter("warn"))?;
    for spec in selected(only)? {
        let url = config.database_url(spec.name)?;
        let db = kit::db::connect(
            &url,
            kit::db::ConnectSettings {
                schema: None,
                service: spec.name,
            },
            None,
        )
        .await
        .with_context(|| format!("{}: cannot connect to its database", spec.name))?;
        kit::db::migrate_exclusively(&db, &url, spec.name, (spec.migrate)(&db))
            .await
            .with_context(|| format!("{}: migration failed", spec.name))?;
        println!("{}: migrations applied", spec.name);
    }
    Ok(())
}

async fn seed(config: &Config, clock: &Clock, only: Option<&str>) -> anyhow::Result<()> {
    let _telemetry = kit::telemetry::init("seed", config.log_filter("warn"))?;
    let keys = config.keys()?;
    let mut seeded = BTreeMap::new();
    for spec in selected(only)? {
        let ctx = prepare(config, clock, spec, &keys).await?;
        println!("{}", load_demo(spec, &ctx).await?);
        seeded.insert(spec.name, ctx.db.clone());
    }
    let member = crate::demo::load(&seeded, config.demo.members, clock.now()).await?;
    print_demo_tokens(&keys, member.as_deref());
    Ok(())
}

async fn load_demo(
    spec: &ServiceSpec,
    ctx: &service::ServiceContext,
) -> anyhow::Result<kit::demo::Loaded> {
    (spec.seed_demo)(ctx)
        .await
        .with_context(|| format!("{}: demo data failed", spec.name))
}

fn print_demo_tokens(keys: &JwtKeys, member: Option<&str>) {
    let day = chrono::Duration::hours(24);
    // In production people's tokens come from the identity provider.
    let token = |request| {
        keys.issue(request, day)
            .unwrap_or_else(|refused| format!("(none: {})", refused.message))
    };
    println!("Demo tokens (valid 24 h; more with `bigmember token --help`):");
    if let Some(member) = member {
        println!(
            "  member:         {}   (demo member {member})",
            token(TokenRequest::member(member))
        );
    }
    println!(
        "  operator:       {}",
        token(TokenRequest::operator("demo-operator"))
    );
    println!(
        "  staff apparel:  {}",
        token(TokenRequest::staff(
            "demo-guide-00",
            "demo-store-00",
            "apparel"
        ))
    );
    println!(
        "  partner coffee: {}",
        token(TokenRequest::partner("demo-key-coffee", "coffee"))
    );
}

/// Prints a result on stdout. A reader that stopped reading (`| head`)
/// ends the command quietly, as a Unix tool does, rather than in a panic.
pub(crate) fn emit(text: impl std::fmt::Display) -> anyhow::Result<()> {
    use std::io::Write;
    match writeln!(std::io::stdout().lock(), "{text}") {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        written => Ok(written?),
    }
}

async fn statement(config: &Config, clock: &Clock, args: StatementArgs) -> anyhow::Result<()> {
    use alliance::store::statements;
    let _telemetry = kit::telemetry::init("statement", config.log_filter("warn"))?;
    let keys = JwtKeys::hs256(&kit::config::Secret::new(kit::auth::random_secret()));
    let spec = spec("alliance")?;
    require_existing_database(config, spec)?;
    let ctx = prepare(config, clock, spec, &keys).await?;
    let found = match (args.number, args.period) {
        (Some(number), _) => statements::statement_by_number(&ctx.db, &args.brand, number).await,
        (None, Some(period)) => {
            let period = alliance::domain::exchange::Period::parse(&period)
                .map_err(|e| anyhow::anyhow!("--period: {e}"))?;
            statements::statement_of_period(&ctx.db, &args.brand, period).await
        }
        (None, None) => anyhow::bail!("name the statement: --number N or --period YYYY-MM"),
    };
    let statement = found.map_err(|e| anyhow::anyhow!("{e}"))?;
    let csv = statements::csv_of(&ctx.db, &statement)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    print!("{csv}");
    Ok(())
}

async fn events(config: &Config, clock: &Clock, action: EventsAction) -> anyhow::Result<()> {
    use kit::events::parked::{self, Decision, ParkedStatus};
    use sea_orm::ActiveEnum as _;
    let _telemetry = kit::telemetry::init("events", config.log_filter("warn"))?;
    let keys = JwtKeys::hs256(&kit::config::Secret::new(kit::auth::random_secret()));
    let (only, decision) = match &action {
        EventsAction::Parked { service, .. } | EventsAction::Prune { service } => {
            (service.clone(), None)
        }
        EventsAction::Retry(event) => (Some(event.service.clone()), Some((Decision::Retry, event))),
        EventsAction::Skip(event) => (Some(event.service.clone()), Some((Decision::Skip, event))),
    };
    let all = matches!(action, EventsAction::Parked { all: true, .. });
    let mut listed = 0;
    for spec in selected(only.as_deref())? {
        require_existing_database(config, spec)?;
        let ctx = prepare(config, clock, spec, &keys).await?;
        if let Some((decision, event)) = decision {
            let row = parked::decide_on(
                &ctx.db,
                &event.consumer,
                event.seq,
                decision,
                clock.now_micros(),
            )
            .await
            .map_err(|e| anyhow::anyhow!("{}: {}", spec.name, e.message))?;
            println!(
                "{}: {} event {} ({}) is now {}",
                spec.name,
                row.consumer,
                row.seq,
                row.kind,
                row.status.to_value()
            );
            continue;
        }
        if let EventsAction::Prune { .. } = action {
            let retention =
                Duration::from_secs(config.events.outbox_retention_hours.saturating_mul(3_600));
            let relayed = config.events.transport == kit::config::EventTransport::Nats;
            let pruned =
                kit::events::outbox::prune(&ctx.db, clock.now(), retention, relayed).await?;
            let left = kit::events::outbox::read(&ctx.db, 0, 1).await?;
            emit(format_args!(
                "{}: {pruned} events pruned; the outbox now starts at {}",
                spec.name,
                left.first()
                    .map_or("its head (empty)".to_owned(), |e| e.seq.to_string())
            ))?;
            listed += 1;
            continue;
        }
        let status = (!all).then_some(ParkedStatus::Parked);
        for row in parked::list(&ctx.db, status).await? {
            listed += 1;
            emit(format_args!(
                "{}\t{}\t{}\t{}\t{}\t{} tries\t{}",
                spec.name,
                row.consumer,
                row.seq,
                row.kind,
                row.status.to_value(),
                row.attempts,
                row.reason
            ))?;
        }
    }
    if decision.is_none() && listed == 0 {
        // On stderr, so that a script reading the list reads nothing.
        eprintln!("no {}events", if all { "" } else { "parked " });
    }
    Ok(())
}

async fn job(config: &Config, clock: &Clock, name: &str) -> anyhow::Result<()> {
    let _telemetry = kit::telemetry::init("job", config.log_filter("warn"))?;
    let (spec, job) = SERVICES
        .iter()
        .find_map(|s| s.jobs.iter().find(|j| j.name == name).map(|j| (*s, j)))
        .with_context(|| format!("no job named {name}"))?;
    // A job signs nothing: it needs no secret of the platform's.
    let keys = JwtKeys::hs256(&kit::config::Secret::new(kit::auth::random_secret()));
    require_existing_database(config, spec)?;
    let ctx = prepare(config, clock, spec, &keys).await?;
    // Beside a running `up`, another process writes the same SQLite file:
    // a transaction that read before another committed cannot write
    // (SQLITE_BUSY_SNAPSHOT, which no busy timeout waits out). Every job
    // is safe to rerun, so it is, a few times.
    let mut attempt = 1;
    let summary = loop {
        match (job.run)(&ctx).await {
            Ok(summary) => break summary,
            Err(err) if attempt < JOB_ATTEMPTS && is_sqlite_busy(&err) => {
                tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
                attempt += 1;
            }
            Err(err) => return Err(err.context(format!("{}: job {name} failed", spec.name))),
        }
    };
    println!("{}: {summary}", spec.name);
    Ok(())
}

/// How many times a job runs before a busy SQLite file fails it.
const JOB_ATTEMPTS: u64 = 5;

/// Whether `err` is SQLite's "database is locked" (SQLITE_BUSY and its
/// extended codes), whatever error type carried it.
fn is_sqlite_busy(err: &anyhow::Error) -> bool {
    err.chain()
        .any(|cause| cause.to_string().contains("database is locked"))
}

/// A one-shot command works on the platform `up` made: on the default
/// SQLite files, a missing file means the wrong directory, not a new
/// platform.
fn require_existing_database(config: &Config, spec: &ServiceSpec) -> anyhow::Result<()> {
    let configured = config.service(spec.name)?.database_url.is_some();
    let file = config.data_dir.join(format!("{}.db", spec.name));
    if !configured && !file.exists() {
        bail!(
            "no {} database at {}: run this where you ran `bigmember up` (or pass --data-dir)",
            spec.name,
            std::path::absolute(&file).unwrap_or(file).display()
        );
    }
    Ok(())
}

/// `--scopes`: names separated by commas, in any case, spaces allowed.
fn scopes_arg(list: &str) -> anyhow::Result<Scopes> {
    let known = || Scopes::all().to_list().replace(',', ", ");
    let mut scopes = Scopes::default();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let scope = Scope::parse(&name.to_ascii_lowercase())
            .with_context(|| format!("--scopes: unknown scope {name:?}; scopes are {}", known()))?;
        scopes = scopes.with(scope);
    }
    if scopes.is_empty() {
        bail!("--scopes must name at least one of: {}", known());
    }
    Ok(scopes)
}

fn token(config: &Config, args: TokenArgs) -> anyhow::Result<()> {
    let role = Role::parse(&args.role).context("unknown role")?;
    if args.ttl_hours <= 0 || args.ttl_hours > 24 * 30 {
        bail!("--ttl-hours must be between 1 and 720");
    }
    if role == Role::Member && args.sub.is_none() {
        bail!(
            "a member token needs --sub MEMBER_ID (a member who exists: `up --demo` prints the demo member's id)"
        );
    }
    if args.scopes.is_some() && role != Role::Partner {
        bail!("--scopes is for partner tokens only");
    }
    let sub = args.sub.unwrap_or_else(|| format!("dev-{}", args.role));
    let request = match role {
        Role::Member => TokenRequest::member(sub),
        Role::Operator => TokenRequest::operator(sub),
        Role::Partner => {
            let brand = args.brand.context("a partner token needs --brand")?;
            match args.scopes.as_deref() {
                None => TokenRequest::partner(sub, brand),
                Some(list) => TokenRequest::partner_scoped(sub, brand, scopes_arg(list)?),
            }
        }
        Role::Staff => TokenRequest::staff(
            sub,
            args.store.context("a staff token needs --store")?,
            args.brand.context("a staff token needs --brand")?,
        ),
        Role::Service => TokenRequest::service(sub),
    };
    // Only a secret `up` already uses: a new one would sign tokens that
    // every running service refuses. In production, the platform secret
    // (partner and service tokens only).
    let keys = match config.auth.mode {
        kit::config::AuthMode::Development => JwtKeys::hs256(&config.required_jwt_secret()?),
        kit::config::AuthMode::Production => config.keys()?,
    };
    let token = keys
        .issue(request, chrono::Duration::hours(args.ttl_hours))
        .map_err(|refused| anyhow::anyhow!(refused.message))?;
    println!("{token}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_read_in_any_case_with_spaces_and_a_bad_one_is_named() {
        let scopes = scopes_arg(" Earn , REDEEM,,earn ").unwrap();
        assert_eq!(
            scopes.iter().collect::<Vec<_>>(),
            [Scope::Earn, Scope::Redeem]
        );
        let refused = scopes_arg("earn,teleport").unwrap_err().to_string();
        assert!(refused.contains("\"teleport\""), "{refused}");
        assert!(refused.contains("read_accounts"), "{refused}");
        assert!(scopes_arg(" , ").is_err());
    }
}
