//! Running the `bigmember` command as a user does: in a scratch directory,
//! on SQLite files there, or on fresh PostgreSQL schemas when
//! `BIGMEMBER_TEST_DATABASE_URL` is set.

#![allow(dead_code)] // each test crate uses its own part of this

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};

/// The `bigmember` command in `dir`. When the suite runs at a set moment
/// (`BIGMEMBER_TEST_NOW`), the platform's clock starts there too.
pub fn bigmember(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bigmember"));
    // A small demo: the tests need a few members, not 1,000.
    cmd.current_dir(dir)
        .env("BIGMEMBER_LOG", "warn")
        .env("BIGMEMBER_DEMO__MEMBERS", "60")
        .env_remove("DATABASE_URL")
        .env_remove("BIGMEMBER_NOW");
    if let Ok(now) = std::env::var(kit::testing::TEST_NOW_ENV)
        && !now.trim().is_empty()
    {
        cmd.env("BIGMEMBER_NOW", now);
    }
    cmd
}

/// Every service on a port the OS picks, so tests can run side by side.
pub fn on_free_ports(cmd: &mut Command) -> &mut Command {
    for service in ["MEMBER", "STORE", "PRODUCT", "ALLIANCE"] {
        cmd.env(format!("BIGMEMBER_SERVICES__{service}__PORT"), "0");
    }
    cmd.env("BIGMEMBER_GATEWAY__PORT", "0");
    cmd
}

/// `seed --service NAME`, then `serve NAME --port 0`, in `dir`: the
/// running service and its subgraph's URL.
pub fn serve_seeded(dir: &std::path::Path, service: &str) -> (Running, String) {
    run_ok(bigmember(dir).args(["seed", "--service", service]));
    let mut cmd = bigmember(dir);
    cmd.args(["serve", service, "--port", "0"]);
    let running = Running::start(cmd);
    let url = graphql_url(&running.wait_for(&format!("{service} subgraph:")));
    (running, url)
}

/// Each service's database on a fresh PostgreSQL schema when
/// `BIGMEMBER_TEST_DATABASE_URL` is set (the variables that say so); none
/// otherwise (SQLite files under the data directory).
pub async fn test_databases() -> Vec<(String, String)> {
    let mut environment = Vec::new();
    if let Ok(url) = std::env::var("BIGMEMBER_TEST_DATABASE_URL")
        && !url.trim().is_empty()
    {
        for service in ["MEMBER", "STORE", "PRODUCT", "ALLIANCE"] {
            let db = kit::testing::TestDatabase::postgres(url.clone()).await;
            let schema = db.schema.expect("a PostgreSQL test schema");
            let sep = if url.contains('?') { '&' } else { '?' };
            environment.push((
                format!("BIGMEMBER_SERVICES__{service}__DATABASE_URL"),
                format!("{url}{sep}options=-c%20search_path%3D{schema}"),
            ));
        }
    }
    environment
}

/// An operator issues `brand`'s partner key with every scope and it is
/// traded for a token, through `graph`: the key's id and the token.
pub async fn partner_key(graph: &Endpoint, operator: &str, brand: &str) -> (String, String) {
    let all: Vec<String> = kit::auth::Scope::ALL
        .iter()
        .map(|s| s.name().to_uppercase())
        .collect();
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    partner_key_scoped(graph, operator, brand, &all).await
}

/// An operator issues `brand`'s partner key with `scopes` (GraphQL names,
/// e.g. `EARN`) and it is traded for a token: the key's id and the token.
pub async fn partner_key_scoped(
    graph: &Endpoint,
    operator: &str,
    brand: &str,
    scopes: &[&str],
) -> (String, String) {
    let issued = graph
        .data(
            Some(operator),
            "mutation($b: ID!, $s: [PartnerScope!]!) { issuePartnerKey(brandId: $b, label: \"till\", scopes: $s) { apiKey key { id } } }",
            json!({ "b": brand, "s": scopes }),
        )
        .await;
    let minted = graph
        .data(
            None,
            "mutation($k: String!) { partnerToken(apiKey: $k) { token } }",
            json!({ "k": issued["issuePartnerKey"]["apiKey"] }),
        )
        .await;
    (
        issued["issuePartnerKey"]["key"]["id"]
            .as_str()
            .unwrap()
            .to_owned(),
        minted["partnerToken"]["token"].as_str().unwrap().to_owned(),
    )
}

