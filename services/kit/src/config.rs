//! The one configuration loader: built-in defaults, then a TOML file, then
//! `BIGMEMBER_*` environment variables, then command-line flags.
//!
//! | key | env | default |
//! | --- | --- | --- |
//! | `data_dir` | `BIGMEMBER_DATA_DIR` | `data` |
//! | `host` | `BIGMEMBER_HOST` | `127.0.0.1` |
//! | `auth.jwt_secret` | `BIGMEMBER_AUTH__JWT_SECRET` | generated once into `<data_dir>/dev-jwt-secret` |
//! | `log` | `BIGMEMBER_LOG` (or `RUST_LOG`) | `info` for servers, `warn` for one-shot commands |
//! | `services.<name>.port` | `BIGMEMBER_SERVICES__<NAME>__PORT` | member 4001, store 4002, product 4003, alliance 4004 |
//! | `services.<name>.database_url` | `BIGMEMBER_SERVICES__<NAME>__DATABASE_URL` | `sqlite://<data_dir>/<name>.db` |
//! | `services.<name>.url` | `BIGMEMBER_SERVICES__<NAME>__URL` | `http://<host>:<port>` |
//! | `events.poll_interval_ms` | `BIGMEMBER_EVENTS__POLL_INTERVAL_MS` | `500` |
//! | `events.outbox_retention_hours` | `BIGMEMBER_EVENTS__OUTBOX_RETENTION_HOURS` | `168`: events every reader has applied are deleted once this old |
//! | `events.transport` | `BIGMEMBER_EVENTS__TRANSPORT` | `http` (each consumer polls `GET /events`); `nats` for JetStream |
//! | `events.nats_url` | `BIGMEMBER_EVENTS__NATS_URL` | `nats://127.0.0.1:4222` |
//! | `events.nats_prefix` | `BIGMEMBER_EVENTS__NATS_PREFIX` | `bigmember`: names the streams and subjects |
//! | `events.relay_interval_ms` | `BIGMEMBER_EVENTS__RELAY_INTERVAL_MS` | `50`: how often a relay looks for outbox events to publish |
//! | `events.nats_replicas` | `BIGMEMBER_EVENTS__NATS_REPLICAS` | `1`: copies of each stream in a NATS cluster |
//! | `jobs.in_process` | `BIGMEMBER_JOBS__IN_PROCESS` | `true`: each service runs its periodic jobs every minute |
//! | `exchange.quote_ttl_secs` | `BIGMEMBER_EXCHANGE__QUOTE_TTL_SECS` | `60` |
//! | `demo.members` | `BIGMEMBER_DEMO__MEMBERS` | `1000` |
//! | `gateway.port` | `BIGMEMBER_GATEWAY__PORT` | `4000` |
//! | `gateway.supergraph` | `BIGMEMBER_GATEWAY__SUPERGRAPH` | unset: the supergraph built into the binary |
//! | `gateway.subgraph_timeout_ms` | `BIGMEMBER_GATEWAY__SUBGRAPH_TIMEOUT_MS` | `10000` |
//! | `gateway.plan_cache_size` | `BIGMEMBER_GATEWAY__PLAN_CACHE_SIZE` | `1000` |
//! | `gateway.introspection` | `BIGMEMBER_GATEWAY__INTROSPECTION` | `true` |
//! | `gateway.coalesce_subgraph_fetches` | `BIGMEMBER_GATEWAY__COALESCE_SUBGRAPH_FETCHES` | `true` |
//! | `gateway.coalesce_client_requests` | `BIGMEMBER_GATEWAY__COALESCE_CLIENT_REQUESTS` | `false` |
//! | `gateway.pool_idle_timeout_secs` | `BIGMEMBER_GATEWAY__POOL_IDLE_TIMEOUT_SECS` | `30` |
//! | `gateway.plan_timeout_ms` | `BIGMEMBER_GATEWAY__PLAN_TIMEOUT_MS` | `5000` |
//! | `gateway.limits.max_bytes` … `max_fields` | `BIGMEMBER_GATEWAY__LIMITS__MAX_BYTES` … | 65536, depth 16, aliases 128, root fields 64, fields 2000 |
//! | `gateway.compression` | `BIGMEMBER_GATEWAY__COMPRESSION` | `true` |
//! | `gateway.cors.*` | | no other origin ([`CorsSettings`]) |
//! | `gateway.headers.*` | | the four headers of [`HeaderSettings::default`] to every subgraph |
//! | `http.max_body_bytes` | `BIGMEMBER_HTTP__MAX_BODY_BYTES` | `2097152` |
//! | `http.request_timeout_ms` | `BIGMEMBER_HTTP__REQUEST_TIMEOUT_MS` | `30000` |
//!
//! Unknown keys are errors naming them, and [`Config::check`] holds the
//! rules types cannot.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// The file read when no `--config` is given; absent is fine.
pub const DEFAULT_CONFIG_FILE: &str = "bigmember.toml";

/// The top-level keys of the configuration: only `BIGMEMBER_<key>…`
/// variables for these are configuration (others, such as the test
/// harness's `BIGMEMBER_TEST_DATABASE_URL`, are not read as config).
pub const TOP_LEVEL_KEYS: &[&str] = &[
    "data_dir", "host", "log", "auth", "events", "exchange", "gateway", "demo", "http", "services",
    "now", "tls", "jobs", "webhooks",
];

/// What `config check` prints in place of a secret.
pub const REDACTED: &str = "REDACTED";

/// Services and their default ports, in start order.
pub const SERVICE_PORTS: &[(&str, u16)] = &[
    ("member", 4001),
    ("store", 4002),
    ("product", 4003),
    ("alliance", 4004),
];

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub data_dir: PathBuf,
    pub host: IpAddr,
    /// The log filter; unset: `info` for servers, `warn` for one-shot
    /// commands (their stdout is their result).
    #[serde(default)]
    pub log: Option<String>,
    pub auth: AuthConfig,
    pub events: EventsConfig,
    #[serde(default)]
    pub exchange: ExchangeConfig,
    #[serde(default)]
    pub webhooks: WebhookSettings,
    #[serde(default)]
    pub gateway: GatewaySettings,
    #[serde(default)]
    pub demo: DemoConfig,
    /// Limits of every HTTP edge: the gateway's and each service's.
    #[serde(default)]
    pub http: HttpSettings,
    /// Outbound HTTPS: the private CAs trusted beside Mozilla's roots.
    #[serde(default)]
    pub tls: TlsSettings,
    /// Where the periodic jobs run.
    #[serde(default)]
    pub jobs: JobsConfig,
    pub services: BTreeMap<String, ServiceConfig>,
    /// For demos and tests only: the platform's clock starts at this RFC
    /// 3339 instant and runs on from there. Unset: the system clock.
    #[serde(default)]
    pub now: Option<String>,
}

/// Where the periodic jobs (activation, expiry, pickups, commission
/// approval) run.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct JobsConfig {
    /// `true`: every minute inside each service process (`up`, one
    /// replica). `false`: never there; something outside runs `bigmember
    /// job <name>` once per tick (the Kubernetes CronJobs), so that several
    /// replicas do not each run every job.
    pub in_process: bool,
}

impl Default for JobsConfig {
    fn default() -> Self {
        Self { in_process: true }
    }
}

