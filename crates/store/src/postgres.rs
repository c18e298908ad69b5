//! PostgreSQL storage, for several switchboard nodes sharing one configuration.
//!
//! ## Concurrency
//!
//! Every configuration write runs in a `READ COMMITTED` transaction that first takes a
//! transaction-level advisory lock (`pg_advisory_xact_lock` on [`WRITE_LOCK_KEY`]), then
//! reads the version. The lock serializes writers across all nodes; because each statement
//! of a `READ COMMITTED` transaction sees everything committed before it started, the
//! version read after the lock is granted includes the previous writer's commit. PostgreSQL
//! releases the lock at commit or rollback, also when a node dies mid-write (the server
//! ends its session). A write waits at most [`LOCK_TIMEOUT`] for the lock.
//!
//! The key is one constant per database, so stores in different schemas of one database
//! share the lock: harmless, because writes are short.
//!
//! [`load`](crate::Store::load) runs in a `REPEATABLE READ READ ONLY` transaction so the
//! version and the records come from one snapshot.
//!
//! ## Schemas
//!
//! [`PostgresStore::connect_with_schema`] keeps the tables (and sqlx's migration
//! bookkeeping) in a schema of their own, created if missing, by setting `search_path` on
//! every pooled connection. Tests use it to isolate themselves in a throwaway schema;
//! deployments can use it to share a database with other applications. Through
//! [`open`](crate::open), which takes only a URL, the libpq-style `options` parameter does
//! the same for an existing schema: `postgres://...?options[search_path]=NAME`.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::migrate::{MigrateError, Migrator};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::{Connection, Executor, Row};

use crate::common::{self, apply_locked, backend, cause, read_all, read_version};
use crate::{Change, Loaded, Store, StoreError, redact_database_url, scrub, url_secrets};

/// The PostgreSQL schema migrations, embedded in the binary.
static MIGRATOR: Migrator = sqlx::migrate!("migrations/postgres");

/// The advisory lock key guarding configuration writes ("SWBDCFG1" in ASCII).
pub const WRITE_LOCK_KEY: i64 = 0x5357_4244_4346_4731;

/// How long a write waits for another writer's lock (a PostgreSQL interval).
pub const LOCK_TIMEOUT: &str = "10s";

/// How long connecting (or waiting for a pooled connection) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections per node: configuration traffic is light.
const MAX_CONNECTIONS: u32 = 5;

/// The longest identifier PostgreSQL keeps (longer ones are silently truncated).
const MAX_IDENTIFIER_BYTES: usize = 63;

