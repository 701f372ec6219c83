//! The one test harness: a database of the test's own, and the real service
//! app on a random port, driven over HTTP.
//!
//! The backend comes from one variable, `BIGMEMBER_TEST_DATABASE_URL`: unset,
//! each test gets a fresh SQLite file; set to a `postgres://` URL, each test
//! gets a fresh schema in that database. Tests never share state.

use std::sync::Arc;

use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use serde_json::{Value, json};
use std::collections::HashMap;

use crate::auth::{JwtKeys, TokenRequest};
use crate::config::Secret;
use crate::db::{self, ConnectSettings, StatementLog};
use crate::service::{self, ServiceContext, ServiceSpec};
use crate::shutdown::{self, ShutdownTrigger};
use crate::time::Clock;

pub const TEST_DATABASE_ENV: &str = "BIGMEMBER_TEST_DATABASE_URL";

/// Sets the moment every test's clock starts at (RFC 3339): the whole suite
/// runs "at" a month end, on 29 February, at a DST change… Unset: the
/// system clock.
pub const TEST_NOW_ENV: &str = "BIGMEMBER_TEST_NOW";

/// A test's clock: it starts at [`TEST_NOW_ENV`] when that is set (and runs
/// on from there), else it is the system clock. Share one between the apps
/// of a test, as `up` shares one between its services.
pub fn clock() -> Clock {
    Clock::from_env(TEST_NOW_ENV).unwrap_or_else(|e| panic!("{e}"))
}

/// A service with nothing but the kit (outbox and feed): a stand-in
/// producer for tests of consumers whose real producer is elsewhere.
pub static FEED_ONLY: ServiceSpec = ServiceSpec {
    name: "feed-only",
    about: "a producer of events for tests",
    migrate: |db| {
        use futures::FutureExt as _;
        use sea_orm_migration::MigratorTrait as _;
        KitOnly::up(db, None).boxed()
    },
    routes: |_| axum::Router::new(),
    seed_demo: |_| {
        use futures::FutureExt as _;
        async {
            Ok(crate::demo::Loaded {
                part: "feed-only",
                what: "nothing".into(),
                new: 0,
            })
        }
        .boxed()
    },
    sdl: String::new,
    background: |_| Vec::new(),
    jobs: &[],
    export_member_data: None,
};

struct KitOnly;

impl sea_orm_migration::MigratorTrait for KitOnly {
    fn migrations() -> Vec<Box<dyn sea_orm_migration::MigrationTrait>> {
        crate::migration::kit_migrations()
    }
}

impl TestApp {
    /// Publishes `event` into this app's outbox, in a transaction of its
    /// own, and numbers it; its number.
    pub async fn publish<E: crate::events::DomainEvent>(&self, event: &E) -> i64 {
        use sea_orm::TransactionTrait as _;
        use sea_orm::{ColumnTrait as _, EntityTrait as _, QueryFilter as _};
        let txn = self.db().begin().await.expect("begin");
        let id = crate::events::outbox::publish(&txn, event, self.clock().now())
            .await
            .expect("publish");
        txn.commit().await.expect("commit");
        crate::events::outbox::sequence(self.db())
            .await
            .expect("sequence");
        use crate::events::entities::outbox_event;
        outbox_event::Entity::find()
            .filter(outbox_event::Column::EventId.eq(id))
            .one(self.db())
            .await
            .expect("read back")
            .expect("numbered")
            .seq
    }
}

/// The databases a bench runs on: SQLite, then PostgreSQL at
/// `BIGMEMBER_BENCH_POSTGRES_URL` (default the local test database) when it
/// answers; an unreachable one is reported and left out.
pub async fn bench_databases() -> Vec<(&'static str, TestDatabase)> {
    let mut out = vec![("sqlite", TestDatabase::sqlite())];
    let url = std::env::var("BIGMEMBER_BENCH_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/bigmember_test".into());
    match db::connect(&url, ConnectSettings::default(), None).await {
        Ok(conn) => {
            conn.close().await.ok();
            out.push(("postgres", TestDatabase::postgres(url).await));
        }
        Err(err) => println!("postgres: skipped, unreachable at {url}: {err}"),
    }
    out
}