/// Outbound HTTPS (see `kit::tls`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct TlsSettings {
    /// PEM files of CA certificates trusted for https:// subgraphs, feeds,
    /// the JWKS and OTLP, beside Mozilla's roots.
    pub ca_files: Vec<PathBuf>,
}

/// Who signs the tokens the platform accepts.
///
/// `development` (the default): one HS256 secret signs and verifies every
/// role (`jwt_secret`, or one generated once into the data directory).
/// `production`: people's tokens (members, staff, operators, partners'
/// people) come from the identity provider and are verified against its
/// JWKS (RS256 or ES256, `kid`, `iss`, `aud`); the platform signs only what
/// it issues itself (partner tokens traded for API keys, and each service's
/// own credential) with `platform_secret`, which verifies those two roles
/// and nothing else, so no service can make an operator's token.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    pub mode: AuthMode,
    /// Development only: the HS256 secret of every token.
    pub jwt_secret: Option<Secret>,
    /// Production: the HS256 secret of partner and service tokens.
    pub platform_secret: Option<Secret>,
    /// The identity provider's JSON Web Key Set.
    pub jwks_url: Option<String>,
    /// The `iss` its tokens must carry.
    pub issuer: Option<String>,
    /// The `aud` its tokens must carry.
    pub audience: Option<String>,
    /// How often the JWKS is fetched again, in seconds (a token with an
    /// unknown `kid` also asks for it, at most every 10 s).
    pub jwks_refresh_secs: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            mode: AuthMode::Development,
            jwt_secret: None,
            platform_secret: None,
            jwks_url: None,
            issuer: None,
            audience: None,
            jwks_refresh_secs: 300,
        }
    }
}

/// See [`AuthConfig`].
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    Development,
    Production,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsConfig {
    pub poll_interval_ms: u64,
    /// How long an event stays in its producer's outbox after every
    /// reader of the feed has applied it (hours, at least 1: the gateway
    /// reads the last hour's revoked partner keys when it starts). On
    /// JetStream, also how long the stream keeps an event.
    #[serde(default = "default_outbox_retention_hours")]
    pub outbox_retention_hours: u64,
    /// How events travel from a producer's outbox to its consumers.
    #[serde(default)]
    pub transport: EventTransport,
    /// The NATS server of `transport = "nats"`.
    #[serde(default = "default_nats_url")]
    pub nats_url: String,
    /// What the platform's JetStream streams, subjects and watermark
    /// bucket are named after (`<prefix>_<SERVICE>`, `<prefix>.<service>.…`):
    /// letters, digits, `_` and `-`.
    #[serde(default = "default_nats_prefix")]
    pub nats_prefix: String,
    /// How often each service's relay looks for new outbox events to
    /// publish to JetStream (milliseconds).
    #[serde(default = "default_relay_interval_ms")]
    pub relay_interval_ms: u64,
    /// Copies of each stream a NATS cluster keeps (1 to 5; 1 on a single
    /// server, 3 in a cluster of three).
    #[serde(default = "default_nats_replicas")]
    pub nats_replicas: u64,
}

/// How events travel from a producer to its consumers (see
/// `kit::events`): the same outbox and the same consumer code either way.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum EventTransport {
    /// Each consumer polls its producer's `GET /events`: nothing else to
    /// run (`up`).
    #[default]
    Http,
    /// Each producer's relay publishes its outbox to a NATS JetStream
    /// stream; consumers read the stream (production).
    Nats,
}

fn default_outbox_retention_hours() -> u64 {
    168
}

fn default_nats_url() -> String {
    "nats://127.0.0.1:4222".into()
}

fn default_nats_prefix() -> String {
    "bigmember".into()
}

fn default_relay_interval_ms() -> u64 {
    50
}

fn default_nats_replicas() -> u64 {
    1
}

/// Points exchange between programmes (the alliance service).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExchangeConfig {
    /// How long a quote holds its rate.
    pub quote_ttl_secs: u64,
}

impl Default for ExchangeConfig {
    fn default() -> Self {
        Self { quote_ttl_secs: 60 }
    }
}

/// Partners' webhooks (the alliance service): how deliveries are sent and
/// retried.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookSettings {
    /// How often due deliveries are looked for.
    pub poll_interval_ms: u64,
    /// How long an endpoint has to answer one delivery.
    pub timeout_ms: u64,
    /// The wait after the first failure; it doubles after each one (with
    /// jitter) up to `retry_cap_ms`.
    pub retry_base_ms: u64,
    pub retry_cap_ms: u64,
    /// Attempts before a delivery is marked FAILED.
    pub max_attempts: u32,
    /// How far ahead `POINTS_EXPIRING_SOON` warns of a lot's expiry.
    pub expiring_soon_days: u32,
    /// Whether endpoints may be on loopback, private, link-local or other
    /// non-public addresses (development: a receiver on 127.0.0.1). Off, a
    /// partner cannot make the platform POST into its own network.
    pub allow_private_urls: bool,
}

impl WebhookSettings {
    /// Every wait above zero, the cap at least the base, at least one
    /// attempt.
    pub fn check(&self) -> Result<(), String> {
        let positive = [
            ("poll_interval_ms", self.poll_interval_ms),
            ("timeout_ms", self.timeout_ms),
            ("retry_base_ms", self.retry_base_ms),
            ("max_attempts", u64::from(self.max_attempts)),
            ("expiring_soon_days", u64::from(self.expiring_soon_days)),
        ];
        if let Some((name, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return Err(format!("webhooks.{name}: must be above 0"));
        }
        if self.retry_cap_ms < self.retry_base_ms {
            return Err("webhooks.retry_cap_ms: must be at least webhooks.retry_base_ms".into());
        }
        Ok(())
    }
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            poll_interval_ms: 1_000,
            timeout_ms: 10_000,
            retry_base_ms: 10_000,
            retry_cap_ms: 6 * 3_600_000,
            max_attempts: 12,
            expiring_soon_days: 14,
            allow_private_urls: false,
        }
    }
}

/// The demo data set (`up --demo`, `seed`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DemoConfig {
    /// How many demo members (one in four has a till order); the tests
    /// take fewer.
    pub members: usize,
}

impl Default for DemoConfig {
    fn default() -> Self {
        Self { members: 1_000 }
    }
}

/// The gateway: where it listens and which supergraph it serves.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GatewaySettings {
    pub port: u16,
    /// A supergraph file; unset: the one built into the binary.
    pub supergraph: Option<PathBuf>,
    pub subgraph_timeout_ms: u64,
    pub plan_cache_size: usize,
    /// Whether the graph answers introspection (`__schema`, `__type`).
    pub introspection: bool,
    /// Whether identical subgraph fetches in flight at once are sent once.
    pub coalesce_subgraph_fetches: bool,
    /// Whether identical client queries in flight at once run once.
    pub coalesce_client_requests: bool,
    /// How long an idle connection to a subgraph is kept.
    pub pool_idle_timeout_secs: u64,
    /// How long planning one operation may take.
    pub plan_timeout_ms: u64,
    /// What one operation may ask for, checked before planning.
    pub limits: OperationLimits,
    /// Whether answers are compressed (gzip or brotli) for clients that
    /// send `accept-encoding`.
    pub compression: bool,
    /// Which web pages (origins) may call the graph from a browser.
    pub cors: CorsSettings,
    /// Which client request headers the gateway passes to subgraphs.
    pub headers: HeaderSettings,
    /// Requests per caller, per role and per operation.
    pub rate_limits: RateLimitSettings,
    /// Trusted documents (a manifest of persisted operations) and APQ.
    pub documents: DocumentSettings,
    /// Subgraphs whose request bodies are sent gzipped (those that accept
    /// `content-encoding: gzip`, as every bigmember service does), by name,
    /// or `["*"]` for all; bodies under 1 KiB are sent as they are.
    pub compress_subgraph_requests: Vec<String>,
}