pub fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("bigmember runs");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Starts a long-running command and collects its stdout lines.
pub struct Running {
    pub child: Child,
    pub lines: mpsc::Receiver<String>,
}

impl Running {
    pub fn start(mut cmd: Command) -> Self {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self { child, lines }
    }

    /// Waits for a line containing `needle`; returns it. The wait between
    /// two lines is generous (seeding the full demo on PostgreSQL on a
    /// busy 2-core machine prints nothing for over a minute): it is there
    /// to end a hung test, not to time anything.
    pub fn wait_for(&self, needle: &str) -> String {
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(300))
                .unwrap_or_else(|_| panic!("no line containing {needle:?} within 300 s"));
            if line.contains(needle) {
                return line;
            }
        }
    }

    /// SIGTERM; whether it exited cleanly, and what it printed meanwhile.
    pub fn terminate(mut self) -> (bool, Vec<String>) {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
        let exit = self.child.wait().unwrap();
        let rest: Vec<String> = self.lines.try_iter().collect();
        (exit.success(), rest)
    }

    /// SIGKILL: a crash, nothing flushed or finished.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

/// A test that fails (panics) before stopping its process leaves nothing
/// running behind it.
impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub fn graphql_url(line: &str) -> String {
    line.split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("a URL")
        .to_owned()
}

/// A GraphQL endpoint (the graph, or one service's subgraph), asked as a
/// client would.
pub struct Endpoint {
    pub url: String,
    client: reqwest::Client,
}