/// What a bench measured: each request's latency, and the wall-clock time
/// they took together.
pub struct Latencies {
    sorted: Vec<std::time::Duration>,
    elapsed: std::time::Duration,
}

impl Latencies {
    pub fn new(mut latencies: Vec<std::time::Duration>, elapsed: std::time::Duration) -> Self {
        latencies.sort();
        Self {
            sorted: latencies,
            elapsed,
        }
    }

    /// Waits for client tasks that each return their latencies; `started`
    /// is when the first of them was spawned.
    pub async fn of_clients(
        clients: impl IntoIterator<Item = tokio::task::JoinHandle<Vec<std::time::Duration>>>,
        started: std::time::Instant,
    ) -> Self {
        let latencies = futures::future::join_all(clients)
            .await
            .into_iter()
            .flat_map(|client| client.expect("bench client"))
            .collect();
        Self::new(latencies, started.elapsed())
    }

    /// Requests per second, over the wall-clock time.
    pub fn per_second(&self) -> f64 {
        self.sorted.len() as f64 / self.elapsed.as_secs_f64()
    }

    /// The `p`-th quantile (0 to 1) in milliseconds; 0 with no requests.
    pub fn ms(&self, p: f64) -> f64 {
        let last = self.sorted.len().saturating_sub(1);
        self.sorted
            .get(((self.sorted.len() as f64 * p) as usize).min(last))
            .map_or(0.0, |d| d.as_secs_f64() * 1e3)
    }
}

/// `p50 … ms  p95 … ms  p99 … ms`
impl std::fmt::Display for Latencies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "p50 {:>6.2} ms  p95 {:>6.2} ms  p99 {:>6.2} ms",
            self.ms(0.50),
            self.ms(0.95),
            self.ms(0.99)
        )
    }
}

/// A database (SQLite file or PostgreSQL schema) owned by one test.
#[derive(Clone)]
pub struct TestDatabase {
    pub url: String,
    pub schema: Option<String>,
    _dir: Option<Arc<tempfile::TempDir>>,
}

impl TestDatabase {
    pub async fn new() -> Self {
        match std::env::var(TEST_DATABASE_ENV) {
            Ok(url) if !url.trim().is_empty() => Self::postgres(url).await,
            _ => Self::sqlite(),
        }
    }

    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temp dir for test database");
        let url = format!("sqlite://{}/test.db", dir.path().display());
        Self {
            url,
            schema: None,
            _dir: Some(Arc::new(dir)),
        }
    }

    pub async fn postgres(url: String) -> Self {
        let admin = db::connect(&url, ConnectSettings::default(), None)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "{TEST_DATABASE_ENV} is set but its database cannot be used (is PostgreSQL up, and was the database created?): {e}"
                )
            });
        let schema = SchemaName::fresh();
        admin
            .execute(Statement::from_string(
                admin.get_database_backend(),
                schema.create_statement(),
            ))
            .await
            .expect("create test schema");
        admin.close().await.ok();
        Self {
            url,
            schema: Some(schema.0),
            _dir: None,
        }
    }

    pub async fn connect(&self, service: &'static str) -> DatabaseConnection {
        db::connect(
            &self.url,
            ConnectSettings {
                schema: self.schema.clone(),
                service,
            },
            None,
        )
        .await
        .expect("connect to test database")
    }
}

/// A schema name we generate: `t_` and 32 hex digits, nothing else, so the
/// one DDL statement that must name it cannot carry anything but that.
struct SchemaName(String);

impl SchemaName {
    fn fresh() -> Self {
        Self(format!("t_{}", uuid::Uuid::now_v7().simple()))
    }

    fn create_statement(&self) -> String {
        debug_assert!(self.0.len() == 34 && self.0[2..].bytes().all(|b| b.is_ascii_hexdigit()));
        format!("CREATE SCHEMA \"{}\"", self.0)
    }
}