/// Which operations the gateway runs, and the persisted ones it knows:
/// a manifest of trusted documents (id → document, as GraphQL Codegen,
/// Relay or Apollo's generator write it) and the APQ store.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(default, deny_unknown_fields)]
pub struct DocumentSettings {
    /// `allow_any` (default), `persisted_only` (only the manifest's
    /// documents run), or `log_unknown` (anything runs; what is not in the
    /// manifest is logged and counted).
    pub mode: DocumentMode,
    /// The manifest file, reloaded on SIGHUP or when it changes.
    pub manifest: Option<PathBuf>,
    /// Automatic persisted queries (Apollo's protocol).
    pub apq: ApqSettings,
}

/// Which operations run.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum DocumentMode {
    #[default]
    AllowAny,
    PersistedOnly,
    LogUnknown,
}

/// The APQ store: documents registered by clients under their SHA-256.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct ApqSettings {
    /// Whether clients may register documents (never in `persisted_only`).
    pub enabled: bool,
    /// `memory` (this process) or `redis` (shared by every replica).
    pub store: SharedStore,
    /// The Redis server of `store = "redis"`.
    pub redis_url: String,
    /// Prefix of every Redis key.
    pub redis_key_prefix: String,
    /// The largest document kept, in bytes (larger ones still run, and
    /// are sent in full every time).
    pub max_document_bytes: usize,
    /// The memory store's bound, in bytes of documents kept; the least
    /// recently used go first.
    pub memory_max_bytes: usize,
    /// How long Redis keeps a document unused, in seconds.
    pub redis_ttl_secs: u64,
}

impl Default for ApqSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            store: SharedStore::Memory,
            redis_url: "redis://127.0.0.1:6379".into(),
            redis_key_prefix: "bigmember:apq:".into(),
            max_document_bytes: 64 * 1024,
            memory_max_bytes: 16 * 1024 * 1024,
            redis_ttl_secs: 7 * 24 * 3600,
        }
    }
}

/// Token buckets per caller: a member, a partner brand, a staff member's
/// store, an operator, or the client's IP address when anonymous. A role
/// without a bucket is not limited; an operation's bucket applies on top
/// of the role's. Empty (the default): no limits.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitSettings {
    /// Where buckets are counted: `memory` (this process) or `redis`
    /// (shared by every gateway replica).
    pub store: SharedStore,
    /// The Redis server of `store = "redis"`.
    pub redis_url: String,
    /// Prefix of every Redis key (one platform, one prefix).
    pub redis_key_prefix: String,
    /// By role: `anonymous`, `member`, `partner`, `staff`, `operator`.
    pub roles: BTreeMap<String, Bucket>,
    /// By operation name, per caller, on top of the role's bucket.
    pub operations: BTreeMap<String, Bucket>,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        Self {
            store: SharedStore::Memory,
            redis_url: "redis://127.0.0.1:6379".into(),
            redis_key_prefix: "bigmember:rate:".into(),
            roles: BTreeMap::new(),
            operations: BTreeMap::new(),
        }
    }
}

/// Where state shared by gateway replicas (rate-limit buckets, APQ
/// documents) is kept.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SharedStore {
    Memory,
    Redis,
}

/// A token bucket: `burst` requests at once, refilled at `per_minute`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Bucket {
    pub per_minute: u32,
    pub burst: u32,
}

/// The most tokens a bucket refills a minute: one a microsecond.
pub const MAX_PER_MINUTE: u32 = 60_000_000;

/// The largest burst a bucket holds.
pub const MAX_BURST: u32 = 1_000_000;

impl Bucket {
    /// Within what can be counted: above zero, at most [`MAX_PER_MINUTE`]
    /// and [`MAX_BURST`]. The error starts with the field at fault.
    pub fn check(&self) -> Result<(), String> {
        if !(1..=MAX_PER_MINUTE).contains(&self.per_minute) {
            return Err(format!("per_minute: between 1 and {MAX_PER_MINUTE}"));
        }
        if !(1..=MAX_BURST).contains(&self.burst) {
            return Err(format!("burst: between 1 and {MAX_BURST}"));
        }
        Ok(())
    }
}

/// The roles a rate-limit bucket can be set for.
pub const RATE_LIMITED_ROLES: &[&str] = &[
    "anonymous",
    "member",
    "partner",
    "staff",
    "operator",
    "service",
];

/// The client request headers the gateway passes on to subgraphs, by name
/// (any case). Headers that are not listed never leave the gateway.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct HeaderSettings {
    /// To every subgraph without a list of its own.
    pub forward: Vec<String>,
    /// Subgraph response headers passed back to the client (from every
    /// subgraph a request reached; each distinct value once). Default none.
    pub respond: Vec<String>,
    /// A subgraph's own list (by its name in the supergraph), in place of
    /// `forward`.
    pub subgraphs: BTreeMap<String, SubgraphHeaderSettings>,
}

impl Default for HeaderSettings {
    fn default() -> Self {
        Self {
            forward: ["authorization", "traceparent", "tracestate", "x-request-id"]
                .map(String::from)
                .to_vec(),
            respond: Vec::new(),
            subgraphs: BTreeMap::new(),
        }
    }
}

/// One subgraph's headers.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct SubgraphHeaderSettings {
    pub forward: Vec<String>,
}

/// A list of header names and the subgraph it is for (`None`: every
/// subgraph without its own).
pub type HeaderList<'a> = (Option<&'a str>, Vec<axum::http::HeaderName>);

impl HeaderSettings {
    /// Every list; an invalid name is an error naming it.
    pub fn lists(&self) -> Result<Vec<HeaderList<'_>>, String> {
        let parse = |key: String, names: &[String]| {
            names
                .iter()
                .map(|n| {
                    axum::http::HeaderName::from_bytes(n.as_bytes())
                        .map_err(|_| format!("{key}: {n:?} is not a header name"))
                })
                .collect::<Result<Vec<_>, _>>()
        };
        let mut lists = vec![(
            None,
            parse("gateway.headers.forward".into(), &self.forward)?,
        )];
        for (name, own) in &self.subgraphs {
            let key = format!("gateway.headers.subgraphs.{name}.forward");
            lists.push((Some(name.as_str()), parse(key, &own.forward)?));
        }
        Ok(lists)
    }

    /// The `respond` list. Headers about the connection, the body's
    /// framing or encoding, CORS and cookies are the gateway's own answer's
    /// and cannot be passed back: an error names them.
    pub fn respond_list(&self) -> Result<Vec<axum::http::HeaderName>, String> {
        const GATEWAYS_OWN: [&str; 12] = [
            "connection",
            "keep-alive",
            "transfer-encoding",
            "content-length",
            "content-type",
            "content-encoding",
            "upgrade",
            "te",
            "trailer",
            "vary",
            "set-cookie",
            "retry-after",
        ];
        let mut names: Vec<axum::http::HeaderName> = Vec::new();
        for n in &self.respond {
            let name = axum::http::HeaderName::from_bytes(n.as_bytes())
                .map_err(|_| format!("gateway.headers.respond: {n:?} is not a header name"))?;
            let own = GATEWAYS_OWN.contains(&name.as_str())
                || name.as_str().starts_with("access-control-")
                || name.as_str().starts_with("proxy-");
            if own {
                return Err(format!(
                    "gateway.headers.respond: {n:?} belongs to the gateway's own answer and is not passed back"
                ));
            }
            if !names.contains(&name) {
                names.push(name);
            }
        }
        Ok(names)
    }
}