/// A [`Store`] in a PostgreSQL database.
#[derive(Debug)]
pub struct PostgresStore {
    pool: PgPool,
    description: String,
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE`,
    /// libpq-style query parameters such as `sslmode` allowed) and brings the schema up to
    /// date, using the role's default `search_path`.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with_schema(url, None).await
    }

    /// Like [`connect`](Self::connect), but with `Some(schema)` keeps everything in that
    /// schema: it is created if missing and `search_path` is set to it alone on every
    /// connection.
    pub async fn connect_with_schema(url: &str, schema: Option<&str>) -> Result<Self, StoreError> {
        let secrets = url_secrets(url);
        let options = PgConnectOptions::from_str(url).map_err(|e| {
            StoreError::Backend(format!(
                "invalid PostgreSQL database_url {:?}: {}; expected \
                 postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE",
                redact_database_url(url),
                scrub(&cause(&e), &secrets)
            ))
        })?;
        let location = location(&options);
        let schema_ident = schema.map(quote_schema).transpose()?;

        let mut pool_options = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(CONNECT_TIMEOUT);
        if let Some(ident) = &schema_ident {
            let set_search_path = format!("SET search_path TO {ident}");
            pool_options = pool_options.after_connect(move |conn, _meta| {
                let sql = set_search_path.clone();
                Box::pin(async move {
                    conn.execute(sql.as_str()).await?;
                    Ok(())
                })
            });
        }
        let cannot_connect = |err: sqlx::Error| {
            StoreError::Backend(format!(
                "cannot connect to PostgreSQL at {location}: {}; check database_url and that \
                 the server is running",
                scrub(&cause(&err), &secrets)
            ))
        };
        // One direct connection first: the pool would retry until its timeout and then
        // report only that it timed out, hiding the cause (refused, unknown role, ...).
        PgConnection::connect_with(&options)
            .await
            .map_err(cannot_connect)?
            .close()
            .await
            .map_err(cannot_connect)?;
        let pool = pool_options
            .connect_with(options)
            .await
            .map_err(cannot_connect)?;

        let prepared = async {
            if let (Some(name), Some(ident)) = (schema, &schema_ident) {
                create_schema(&pool, name, ident, &location).await?;
            }
            MIGRATOR
                .run(&pool)
                .await
                .map_err(|e| migration_error(&location, schema, e))
        };
        if let Err(err) = prepared.await {
            pool.close().await;
            return Err(err);
        }

        let description = match schema {
            Some(name) => format!("PostgreSQL at {location} (schema {name:?})"),
            None => format!("PostgreSQL at {location}"),
        };
        Ok(PostgresStore { pool, description })
    }

    /// Closes the connections; for an orderly shutdown. Later calls on this store fail.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// `host:port/database` (or the socket directory), never the user's password.
fn location(options: &PgConnectOptions) -> String {
    let host = match options.get_socket() {
        Some(socket) => socket.display().to_string(),
        None => options.get_host().to_owned(),
    };
    let database = options
        .get_database()
        .unwrap_or_else(|| options.get_username());
    format!("{host}:{}/{database}", options.get_port())
}

/// `name` as a quoted SQL identifier, refusing names PostgreSQL would mangle.
fn quote_schema(name: &str) -> Result<String, StoreError> {
    if name.is_empty() || name.len() > MAX_IDENTIFIER_BYTES || name.contains('\0') {
        return Err(StoreError::Backend(format!(
            "invalid PostgreSQL schema name {name:?}: it must be 1 to {MAX_IDENTIFIER_BYTES} \
             bytes long"
        )));
    }
    Ok(format!("\"{}\"", name.replace('"', "\"\"")))
}

async fn create_schema(
    pool: &PgPool,
    name: &str,
    ident: &str,
    location: &str,
) -> Result<(), StoreError> {
    let created = pool
        .execute(format!("CREATE SCHEMA IF NOT EXISTS {ident}").as_str())
        .await;
    let Err(err) = created else {
        return Ok(());
    };
    // Two nodes creating the same schema at once can race past IF NOT EXISTS; what matters
    // is that it exists now.
    let exists = sqlx::query("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
        .bind(name)
        .fetch_one(pool)
        .await
        .and_then(|row| row.try_get::<bool, _>(0));
    if let Ok(true) = exists {
        return Ok(());
    }
    Err(StoreError::Backend(format!(
        "cannot create schema {name:?} in PostgreSQL at {location}: {}; create it \
         beforehand or grant the role CREATE on the database",
        cause(&err)
    )))
}

fn migration_error(location: &str, schema: Option<&str>, err: MigrateError) -> StoreError {
    let target = match schema {
        Some(name) => format!("PostgreSQL at {location} (schema {name:?})"),
        None => format!("PostgreSQL at {location}"),
    };
    match err {
        MigrateError::VersionMissing(version) => StoreError::Backend(format!(
            "{target} has schema migration {version}, which this switchboard does not know: \
             it was written by a newer version; upgrade switchboard or use another database"
        )),
        err => StoreError::Backend(format!(
            "cannot prepare the switchboard schema in {target}: {err}; check that the role may \
             create tables there"
        )),
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn load(&self) -> Result<Loaded, StoreError> {
        let doing = "loading the configuration";
        let mut tx = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await
            .map_err(|e| backend(doing, e))?;
        let loaded = read_all::<sqlx::Postgres>(&mut tx).await?;
        tx.commit().await.map_err(|e| backend(doing, e))?;
        Ok(loaded)
    }

    async fn version(&self) -> Result<i64, StoreError> {
        read_version(&self.pool).await
    }

    async fn apply(&self, expected_version: i64, changes: &[Change]) -> Result<i64, StoreError> {
        let doing = "saving the configuration";
        // READ COMMITTED explicitly: under a stricter default isolation the snapshot would
        // predate the lock and the version check would miss the previous writer.
        let mut tx = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL READ COMMITTED")
            .await
            .map_err(|e| backend(doing, e))?;
        let result = async {
            let set_lock_timeout = format!("SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'");
            sqlx::query(&set_lock_timeout)
                .execute(&mut *tx)
                .await
                .map_err(|e| backend("taking the configuration write lock", e))?;
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(WRITE_LOCK_KEY)
                .execute(&mut *tx)
                .await
                .map_err(|e| match &e {
                    sqlx::Error::Database(db) if db.code().as_deref() == Some("55P03") => {
                        StoreError::Backend(format!(
                            "taking the configuration write lock: another writer held it for \
                             over {LOCK_TIMEOUT}; retry"
                        ))
                    }
                    _ => backend("taking the configuration write lock", e),
                })?;
            apply_locked::<sqlx::Postgres>(&mut tx, expected_version, changes).await
        }
        .await;
        common::finish(tx, result, doing).await
    }

    fn describe(&self) -> String {
        self.description.clone()
    }
}