/// A service running on a random local port, on its own test database.
pub struct TestApp {
    pub address: String,
    pub ctx: ServiceContext,
    pub statements: Arc<StatementLog>,
    pub database: TestDatabase,
    secret: Secret,
    client: reqwest::Client,
    trigger: ShutdownTrigger,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    spec: &'static ServiceSpec,
}

/// Starts `spec` on a fresh test database, with the test's [`clock`].
pub async fn spawn(spec: &'static ServiceSpec) -> TestApp {
    spawn_on(
        spec,
        TestDatabase::new().await,
        Secret::new(crate::auth::random_secret()),
        clock(),
    )
    .await
}

/// Starts `spec` on a given test database (fresh, or a restart's), signing
/// with `secret` and reading time from `clock`.
pub async fn spawn_on(
    spec: &'static ServiceSpec,
    database: TestDatabase,
    secret: Secret,
    clock: Clock,
) -> TestApp {
    crate::telemetry::init_for_tests();
    let statements = Arc::new(StatementLog::default());
    let keys = JwtKeys::hs256(&secret);
    let ctx = service::prepare(
        spec,
        &database.url,
        database.schema.clone(),
        keys,
        Some(statements.clone()),
        Arc::new(test_config()),
        clock,
    )
    .await
    .expect("service starts on its test database");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a port");
    let address = format!("http://{}", listener.local_addr().expect("local addr"));
    let (trigger, stop) = shutdown::channel();
    let app = service::app(spec, ctx.clone());
    let server = tokio::spawn(service::serve(listener, app, stop));
    TestApp {
        address,
        ctx,
        statements,
        database,
        secret,
        client: reqwest::Client::new(),
        trigger,
        server,
        spec,
    }
}

/// A GraphQL response as the client saw it.
#[derive(Debug, Clone)]
pub struct GraphqlResponse {
    pub status: u16,
    pub body: Value,
}

impl GraphqlResponse {
    pub fn data(&self) -> &Value {
        &self.body["data"]
    }