/// Limits of every HTTP edge (the gateway and each service).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct HttpSettings {
    /// Bytes of request body read; past it, 413 LIMIT_EXCEEDED before
    /// anything is parsed.
    pub max_body_bytes: usize,
    /// Milliseconds a whole request may take; past it, 504 REQUEST_TIMEOUT.
    pub request_timeout_ms: u64,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            max_body_bytes: 2 * 1024 * 1024,
            request_timeout_ms: 30_000,
        }
    }
}

/// Cross-origin access to the gateway from browsers (CORS). The default
/// lets no other origin in; preflights are answered by the gateway.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct CorsSettings {
    /// Origins let in exactly (`https://shop.example.com`); `"*"` lets any
    /// origin in (never with credentials).
    pub allow_origins: Vec<String>,
    /// Origins let in by pattern: regular expressions, each matched
    /// against the whole origin (`https://[a-z0-9-]+\.example\.com`).
    pub match_origins: Vec<String>,
    pub allow_methods: Vec<String>,
    /// Request headers a page may send.
    pub allow_headers: Vec<String>,
    /// Response headers a page may read.
    pub expose_headers: Vec<String>,
    /// Whether cookies and HTTP authentication may be sent.
    pub allow_credentials: bool,
    /// Seconds a browser may keep a preflight's answer.
    pub max_age_secs: u64,
}

impl Default for CorsSettings {
    fn default() -> Self {
        Self {
            allow_origins: Vec::new(),
            match_origins: Vec::new(),
            allow_methods: vec!["GET".into(), "POST".into()],
            allow_headers: [
                "content-type",
                "authorization",
                "x-request-id",
                "traceparent",
                "tracestate",
            ]
            .map(String::from)
            .to_vec(),
            expose_headers: ["x-request-id", "traceresponse"].map(String::from).to_vec(),
            allow_credentials: false,
            max_age_secs: 600,
        }
    }
}

impl CorsSettings {
    /// What `up --demo` allows when nothing is configured: pages served
    /// from this machine (`http://localhost:*`, `http://127.0.0.1:*`).
    pub fn local_pages() -> Self {
        Self {
            match_origins: vec![r"http://(localhost|127\.0\.0\.1|\[::1\])(:[0-9]+)?".into()],
            ..Self::default()
        }
    }

    /// Whether any origin is let in at all.
    pub fn lets_anyone_in(&self) -> bool {
        !self.allow_origins.is_empty() || !self.match_origins.is_empty()
    }
}

/// The size limits every operation is measured against before it is
/// validated or planned (fragments counted where spread, never expanded).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct OperationLimits {
    /// Bytes of operation text.
    pub max_bytes: usize,
    /// Nesting of selection sets, fragments counted where spread.
    pub max_depth: u64,
    /// Aliased fields, counted as if every fragment were written out.
    pub max_aliases: u64,
    /// Fields at the operation's root.
    pub max_root_fields: u64,
    /// Fields, counted as if every fragment were written out.
    pub max_fields: u64,
    /// Fields sharing one response key in one selection set (fragments
    /// written out): validation compares every pair of them.
    pub max_same_key: u64,
}

impl Default for OperationLimits {
    fn default() -> Self {
        Self {
            max_bytes: 64 * 1024,
            max_depth: 16,
            max_aliases: 128,
            max_root_fields: 64,
            max_fields: 2_000,
            max_same_key: 64,
        }
    }
}

impl OperationLimits {
    /// What a subgraph accepts when the gateway's limits are these: a
    /// subgraph fetch of an operation within them adds key fields,
    /// `__typename`s and the `_entities` level, so each limit has headroom.
    pub fn for_subgraphs(self) -> Self {
        Self {
            max_bytes: self.max_bytes.saturating_mul(2),
            max_depth: self.max_depth.saturating_add(4),
            max_aliases: self.max_aliases.saturating_mul(2),
            max_root_fields: self.max_root_fields.saturating_mul(2),
            max_fields: self.max_fields.saturating_mul(2),
            max_same_key: self.max_same_key.saturating_mul(2),
        }
    }
}

/// A Redis store's URL and key prefix, under `key`.
fn check_redis(key: &str, url: &str, prefix: &str) -> Result<(), ConfigError> {
    let scheme = url.split("://").next().unwrap_or_default();
    if !["redis", "rediss"].contains(&scheme) || !url.contains("://") {
        return Err(ConfigError::Rule(format!(
            "{key}.redis_url: a redis:// or rediss:// URL"
        )));
    }
    if prefix.is_empty() {
        return Err(ConfigError::Rule(format!(
            "{key}.redis_key_prefix: not empty (it keeps these keys apart from other data)"
        )));
    }
    Ok(())
}

