//! The shared store suite against [`PostgresStore`], plus PostgreSQL-specific checks.
//!
//! Needs a running server: `SWITCHBOARD_TEST_DATABASE_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`. Each case works in a throwaway schema that it
//! drops afterwards. Without a reachable server these tests fail (they never skip).

mod suite;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use sqlx::{Connection, Executor, PgConnection};
use switchboard_store::{Change, PostgresStore, Store};

use suite::{Harness, record};

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

fn test_url() -> String {
    std::env::var("SWITCHBOARD_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned())
}

fn no_server(err: impl std::fmt::Display) -> ! {
    panic!(
        "the PostgreSQL tests need a reachable server at {} (set SWITCHBOARD_TEST_DATABASE_URL, \
         default {DEFAULT_URL}): {err}",
        switchboard_store::redact_database_url(&test_url())
    )
}

/// A schema name no other test (or test run) uses.
fn unique_schema(tag: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "sb_test_{tag}_{}_{}_{}",
        std::process::id(),
        nanos % 1_000_000_000_000,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

async fn admin_connection() -> PgConnection {
    PgConnection::connect(&test_url())
        .await
        .unwrap_or_else(|err| no_server(err))
}

async fn drop_schema(schema: &str) {
    let mut conn = admin_connection().await;
    conn.execute(format!("DROP SCHEMA IF EXISTS {} CASCADE", quote(schema)).as_str())
        .await
        .unwrap_or_else(|err| panic!("dropping test schema {schema:?}: {err}"));
    let _ = conn.close().await;
}

async fn connect(url: &str, schema: &str) -> PostgresStore {
    PostgresStore::connect_with_schema(url, Some(schema))
        .await
        .unwrap_or_else(|err| no_server(err))
}

struct PgHarness {
    schema: String,
    store: PostgresStore,
}

impl PgHarness {
    async fn new() -> Self {
        let schema = unique_schema("suite");
        let store = connect(&test_url(), &schema).await;
        PgHarness { schema, store }
    }
}

#[async_trait]
impl Harness for PgHarness {
    fn store(&self) -> &dyn Store {
        &self.store
    }

    async fn reopen(&self) -> Arc<dyn Store> {
        Arc::new(connect(&test_url(), &self.schema).await)
    }

    async fn cleanup(&self) {
        self.store.close().await;
        drop_schema(&self.schema).await;
    }
}

store_suite!(PgHarness::new());

/// Drops the schema when the test ends, also on panic.
struct TempSchema(String);

impl Drop for TempSchema {
    fn drop(&mut self) {
        let schema = self.0.clone();
        // Drop runs inside the test's runtime; do the async cleanup on a thread of its own.
        let _ = std::thread::spawn(move || {
            if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                runtime.block_on(drop_schema(&schema));
            }
        })
        .join();
    }
}

/// The test URL with a password in it (trust authentication ignores it), and the password.
fn url_with_password() -> (String, String) {
    let url = test_url();
    let secrets_in_url = url
        .split_once("://")
        .and_then(|(_, rest)| rest.rsplit_once('@'))
        .and_then(|(userinfo, _)| userinfo.split_once(':'))
        .map(|(_, password)| password.to_owned());
    if let Some(password) = secrets_in_url {
        return (url, password);
    }
    let password = "sw1tchb0ard-hunter2".to_owned();
    let with = match url.split_once("://") {
        Some((scheme, rest)) if rest.contains('@') => {
            let (user, host) = rest.split_once('@').unwrap_or((rest, ""));
            format!("{scheme}://{user}:{password}@{host}")
        }
        _ => {
            let sep = if url.contains('?') { '&' } else { '?' };
            format!("{url}{sep}password={password}")
        }
    };
    (with, password)
}

#[tokio::test]
async fn describe_and_errors_never_show_the_password() {
    let (url, password) = url_with_password();
    let schema = TempSchema(unique_schema("describe"));
    let store = connect(&url, &schema.0).await;
    let description = store.describe();
    assert!(description.starts_with("PostgreSQL at "), "{description}");
    assert!(description.contains(&schema.0), "{description}");
    assert!(!description.contains(&password), "{description}");
    store.close().await;

    // Through `open`, both schemes. `open` takes no schema argument; the URL's libpq-style
    // `options` parameter selects the throwaway schema (created above) instead.
    let sep = if url.contains('?') { '&' } else { '?' };
    let in_schema = format!("{url}{sep}options[search_path]={}", schema.0);
    for (i, url) in [
        in_schema.clone(),
        in_schema.replacen("postgres://", "postgresql://", 1),
    ]
    .into_iter()
    .enumerate()
    {
        let store = switchboard_store::open(&url)
            .await
            .unwrap_or_else(|err| no_server(err));
        let description = store.describe();
        assert!(description.starts_with("PostgreSQL at "), "{description}");
        assert!(!description.contains(&password), "{description}");
        assert_eq!(store.version().await.expect("version"), i as i64);
        store.apply(i as i64, &[]).await.expect("apply");
    }
    let mut conn = admin_connection().await;
    let tables: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1",
    )
    .bind(&schema.0)
    .fetch_one(&mut conn)
    .await
    .expect("count tables");
    assert_eq!(tables, 9, "open() used the schema from the URL");
    let _ = conn.close().await;
}

