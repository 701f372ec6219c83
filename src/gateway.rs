//! The gateway as the CLI runs it: under `up` in front of the services it
//! started, or alone with `serve gateway --supergraph FILE`, reloading the
//! file on SIGHUP or when it changes.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use gateway::{Gateway, GatewayConfig};
use kit::config::Config;
use kit::revocation::RevokedKeySet;
use kit::shutdown::{self, Shutdown};

/// The supergraph of this build's services (`schema/supergraph.graphql`).
pub const BUILT_IN_SUPERGRAPH: &str = include_str!("../schema/supergraph.graphql");

fn settings(
    config: &Config,
    keys: kit::auth::JwtKeys,
    revoked: RevokedKeySet,
    url_overrides: BTreeMap<String, String>,
) -> anyhow::Result<GatewayConfig> {
    Ok(GatewayConfig {
        verify_token: Some(Arc::new(move |token: &str| {
            let caller = keys.verify(token).map_err(|e| e.message)?;
            revoked.refuse(&caller).map_err(|e| e.message)?;
            Ok(caller)
        })),
        url_overrides,
        subgraph_timeout: Duration::from_millis(config.gateway.subgraph_timeout_ms.max(1)),
        pool_idle_timeout: Duration::from_secs(config.gateway.pool_idle_timeout_secs),
        plan_cache_size: config.gateway.plan_cache_size,
        plan_timeout: Duration::from_millis(config.gateway.plan_timeout_ms.max(1)),
        limits: config.gateway.limits,
        introspection: config.gateway.introspection,
        coalesce_subgraph_fetches: config.gateway.coalesce_subgraph_fetches,
        coalesce_client_requests: config.gateway.coalesce_client_requests,
        traceparent_of: Some(Arc::new(kit::telemetry::traceparent)),
        http: config.http,
        cors: kit::edge::cors_layer(&config.gateway.cors)
            .map_err(|e| anyhow::anyhow!("gateway.cors: {e}"))?,
        compression: config.gateway.compression,
        headers: gateway::subgraph::HeaderPropagation::from_settings(&config.gateway.headers)
            .map_err(|e| anyhow::anyhow!(e))?,
        rate_limits: gateway::rate_limit::RateLimits::new(&config.gateway.rate_limits)
            .map_err(|e| anyhow::anyhow!(e))?
            .map(Arc::new),
        documents: Arc::new(documents(config)?),
        compress_subgraph_requests: gateway::subgraph::RequestCompression::from_settings(
            &config.gateway.compress_subgraph_requests,
        ),
    })
}

/// The trusted documents of `gateway.documents`, the manifest read now.
fn documents(config: &Config) -> anyhow::Result<gateway::documents::Documents> {
    let settings = &config.gateway.documents;
    let manifest = match &settings.manifest {
        Some(path) => Some(std::fs::read_to_string(path).with_context(|| {
            format!("gateway.documents.manifest: cannot read {}", path.display())
        })?),
        None => None,
    };
    gateway::documents::Documents::new(settings, manifest.as_deref())
        .map_err(|e| anyhow::anyhow!(e))
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the supergraph {}", path.display()))
}

/// Binds the gateway's port (`gateway.port`; 0 picks a free one).
async fn bind(config: &Config, port: u16) -> anyhow::Result<(tokio::net::TcpListener, SocketAddr)> {
    let addr = SocketAddr::new(config.host, port);
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| {
        format!("gateway: cannot listen on {addr} (in use?); choose another with --port or BIGMEMBER_GATEWAY__PORT")
    })?;
    let addr = listener.local_addr()?;
    Ok((listener, addr))
}