impl Default for GatewaySettings {
    fn default() -> Self {
        Self {
            port: 4000,
            supergraph: None,
            subgraph_timeout_ms: 10_000,
            plan_cache_size: 1_000,
            introspection: true,
            coalesce_subgraph_fetches: true,
            coalesce_client_requests: false,
            pool_idle_timeout_secs: 30,
            plan_timeout_ms: 5_000,
            limits: OperationLimits::default(),
            compression: true,
            cors: CorsSettings::default(),
            headers: HeaderSettings::default(),
            rate_limits: RateLimitSettings::default(),
            documents: DocumentSettings::default(),
            compress_subgraph_requests: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    pub port: u16,
    pub database_url: Option<String>,
    /// How other services reach it; default `http://<host>:<port>`.
    #[serde(default)]
    pub url: Option<String>,
}

/// A secret value: never printed by `Debug`.
#[derive(Clone, Serialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

/// The shortest HS256 secret accepted: 256 bits, as the algorithm needs.
pub const MIN_SECRET_CHARS: usize = 32;

impl<'de> Deserialize<'de> for Secret {
    /// A string, or the digits of a number (an environment variable of
    /// digits arrives as one); never echoed in an error.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Secret;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a secret string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Secret, E> {
                Ok(Secret::new(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Secret, E> {
                Ok(Secret::new(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Secret, E> {
                Ok(Secret::new(v.to_string()))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data"),
            host: IpAddr::from([127, 0, 0, 1]),
            log: None,
            auth: AuthConfig::default(),
            events: EventsConfig {
                poll_interval_ms: 500,
                outbox_retention_hours: default_outbox_retention_hours(),
                transport: EventTransport::default(),
                nats_url: default_nats_url(),
                nats_prefix: default_nats_prefix(),
                relay_interval_ms: default_relay_interval_ms(),
                nats_replicas: default_nats_replicas(),
            },
            exchange: ExchangeConfig::default(),
            webhooks: WebhookSettings::default(),
            gateway: GatewaySettings::default(),
            demo: DemoConfig::default(),
            http: HttpSettings::default(),
            tls: TlsSettings::default(),
            jobs: JobsConfig::default(),
            now: None,
            services: SERVICE_PORTS
                .iter()
                .map(|(name, port)| {
                    (
                        (*name).to_owned(),
                        ServiceConfig {
                            port: *port,
                            database_url: None,
                            url: None,
                        },
                    )
                })
                .collect(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Not a `#[source]`: the error's own text quotes values (secrets
    /// too); [`describe`] is what is shown.
    #[error("configuration: {}", describe(.0))]
    Invalid(Box<figment::Error>),
    #[error("configuration file {0} does not exist")]
    MissingFile(PathBuf),
    #[error("no service named {0:?} in configuration (known: {1})")]
    UnknownService(String, String),
    #[error("could not read or create the development JWT secret at {0}: {1}")]
    DevSecret(PathBuf, std::io::Error),
    #[error(
        "no development signing secret at {0}: run this where you ran `bigmember up` (or pass --data-dir), or set auth.jwt_secret"
    )]
    NoDevSecret(PathBuf),
    #[error("now: {0}")]
    Now(String),
    #[error("configuration: {0}")]
    Rule(String),
}

impl From<Box<figment::Error>> for ConfigError {
    fn from(err: Box<figment::Error>) -> Self {
        ConfigError::Invalid(err)
    }
}

/// Flags given on the command line; each one set wins over file and env.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub now: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub services: BTreeMap<String, ServiceOverrides>,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct ServiceOverrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
}

impl Config {
    /// Loads configuration. `file` is an explicit `--config`: it must exist.
    /// Without it, `bigmember.toml` in the working directory is read if present.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(path) if !path.exists() => return Err(ConfigError::MissingFile(path.into())),
            Some(path) => figment = figment.merge(Toml::file(path)),
            None => figment = figment.merge(Toml::file(DEFAULT_CONFIG_FILE)),
        }
        if let Ok(filter) = std::env::var("RUST_LOG") {
            figment = figment.merge(("log", filter));
        }
        // A BIGMEMBER_ variable for no key is a typo (one underscore where
        // two were meant, say), never silently ignored; the test harness's
        // BIGMEMBER_TEST_*, the benches' BIGMEMBER_BENCH_* and the scripts'
        // BIGMEMBER_BIN are not configuration.
        for (name, _) in std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v))) {
            let Some(key) = name.strip_prefix("BIGMEMBER_") else {
                continue;
            };
            let top = key.split("__").next().unwrap_or_default();
            let tooling = key.starts_with("TEST_") || key.starts_with("BENCH_") || key == "BIN";
            if !tooling && !TOP_LEVEL_KEYS.iter().any(|k| k.eq_ignore_ascii_case(top)) {
                return Err(ConfigError::Rule(format!(
                    "environment variable {name}: no such configuration key (nested keys are joined by __, e.g. BIGMEMBER_GATEWAY__PORT)"
                )));
            }
        }
        let ours = |key: &figment::value::UncasedStr| {
            let top = key.as_str().split("__").next().unwrap_or_default();
            TOP_LEVEL_KEYS.iter().any(|k| k.eq_ignore_ascii_case(top))
        };
        figment = figment
            .merge(Env::prefixed("BIGMEMBER_").filter(ours).split("__"))
            .merge(Serialized::defaults(overrides));
        let config: Config = figment
            .extract()
            .map_err(|e| ConfigError::Invalid(Box::new(e)))?;
        config.check()?;
        Ok(config)
    }

    /// The rules a configuration must keep beyond its types: only known
    /// services, CORS settings a browser can use, HTTP limits above zero.
    pub fn check(&self) -> Result<(), ConfigError> {
        for name in self.services.keys() {
            if !SERVICE_PORTS.iter().any(|(known, _)| known == name) {
                let known: Vec<&str> = SERVICE_PORTS.iter().map(|(n, _)| *n).collect();
                return Err(ConfigError::Rule(format!(
                    "services.{name}: there is no such service (known: {})",
                    known.join(", ")
                )));
            }
        }
        self.webhooks.check().map_err(ConfigError::Rule)?;
        if let Err(e) = crate::edge::cors_layer(&self.gateway.cors) {
            return Err(ConfigError::Rule(format!("gateway.cors: {e}")));
        }
        self.gateway.headers.lists().map_err(ConfigError::Rule)?;
        self.gateway
            .headers
            .respond_list()
            .map_err(ConfigError::Rule)?;
        let limits = &self.gateway.rate_limits;
        for role in limits.roles.keys() {
            if !RATE_LIMITED_ROLES.contains(&role.as_str()) {
                return Err(ConfigError::Rule(format!(
                    "gateway.rate_limits.roles.{role}: no such role (known: {})",
                    RATE_LIMITED_ROLES.join(", ")
                )));
            }
        }
        let buckets = limits
            .roles
            .iter()
            .map(|(k, b)| (format!("roles.{k}"), b))
            .chain(
                limits
                    .operations
                    .iter()
                    .map(|(k, b)| (format!("operations.{k}"), b)),
            );
        for (key, bucket) in buckets {
            if let Err(e) = bucket.check() {
                return Err(ConfigError::Rule(format!("gateway.rate_limits.{key}.{e}")));
            }
        }
        for name in limits.operations.keys() {
            let mut chars = name.chars();
            let graphql_name = chars
                .next()
                .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
                && chars.all(|c| c == '_' || c.is_ascii_alphanumeric());
            if !graphql_name {
                return Err(ConfigError::Rule(format!(
                    "gateway.rate_limits.operations.{name:?}: not a GraphQL operation name"
                )));
            }
        }
        if limits.store == SharedStore::Redis {
            check_redis(
                "gateway.rate_limits",
                &limits.redis_url,
                &limits.redis_key_prefix,
            )?;
        }
        let documents = &self.gateway.documents;
        if documents.mode == DocumentMode::PersistedOnly && documents.manifest.is_none() {
            return Err(ConfigError::Rule(
                "gateway.documents.mode = \"persisted_only\" needs gateway.documents.manifest (else no operation could run)".into(),
            ));
        }
        if let Some(path) = &documents.manifest
            && !path.is_file()
        {
            return Err(ConfigError::Rule(format!(
                "gateway.documents.manifest: {} is not a file",
                path.display()
            )));
        }
        let apq = &documents.apq;
        if apq.enabled {
            if apq.store == SharedStore::Redis {
                check_redis(
                    "gateway.documents.apq",
                    &apq.redis_url,
                    &apq.redis_key_prefix,
                )?;
            }
            if apq.memory_max_bytes < apq.max_document_bytes {
                return Err(ConfigError::Rule(
                    "gateway.documents.apq.memory_max_bytes: at least max_document_bytes".into(),
                ));
            }
        }
        self.check_auth()?;
        self.check_events()?;
        for path in &self.tls.ca_files {
            if !path.is_file() {
                return Err(ConfigError::Rule(format!(
                    "tls.ca_files: {} is not a file",
                    path.display()
                )));
            }
        }
        let g = &self.gateway;
        let l = &g.limits;
        for (key, value) in [
            ("gateway.subgraph_timeout_ms", g.subgraph_timeout_ms),
            ("gateway.plan_timeout_ms", g.plan_timeout_ms),
            ("gateway.plan_cache_size", g.plan_cache_size as u64),
            ("gateway.limits.max_bytes", l.max_bytes as u64),
            ("gateway.limits.max_depth", l.max_depth),
            ("gateway.limits.max_aliases", l.max_aliases),
            ("gateway.limits.max_root_fields", l.max_root_fields),
            ("gateway.limits.max_fields", l.max_fields),
            ("gateway.limits.max_same_key", l.max_same_key),
            ("events.poll_interval_ms", self.events.poll_interval_ms),
            (
                "events.outbox_retention_hours",
                self.events.outbox_retention_hours,
            ),
            ("events.relay_interval_ms", self.events.relay_interval_ms),
            ("exchange.quote_ttl_secs", self.exchange.quote_ttl_secs),
            (
                "gateway.documents.apq.max_document_bytes",
                g.documents.apq.max_document_bytes as u64,
            ),
            (
                "gateway.documents.apq.redis_ttl_secs",
                g.documents.apq.redis_ttl_secs,
            ),
        ] {
            if value == 0 {
                return Err(ConfigError::Rule(format!("{key} must be above zero")));
            }
        }
        for (name, service) in &self.services {
            if let Some(url) = &service.database_url {
                let scheme = url.split(':').next().unwrap_or_default();
                if !["sqlite", "postgres", "postgresql"].contains(&scheme) {
                    return Err(ConfigError::Rule(format!(
                        "services.{name}.database_url: a sqlite:// or postgres:// URL"
                    )));
                }
            }
        }
        if let Some(filter) = &self.log
            && let Err(e) = tracing_subscriber::EnvFilter::try_new(filter)
        {
            return Err(ConfigError::Rule(format!(
                "log: {filter:?} is not a log filter: {e}"
            )));
        }
        if let Some(path) = &g.supergraph
            && !path.is_file()
        {
            return Err(ConfigError::Rule(format!(
                "gateway.supergraph: no file at {}",
                path.display()
            )));
        }
        if self.http.max_body_bytes == 0 || self.http.request_timeout_ms == 0 {
            return Err(ConfigError::Rule(
                "http.max_body_bytes and http.request_timeout_ms must be above zero".into(),
            ));
        }
        Ok(())
    }

    /// The configuration with its secrets replaced by [`REDACTED`]: the JWT
    /// secret and the passwords in database URLs.
    pub fn redacted(&self) -> Self {
        let mut copy = self.clone();
        for secret in [&mut copy.auth.jwt_secret, &mut copy.auth.platform_secret] {
            if secret.is_some() {
                *secret = Some(Secret::new(REDACTED));
            }
        }
        if let Some(url) = &mut copy.auth.jwks_url {
            *url = redact_password(url);
        }
        for service in copy.services.values_mut() {
            for url in [&mut service.database_url, &mut service.url]
                .into_iter()
                .flatten()
            {
                *url = redact_password(url);
            }
        }
        for url in [
            &mut copy.gateway.rate_limits.redis_url,
            &mut copy.gateway.documents.apq.redis_url,
            &mut copy.events.nats_url,
        ] {
            *url = redact_password(url);
        }
        copy
    }

    pub fn service(&self, name: &str) -> Result<&ServiceConfig, ConfigError> {
        self.services.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.services.keys().map(String::as_str).collect();
            ConfigError::UnknownService(name.to_owned(), known.join(", "))
        })
    }

    /// The database URL of a service: configured, or its SQLite file under
    /// the data directory.
    pub fn database_url(&self, name: &str) -> Result<String, ConfigError> {
        let service = self.service(name)?;
        Ok(match &service.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}/{name}.db", self.data_dir.display()),
        })
    }

    /// Base URLs of every service but `except`, for consumers of their feeds.
    pub fn peers(&self, except: &str) -> BTreeMap<String, String> {
        self.services
            .iter()
            .filter(|(name, _)| name.as_str() != except)
            .map(|(name, s)| {
                let url = s
                    .url
                    .clone()
                    .unwrap_or_else(|| format!("http://{}:{}", self.host, s.port));
                (name.clone(), url)
            })
            .collect()
    }

    /// The log filter: configured, else `default`.
    pub fn log_filter<'a>(&'a self, default: &'a str) -> &'a str {
        self.log.as_deref().unwrap_or(default)
    }

    /// The platform's clock: the system clock, or for demos one starting at
    /// `now`. One per process: every service of `up` shares it.
    pub fn clock(&self) -> Result<crate::time::Clock, ConfigError> {
        match &self.now {
            None => Ok(crate::time::Clock::system()),
            Some(raw) => crate::time::parse_instant(raw)
                .map(crate::time::Clock::starting_at)
                .map_err(ConfigError::Now),
        }
    }

    /// The rules of `auth`: secrets long enough; in production, the
    /// identity provider and the platform secret set and no shared secret.
    fn check_events(&self) -> Result<(), ConfigError> {
        let events = &self.events;
        let prefix = &events.nats_prefix;
        if prefix.is_empty()
            || prefix.len() > 64
            || !prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(ConfigError::Rule(format!(
                "events.nats_prefix: {prefix:?} is not 1 to 64 letters, digits, '_' and '-' (it names streams and subjects)"
            )));
        }
        if !(1..=5).contains(&events.nats_replicas) {
            return Err(ConfigError::Rule(format!(
                "events.nats_replicas: {} is not 1 to 5 (JetStream keeps at most 5 copies)",
                events.nats_replicas
            )));
        }
        let scheme = events.nats_url.split("://").next().unwrap_or_default();
        let has_host = reqwest::Url::parse(&events.nats_url)
            .ok()
            .is_some_and(|url| url.host_str().is_some_and(|h| !h.is_empty()));
        if !events.nats_url.contains("://") || !["nats", "tls"].contains(&scheme) || !has_host {
            return Err(ConfigError::Rule(
                "events.nats_url: a nats:// or tls:// URL with a host (and a port from 1 to 65535, default 4222)".into(),
            ));
        }
        Ok(())
    }

    fn check_auth(&self) -> Result<(), ConfigError> {
        let auth = &self.auth;
        for (key, secret) in [
            ("auth.jwt_secret", &auth.jwt_secret),
            ("auth.platform_secret", &auth.platform_secret),
        ] {
            if let Some(secret) = secret
                && secret.expose().chars().count() < MIN_SECRET_CHARS
            {
                return Err(ConfigError::Rule(format!(
                    "{key}: at least {MIN_SECRET_CHARS} characters (HS256 needs 256 bits; a short secret lets anyone sign tokens)"
                )));
            }
        }
        let provider = [
            ("auth.jwks_url", &auth.jwks_url),
            ("auth.issuer", &auth.issuer),
            ("auth.audience", &auth.audience),
        ];
        if provider.iter().any(|(_, v)| v.is_some()) {
            let missing: Vec<&str> = provider
                .iter()
                .filter(|(_, v)| v.is_none())
                .map(|(k, _)| *k)
                .collect();
            if !missing.is_empty() {
                return Err(ConfigError::Rule(format!(
                    "{} not set: auth.jwks_url, auth.issuer and auth.audience go together (a provider's tokens are checked for all three)",
                    missing.join(", ")
                )));
            }
        }
        for (key, value) in provider {
            if value.as_ref().is_some_and(|v| v.trim().is_empty()) {
                return Err(ConfigError::Rule(format!("{key}: not empty")));
            }
        }
        if let Some(url) = &auth.jwks_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            return Err(ConfigError::Rule(
                "auth.jwks_url: an http:// or https:// URL".into(),
            ));
        }
        if auth.jwks_refresh_secs == 0 {
            return Err(ConfigError::Rule(
                "auth.jwks_refresh_secs must be above zero".into(),
            ));
        }
        if auth.mode == AuthMode::Production {
            if auth.jwt_secret.is_some() {
                return Err(ConfigError::Rule(
                    "auth.jwt_secret: a shared secret that signs every role is for development; in production set auth.platform_secret (partner and service tokens only) and the identity provider (auth.jwks_url, auth.issuer, auth.audience)".into(),
                ));
            }
            // Everything missing, named at once (not one per start).
            let mut missing = Vec::new();
            if auth.jwks_url.is_none() {
                missing.push("the identity provider: auth.jwks_url, auth.issuer and auth.audience (no development secret is made in production)");
            }
            if auth.platform_secret.is_none() {
                missing.push("auth.platform_secret (the services' own credential and partner tokens), the same for every service and gateway");
            }
            if !missing.is_empty() {
                return Err(ConfigError::Rule(format!(
                    "auth.mode = \"production\" needs {}",
                    missing.join("; and ")
                )));
            }
        }
        Ok(())
    }

    /// The keys every server of this configuration signs and verifies
    /// with (see [`AuthConfig`]). In development, the shared secret (made
    /// once if none is kept); the identity provider's keys are fetched in
    /// the background (call within a tokio runtime).
    pub fn keys(&self) -> Result<crate::auth::JwtKeys, ConfigError> {
        let mut keys = match self.auth.mode {
            AuthMode::Development => crate::auth::JwtKeys::hs256(&self.jwt_secret()?),
            AuthMode::Production => crate::auth::JwtKeys::platform(
                self.auth
                    .platform_secret
                    .as_ref()
                    .ok_or_else(|| ConfigError::Rule("auth.platform_secret is not set".into()))?,
            ),
        };
        if let (Some(url), Some(issuer), Some(audience)) =
            (&self.auth.jwks_url, &self.auth.issuer, &self.auth.audience)
        {
            keys = keys.with_provider(crate::jwks::ProviderKeys::start(
                crate::jwks::Provider {
                    jwks_url: url.clone(),
                    issuer: issuer.clone(),
                    audience: audience.clone(),
                },
                std::time::Duration::from_secs(self.auth.jwks_refresh_secs),
            ));
        }
        Ok(keys)
    }

    /// The HS256 secret: configured, or for development a random one kept in
    /// `<data_dir>/dev-jwt-secret` so that `up`, `seed` and `token` agree.
    pub fn jwt_secret(&self) -> Result<Secret, ConfigError> {
        if self.auth.mode == AuthMode::Production {
            return Err(ConfigError::Rule(
                "auth.mode = \"production\": there is no shared secret (tokens come from the identity provider; the platform signs partner and service tokens with auth.platform_secret)".into(),
            ));
        }
        if let Some(secret) = self.existing_jwt_secret()? {
            return Ok(secret);
        }
        let path = self.data_dir.join("dev-jwt-secret");
        let io = |e| ConfigError::DevSecret(path.clone(), e);
        std::fs::create_dir_all(&self.data_dir).map_err(io)?;
        let secret = crate::auth::random_secret();
        std::fs::write(&path, &secret).map_err(io)?;
        tracing::warn!(path = %path.display(), "no auth.jwt_secret configured: generated a development secret");
        Ok(Secret::new(secret))
    }

    /// The HS256 secret that is configured or already kept in the data
    /// directory; never makes one (`token` signs only what `up` verifies).
    pub fn existing_jwt_secret(&self) -> Result<Option<Secret>, ConfigError> {
        if let Some(secret) = &self.auth.jwt_secret {
            return Ok(Some(secret.clone()));
        }
        let path = self.data_dir.join("dev-jwt-secret");
        match std::fs::read_to_string(&path) {
            Ok(existing) if !existing.trim().is_empty() => Ok(Some(Secret::new(existing.trim()))),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ConfigError::DevSecret(path, e)),
        }
    }

    /// Like [`Config::existing_jwt_secret`], but its absence is an error
    /// naming where it was looked for (absolute).
    pub fn required_jwt_secret(&self) -> Result<Secret, ConfigError> {
        self.existing_jwt_secret()?.ok_or_else(|| {
            let path = self.data_dir.join("dev-jwt-secret");
            ConfigError::NoDevSecret(std::path::absolute(&path).unwrap_or(path))
        })
    }
}

