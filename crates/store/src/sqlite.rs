//! Embedded SQLite storage, the default: one file next to the server, no other process.
//!
//! ## Durability and concurrency
//!
//! The file is opened in WAL mode with `synchronous=NORMAL`: a commit is durable across a
//! crash of the process (the WAL is in the OS page cache), but a power loss or kernel crash
//! may lose the last few commits (never corrupts the database). Configuration writes are
//! rare and clients can retry them, which makes that trade-off right for a router.
//!
//! Readers never block writers (WAL). Writers serialize twice over: inside the process on
//! an async mutex (so concurrent requests queue in order instead of spinning on SQLite's
//! busy handler), and across processes by starting each write with `BEGIN IMMEDIATE`,
//! which takes SQLite's write lock before the version is read. Another process holding the
//! lock makes the write wait up to the busy timeout (5 s), then fail with a backend error.
//!
//! Call-record and capacity-slot writes take their own `BEGIN IMMEDIATE` transactions,
//! serialized in the process on a second mutex, not the configuration one: they meet
//! configuration writes only in SQLite's own write lock (waiting up to the busy timeout).
//! A capacity take holds that lock from its count to its commit, which is what makes it
//! atomic, also between processes sharing the file.
//!
//! Statements with many parameters (the batched call upsert) use anonymous `?`
//! parameters: SQLite finds a numbered parameter's name by a linear scan, which makes
//! binding `$1..$N` quadratic.
//!
//! [`SqliteStore::load`](crate::Store::load) runs in one read transaction, so the version
//! and the records come from a single snapshot.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use sqlx::migrate::{MigrateError, Migrator};
use sqlx::pool::PoolConnection;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Sqlite, Transaction};
use tokio::sync::MutexGuard;

use crate::common::{self, apply_locked, backend, cause, read_all, read_version};
use crate::{
    AgentEndpoint, CallCounts, CallFilter, CallPage, CallRecord, Change, Loaded, Store, StoreError,
    WebhookDelivery,
};

/// The SQLite schema migrations, embedded in the binary.
static MIGRATOR: Migrator = sqlx::migrate!("migrations/sqlite");

/// How long a write waits for another connection or process holding the write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Connections in the pool: reads may run in parallel, writes take turns.
const MAX_CONNECTIONS: u32 = 4;

/// A [`Store`] in an SQLite database file.
#[derive(Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// Serializes this process's configuration writers; `BEGIN IMMEDIATE` covers other
    /// processes.
    write_lock: tokio::sync::Mutex<()>,
    /// Serializes this process's call-record and slot writers among themselves (not with
    /// configuration writes, which they meet only in SQLite's own lock).
    call_write_lock: tokio::sync::Mutex<()>,
    path: PathBuf,
}