/// Starts the gateway in front of subgraphs at `subgraph_urls` (name → base
/// URL); it stops when `stop` fires.
pub async fn start(
    config: &Config,
    keys: &kit::auth::JwtKeys,
    subgraph_urls: &BTreeMap<String, String>,
    stop: Shutdown,
) -> anyhow::Result<(SocketAddr, tokio::task::JoinHandle<std::io::Result<()>>)> {
    let sdl = match &config.gateway.supergraph {
        Some(path) => read(path)?,
        None => BUILT_IN_SUPERGRAPH.to_owned(),
    };
    let overrides = subgraph_urls
        .iter()
        .map(|(name, base)| (name.clone(), format!("{base}/graphql")))
        .collect();
    let revoked = RevokedKeySet::default();
    let gateway = Arc::new(
        Gateway::new(
            &sdl,
            settings(config, keys.clone(), revoked.clone(), overrides)?,
        )
        .context("gateway: the supergraph does not load")?,
    );
    follow_revocations(config, keys, &gateway, revoked, subgraph_urls, &stop);
    let (listener, addr) = bind(config, config.gateway.port).await?;
    if let Some(path) = config.gateway.documents.manifest.clone() {
        tokio::spawn(watch_manifest(gateway.clone(), path, stop.clone()));
    }
    let server = tokio::spawn(kit::service::serve(
        listener,
        kit::service::observed("gateway", gateway::router(gateway)),
        stop,
    ));
    Ok((addr, server))
}

/// Follows the alliance's feed of revoked partner keys
/// ([`kit::revocation::follow`]) when the graph has an alliance subgraph
/// and its service address (`services`, name → base URL) is known.
fn follow_revocations(
    config: &Config,
    keys: &kit::auth::JwtKeys,
    gateway: &Gateway,
    revoked: RevokedKeySet,
    services: &BTreeMap<String, String>,
    stop: &Shutdown,
) {
    let Some(alliance) = services.get("alliance") else {
        return;
    };
    if !gateway
        .current_supergraph()
        .subgraphs
        .contains_key("alliance")
    {
        return;
    }
    // Ephemeral: the gateway keeps nothing, so the alliance does not keep
    // its outbox for it (the retention window covers partner tokens' hour).
    let reader =
        kit::events::consumer::FeedReader::new("gateway:alliance-feed", alliance, keys.clone())
            .ephemeral();
    tokio::spawn(kit::revocation::follow(
        revoked,
        reader,
        Duration::from_millis(config.events.poll_interval_ms.max(1)),
        stop.clone(),
    ));
}

/// `serve gateway`: any Federation v2 supergraph, subgraph URLs from its
/// `join__graph` urls; reloads on SIGHUP or a change to the file.
pub async fn serve(
    config: &Config,
    supergraph: Option<PathBuf>,
    port: Option<u16>,
) -> anyhow::Result<()> {
    let _telemetry = kit::telemetry::init("gateway", config.log_filter("info"))?;
    let path = supergraph.or_else(|| config.gateway.supergraph.clone());
    let sdl = match &path {
        Some(p) => read(p)?,
        None => BUILT_IN_SUPERGRAPH.to_owned(),
    };
    // This build's own services are where the configuration puts them
    // (`services.<name>.url`, or its host and port), as for `up`; another
    // supergraph names its subgraphs' URLs itself.
    let services = config.peers("gateway");
    let overrides = match &path {
        Some(_) => BTreeMap::new(),
        None => services
            .iter()
            .map(|(name, base)| {
                (
                    name.clone(),
                    format!("{}/graphql", base.trim_end_matches('/')),
                )
            })
            .collect(),
    };
    let keys = config.keys()?;
    keys.ready().await;
    let revoked = RevokedKeySet::default();
    let gateway = Arc::new(
        Gateway::new(
            &sdl,
            settings(config, keys.clone(), revoked.clone(), overrides)?,
        )
        .context("gateway: the supergraph does not load")?,
    );
    let (listener, addr) = bind(config, port.unwrap_or(config.gateway.port)).await?;
    let stop_requested = shutdown::os_signal();
    println!("gateway: http://{addr}/graphql");
    let (trigger, stop) = shutdown::channel();
    follow_revocations(config, &keys, &gateway, revoked, &services, &stop);
    let watcher = path.map(|p| tokio::spawn(watch_supergraph(gateway.clone(), p, stop.clone())));
    if let Some(manifest) = config.gateway.documents.manifest.clone() {
        tokio::spawn(watch_manifest(gateway.clone(), manifest, stop.clone()));
    }
    let server = tokio::spawn(kit::service::serve(
        listener,
        kit::service::observed("gateway", gateway::router(gateway)),
        stop,
    ));
    stop_requested.await;
    tracing::info!("stopping");
    trigger.fire();
    server.await??;
    if let Some(w) = watcher {
        let _ = w.await;
    }
    Ok(())
}