#[tokio::test]
async fn unreachable_server_gives_actionable_error() {
    let url = "postgres://switchboard:hunter2-secret@127.0.0.1:1/sbdb";
    let started = Instant::now();
    let err = match switchboard_store::open(url).await {
        Ok(store) => panic!("connected to {}", store.describe()),
        Err(err) => err.to_string(),
    };
    assert!(
        err.starts_with("storage error: cannot connect to PostgreSQL at 127.0.0.1:1/sbdb: "),
        "{err}"
    );
    assert!(err.contains("check database_url"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
    assert!(
        err.contains("Connection refused"),
        "the cause is shown: {err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "a refused connection fails fast, took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn malformed_url_gives_actionable_error() {
    for url in [
        "postgres://switchboard:hunter2-secret@127.0.0.1:notaport/sbdb",
        "postgres://switchboard:hunter2-secret@127.0.0.1:5432/sbdb?sslmode=sometimes",
        "postgresql://switchboard:hunter2-secret@[::1/sbdb",
    ] {
        let err = match switchboard_store::open(url).await {
            Ok(store) => panic!("{url}: connected to {}", store.describe()),
            Err(err) => err.to_string(),
        };
        assert!(err.contains("invalid PostgreSQL database_url \""), "{err}");
        assert!(
            err.contains("switchboard:***@127.0.0.1") || err.contains("switchboard:***@[::1"),
            "{err}"
        );
        assert!(err.contains("expected postgres://USER"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }
}

#[tokio::test]
async fn invalid_schema_name_is_refused() {
    for schema in ["", &"x".repeat(64)] {
        let err = PostgresStore::connect_with_schema(&test_url(), Some(schema))
            .await
            .expect_err("invalid schema name")
            .to_string();
        assert!(err.contains("invalid PostgreSQL schema name"), "{err}");
    }
}

#[tokio::test]
async fn schemas_isolate_stores() {
    // Also checks that odd names are quoted, not interpolated.
    let a = TempSchema(unique_schema("iso\"a; x"));
    let b = TempSchema(unique_schema("iso-B"));
    let store_a = connect(&test_url(), &a.0).await;
    let store_b = connect(&test_url(), &b.0).await;
    store_a
        .apply(0, &[Change::PutTrunk(record("ST_a", "a", b"a", 1, 1))])
        .await
        .expect("apply in a");
    assert_eq!(store_a.version().await.expect("version a"), 1);
    assert_eq!(store_b.version().await.expect("version b"), 0);
    assert!(store_b.load().await.expect("load b").trunks.is_empty());

    let mut conn = admin_connection().await;
    let tables: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1",
    )
    .bind(&a.0)
    .fetch_one(&mut conn)
    .await
    .expect("count tables");
    assert_eq!(
        tables, 9,
        "8 tables and sqlx's migration table, all in the schema"
    );
    let _ = conn.close().await;
    store_a.close().await;
    store_b.close().await;
}
