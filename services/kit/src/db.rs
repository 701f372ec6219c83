//! Database connections: `sqlite://` (the embedded default) and `postgres://`,
//! both through sea-orm, with every statement counted for `/metrics`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, ConnectionTrait, DatabaseConnection, DbErr};
use sea_orm_migration::MigratorTrait;

/// Which backend a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of_url(url: &str) -> Result<Self, DbErr> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(DbErr::Custom(
                "database URL must start with sqlite:// or postgres://".into(),
            ))
        }
    }
}

/// Records the SQL of statements while enabled. Tests use it to prove that a
/// batch costs one query; production never enables it.
#[derive(Debug, Default)]
pub struct StatementLog {
    recording: std::sync::atomic::AtomicBool,
    statements: Mutex<Vec<String>>,
}

impl StatementLog {
    pub fn start(&self) {
        self.statements
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self.recording
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Stops recording and returns what was recorded.
    pub fn stop(&self) -> Vec<String> {
        self.recording
            .store(false, std::sync::atomic::Ordering::SeqCst);
        std::mem::take(&mut *self.statements.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn record(&self, sql: &str) {
        if self.recording.load(std::sync::atomic::Ordering::Relaxed) {
            self.statements
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(sql.to_owned());
        }
    }
}

/// Options for [`connect`].
#[derive(Debug, Clone, Default)]
pub struct ConnectSettings {
    /// PostgreSQL only: the schema to use (tests isolate themselves this way).
    pub schema: Option<String>,
    /// Label for metrics.
    pub service: &'static str,
}

/// Opens a connection pool.
///
/// SQLite gets one connection: SQLite allows a single writer, and with one
/// connection every transaction is serialised instead of failing with
/// SQLITE_BUSY mid-way. WAL keeps readers of the file (backups, `sqlite3`)
/// from blocking it. The file and its folder are created if missing.
pub async fn connect(
    url: &str,
    settings: ConnectSettings,
    log: Option<Arc<StatementLog>>,
) -> Result<DatabaseConnection, DbErr> {
    let backend = Backend::of_url(url)?;
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .sqlx_logging(false)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(30));
    match backend {
        Backend::Sqlite => {
            if let Some(parent) = sqlite_file(url).and_then(|p| p.parent().map(ToOwned::to_owned))
                && !parent.as_os_str().is_empty()
            {
                std::fs::create_dir_all(&parent).map_err(|e| {
                    DbErr::Custom(format!("cannot create {}: {e}", parent.display()))
                })?;
            }
            options.max_connections(1).min_connections(1);
            options.map_sqlx_sqlite_opts(|o| {
                o.create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .foreign_keys(true)
                    .busy_timeout(Duration::from_secs(10))
            });
        }
        Backend::Postgres => {
            options.max_connections(10).min_connections(0);
            if let Some(schema) = settings.schema {
                options.set_schema_search_path(schema);
            }
        }
    }
    let mut db = connect_retrying_a_locked_file(options, backend).await?;
    let service = settings.service;
    db.set_metric_callback(move |info| {
        let kind = statement_kind(&info.statement.sql);
        metrics::counter!("db_statements_total", "service" => service, "kind" => kind, "failed" => if info.failed { "true" } else { "false" }).increment(1);
        metrics::histogram!("db_statement_seconds", "service" => service, "kind" => kind)
            .record(info.elapsed.as_secs_f64());
        if let Some(log) = &log {
            log.record(&info.statement.sql);
        }
    });
    Ok(db)
}

/// Connects; on SQLite, tries again while the file is locked. Processes
/// opening a new file together race to switch it to WAL, and that switch
/// fails at once with "database is locked" rather than waiting out the
/// busy timeout: the loser tries again (for up to 10 s).
async fn connect_retrying_a_locked_file(
    options: ConnectOptions,
    backend: Backend,
) -> Result<DatabaseConnection, DbErr> {
    let mut tries = 0;
    loop {
        match sea_orm::Database::connect(options.clone()).await {
            Err(err)
                if backend == Backend::Sqlite
                    && tries < 100
                    && err.to_string().contains("database is locked") =>
            {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            connected => return connected,
        }
    }
}

/// Connects and applies every pending migration.
pub async fn connect_and_migrate<M: MigratorTrait>(
    url: &str,
    settings: ConnectSettings,
    log: Option<Arc<StatementLog>>,
) -> Result<DatabaseConnection, DbErr> {
    let db = connect(url, settings.clone(), log).await?;
    migrate_exclusively(&db, url, settings.service, M::up(&db, None)).await?;
    Ok(db)
}

/// Runs `migrate` on `db` (connected to `url`) while no other process
/// migrates the same database: replicas starting together, or a
/// `bigmember migrate` Job beside them, take turns, and each finds the
/// others' migrations applied. On PostgreSQL a transaction-scoped advisory
/// lock, keyed by `service` and the schema migrated, is held on one
/// connection while the migrations run on the pool's others; on SQLite an
/// exclusive lock on the file `<database>.migrate-lock` beside it.
pub async fn migrate_exclusively<F>(
    db: &DatabaseConnection,
    url: &str,
    service: &str,
    migrate: F,
) -> Result<(), DbErr>
where
    F: std::future::Future<Output = Result<(), DbErr>>,
{
    match Backend::of_url(url)? {
        Backend::Postgres => {
            let lock = sea_orm::TransactionTrait::begin(db).await?;
            lock.execute(sea_orm::Statement::from_sql_and_values(
                sea_orm::DatabaseBackend::Postgres,
                "SELECT pg_advisory_xact_lock(hashtext($1 || ':' || current_schema())::bigint)",
                [format!("bigmember-migrate:{service}").into()],
            ))
            .await?;
            let migrated = migrate.await;
            // Released by the transaction's end, whatever became of it.
            lock.rollback().await?;
            migrated
        }
        Backend::Sqlite => {
            let Some(file) = sqlite_file(url) else {
                return migrate.await; // in memory: this process alone
            };
            let mut name = file.into_os_string();
            name.push(".migrate-lock");
            let held = tokio::task::spawn_blocking(move || {
                let lock = std::fs::File::create(&name)?;
                lock.lock()?;
                Ok::<_, std::io::Error>(lock)
            })
            .await
            .map_err(|e| DbErr::Custom(format!("waiting for the migration lock: {e}")))?
            .map_err(|e| DbErr::Custom(format!("the migration lock file: {e}")))?;
            let migrated = migrate.await;
            drop(held);
            migrated
        }
    }
}

/// Checks the database answers (for `/readyz`).
pub async fn ping(db: &DatabaseConnection) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    db.execute(sea_orm::Statement::from_string(backend, "SELECT 1"))
        .await
        .map(|_| ())
}

/// True when the error is a unique-constraint violation (a concurrent insert
/// of the same natural key won the race).
pub fn is_unique_violation(err: &DbErr) -> bool {
    matches!(
        err.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    (!path.is_empty() && !path.starts_with(":memory:")).then(|| path.into())
}

fn statement_kind(sql: &str) -> &'static str {
    let head = sql.trim_start().get(..6).unwrap_or("").to_ascii_uppercase();
    match head.as_str() {
        "SELECT" => "select",
        "INSERT" => "insert",
        "UPDATE" => "update",
        "DELETE" => "delete",
        _ => "other",
    }
}

/// A stored enum: kept in a text column under its SCREAMING_SNAKE_CASE
/// names (sea-orm active enum), carried under the same names in events and
/// exports (serde), listable (`EnumIter`, which `testing::stored_names_hold`
/// checks every variant with). A stored name that is none of the variants
/// is a database error, which services answer as INTERNAL_SERVER_ERROR,
/// never as the client's fault. Further derives (`async_graphql::Enum`,
/// `Hash`) and docs go before `enum` as usual:
///
/// ```ignore
/// kit::stored_enum! {
///     /// Where a sale was made.
///     #[derive(async_graphql::Enum)]
///     pub enum Channel { App, StorePos }
/// }
/// ```
#[macro_export]
macro_rules! stored_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $($(#[$variant_meta:meta])* $variant:ident),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(
            Debug,
            Clone,
            Copy,
            PartialEq,
            Eq,
            sea_orm::EnumIter,
            sea_orm::DeriveActiveEnum,
            serde::Serialize,
            serde::Deserialize,
        )]
        #[sea_orm(
            rs_type = "String",
            db_type = "Text",
            rename_all = "SCREAMING_SNAKE_CASE"
        )]
        #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
        $vis enum $name {
            $($(#[$variant_meta])* $variant),+
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_is_read_from_the_url() {
        assert_eq!(
            Backend::of_url("sqlite://data/m.db").unwrap(),
            Backend::Sqlite
        );
        assert_eq!(
            Backend::of_url("postgres://u@h/db").unwrap(),
            Backend::Postgres
        );
        assert!(Backend::of_url("mysql://h/db").is_err());
    }

    #[test]
    fn sqlite_file_path_is_extracted() {
        assert_eq!(
            sqlite_file("sqlite://data/member.db?mode=rwc"),
            Some("data/member.db".into())
        );
        assert_eq!(sqlite_file("sqlite::memory:"), None);
    }

    #[test]
    fn statement_kinds() {
        assert_eq!(statement_kind("  select 1"), "select");
        assert_eq!(statement_kind("INSERT INTO x"), "insert");
        assert_eq!(statement_kind("BEGIN"), "other");
    }
}
