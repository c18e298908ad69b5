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
//! Call-record writes run in plain `READ COMMITTED` transactions without any advisory lock
//! (rows are upserted in id order, so concurrent batches cannot deadlock). A capacity take
//! runs in a `READ COMMITTED` transaction that first takes the rule's lock,
//! `pg_advisory_xact_lock(CAPACITY_LOCK_CLASS, fnv1a32(rule_id))`: the two-key form, which
//! never conflicts with the one-key configuration lock. See the crate docs for why that
//! makes the count and the insert one atomic step across nodes.
//!
//! Slot takes and releases commit with `synchronous_commit = off`: they do not wait for
//! the WAL flush (the per-rule lock would otherwise be held across an fsync, which limits a
//! busy rule to a few hundred calls per second on slow disks). Atomicity and isolation are
//! unchanged; only a crash of the PostgreSQL server itself may forget the slot changes of
//! its last moments (at most `3 × wal_writer_delay`, 600 ms by default): a few slots that
//! then look free (or taken) until the calls end. Call records keep full durability.
//!
//! ## Schemas
//!
//! [`PostgresStore::connect_with_schema`] keeps the tables (and sqlx's migration
//! bookkeeping) in a schema of their own, created if missing, by setting `search_path` on
//! every pooled connection. Tests use it to isolate themselves in a throwaway schema;
//! deployments can use it to share a database with other applications. Through
//! [`open`](crate::open), which takes only a URL, the libpq-style `options` parameter does
//! the same for an existing schema: `postgres://...?options[search_path]=NAME`.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::migrate::{MigrateError, Migrator};
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::{Connection, Executor, Postgres, Row, Transaction};

use crate::common::{self, apply_locked, backend, cause, read_all, read_version};
use crate::{
    AgentEndpoint, CallCounts, CallFilter, CallPage, CallRecord, Change, Loaded, Store, StoreError,
    WebhookDelivery, redact_database_url, scrub, url_secrets,
};

/// The PostgreSQL schema migrations, embedded in the binary.
static MIGRATOR: Migrator = sqlx::migrate!("migrations/postgres");

/// The advisory lock key guarding configuration writes ("SWBDCFG1" in ASCII).
pub const WRITE_LOCK_KEY: i64 = 0x5357_4244_4346_4731;

