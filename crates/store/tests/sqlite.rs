//! The shared store suite against [`SqliteStore`], plus SQLite-specific checks. Each case
//! gets its own database file under the system temp directory, removed afterwards.

mod suite;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use sqlx::Connection;
use switchboard_store::{Change, SqliteStore, Store};

use suite::{Harness, record};

/// A path in the temp directory that no other test (or test run) uses.
fn unique_path(tag: &str) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    std::env::temp_dir().join(format!(
        "switchboard-store-test-{}-{nanos}-{}-{tag}.db",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ))
}

/// Removes the database file and its WAL companions.
fn remove_database(path: &Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        let _ = std::fs::remove_file(file);
    }
}

async fn open(path: &Path) -> SqliteStore {
    SqliteStore::open(path)
        .await
        .unwrap_or_else(|err| panic!("opening {}: {err}", path.display()))
}

struct SqliteHarness {
    path: PathBuf,
    store: SqliteStore,
}

impl SqliteHarness {
    async fn new() -> Self {
        let path = unique_path("suite");
        let store = open(&path).await;
        SqliteHarness { path, store }
    }
}

#[async_trait]
impl Harness for SqliteHarness {
    fn store(&self) -> &dyn Store {
        &self.store
    }

    async fn reopen(&self) -> Arc<dyn Store> {
        Arc::new(open(&self.path).await)
    }

    async fn cleanup(&self) {
        self.store.close().await;
        remove_database(&self.path);
    }
}

store_suite!(SqliteHarness::new());

/// Runs `body` with a fresh path, removing the files afterwards even if it panics.
struct TempDb(PathBuf);

impl TempDb {
    fn new(tag: &str) -> Self {
        TempDb(unique_path(tag))
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        remove_database(&self.0);
    }
}

#[tokio::test]
async fn database_file_is_in_wal_mode() {
    let db = TempDb::new("wal");
    let store = open(&db.0).await;
    assert!(db.0.exists(), "open creates the file");
    // A plain connection that sets no journal mode sees the file's persistent mode.
    let mut conn = sqlx::SqliteConnection::connect_with(
        &sqlx::sqlite::SqliteConnectOptions::new().filename(&db.0),
    )
    .await
    .expect("plain connection");
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut conn)
        .await
        .expect("journal_mode");
    assert_eq!(mode.to_lowercase(), "wal");
    conn.close().await.expect("close");
    store.close().await;
}

#[tokio::test]
async fn unwritable_path_gives_actionable_error() {
    // A regular file as the "directory": fails even for root.
    let parent = TempDb::new("not-a-dir");
    std::fs::write(&parent.0, b"plain file").expect("write file");
    let path = parent.0.join("switchboard.db");
    let err = SqliteStore::open(&path)
        .await
        .expect_err("a path under a regular file cannot be opened")
        .to_string();
    let shown = format!("{:?}", path.display().to_string());
    assert!(
        err.starts_with(&format!(
            "storage error: cannot open SQLite database {shown}: "
        )),
        "{err}"
    );
    assert!(
        err.ends_with("; check that the directory exists and is writable"),
        "{err}"
    );

    // The same through `open`, with a directory that does not exist.
    let missing = unique_path("missing-dir").join("x.db");
    let url = format!("sqlite://{}", missing.display());
    let err = match switchboard_store::open(&url).await {
        Ok(store) => panic!("opened {}", store.describe()),
        Err(err) => err.to_string(),
    };
    assert!(err.contains("cannot open SQLite database"), "{err}");
    assert!(err.contains("check that the directory exists"), "{err}");
}

#[tokio::test]
async fn not_a_database_gives_actionable_error() {
    let db = TempDb::new("garbage");
    std::fs::write(&db.0, vec![0x42; 8192]).expect("write garbage");
    let err = SqliteStore::open(&db.0)
        .await
        .expect_err("garbage is not a database")
        .to_string();
    assert!(err.contains("cannot open SQLite database"), "{err}");
    assert!(err.contains("file is not a database"), "{err}");
    assert!(err.contains("point database_url at"), "{err}");
}

#[tokio::test]
async fn database_from_newer_version_is_refused() {
    let db = TempDb::new("newer");
    open(&db.0).await.close().await;
    let mut conn = sqlx::SqliteConnection::connect_with(
        &sqlx::sqlite::SqliteConnectOptions::new().filename(&db.0),
    )
    .await
    .expect("plain connection");
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (99999999, 'from the future', TRUE, x'00', 0)",
    )
    .execute(&mut conn)
    .await
    .expect("fake a newer migration");
    conn.close().await.expect("close");

    let err = SqliteStore::open(&db.0)
        .await
        .expect_err("newer schema")
        .to_string();
    assert!(err.contains("newer version"), "{err}");
    assert!(err.contains("99999999"), "{err}");
}

#[tokio::test]
async fn open_accepts_paths_and_sqlite_urls() {
    let db = TempDb::new("urls");
    let path = db.0.display().to_string();
    let plain = switchboard_store::open(&path).await.expect("plain path");
    assert_eq!(
        plain
            .apply(0, &[Change::PutTrunk(record("ST_1", "t", b"x", 1, 2))])
            .await
            .ok(),
        Some(1)
    );
    assert!(
        plain.describe().starts_with("SQLite database "),
        "{}",
        plain.describe()
    );

    for url in [
        format!("sqlite://{path}"),
        format!("sqlite:{path}"),
        format!("SQLite:{path}"),
    ] {
        let store = switchboard_store::open(&url)
            .await
            .unwrap_or_else(|err| panic!("{url}: {err}"));
        let loaded = store.load().await.expect("load");
        assert_eq!(loaded.version, 1, "{url} opens the same file");
        assert_eq!(loaded.trunks.len(), 1);
    }
}

#[tokio::test]
async fn plain_path_may_contain_url_characters() {
    let db = TempDb::new("odd?name#1");
    let store = switchboard_store::open(&db.0.display().to_string())
        .await
        .expect("a plain path is a file name, not a URL");
    store.apply(0, &[]).await.expect("apply");
    assert!(db.0.exists(), "{} exists", db.0.display());
}

#[tokio::test]
async fn writers_in_two_stores_wait_for_each_other() {
    // Two stores on one file hold separate pools: only BEGIN IMMEDIATE keeps them apart.
    let db = TempDb::new("two-writers");
    let a = Arc::new(open(&db.0).await);
    let b = Arc::new(open(&db.0).await);
    let mut tasks = Vec::new();
    for i in 0..40 {
        let store = if i % 2 == 0 {
            Arc::clone(&a)
        } else {
            Arc::clone(&b)
        };
        tasks.push(tokio::spawn(async move {
            // Retry on Stale like the server does: every write must land exactly once.
            loop {
                let version = store.version().await.expect("version");
                let change = Change::PutTrunk(record(&format!("ST_{i:02}"), "w", b"w", 1, 1));
                match store.apply(version, &[change]).await {
                    Ok(_) => break,
                    Err(switchboard_store::StoreError::Stale { .. }) => continue,
                    Err(err) => panic!("writer {i}: {err}"),
                }
            }
        }));
    }
    for task in tasks {
        task.await.expect("writer");
    }
    let loaded = a.load().await.expect("load");
    assert_eq!(loaded.version, 40);
    assert_eq!(loaded.trunks.len(), 40);
}
