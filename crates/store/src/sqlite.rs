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
//! [`SqliteStore::load`](crate::Store::load) runs in one read transaction, so the version
//! and the records come from a single snapshot.

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use sqlx::migrate::{MigrateError, Migrator};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::common::{self, apply_locked, backend, cause, read_all, read_version};
use crate::{Change, Loaded, Store, StoreError};

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
    /// Serializes this process's writers; `BEGIN IMMEDIATE` covers other processes.
    write_lock: tokio::sync::Mutex<()>,
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
            path,
        })
    }

    /// The database file (absolute when it could be resolved).
    pub fn path(&self) -> &Path {
        &self.path
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
}