    pub fn errors(&self) -> &[Value] {
        self.body["errors"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The `extensions.code` of the first error.
    pub fn error_code(&self) -> Option<&str> {
        self.errors().first()?["extensions"]["code"].as_str()
    }

    /// The `extensions.field` of the first error.
    pub fn error_field(&self) -> Option<&str> {
        self.errors().first()?["extensions"]["field"].as_str()
    }

    /// Panics with the whole body when there are errors.
    #[track_caller]
    pub fn ok(&self) -> &Value {
        assert!(self.errors().is_empty(), "unexpected errors: {}", self.body);
        self.data()
    }
}

impl TestApp {
    pub fn keys(&self) -> &JwtKeys {
        &self.ctx.keys
    }

    pub fn token(&self, request: TokenRequest) -> String {
        self.ctx
            .keys
            .issue(request, chrono::Duration::hours(1))
            .expect("the test secret signs every role")
    }

    pub fn operator_token(&self) -> String {
        self.token(TokenRequest::operator("op-test"))
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.ctx.db
    }

    /// The app's clock (the test's: see [`clock`]).
    pub fn clock(&self) -> &Clock {
        &self.ctx.clock
    }

    /// Now, by the app's clock.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.ctx.clock.now()
    }

    pub async fn graphql(
        &self,
        token: Option<&str>,
        query: &str,
        variables: Value,
    ) -> GraphqlResponse {
        let mut request = self
            .client
            .post(format!("{}/graphql", self.address))
            .json(&serde_json::json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("graphql request");
        let status = response.status().as_u16();
        let body = response
            .json::<Value>()
            .await
            .expect("graphql response is JSON");
        GraphqlResponse { status, body }
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.get(format!("{}{path}", self.address))
    }

    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.post(format!("{}{path}", self.address))
    }

    /// Stops the server gracefully and starts it again on the same database
    /// with the same signing secret and clock.
    pub async fn restart(self) -> TestApp {
        let (spec, database, secret) = (self.spec, self.database.clone(), self.secret.clone());
        let clock = self.ctx.clock.clone();
        self.stop().await;
        spawn_on(spec, database, secret, clock).await
    }

    pub async fn stop(self) {
        self.trigger.fire();
        let _ = self.server.await;
        self.ctx.db.close().await.ok();
    }
}

/// The classic fragment bomb: `query{...F0} fragment F0 on Query{...F1
/// ...F1} … fragment F<levels> on Query{__typename}`, a few hundred bytes
/// that are 2^levels fields once written out.
pub fn fragment_fan_out(levels: usize) -> String {
    let mut text = String::from("query{...F0}");
    for i in 0..levels {
        text.push_str(&format!(
            " fragment F{i} on Query{{...F{} ...F{}}}",
            i + 1,
            i + 1
        ));
    }
    text.push_str(&format!(" fragment F{levels} on Query{{__typename}}"));
    text
}

/// Writes a row into `table` as an older schema held it (the entities
/// are today's): for migration tests that run the migrations up to some
/// point, write rows, then run the rest.
pub async fn insert_row(
    db: &DatabaseConnection,
    table: &str,
    columns: &[&str],
    values: Vec<sea_orm::Value>,
) {
    use sea_orm::ConnectionTrait;
    use sea_orm::sea_query::{Alias, Query};
    let mut stmt = Query::insert();
    stmt.into_table(Alias::new(table))
        .columns(columns.iter().map(|c| Alias::new(*c)))
        .values_panic(values.into_iter().map(Into::into));
    db.execute(db.get_database_backend().build(&stmt))
        .await
        .unwrap_or_else(|e| panic!("insert into {table}: {e}"));
}

/// The columns that name a member, in every service's tables.
pub const MEMBER_COLUMNS: &[&str] = &["member_id", "survivor_id", "merged_id", "given_by"];

/// For every table of `db` with a column in [`MEMBER_COLUMNS`]: how many of
/// its rows name one of `member_ids` (in any such column). The tables come
/// from the database's own catalogue, so a table added later is counted
/// without anyone listing it here.
pub async fn rows_naming_members(
    db: &DatabaseConnection,
    member_ids: &[String],
) -> std::collections::BTreeMap<String, u64> {
    use sea_orm::sea_query::{Alias, Condition, Expr, Func, Query};
    use sea_orm::{DbBackend, FromQueryResult};

    #[derive(FromQueryResult)]
    struct Column {
        table_name: String,
        column_name: String,
    }
    #[derive(FromQueryResult)]
    struct Count {
        n: i64,
    }
    let backend = db.get_database_backend();
    let catalogue = match backend {
        DbBackend::Postgres => {
            "SELECT table_name::text AS table_name, column_name::text AS column_name FROM information_schema.columns WHERE table_schema = current_schema()"
        }
        _ => {
            "SELECT m.name AS table_name, p.name AS column_name FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE m.type = 'table'"
        }
    };
    let columns = Column::find_by_statement(Statement::from_string(backend, catalogue))
        .all(db)
        .await
        .expect("the catalogue");
    let mut tables: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for c in columns {
        if MEMBER_COLUMNS.contains(&c.column_name.as_str()) {
            tables.entry(c.table_name).or_default().push(c.column_name);
        }
    }
    let mut counts = std::collections::BTreeMap::new();
    for (table, columns) in tables {
        let mut naming = Condition::any();
        for column in &columns {
            naming = naming
                .add(Expr::col(Alias::new(column.as_str())).is_in(member_ids.iter().cloned()));
        }
        let select = Query::select()
            .expr_as(Func::count(Expr::cust("*")), Alias::new("n"))
            .from(Alias::new(table.as_str()))
            .cond_where(naming)
            .to_owned();
        let n = Count::find_by_statement(backend.build(&select))
            .one(db)
            .await
            .expect("a count")
            .map_or(0, |c| c.n);
        counts.insert(table, n as u64);
    }
    counts
}

/// Checks a stored enum against the names rows already hold: every variant
/// is listed once with its stored name, each name reads back as its variant,
/// events and exports (serde) carry the same name, and a name that is none
/// of them is refused (a database error, which services answer as INTERNAL).
pub fn stored_names_hold<E>(names: &[(E, &str)])
where
    E: sea_orm::ActiveEnum<Value = String>
        + sea_orm::Iterable
        + serde::Serialize
        + std::fmt::Debug
        + PartialEq,
{
    assert_eq!(
        E::iter().count(),
        names.len(),
        "every variant of {} is listed",
        std::any::type_name::<E>()
    );
    for (variant, name) in names {
        assert_eq!(variant.to_value(), *name, "{variant:?} is stored as {name}");
        assert_eq!(&E::try_from_value(&(*name).to_owned()).unwrap(), variant);
        assert_eq!(
            serde_json::to_value(variant).unwrap(),
            *name,
            "{variant:?} in JSON"
        );
    }
    assert!(E::try_from_value(&"NOT_A_STORED_NAME".to_owned()).is_err());
}

/// An identity provider for tests: a JWKS served over HTTP on a random
/// port, whose keys the test adds, publishes and withdraws (rotation), and
/// that signs tokens with them (ES256 keys from ring; RS256 keys from the
/// `openssl` command).
pub struct IdentityProvider {
    pub jwks_url: String,
    pub issuer: String,
    pub audience: String,
    keys: std::sync::Mutex<HashMap<String, SigningKey>>,
    served: Arc<std::sync::RwLock<Value>>,
    /// How many times the JWKS was fetched.
    pub fetches: Arc<std::sync::atomic::AtomicUsize>,
}

struct SigningKey {
    algorithm: jsonwebtoken::Algorithm,
    encoding: jsonwebtoken::EncodingKey,
    jwk: Value,
}

impl IdentityProvider {
    pub async fn start() -> Self {
        let served = Arc::new(std::sync::RwLock::new(json!({ "keys": [] })));
        let fetches = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (set, count) = (served.clone(), fetches.clone());
        let app = axum::Router::new().route(
            "/.well-known/jwks.json",
            axum::routing::get(move || {
                let (set, count) = (set.clone(), count.clone());
                async move {
                    count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    axum::Json(set.read().unwrap().clone())
                }
            }),
        );
        let addr = serve_on_own_thread(app);
        Self {
            jwks_url: format!("http://{addr}/.well-known/jwks.json"),
            issuer: format!("http://{addr}/"),
            audience: "bigmember-test".into(),
            keys: std::sync::Mutex::default(),
            served,
            fetches,
        }
    }