/// A URL with its passwords (in the user part, or a query parameter such
/// as `password=`) replaced by [`REDACTED`]; a value that is not a URL is
/// redacted whole (it may hold anything).
pub fn redact_password(url: &str) -> String {
    let Ok(mut parsed) = reqwest::Url::parse(url) else {
        return REDACTED.to_owned();
    };
    if parsed.password().is_some() && parsed.set_password(Some(REDACTED)).is_err() {
        return REDACTED.to_owned();
    }
    if parsed.query().is_some() {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(k, v)| {
                let key = k.to_ascii_lowercase();
                let secret = ["password", "pass", "pwd", "sslpassword"].contains(&key.as_str())
                    || ["secret", "token", "key", "signature"]
                        .iter()
                        .any(|part| key.contains(part));
                (
                    k.into_owned(),
                    if secret {
                        REDACTED.to_owned()
                    } else {
                        v.into_owned()
                    },
                )
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.to_string()
}

/// Keys whose values are never shown, even in an error about them.
fn holds_a_secret(path: &str) -> bool {
    let path = path.to_ascii_lowercase();
    path.contains("secret") || path.ends_with("url")
}

/// A configuration error without the values that may be secret: for a key
/// that may hold one, only the key; for a file that does not parse, the
/// place but not the line (the parser quotes it).
fn describe(err: &figment::Error) -> String {
    err.clone()
        .into_iter()
        .map(|e| {
            let path = e.path.join(".");
            if holds_a_secret(&path) {
                return format!("{path}: not a valid value (not shown: it may be secret)");
            }
            // Each error once (figment's Display repeats the chain), its
            // key as written in the file.
            let mut text = e
                .kind
                .to_string()
                .lines()
                .filter(|line| {
                    let quoted = line.trim_start();
                    let number = quoted.trim_start_matches(|c: char| c.is_ascii_digit());
                    !(number.len() < quoted.len() && number.trim_start().starts_with('|'))
                })
                .collect::<Vec<_>>()
                .join("\n");
            if !path.is_empty() {
                text = format!("{path}: {text}");
            }
            if let Some(metadata) = &e.metadata {
                match &metadata.source {
                    Some(source) => text.push_str(&format!(" (in {source})")),
                    None => text.push_str(&format!(" (in {})", metadata.name)),
                }
            }
            text
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_put_each_service_on_its_port_and_sqlite_file() {
        let config = Config::load(None, &Overrides::default()).unwrap();
        assert_eq!(config.service("member").unwrap().port, 4001);
        assert_eq!(
            config.database_url("member").unwrap(),
            "sqlite://data/member.db"
        );
        assert!(config.service("nope").is_err());
    }

    #[test]
    fn file_then_flags_override_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bigmember.toml");
        std::fs::write(
            &file,
            "data_dir = \"/var/bigmember\"\n[services.member]\nport = 5001\n[exchange]\nquote_ttl_secs = 5\n",
        )
        .unwrap();
        let mut overrides = Overrides::default();
        overrides.services.insert(
            "member".into(),
            ServiceOverrides {
                port: None,
                database_url: Some("postgres://db/member".into()),
            },
        );
        let config = Config::load(Some(&file), &overrides).unwrap();
        assert_eq!(config.service("member").unwrap().port, 5001);
        assert_eq!(
            config.database_url("member").unwrap(),
            "postgres://db/member"
        );
        assert_eq!(config.data_dir, PathBuf::from("/var/bigmember"));
        assert_eq!(config.exchange.quote_ttl_secs, 5);
        // Services the file does not mention keep their defaults.
        assert_eq!(config.service("store").unwrap().port, 4002);
    }

    #[test]
    fn unknown_keys_are_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        for (text, named) in [
            ("[gateway]\nprot = 4000\n", "prot"),
            (
                "[services.member]\nport = 5001\ndatabase_uri = \"x\"\n",
                "database_uri",
            ),
            (
                "[gateway.cors]\nallow_origin = [\"https://a.example\"]\n",
                "allow_origin",
            ),
            ("[htpp]\nmax_body_bytes = 1\n", "htpp"),
            ("[services.loyalty]\nport = 5001\n", "services.loyalty"),
            (
                "[gateway.headers]\nforward = [\"not a header\"]\n",
                "gateway.headers.forward",
            ),
            (
                "[gateway.headers.subgraphs.member]\nforwrd = [\"x-a\"]\n",
                "forwrd",
            ),
            (
                "[gateway.rate_limits.roles.partners]\nper_minute = 1\nburst = 1\n",
                "gateway.rate_limits.roles.partners",
            ),
            (
                "[gateway.rate_limits.operations.Redeem]\nper_minute = 0\nburst = 1\n",
                "gateway.rate_limits.operations.Redeem",
            ),
            (
                "[gateway.rate_limits]\nstore = \"memcached\"\n",
                "memcached",
            ),
        ] {
            let file = dir.path().join("bigmember.toml");
            std::fs::write(&file, text).unwrap();
            let err = Config::load(Some(&file), &Overrides::default()).unwrap_err();
            assert!(err.to_string().contains(named), "{text}: {err}");
        }
    }

    #[test]
    fn errors_never_quote_a_secret() {
        let dir = tempfile::tempdir().unwrap();
        for (text, secret) in [
            ("[auth]\njwt_secret = 1234567\n", "1234567"),
            ("[auth]\njwt_secret = \"S3CRET-line\" junk\n", "S3CRET"),
            ("[services.member]\ndatabase_url = 12345\n", "12345"),
            (
                "[services.member]\ndatabase_url = [\"postgres://a:pw9@x/y\"]\n",
                "pw9",
            ),
        ] {
            let file = dir.path().join("bigmember.toml");
            std::fs::write(&file, text).unwrap();
            let err = Config::load(Some(&file), &Overrides::default())
                .unwrap_err()
                .to_string();
            assert!(!err.contains(secret), "{text}: {err}");
            assert!(
                err.contains("jwt_secret")
                    || err.contains("database_url")
                    || err.contains("line 2"),
                "{text}: {err}"
            );
        }
    }

    #[test]
    fn cors_patterns_that_do_not_compile_are_refused() {
        let mut config = Config::default();
        config.gateway.cors.match_origins = vec!["https://(".into()];
        let err = config.check().unwrap_err();
        assert!(err.to_string().contains("gateway.cors"), "{err}");
        let mut config = Config::default();
        config.gateway.cors.allow_origins = vec!["*".into()];
        config.gateway.cors.allow_credentials = true;
        assert!(config.check().is_err());
    }

    #[test]
    fn the_top_level_keys_are_the_configuration_s_keys() {
        let serialized = serde_json::to_value(Config::default()).unwrap();
        let mut keys: Vec<&str> = serialized
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        let mut listed = TOP_LEVEL_KEYS.to_vec();
        listed.sort_unstable();
        assert_eq!(keys, listed);
    }

    #[test]
    fn redaction_hides_the_secret_and_database_passwords() {
        let mut config = Config::default();
        config.auth.jwt_secret = Some(Secret::new("s3cret-value"));
        config.services.get_mut("member").unwrap().database_url =
            Some("postgres://app:pa55word@db:5432/member".into());
        config.services.get_mut("store").unwrap().database_url =
            Some("postgres://app@db:5432/store".into());
        config.services.get_mut("product").unwrap().database_url =
            Some("postgres://db/product?user=app&password=hunter2&sslmode=require".into());
        config.services.get_mut("alliance").unwrap().url =
            Some("http://svc:t0ken@alliance.internal:4004".into());
        config.gateway.rate_limits.redis_url = "redis://:redispw@redis.internal:6379".into();
        config.gateway.documents.apq.redis_url = "rediss://apq:apqpw@redis.internal:6380".into();
        config.events.nats_url = "nats://relay:natspw@nats.internal:4222".into();
        config.auth.platform_secret = Some(Secret::new("platform-value-0123456789abcdefgh"));
        config.auth.jwks_url =
            Some("https://idp:idppw@id.example/jwks.json?access_token=jwksqtoken".into());
        let shown = serde_json::to_string(&config.redacted()).unwrap();
        for secret in [
            "s3cret-value",
            "pa55word",
            "hunter2",
            "t0ken",
            "redispw",
            "apqpw",
            "natspw",
        ] {
            assert!(!shown.contains(secret), "{secret} shown: {shown}");
        }
        assert!(
            !shown.contains("s3cret-value") && !shown.contains("pa55word"),
            "{shown}"
        );
        assert!(
            shown.contains("postgres://app:REDACTED@db:5432/member"),
            "{shown}"
        );
        assert!(shown.contains("postgres://app@db:5432/store"), "{shown}");
    }

    #[test]
    fn events_settings_that_cannot_work_are_refused_naming_the_key() {
        let check = |edit: fn(&mut EventsConfig)| {
            let mut config = Config::default();
            edit(&mut config.events);
            config.check().err().map(|e| e.to_string())
        };
        assert_eq!(check(|_| {}), None);
        assert_eq!(check(|e| e.nats_url = "tls://nats.internal".into()), None);
        assert_eq!(check(|e| e.nats_replicas = 3), None);
        for (edit, key) in [
            (
                (|e| e.nats_prefix = "a.b".into()) as fn(&mut EventsConfig),
                "events.nats_prefix",
            ),
            (|e| e.nats_prefix = String::new(), "events.nats_prefix"),
            (|e| e.nats_prefix = "p".repeat(65), "events.nats_prefix"),
            (
                |e| e.nats_url = "http://nats:4222".into(),
                "events.nats_url",
            ),
            (|e| e.nats_url = "nats://".into(), "events.nats_url"),
            (
                |e| e.nats_url = "nats://127.0.0.1:99999".into(),
                "events.nats_url",
            ),
            (|e| e.nats_replicas = 0, "events.nats_replicas"),
            (|e| e.nats_replicas = 6, "events.nats_replicas"),
            (|e| e.relay_interval_ms = 0, "events.relay_interval_ms"),
        ] {
            let refused = check(edit).expect("refused");
            assert!(refused.contains(key), "{refused}");
        }
    }

    #[test]
    fn an_explicit_missing_file_is_an_error() {
        let err = Config::load(
            Some(Path::new("/nonexistent/bigmember.toml")),
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(matches!(err, ConfigError::MissingFile(_)));
    }

    #[test]
    fn dev_secret_is_created_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            data_dir: dir.path().to_owned(),
            ..Config::default()
        };
        let first = config.jwt_secret().unwrap();
        let second = config.jwt_secret().unwrap();
        assert_eq!(first, second);
        assert!(first.expose().len() >= 32);
        assert_eq!(format!("{first:?}"), "Secret(***)");
    }
}