impl SqliteStore {
    /// Opens the database file at `path`, creating it (not its directory) if missing, and
    /// brings its schema up to date.
    ///
    /// Fails with an actionable [`StoreError::Backend`] when the file cannot be opened or
    /// created, is not an SQLite database, or was migrated by a newer switchboard.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let cannot_open = |err: sqlx::Error| {
            // SQLite's primary result codes (the low byte of extended ones).
            let code = match &err {
                sqlx::Error::Database(db) => db
                    .code()
                    .and_then(|code| code.parse::<i32>().ok())
                    .map(|code| code & 0xff),
                _ => None,
            };
            let advice = match code {
                // SQLITE_NOTADB
                Some(26) => "point database_url at a switchboard database or at a new file",
                // SQLITE_CANTOPEN, SQLITE_PERM, SQLITE_READONLY, SQLITE_IOERR, ...
                _ => "check that the directory exists and is writable",
            };
            StoreError::Backend(format!(
                "cannot open SQLite database {:?}: {}; {advice}",
                path.display().to_string(),
                cause(&err)
            ))
        };

        // `SqliteConnectOptions::filename` takes the path as is (no URL parsing), so any
        // file name works, including ones with `?` or `#`.
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);

        let pool = SqlitePoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(BUSY_TIMEOUT * 2)
            .connect_with(options)
            .await
            .map_err(cannot_open)?;

        if let Err(err) = MIGRATOR.run(&pool).await {
            pool.close().await;
            return Err(migration_error(path, err));
        }

        let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
        Ok(SqliteStore {
            pool,
            write_lock: tokio::sync::Mutex::new(()),
            call_write_lock: tokio::sync::Mutex::new(()),
            path,
        })
    }

    /// The database file (absolute when it could be resolved).
    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn read_connection(&self, doing: &str) -> Result<PoolConnection<Sqlite>, StoreError> {
        self.pool.acquire().await.map_err(|e| backend(doing, e))
    }

    /// Starts a write of the call path: takes this process's call-write turn, then SQLite's
    /// write lock (`BEGIN IMMEDIATE`). Finish with [`common::finish`], then drop the guard.
    async fn begin_call_write(
        &self,
        doing: &str,
    ) -> Result<(MutexGuard<'_, ()>, Transaction<'static, Sqlite>), StoreError> {
        let turn = self.call_write_lock.lock().await;
        let tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| backend(&format!("{doing}: taking the SQLite write lock"), e))?;
        Ok((turn, tx))
    }

    /// Closes the connections (checkpointing the WAL); for an orderly shutdown. Later calls
    /// on this store fail.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn migration_error(path: &Path, err: MigrateError) -> StoreError {
    let path = path.display().to_string();
    match err {
        MigrateError::VersionMissing(version) => StoreError::Backend(format!(
            "SQLite database {path:?} has schema migration {version}, which this switchboard \
             does not know: it was written by a newer version; upgrade switchboard or use \
             another database file"
        )),
        err => StoreError::Backend(format!(
            "cannot prepare the schema of SQLite database {path:?}: {err}; check that it is \
             a switchboard database and that the file is writable"
        )),
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn load(&self) -> Result<Loaded, StoreError> {
        let doing = "loading the configuration";
        // A deferred transaction: its first read fixes the snapshot for all the others.
        let mut tx = self.pool.begin().await.map_err(|e| backend(doing, e))?;
        let loaded = read_all::<sqlx::Sqlite>(&mut tx).await?;
        tx.commit().await.map_err(|e| backend(doing, e))?;
        Ok(loaded)
    }

    async fn version(&self) -> Result<i64, StoreError> {
        read_version(&self.pool).await
    }

    async fn apply(&self, expected_version: i64, changes: &[Change]) -> Result<i64, StoreError> {
        let doing = "saving the configuration";
        let _serialized = self.write_lock.lock().await;
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| backend("taking the SQLite write lock", e))?;
        let result = apply_locked::<sqlx::Sqlite>(&mut tx, expected_version, changes).await;
        common::finish(tx, result, doing).await
    }

    fn describe(&self) -> String {
        format!("SQLite database {:?}", self.path.display().to_string())
    }

    async fn save_calls(&self, records: &[CallRecord]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        let doing = "saving call records";
        let (_turn, mut tx) = self.begin_call_write(doing).await?;
        let result = common::save_calls::<Sqlite>(&mut tx, records).await;
        common::finish(tx, result, doing).await
    }

    async fn get_call(&self, id: &str) -> Result<Option<CallRecord>, StoreError> {
        let mut conn = self.read_connection("reading a call").await?;
        common::get_call::<Sqlite>(&mut conn, id).await
    }

    async fn list_calls(&self, filter: &CallFilter) -> Result<CallPage, StoreError> {
        let mut conn = self.read_connection("listing calls").await?;
        common::list_calls::<Sqlite>(&mut conn, filter).await
    }

    async fn call_counts(
        &self,
        rule_ids: Option<&[String]>,
    ) -> Result<Vec<CallCounts>, StoreError> {
        let doing = "counting calls per rule";
        // One snapshot for all chunks of a long id list.
        let mut tx = self.pool.begin().await.map_err(|e| backend(doing, e))?;
        let counts = common::call_counts::<Sqlite>(&mut tx, rule_ids).await?;
        tx.commit().await.map_err(|e| backend(doing, e))?;
        Ok(counts)
    }

    async fn close_interrupted(&self, node_id: &str, now_ms: i64) -> Result<u64, StoreError> {
        let doing = "closing interrupted calls";
        let (_turn, mut tx) = self.begin_call_write(doing).await?;
        let result = common::close_interrupted::<Sqlite>(&mut tx, node_id, now_ms)
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
        // BEGIN IMMEDIATE holds SQLite's single write lock from before the count until the
        // commit: no other connection or process can insert a slot in between.
        let doing = "taking a capacity slot";
        let (_turn, mut tx) = self.begin_call_write(doing).await?;
        let result =
            common::take_slot_locked::<Sqlite>(&mut tx, rule_id, limit, call_id, node_id, now_ms)
                .await;
        common::finish(tx, result, doing).await
    }

    async fn release_slot(&self, call_id: &str) -> Result<(), StoreError> {
        let doing = "releasing a capacity slot";
        let (_turn, mut tx) = self.begin_call_write(doing).await?;
        let result = common::release_slot::<Sqlite>(&mut tx, call_id).await;
        common::finish(tx, result, doing).await
    }

    async fn release_node_slots(&self, node_id: &str) -> Result<u64, StoreError> {
        let doing = "releasing a node's capacity slots";
        let (_turn, mut tx) = self.begin_call_write(doing).await?;
        let result = common::release_node_slots::<Sqlite>(&mut tx, node_id)
            .await
            .map(|released| released.rows_affected());
        common::finish(tx, result, doing).await
    }

    async fn slot_counts(&self) -> Result<HashMap<String, u32>, StoreError> {
        let mut conn = self.read_connection("counting capacity slots").await?;
        common::slot_counts::<Sqlite>(&mut conn).await
    }

    async fn list_agent_endpoints(&self) -> Result<Vec<AgentEndpoint>, StoreError> {
        let mut conn = self.read_connection("listing agent endpoints").await?;
        common::list_agent_endpoints::<Sqlite>(&mut conn).await
    }

    async fn get_agent_endpoint(
        &self,
        agent_name: &str,
    ) -> Result<Option<AgentEndpoint>, StoreError> {
        let mut conn = self.read_connection("reading an agent endpoint").await?;
        common::get_agent_endpoint::<Sqlite>(&mut conn, agent_name).await
    }

    async fn put_agent_endpoint(
        &self,
        endpoint: &AgentEndpoint,
    ) -> Result<AgentEndpoint, StoreError> {
        let mut conn = self.read_connection("saving an agent endpoint").await?;
        common::put_agent_endpoint::<Sqlite>(&mut conn, endpoint).await
    }

    async fn delete_agent_endpoint(&self, agent_name: &str) -> Result<bool, StoreError> {
        let mut conn = self.read_connection("deleting an agent endpoint").await?;
        common::delete_agent_endpoint::<Sqlite>(&mut conn, agent_name).await
    }

    async fn enqueue_webhooks(&self, deliveries: &[WebhookDelivery]) -> Result<(), StoreError> {
        if deliveries.is_empty() {
            return Ok(());
        }
        let doing = "queueing webhook deliveries";
        let (_turn, mut tx) = self.begin_call_write(doing).await?;
        let result = common::enqueue_webhooks::<Sqlite>(&mut tx, deliveries).await;
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
        common::due_webhooks::<Sqlite>(&mut conn, now_ms, limit).await
    }

    async fn webhook_delivered(&self, id: &str, now_ms: i64) -> Result<(), StoreError> {
        let mut conn = self.read_connection("marking a webhook delivered").await?;
        common::webhook_delivered::<Sqlite>(&mut conn, id, now_ms).await
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
        common::webhook_failed::<Sqlite>(&mut conn, id, attempts, next_attempt_at_ms, error).await
    }
}