/// The first key of the per-rule capacity locks ("SWSL"), taken with the two-key form
/// `pg_advisory_xact_lock(CAPACITY_LOCK_CLASS, hash(rule_id))`. Two-key advisory locks
/// never conflict with the one-key [`WRITE_LOCK_KEY`], so capacity checks do not wait for
/// configuration writes.
pub const CAPACITY_LOCK_CLASS: i32 = 0x5357_534C;

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

    async fn read_connection(&self, doing: &str) -> Result<PoolConnection<Postgres>, StoreError> {
        self.pool.acquire().await.map_err(|e| backend(doing, e))
    }

    /// Starts a transaction of the call path. READ COMMITTED explicitly, whatever the
    /// database's default: the capacity count must see everything committed before its
    /// lock was granted, and concurrent upserts must not fail with serialization errors.
    async fn begin_call_write(
        &self,
        doing: &str,
    ) -> Result<Transaction<'static, Postgres>, StoreError> {
        self.pool
            .begin_with("BEGIN ISOLATION LEVEL READ COMMITTED")
            .await
            .map_err(|e| backend(doing, e))
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
                .map_err(|e| lock_error("the configuration write lock", e))?;
            apply_locked::<sqlx::Postgres>(&mut tx, expected_version, changes).await
        }
        .await;
        common::finish(tx, result, doing).await
    }

    fn describe(&self) -> String {
        self.description.clone()
    }

    async fn save_calls(&self, records: &[CallRecord]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        let doing = "saving call records";
        let mut tx = self.begin_call_write(doing).await?;
        let result = common::save_calls::<Postgres>(&mut tx, records).await;
        common::finish(tx, result, doing).await
    }

    async fn get_call(&self, id: &str) -> Result<Option<CallRecord>, StoreError> {
        let mut conn = self.read_connection("reading a call").await?;
        common::get_call::<Postgres>(&mut conn, id).await
    }

    async fn list_calls(&self, filter: &CallFilter) -> Result<CallPage, StoreError> {
        let mut conn = self.read_connection("listing calls").await?;
        common::list_calls::<Postgres>(&mut conn, filter).await
    }

    async fn call_counts(
        &self,
        rule_ids: Option<&[String]>,
    ) -> Result<Vec<CallCounts>, StoreError> {
        let doing = "counting calls per rule";
        // One snapshot for all chunks of a long id list.
        let mut tx = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await
            .map_err(|e| backend(doing, e))?;
        let counts = common::call_counts::<Postgres>(&mut tx, rule_ids).await?;
        tx.commit().await.map_err(|e| backend(doing, e))?;
        Ok(counts)
    }

    async fn close_interrupted(&self, node_id: &str, now_ms: i64) -> Result<u64, StoreError> {
        let doing = "closing interrupted calls";
        let mut tx = self.begin_call_write(doing).await?;
        let result = common::close_interrupted::<Postgres>(&mut tx, node_id, now_ms)
            .await
            .map(|closed| closed.rows_affected());
        common::finish(tx, result, doing).await
    }

    async fn take_slot(
        &self,
        rule_id: &str,
        limit: u32,
        call_id: &str,
        node_id: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let doing = "taking a capacity slot";
        let mut tx = self.begin_call_write(doing).await?;
        let result = async {
            // The rule's lock, held to the end of the transaction. Under READ COMMITTED every
            // later statement sees all slots committed before the lock was granted, so the
            // count below is exact while no one else can add to it. The FROM clause runs
            // first: the timeout applies to this very wait. See `SLOT_COMMIT` for the
            // asynchronous commit.
            sqlx::query(
                "SELECT pg_advisory_xact_lock($1, $2) \
                 FROM (SELECT set_config('lock_timeout', $3, true), \
                 set_config('synchronous_commit', 'off', true)) AS settings",
            )
            .bind(CAPACITY_LOCK_CLASS)
            .bind(capacity_lock_key(rule_id))
            .bind(LOCK_TIMEOUT)
            .execute(&mut *tx)
            .await
            .map_err(|e| lock_error(&format!("the capacity lock of rule {rule_id}"), e))?;
            common::take_slot_locked::<Postgres>(&mut tx, rule_id, limit, call_id, node_id, now_ms)
                .await
        }
        .await;
        common::finish(tx, result, doing).await
    }

    async fn release_slot(&self, call_id: &str) -> Result<(), StoreError> {
        let doing = "releasing a capacity slot";
        let mut tx = self.begin_call_write(doing).await?;
        let result = async {
            sqlx::query("SELECT set_config('synchronous_commit', 'off', true)")
                .execute(&mut *tx)
                .await
                .map_err(|e| backend(doing, e))?;
            common::release_slot::<Postgres>(&mut tx, call_id).await
        }
        .await;
        common::finish(tx, result, doing).await
    }

    async fn release_node_slots(&self, node_id: &str) -> Result<u64, StoreError> {
        let mut conn = self
            .read_connection("releasing a node's capacity slots")
            .await?;
        common::release_node_slots::<Postgres>(&mut conn, node_id)
            .await
            .map(|released| released.rows_affected())
    }

    async fn slot_counts(&self) -> Result<HashMap<String, u32>, StoreError> {
        let mut conn = self.read_connection("counting capacity slots").await?;
        common::slot_counts::<Postgres>(&mut conn).await
    }

    async fn list_agent_endpoints(&self) -> Result<Vec<AgentEndpoint>, StoreError> {
        let mut conn = self.read_connection("listing agent endpoints").await?;
        common::list_agent_endpoints::<Postgres>(&mut conn).await
    }

    async fn get_agent_endpoint(
        &self,
        agent_name: &str,
    ) -> Result<Option<AgentEndpoint>, StoreError> {
        let mut conn = self.read_connection("reading an agent endpoint").await?;
        common::get_agent_endpoint::<Postgres>(&mut conn, agent_name).await
    }

    async fn put_agent_endpoint(
        &self,
        endpoint: &AgentEndpoint,
    ) -> Result<AgentEndpoint, StoreError> {
        let mut conn = self.read_connection("saving an agent endpoint").await?;
        common::put_agent_endpoint::<Postgres>(&mut conn, endpoint).await
    }

    async fn delete_agent_endpoint(&self, agent_name: &str) -> Result<bool, StoreError> {
        let mut conn = self.read_connection("deleting an agent endpoint").await?;
        common::delete_agent_endpoint::<Postgres>(&mut conn, agent_name).await
    }

    async fn enqueue_webhooks(&self, deliveries: &[WebhookDelivery]) -> Result<(), StoreError> {
        if deliveries.is_empty() {
            return Ok(());
        }
        let doing = "queueing webhook deliveries";
        let mut tx = self.begin_call_write(doing).await?;
        let result = common::enqueue_webhooks::<Postgres>(&mut tx, deliveries).await;
        common::finish(tx, result, doing).await
    }

    async fn due_webhooks(
        &self,
        now_ms: i64,
        limit: u32,
    ) -> Result<Vec<WebhookDelivery>, StoreError> {
        let mut conn = self
            .read_connection("reading due webhook deliveries")
            .await?;
        common::due_webhooks::<Postgres>(&mut conn, now_ms, limit).await
    }

    async fn webhook_delivered(&self, id: &str, now_ms: i64) -> Result<(), StoreError> {
        let mut conn = self.read_connection("marking a webhook delivered").await?;
        common::webhook_delivered::<Postgres>(&mut conn, id, now_ms).await
    }

    async fn webhook_failed(
        &self,
        id: &str,
        attempts: u32,
        next_attempt_at_ms: i64,
        error: &str,
    ) -> Result<(), StoreError> {
        let mut conn = self
            .read_connection("recording a failed webhook delivery")
            .await?;
        common::webhook_failed::<Postgres>(&mut conn, id, attempts, next_attempt_at_ms, error).await
    }
}

/// The second key of a rule's capacity lock: a stable 32-bit hash of its id. Two rules
/// that collide share a lock, which only makes them wait for each other.
fn capacity_lock_key(rule_id: &str) -> i32 {
    crate::calls::fnv1a_32(rule_id) as i32
}

/// A failure to take an advisory lock, saying so plainly when it timed out.
fn lock_error(lock: &str, e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.code().as_deref() == Some("55P03") => StoreError::Backend(
            format!("taking {lock}: another writer held it for over {LOCK_TIMEOUT}; retry"),
        ),
        _ => backend(&format!("taking {lock}"), e),
    }
}