impl Endpoint {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            client: reqwest::Client::new(),
        }
    }

    /// The whole response to a request.
    pub async fn ask(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        self.try_ask(token, query, variables).await.unwrap()
    }

    /// The whole response, or why none came (the gateway unreachable, or
    /// not answering JSON).
    pub async fn try_ask(
        &self,
        token: Option<&str>,
        query: &str,
        variables: Value,
    ) -> Result<Value, String> {
        let mut request = self
            .client
            .post(&self.url)
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.map_err(|e| e.to_string())?;
        response.json().await.map_err(|e| e.to_string())
    }

    /// `data` of a request that must succeed.
    pub async fn data(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let r = self.ask(token, query, variables).await;
        assert!(r.get("errors").is_none(), "{query}: {r}");
        r["data"].clone()
    }

    /// Asks until `done` holds of the data (consumers and reloads happen in
    /// the background); the first data that satisfies it.
    pub async fn eventually(
        &self,
        token: Option<&str>,
        query: &str,
        variables: Value,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        // Events travel through feeds polled in the background: on a
        // loaded 2-core machine (CI runs the suite's binaries in parallel)
        // that can take far longer than it does alone.
        let deadline = std::time::Instant::now() + Duration::from_secs(90);
        loop {
            let last = self.ask(token, query, variables.clone()).await;
            if done(&last["data"]) {
                return last["data"].clone();
            }
            if std::time::Instant::now() > deadline {
                panic!("{query}: still not there after 90 s: {last}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The whole platform (`bigmember up`) in a scratch directory, reached only
/// through its graph.
pub struct Platform {
    pub dir: tempfile::TempDir,
    /// Its environment: database URLs per service (PostgreSQL runs) and
    /// the demo's size.
    environment: Vec<(String, String)>,
    running: Option<Running>,
    /// The graph of the running platform (its port changes on each `up`).
    graph: Endpoint,
    /// Each service's own subgraph, by name, for checks of one service.
    subgraphs: Vec<(String, Endpoint)>,
    /// Events on JetStream under a prefix of this platform's own, deleted
    /// when it is dropped; `None`: over HTTP.
    jetstream: Option<kit::config::EventsConfig>,
    /// A deployment's processes ([`Platform::deploy`]): each replica set's
    /// services, and one gateway per set.
    replicas: std::sync::Mutex<Vec<Vec<Running>>>,
    gateways: Vec<Endpoint>,
    /// Its turn among this test binary's platforms ([`PLATFORMS`]),
    /// released when it is dropped.
    turn: Option<Turn>,
}

/// The platforms of one test binary take turns: a deployment (eight
/// services and two gateways) runs alone, the others side by side. On
/// PostgreSQL they share one server of 100 connections, and a deployment
/// beside another platform (each process's pool up to 10) ran out of them:
/// subgraph calls waited for a connection until they timed out.
static PLATFORMS: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

enum Turn {
    Shared(#[allow(dead_code)] tokio::sync::RwLockReadGuard<'static, ()>),
    Alone(#[allow(dead_code)] tokio::sync::RwLockWriteGuard<'static, ()>),
}

/// The services, in the order a deployment starts them.
pub const SERVICE_NAMES: [&str; 4] = ["member", "store", "product", "alliance"];

impl Platform {
    /// `up --demo` with a small demo (60 members: the tests need a few) on
    /// fresh databases, consumers polling every 50 ms.
    pub async fn start() -> Self {
        Self::start_with_members(60).await
    }

    /// `up --demo` with the full demo a person gets (1,000 members).
    pub async fn start_full() -> Self {
        Self::start_with_members(1_000).await
    }

    /// `up --demo` as [`Platform::start`], its events on NATS JetStream
    /// (`events.transport = "nats"`) under a prefix of its own.
    pub async fn start_on_jetstream() -> Self {
        Self::start_on(60, Some(kit::testing::jetstream_events())).await
    }

    /// `up --demo` as [`Platform::start`], with settings of its own
    /// (`BIGMEMBER_...` variables).
    pub async fn start_with(settings: &[(&str, &str)]) -> Self {
        let mut environment = test_databases().await;
        environment.push(("BIGMEMBER_DEMO__MEMBERS".into(), "60".into()));
        environment.extend(
            settings
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        let mut platform = Self::in_scratch(environment, None);
        platform.turn = Some(Turn::Shared(PLATFORMS.read().await));
        platform.up(&["--demo"], 50);
        platform
    }

    async fn start_with_members(members: usize) -> Self {
        Self::start_on(members, None).await
    }

    async fn start_on(members: usize, jetstream: Option<kit::config::EventsConfig>) -> Self {
        let mut environment = test_databases().await;
        environment.push(("BIGMEMBER_DEMO__MEMBERS".into(), members.to_string()));
        let mut platform = Self::in_scratch(environment, jetstream);
        platform.turn = Some(Turn::Shared(PLATFORMS.read().await));
        platform.up(&["--demo"], 50);
        platform
    }

    /// Nothing running yet, in a scratch directory, with `environment` and
    /// (events on JetStream) the transport's settings.
    fn in_scratch(
        mut environment: Vec<(String, String)>,
        jetstream: Option<kit::config::EventsConfig>,
    ) -> Self {
        // These platforms share the CI machine's two cores with the other
        // tests, two at a time, each polling its feeds every 50 ms (eight
        // services and two gateways in the deployment), on PostgreSQL too:
        // the tests are about answers and effects, not latency, so a
        // subgraph gets 30 s (default 10 s) and a whole request 120 s
        // (default 30 s). In CI's PostgreSQL pass a storesNear once took
        // longer than 30 s, and a product subgraph call longer than 10 s.
        environment.extend([
            (
                "BIGMEMBER_GATEWAY__SUBGRAPH_TIMEOUT_MS".to_owned(),
                "30000".to_owned(),
            ),
            (
                "BIGMEMBER_HTTP__REQUEST_TIMEOUT_MS".to_owned(),
                "120000".to_owned(),
            ),
        ]);
        if let Some(events) = &jetstream {
            environment.extend([
                ("BIGMEMBER_EVENTS__TRANSPORT".into(), "nats".into()),
                ("BIGMEMBER_EVENTS__NATS_URL".into(), events.nats_url.clone()),
                (
                    "BIGMEMBER_EVENTS__NATS_PREFIX".into(),
                    events.nats_prefix.clone(),
                ),
            ]);
        }
        Self {
            dir: tempfile::tempdir().unwrap(),
            environment,
            running: None,
            graph: Endpoint::new(""),
            subgraphs: Vec::new(),
            jetstream,
            replicas: Default::default(),
            gateways: Vec::new(),
            turn: None,
        }
    }

    /// The platform as Kubernetes runs it, on this machine: `bigmember
    /// migrate` and `seed` (the Job's work, and the demo), then each service
    /// twice and the gateway twice as separate `serve` processes, on
    /// PostgreSQL with events on NATS JetStream and no periodic jobs in the
    /// services (CronJobs' work). Replica set `r` is four services that know
    /// each other's addresses, and gateway `r` in front of them. `None`
    /// without PostgreSQL (`BIGMEMBER_TEST_DATABASE_URL`): replicas of one
    /// service share its database, which SQLite files are not made for.
    pub async fn deploy(sets: usize) -> Option<Self> {
        let mut environment = test_databases().await;
        if environment.is_empty() {
            return None;
        }
        environment.extend([
            ("BIGMEMBER_DEMO__MEMBERS".into(), "60".into()),
            ("BIGMEMBER_EVENTS__POLL_INTERVAL_MS".into(), "100".into()),
            ("BIGMEMBER_EVENTS__RELAY_INTERVAL_MS".into(), "20".into()),
            ("BIGMEMBER_JOBS__IN_PROCESS".into(), "false".into()),
        ]);
        let mut platform = Self::in_scratch(environment, Some(kit::testing::jetstream_events()));
        platform.turn = Some(Turn::Alone(PLATFORMS.write().await));
        platform.run(&["migrate"]);
        platform.run(&["seed"]);
        // Ports held together, so no two of them are the same; released
        // just before the services take them.
        let held: Vec<Vec<std::net::TcpListener>> = (0..sets)
            .map(|_| {
                SERVICE_NAMES
                    .iter()
                    .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
                    .collect()
            })
            .collect();
        let ports: Vec<Vec<u16>> = held
            .iter()
            .map(|set| set.iter().map(|l| l.local_addr().unwrap().port()).collect())
            .collect();
        drop(held);
        for set in &ports {
            let addresses: Vec<(String, String)> = SERVICE_NAMES
                .iter()
                .zip(set)
                .map(|(name, port)| {
                    (
                        format!("BIGMEMBER_SERVICES__{}__URL", name.to_uppercase()),
                        format!("http://127.0.0.1:{port}"),
                    )
                })
                .collect();
            let mut services = Vec::new();
            for (name, port) in SERVICE_NAMES.iter().zip(set) {
                let mut cmd = platform.command();
                cmd.args(["serve", name, "--port", &port.to_string()])
                    .envs(addresses.iter().map(|(k, v)| (k, v)));
                let running = Running::start(cmd);
                running.wait_for(&format!("{name} subgraph:"));
                services.push(running);
            }
            let mut cmd = platform.command();
            cmd.args(["serve", "gateway", "--port", "0"])
                .envs(addresses.iter().map(|(k, v)| (k, v)));
            let gateway = Running::start(cmd);
            let url = graphql_url(&gateway.wait_for("gateway:"));
            services.push(gateway);
            platform.replicas.lock().unwrap().push(services);
            platform.gateways.push(Endpoint::new(url));
        }
        platform.subgraphs = SERVICE_NAMES
            .iter()
            .zip(&ports[0])
            .map(|(name, port)| {
                (
                    (*name).to_owned(),
                    Endpoint::new(format!("http://127.0.0.1:{port}/graphql")),
                )
            })
            .collect();
        platform.use_gateway(0);
        Some(platform)
    }

    /// From now on, the graph is gateway `set`'s (a deployment's).
    pub fn use_gateway(&mut self, set: usize) {
        self.graph.url = self.gateways[set].url.clone();
    }

    /// Gateway `set` of a deployment.
    pub fn gateway(&self, set: usize) -> &Endpoint {
        &self.gateways[set]
    }

    /// SIGKILL to every service of replica set `set` (its gateway stays, its
    /// subgraphs gone): a node lost, nothing flushed or finished.
    pub fn kill_services(&self, set: usize) {
        let mut replicas = self.replicas.lock().unwrap();
        let services = std::mem::take(&mut replicas[set]);
        let mut gateway = None;
        for (i, running) in services.into_iter().enumerate() {
            if i < SERVICE_NAMES.len() {
                running.kill();
            } else {
                gateway = Some(running);
            }
        }
        replicas[set].extend(gateway);
    }

    /// The graph, as a client reaches it.
    pub fn graph(&self) -> &Endpoint {
        &self.graph
    }

    /// The graph's URL (`http://127.0.0.1:PORT/graphql`).
    pub fn graph_url(&self) -> &str {
        &self.graph.url
    }

    /// `service`'s own subgraph (`member`, `store`, `product`, `alliance`).
    pub fn subgraph(&self, service: &str) -> &Endpoint {
        self.subgraphs
            .iter()
            .find(|(name, _)| name == service)
            .map(|(_, endpoint)| endpoint)
            .unwrap_or_else(|| panic!("no subgraph {service}"))
    }

    /// `service`'s base URL (`http://127.0.0.1:PORT`: its feed, health).
    pub fn service_url(&self, service: &str) -> String {
        self.subgraph(service)
            .url
            .trim_end_matches("/graphql")
            .to_owned()
    }

    /// A connection to `service`'s database, as `up` uses it (the test's
    /// PostgreSQL schema, or the SQLite file under `./data`), for checks
    /// the graph cannot make.
    pub async fn database(&self, service: &str) -> sea_orm::DatabaseConnection {
        let key = format!(
            "BIGMEMBER_SERVICES__{}__DATABASE_URL",
            service.to_uppercase()
        );
        let url = self
            .environment
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, url)| url.clone())
            .unwrap_or_else(|| {
                format!(
                    "sqlite://{}/data/{service}.db?mode=rw",
                    self.dir.path().display()
                )
            });
        sea_orm::Database::connect(url)
            .await
            .unwrap_or_else(|e| panic!("{service}'s database: {e}"))
    }

    /// The environment its commands run with.
    pub fn env(&self) -> &[(String, String)] {
        &self.environment
    }

    /// A `bigmember` command on this platform's data.
    pub fn command(&self) -> Command {
        let mut cmd = bigmember(self.dir.path());
        cmd.envs(self.environment.iter().map(|(k, v)| (k, v)));
        cmd
    }

    /// Starts `up` (again), its consumers polling every `poll_ms` (on
    /// JetStream, its relays: a consumer there reads as events arrive).
    pub fn up(&mut self, args: &[&str], poll_ms: u64) {
        assert!(self.running.is_none(), "already up");
        let mut cmd = self.command();
        if self.jetstream.is_some() {
            cmd.env("BIGMEMBER_EVENTS__RELAY_INTERVAL_MS", poll_ms.to_string());
        }
        on_free_ports(
            cmd.arg("up")
                .args(args)
                .env("BIGMEMBER_EVENTS__POLL_INTERVAL_MS", poll_ms.to_string()),
        );
        let running = Running::start(cmd);
        // `up` lists each service's subgraph, then the graph.
        self.subgraphs = ["member", "store", "product", "alliance"]
            .into_iter()
            .map(|name| {
                let line = running.wait_for("/graphql");
                assert!(line.trim_start().starts_with(name), "{line}");
                (name.to_owned(), Endpoint::new(graphql_url(&line)))
            })
            .collect();
        self.graph.url = graphql_url(&running.wait_for("graph "));
        running.wait_for("Press Ctrl-C");
        self.running = Some(running);
    }

    /// Stops cleanly (SIGTERM); asserts it did.
    pub fn stop(&mut self) {
        let (clean, rest) = self.running.take().expect("up").terminate();
        assert!(clean, "up did not stop cleanly: {rest:?}");
    }

    /// Kills the process: a crash.
    pub fn crash(&mut self) {
        self.running.take().expect("up").kill();
    }

    /// Runs a `bigmember` command to completion; its stdout.
    pub fn run(&self, args: &[&str]) -> String {
        run_ok(self.command().args(args))
    }

    pub fn token(&self, args: &[&str]) -> String {
        let mut all = vec!["token"];
        all.extend_from_slice(args);
        self.run(&all).trim().to_owned()
    }

    /// `data` of a request to the graph that must succeed.
    pub async fn data(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        self.graph.data(token, query, variables).await
    }

    /// The whole answer of a request to the graph (data and errors).
    pub async fn ask(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        self.graph.ask(token, query, variables).await
    }

    /// See [`Endpoint::eventually`].
    pub async fn eventually(
        &self,
        token: Option<&str>,
        query: &str,
        variables: Value,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        self.graph.eventually(token, query, variables, done).await
    }
}

impl Drop for Platform {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            running.kill();
        }
        // Processes first: a relay still running would make its stream again.
        if let Ok(mut replicas) = self.replicas.lock() {
            replicas.clear();
        }
        if let Some(events) = self.jetstream.take() {
            // Its streams go with it (a runtime of its own: drop is sync).
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime");
                runtime.block_on(async {
                    if let Ok(js) = kit::events::jetstream::JetStream::connect(&events).await {
                        let _ = js.delete_all().await;
                    }
                });
            })
            .join();
        }
    }
}
