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

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// The file read when no `--config` is given; absent is fine.
pub const DEFAULT_CONFIG_FILE: &str = "bigmember.toml";

/// Services and their default ports, in start order.
pub const SERVICE_PORTS: &[(&str, u16)] = &[
    ("member", 4001),
    ("store", 4002),
    ("product", 4003),
    ("alliance", 4004),
];

#[derive(Debug, Clone, Serialize, Deserialize)]
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
    pub gateway: GatewaySettings,
    #[serde(default)]
    pub demo: DemoConfig,
    pub services: BTreeMap<String, ServiceConfig>,
    /// For demos and tests only: the platform's clock starts at this RFC
    /// 3339 instant and runs on from there. Unset: the system clock.
    #[serde(default)]
    pub now: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AuthConfig {
    pub jwt_secret: Option<Secret>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventsConfig {
    pub poll_interval_ms: u64,
}

/// Points exchange between programmes (the alliance service).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExchangeConfig {
    /// How long a quote holds its rate.
    pub quote_ttl_secs: u64,
}

impl Default for ExchangeConfig {
    fn default() -> Self {
        Self { quote_ttl_secs: 60 }
    }
}

/// The demo data set (`up --demo`, `seed`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
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
#[serde(default)]
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
}

/// The size limits every operation is measured against before it is
/// validated or planned (fragments counted where spread, never expanded).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
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
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServiceConfig {
    pub port: u16,
    pub database_url: Option<String>,
    /// How other services reach it; default `http://<host>:<port>`.
    #[serde(default)]
    pub url: Option<String>,
}

/// A secret value: never printed by `Debug`.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

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
            },
            exchange: ExchangeConfig::default(),
            gateway: GatewaySettings::default(),
            demo: DemoConfig::default(),
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
    #[error("configuration: {0}")]
    Invalid(#[from] Box<figment::Error>),
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
        figment = figment
            .merge(Env::prefixed("BIGMEMBER_").split("__"))
            .merge(Serialized::defaults(overrides));
        figment
            .extract()
            .map_err(|e| ConfigError::Invalid(Box::new(e)))
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

    /// The HS256 secret: configured, or for development a random one kept in
    /// `<data_dir>/dev-jwt-secret` so that `up`, `seed` and `token` agree.
    pub fn jwt_secret(&self) -> Result<Secret, ConfigError> {
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