    pub fn provider(&self) -> crate::jwks::Provider {
        crate::jwks::Provider {
            jwks_url: self.jwks_url.clone(),
            issuer: self.issuer.clone(),
            audience: self.audience.clone(),
        }
    }

    /// A new P-256 key (ES256) named `kid`, not yet published.
    pub fn add_es256(&self, kid: &str) {
        use base64::Engine as _;
        use ring::signature::KeyPair as _;
        let rng = ring::rand::SystemRandom::new();
        let alg = &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING;
        let pkcs8 = ring::signature::EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
        let pair = ring::signature::EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).unwrap();
        // The public key is 0x04 ‖ x ‖ y.
        let point = pair.public_key().as_ref();
        let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        let jwk = json!({
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
            "x": b64(&point[1..33]), "y": b64(&point[33..65]),
        });
        self.keys.lock().unwrap().insert(
            kid.to_owned(),
            SigningKey {
                algorithm: jsonwebtoken::Algorithm::ES256,
                encoding: jsonwebtoken::EncodingKey::from_ec_der(pkcs8.as_ref()),
                jwk,
            },
        );
    }

    /// A new 2048-bit RSA key (RS256) named `kid`, not yet published.
    pub fn add_rs256(&self, kid: &str) {
        use base64::Engine as _;
        let pem = std::process::Command::new("openssl")
            .args([
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
            ])
            .output()
            .expect("the openssl command makes the test's RSA keys");
        assert!(pem.status.success(), "openssl genpkey failed");
        let mut modulus = std::process::Command::new("openssl")
            .args(["rsa", "-noout", "-modulus"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(modulus.stdin.as_mut().unwrap(), &pem.stdout).unwrap();
        let modulus = modulus.wait_with_output().unwrap();
        let hex = String::from_utf8(modulus.stdout).unwrap();
        let hex = hex.trim().trim_start_matches("Modulus=");
        let n: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        let jwk = json!({
            "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
            "n": b64(&n), "e": "AQAB",
        });
        self.keys.lock().unwrap().insert(
            kid.to_owned(),
            SigningKey {
                algorithm: jsonwebtoken::Algorithm::RS256,
                encoding: jsonwebtoken::EncodingKey::from_rsa_pem(&pem.stdout).unwrap(),
                jwk,
            },
        );
    }

    /// Serves exactly these keys from now on.
    pub fn publish(&self, kids: &[&str]) {
        let keys = self.keys.lock().unwrap();
        let set: Vec<Value> = kids.iter().map(|k| keys[*k].jwk.clone()).collect();
        *self.served.write().unwrap() = json!({ "keys": set });
    }

    /// A token for `request` signed with `kid`, issued by this provider for
    /// its audience, valid for `ttl`.
    pub fn token(&self, kid: &str, request: TokenRequest, ttl: chrono::Duration) -> String {
        let now = chrono::Utc::now().timestamp();
        let mut claims = json!({
            "sub": request.sub, "role": request.role, "iss": self.issuer,
            "aud": self.audience, "iat": now, "exp": now + ttl.num_seconds(),
        });
        if let Some(brand) = request.brand {
            claims["brand"] = json!(brand);
        }
        if let Some(store) = request.store {
            claims["store"] = json!(store);
        }
        self.sign(kid, &claims)
    }

    /// Any claims, signed with `kid` (with its `kid` in the header).
    pub fn sign(&self, kid: &str, claims: &Value) -> String {
        let keys = self.keys.lock().unwrap();
        let key = &keys[kid];
        let mut header = jsonwebtoken::Header::new(key.algorithm);
        header.kid = Some(kid.to_owned());
        jsonwebtoken::encode(&header, claims, &key.encoding).unwrap()
    }
}

/// The NATS server the tests use (`nats-server -js`); default
/// `nats://127.0.0.1:4222`.
pub const TEST_NATS_ENV: &str = "BIGMEMBER_TEST_NATS_URL";

/// Events settings for JetStream on the test NATS server, with a prefix of
/// this test's own (its streams and watermarks touch no other test's).
pub fn jetstream_events() -> crate::config::EventsConfig {
    let mut events = crate::config::Config::default().events;
    events.transport = crate::config::EventTransport::Nats;
    if let Ok(url) = std::env::var(TEST_NATS_ENV) {
        events.nats_url = url;
    }
    events.nats_prefix = format!("t{}", uuid::Uuid::now_v7().simple());
    events
}

/// A connection to the test NATS server under a fresh prefix
/// ([`jetstream_events`]).
pub async fn jetstream() -> crate::events::jetstream::JetStream {
    crate::events::jetstream::JetStream::connect(&jetstream_events())
        .await
        .unwrap_or_else(|e| panic!("{e}: start nats-server -js, or set {TEST_NATS_ENV}"))
}

/// A local address that refuses connections for as long as it is held:
/// its socket is bound and never listens. (A port found free and released
/// at once can be taken by the next test's server, which then answers in
/// the down service's place.)
pub struct ClosedPort {
    _socket: tokio::net::TcpSocket,
    pub addr: std::net::SocketAddr,
}

impl ClosedPort {
    pub fn new() -> Self {
        let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
        socket
            .bind("127.0.0.1:0".parse().expect("an address"))
            .expect("a free port");
        let addr = socket.local_addr().expect("its address");
        Self {
            _socket: socket,
            addr,
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Default for ClosedPort {
    fn default() -> Self {
        Self::new()
    }
}

/// Serves `app` on 127.0.0.1 from a thread and runtime of its own, so it
/// answers even while the test's runtime is blocked (waiting on a child
/// process's output). Its address.
pub fn serve_on_own_thread(app: axum::Router) -> std::net::SocketAddr {
    listen_on_own_thread(|listener| async move {
        let _ = axum::serve(listener, app).await;
    })
}

/// A listener on 127.0.0.1 handed to `serve`, run on a thread and runtime
/// of its own (see [`serve_on_own_thread`]). Its address.
pub fn listen_on_own_thread<F>(
    serve: impl FnOnce(tokio::net::TcpListener) -> F + Send + 'static,
) -> std::net::SocketAddr
where
    F: std::future::Future<Output = ()>,
{
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            serve(listener).await
        })
    });
    addr
}

/// A server that counts the POSTs to `path` (an OTLP collector's
/// `/v1/traces`, a webhook receiver): its address and the count.
pub fn counting_server(path: &str) -> (std::net::SocketAddr, Arc<std::sync::atomic::AtomicUsize>) {
    let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = count.clone();
    let app = axum::Router::new().route(
        path,
        axum::routing::post(move || {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async { "" }
        }),
    );
    (serve_on_own_thread(app), count)
}

/// The configuration of a test's service: the defaults, except that
/// webhooks may go to the test's own receivers on 127.0.0.1.
pub fn test_config() -> crate::config::Config {
    let mut config = crate::config::Config::default();
    config.webhooks.allow_private_urls = true;
    config
}

/// What a [`WebhookReceiver`] answers to one request.
#[derive(Clone, Copy, Debug)]
pub enum Reply {
    Status(u16),
    /// Never answers (the sender's timeout, or its crash, ends the attempt).
    Hang,
}

/// One request a [`WebhookReceiver`] got.
#[derive(Clone, Debug)]
pub struct Received {
    pub signature: String,
    pub event_id: String,
    pub event_type: String,
    pub body: String,
}

/// A partner's webhook receiver on `POST /hook`: records each request and
/// answers from a script, then with `then`.
#[derive(Clone)]
pub struct WebhookReceiver {
    pub url: String,
    got: Arc<std::sync::Mutex<Vec<Received>>>,
    script: Arc<std::sync::Mutex<std::collections::VecDeque<Reply>>>,
    then: Arc<std::sync::Mutex<Reply>>,
}

impl WebhookReceiver {
    pub fn start(script: &[Reply], then: Reply) -> Self {
        use std::sync::Mutex;
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let script = Arc::new(Mutex::new(
            script
                .iter()
                .copied()
                .collect::<std::collections::VecDeque<_>>(),
        ));
        let then = Arc::new(Mutex::new(then));
        let (g, s, t) = (got.clone(), script.clone(), then.clone());
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
                let (g, s, t) = (g.clone(), s.clone(), t.clone());
                async move {
                    let header = |name: &str| {
                        headers
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_owned()
                    };
                    g.lock().unwrap().push(Received {
                        signature: header("bigmember-signature"),
                        event_id: header("bigmember-event-id"),
                        event_type: header("bigmember-event-type"),
                        body,
                    });
                    let next = s.lock().unwrap().pop_front();
                    let reply = next.unwrap_or(*t.lock().unwrap());
                    match reply {
                        Reply::Status(code) => (
                            axum::http::StatusCode::from_u16(code).unwrap(),
                            format!("answered {code}"),
                        ),
                        Reply::Hang => {
                            tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
                            (axum::http::StatusCode::OK, String::new())
                        }
                    }
                }
            }),
        );
        let addr = serve_on_own_thread(app);
        Self {
            url: format!("http://{addr}/hook"),
            got,
            script,
            then,
        }
    }

    /// Every request so far, in order.
    pub fn got(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Drops what is left of the script; answers `reply` from now on.
    pub fn answer_from_now(&self, reply: Reply) {
        self.script.lock().unwrap().clear();
        *self.then.lock().unwrap() = reply;
    }

    /// Waits (up to 60 s: a restarted platform may wait out a lease) until
    /// `n` requests have arrived; all of them.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        let began = std::time::Instant::now();
        loop {
            let got = self.got();
            if got.len() >= n || began.elapsed() > std::time::Duration::from_secs(60) {
                return got;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
}

/// A private certificate authority for tests, made once per process with
/// the `openssl` command: its certificate file (to trust, as
/// `tls.ca_files` does) and a server certificate for 127.0.0.1 and
/// localhost that it signed.
pub struct TestCa {
    pub ca_file: std::path::PathBuf,
    server_cert: std::path::PathBuf,
    server_key: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl TestCa {
    /// The process's trusted test CA.
    pub fn trusted() -> &'static TestCa {
        static CA: std::sync::OnceLock<TestCa> = std::sync::OnceLock::new();
        CA.get_or_init(TestCa::make)
    }

    /// Another CA, trusted by no one.
    pub fn stranger() -> &'static TestCa {
        static CA: std::sync::OnceLock<TestCa> = std::sync::OnceLock::new();
        CA.get_or_init(TestCa::make)
    }

    fn make() -> TestCa {
        let dir = tempfile::tempdir().unwrap();
        let at = |name: &str| dir.path().join(name);
        let openssl = |args: &[&str]| {
            let out = std::process::Command::new("openssl")
                .args(args)
                .current_dir(dir.path())
                .output()
                .expect("the openssl command makes the test CA");
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ];
        openssl(
            &[
                &["req", "-x509"][..],
                &ec,
                &[
                    "-keyout",
                    "ca.key",
                    "-out",
                    "ca.pem",
                    "-days",
                    "2",
                    "-subj",
                    "/CN=bigmember test CA",
                    "-addext",
                    "basicConstraints=critical,CA:TRUE",
                    "-addext",
                    "keyUsage=critical,keyCertSign,cRLSign",
                ],
            ]
            .concat(),
        );
        openssl(
            &[
                &["req"][..],
                &ec,
                &[
                    "-keyout",
                    "server.key",
                    "-out",
                    "server.csr",
                    "-subj",
                    "/CN=127.0.0.1",
                ],
            ]
            .concat(),
        );
        std::fs::write(
            at("server.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "server.ext",
        ]);
        TestCa {
            ca_file: at("ca.pem"),
            server_cert: at("server.pem"),
            server_key: at("server.key"),
            _dir: dir,
        }
    }

    /// An https:// front at 127.0.0.1 (this CA's certificate) that passes
    /// every connection's bytes on to `target`: a service behind TLS. Its
    /// base URL, `https://127.0.0.1:<port>`.
    pub fn front(&self, target: std::net::SocketAddr) -> String {
        use rustls::pki_types::pem::PemObject as _;
        let certs: Vec<_> = rustls::pki_types::CertificateDer::pem_file_iter(&self.server_cert)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let key = rustls::pki_types::PrivateKeyDer::from_pem_file(&self.server_key).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let addr = listen_on_own_thread(move |listener| async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    continue;
                };
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(socket).await else {
                        return;
                    };
                    let Ok(mut plain) = tokio::net::TcpStream::connect(target).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                });
            }
        });
        format!("https://{addr}")
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::Latencies;

    #[test]
    fn latencies_sort_and_give_quantiles_and_a_rate() {
        let ms = |n: u64| Duration::from_millis(n);
        let l = Latencies::new((1..=100).rev().map(ms).collect(), Duration::from_secs(2));
        assert_eq!(l.per_second(), 50.0);
        assert_eq!((l.ms(0.5), l.ms(0.95), l.ms(0.99)), (51.0, 96.0, 100.0));
        assert_eq!(l.ms(1.0), 100.0, "the top quantile is the slowest");
        assert_eq!(l.to_string(), "p50  51.00 ms  p95  96.00 ms  p99 100.00 ms");
        assert_eq!(Latencies::new(vec![], ms(1)).ms(0.5), 0.0);
    }
}