/// Reloads the supergraph on SIGHUP or when the file changes; a file
/// that does not load is logged and the old one kept.
async fn watch_supergraph(gateway: Arc<Gateway>, path: PathBuf, stop: Shutdown) {
    watch(&path, stop, "supergraph", move |text| {
        gateway
            .reload(&text)
            .map(|()| String::new())
            .map_err(|e| e.to_string())
    })
    .await
}

/// Reloads the trusted documents' manifest, as the supergraph.
async fn watch_manifest(gateway: Arc<Gateway>, path: PathBuf, stop: Shutdown) {
    watch(&path, stop, "trusted documents", move |text| {
        gateway
            .reload_documents(&text)
            .map(|n| format!("{n} documents"))
    })
    .await
}

/// Calls `reload` with the file's text on SIGHUP or when its modification
/// time changes, until `stop`; what it says is logged.
async fn watch(
    path: &Path,
    mut stop: Shutdown,
    what: &'static str,
    reload: impl Fn(String) -> Result<String, String> + Clone + Send + 'static,
) {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let mut seen: Option<SystemTime> = modified(path);
    #[cfg(unix)]
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    loop {
        #[cfg(unix)]
        let hup = async {
            match hangup.as_mut() {
                Some(h) => {
                    h.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let hup = std::future::pending::<()>();
        let forced = tokio::select! {
            _ = stop.wait() => return,
            _ = hup => true,
            _ = tokio::time::sleep(Duration::from_secs(1)) => false,
        };
        let now = modified(path);
        if !forced && now == seen {
            continue;
        }
        seen = now;
        // Read and parsed off the async runtime (a large manifest takes
        // seconds): requests keep being served by the old one meanwhile.
        let (file, load) = (path.to_owned(), reload.clone());
        let loaded =
            tokio::task::spawn_blocking(move || std::fs::read_to_string(&file).map(load)).await;
        match loaded {
            Ok(Ok(Ok(said))) => tracing::info!(path = %path.display(), what, said, "reloaded"),
            Ok(Ok(Err(err))) => {
                tracing::warn!(what, error = %err, "the new file does not load; keeping the old one")
            }
            Ok(Err(err)) => {
                tracing::warn!(what, error = %err, "file unreadable; keeping the old one")
            }
            Err(err) => {
                tracing::warn!(what, error = %err, "the reload stopped; keeping the old one")
            }
        }
    }
}

/// What `config check` asks of the gateway's settings beyond the
/// configuration's own rules: they load with the supergraph it would serve
/// (a header list names one of its subgraphs; the trusted documents'
/// manifest reads). Signs nothing, connects to nothing.
pub fn check(config: &Config) -> anyhow::Result<()> {
    let sdl = match &config.gateway.supergraph {
        Some(path) => read(path)?,
        None => BUILT_IN_SUPERGRAPH.to_owned(),
    };
    let settings = GatewayConfig {
        headers: gateway::subgraph::HeaderPropagation::from_settings(&config.gateway.headers)
            .map_err(|e| anyhow::anyhow!(e))?,
        documents: Arc::new(documents(config)?),
        compress_subgraph_requests: gateway::subgraph::RequestCompression::from_settings(
            &config.gateway.compress_subgraph_requests,
        ),
        ..GatewayConfig::default()
    };
    Gateway::new(&sdl, settings).context("gateway")?;
    Ok(())
}

/// `bigmember plan`: prints the plan the gateway makes for an operation.
pub async fn print_plan(
    config: &Config,
    supergraph: Option<PathBuf>,
    operation: &str,
    operation_name: Option<&str>,
) -> anyhow::Result<()> {
    let sdl = match supergraph.or_else(|| config.gateway.supergraph.clone()) {
        Some(path) => read(&path)?,
        None => BUILT_IN_SUPERGRAPH.to_owned(),
    };
    // As the configured gateway would prepare it (limits, plan time).
    let settings = GatewayConfig {
        limits: config.gateway.limits,
        plan_timeout: Duration::from_millis(config.gateway.plan_timeout_ms.max(1)),
        ..GatewayConfig::default()
    };
    let gateway = Gateway::new(&sdl, settings).context("the supergraph does not load")?;
    match gateway.plan_text(operation, operation_name).await {
        Ok(plan) => crate::cli::emit(plan),
        Err(refusal) => anyhow::bail!(
            "{}",
            refusal
                .errors
                .iter()
                .map(|e| e.message.clone())
                .collect::<Vec<_>>()
                .join("; ")
        ),
    }
}
