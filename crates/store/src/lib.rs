//! # switchboard-store
//!
//! Persistent storage behind one trait, [`Store`], with two implementations that pass the
//! same test suite: embedded SQLite (the default) and PostgreSQL (several nodes may share one).
//!
//! It keeps the configuration (trunks, dispatch rules, route policies), the call records
//! and the capacity slots of route policies' `max_concurrent_calls`.
//!
//! The store is deliberately ignorant of routing: trunks and dispatch rules are kept as
//! opaque encoded records (the server stores LiveKit's protobuf messages, so every field a
//! client sent round-trips) with their id, name and timestamps; route policies as JSON.
//! Validation and conflict checks happen in the server against the routing snapshot.
//!
//! Writes are optimistic and serialized: every configuration write names the configuration
//! version it was validated against; the store takes a write lock (SQLite `BEGIN
//! IMMEDIATE`, PostgreSQL an advisory transaction lock), and refuses with
//! [`StoreError::Stale`] if another writer (possibly another node) got there first. The
//! caller then reloads, re-validates and retries. That makes "validate, then write" one
//! atomic step across nodes without a unique index per conflict key.
//!
//! ## Tables
//!
//! | table | holds | written by |
//! |---|---|---|
//! | `config_meta` | the configuration version (one row) | [`Store::apply`] |
//! | `trunks`, `dispatch_rules` | opaque encoded records | [`Store::apply`] |
//! | `route_policies` | JSON, keyed by rule id | [`Store::apply`] |
//! | `calls` | one [`CallRecord`] per INVITE dialog | [`Store::save_calls`], [`Store::close_interrupted`] |
//! | `call_slots` | one row per call holding a capacity slot of a rule | [`Store::take_slot`], [`Store::release_slot`] |
//! | `agent_endpoints` | one media-stream URL per agent name | [`Store::put_agent_endpoint`], [`Store::delete_agent_endpoint`] |
//! | `webhook_deliveries` | one queued webhook POST per event and receiver URL | [`Store::enqueue_webhooks`], [`Store::webhook_delivered`], [`Store::webhook_failed`] |
//!
//! ## Call records
//!
//! The server writes a record when an INVITE arrives and rewrites it as the call
//! progresses, batching many calls into one [`Store::save_calls`] (one transaction, multi-row
//! `INSERT ... ON CONFLICT (id) DO UPDATE`). Every write carries `updated_at_ms` and the
//! upsert only replaces a row with a write at least as new, so batches may land in any
//! order. Call writes never take the configuration write lock. On start a node runs
//! [`Store::close_interrupted`] for its own id: its calls left open by a crash become
//! `interrupted`, and its capacity slots are released. [`Store::list_calls`] pages by key
//! (see [`CallFilter`]); every filter has an index that yields the listing order, so a page
//! costs about `limit` rows also with millions of calls.
//!
//! ## Capacity: why two takers never both get the last slot
//!
//! [`Store::take_slot`] counts the rule's rows in `call_slots` and inserts one only if the
//! count is under the limit, and no other taker of that rule can run between the count and
//! the commit:
//!
//! - SQLite has one writer at a time: the take runs in a `BEGIN IMMEDIATE` transaction,
//!   which holds the database's write lock from before the count until the commit, for
//!   every connection and process on the file.
//! - PostgreSQL: the take's `READ COMMITTED` transaction first takes
//!   `pg_advisory_xact_lock(CAPACITY_LOCK_CLASS, hash(rule_id))`, a lock per rule shared by
//!   every node on the database (distinct from the configuration lock). The count runs after
//!   the lock is granted, so it sees every slot committed by the previous holder, and the
//!   lock is held until this take commits. Other rules are not blocked.
//!
//! A slot is released by [`Store::release_slot`] when the call ends, and also when a
//! record with a final status is saved (so a lost release cannot leak it). A node that
//! restarts releases its slots in [`Store::close_interrupted`]; the slots of a node that
//! never comes back stay taken (and its calls live) until an operator runs
//! [`Store::release_node_slots`] and [`Store::close_interrupted`] for it.
//!
//! ## Choosing a backend
//!
//! [`open`] takes the `database_url` from the configuration: a file path, `sqlite:PATH` or
//! `sqlite://PATH` opens a [`SqliteStore`]; `postgres://` or `postgresql://` connects a
//! [`PostgresStore`]. Both create or migrate their schema on open; the migrations are
//! embedded in the binary (`migrations/sqlite`, `migrations/postgres`), and a database
//! written by a newer switchboard is refused rather than guessed at.
//!
//! ## Layout
//!
//! - `common`: the reads and writes both backends share (same logical schema, same SQL).
//! - [`sqlite`]: file setup (WAL, `synchronous=NORMAL`, busy timeout) and `BEGIN IMMEDIATE`.
//! - [`postgres`]: pool setup, optional schema, and the advisory locks.
//! - `calls`: the call record types and page tokens.
//!
//! Errors say what the store was doing and, for opening, what to check. Passwords in a
//! PostgreSQL URL never appear in [`Store::describe`] or in errors
//! (see [`redact_database_url`]).

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;

mod calls;
mod common;
pub mod postgres;
pub mod sqlite;

pub use calls::{
    CallCounts, CallFilter, CallPage, CallRecord, CallState, CallStatus, DEFAULT_CALL_PAGE,
    FinalStatus, MAX_CALL_PAGE,
};
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// A stored trunk or dispatch rule: an opaque encoded body plus what the store indexes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub id: String,
    pub name: String,
    /// The encoded object (the server uses LiveKit's protobuf encoding).
    pub body: Vec<u8>,
    /// Unix milliseconds.
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// A stored route policy (JSON), keyed by the dispatch rule it governs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyRecord {
    pub rule_id: String,
    pub body_json: String,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// A media-stream agent endpoint (SPEC §5 item 2): calls dispatched to `agent_name` are
/// streamed to `url` with the Twilio Media Streams protocol.
///
/// Endpoints are not part of the versioned configuration: writes are plain upserts keyed by
/// `agent_name` (last writer wins) and do not bump [`Store::version`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentEndpoint {
    pub agent_name: String,
    /// `ws://…` or `wss://…` (validated by the server).
    pub url: String,
    /// Unix milliseconds.
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// One queued webhook POST: an event's JSON `body` for one receiver `url`.
///
/// A delivery is *due* while `delivered_at_ms` is `None` and `next_attempt_at_ms` has
/// passed. The server stops retrying a delivery by setting `next_attempt_at_ms` to
/// `i64::MAX` (the row stays, with its `attempts` and `last_error`, for inspection).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookDelivery {
    /// Unique per (event, URL); sent as `X-Switchboard-Delivery`.
    pub id: String,
    pub url: String,
    /// The event name, e.g. `call.ended`.
    pub event: String,
    /// The exact bytes that are POSTed (and signed).
    pub body: String,
    /// Attempts made so far.
    pub attempts: u32,
    /// Unix milliseconds.
    pub next_attempt_at_ms: i64,
    pub delivered_at_ms: Option<i64>,
    pub last_error: Option<String>,
    pub created_at_ms: i64,
}

/// The whole configuration at one version.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Loaded {
    pub version: i64,
    pub trunks: Vec<Record>,
    pub rules: Vec<Record>,
    pub policies: Vec<PolicyRecord>,
}

/// One configuration write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// Insert, or replace the record with the same id.
    PutTrunk(Record),
    DeleteTrunk(String),
    PutRule(Record),
    /// Deleting a rule also deletes its policy.
    DeleteRule(String),
    PutPolicy(PolicyRecord),
    DeletePolicy(String),
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The configuration changed since `expected`; reload and try again.
    #[error("the configuration changed (now at version {current}); reload and retry")]
    Stale { current: i64 },
    /// A delete named a record that does not exist.
    #[error("{what} {id} does not exist")]
    NotFound { what: &'static str, id: String },
    /// The request itself is wrong (e.g. a malformed page token); the API reports it as
    /// `invalid_argument`.
    #[error("{0}")]
    InvalidArgument(String),
    /// The database failed; the message says what it was doing.
    #[error("storage error: {0}")]
    Backend(String),
}

/// Persistent storage: the configuration, call records and capacity slots.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Everything, with the current version. Records in ascending id order.
    async fn load(&self) -> Result<Loaded, StoreError>;

    /// The current configuration version (cheap; nodes poll it to see others' writes).
    async fn version(&self) -> Result<i64, StoreError>;

    /// Applies `changes` atomically if the configuration is still at `expected_version`;
    /// returns the new version (`expected_version + 1`).
    async fn apply(&self, expected_version: i64, changes: &[Change]) -> Result<i64, StoreError>;

    /// A short description for logs and `serve`'s banner (never contains a password).
    fn describe(&self) -> String;

    // -- Call records ---------------------------------------------------------------

    /// Inserts or updates `records` by id, all in one transaction (all or nothing).
    ///
    /// A stored record is replaced only by one whose `updated_at_ms` is the same or newer,
    /// so out-of-order batches are harmless; within the batch the newest write of an id
    /// wins. Records that carry a final status also drop their call's capacity slot (normally
    /// released already by [`release_slot`](Self::release_slot)).
    ///
    /// Does not take the configuration write lock: call writes only meet configuration
    /// writes in the database's own locking.
    async fn save_calls(&self, records: &[CallRecord]) -> Result<(), StoreError>;

    async fn get_call(&self, id: &str) -> Result<Option<CallRecord>, StoreError>;

    /// One page of calls; see [`CallFilter`] for the order and paging rules. A malformed
    /// page token is [`StoreError::InvalidArgument`].
    async fn list_calls(&self, filter: &CallFilter) -> Result<CallPage, StoreError>;

    /// Live / completed / total calls per rule, in rule id order. With `Some(ids)`, exactly
    /// those rules (zeros for a rule without calls); with `None`, every rule that has calls.
    ///
    /// Counts by scanning the `(rule_id, final_status)` index: fine for a dashboard refresh,
    /// not for every call.
    async fn call_counts(&self, rule_ids: Option<&[String]>)
    -> Result<Vec<CallCounts>, StoreError>;

    /// Run by a node when it starts, before it takes calls: closes every call of `node_id`
    /// that has no final status as [`FinalStatus::Interrupted`] (`state = ended`,
    /// `reason = "interrupted"`, `ended_at_ms = now_ms`) and releases all the node's capacity
    /// slots, in one transaction. Returns how many calls it closed. Other nodes' calls are
    /// untouched.
    async fn close_interrupted(&self, node_id: &str, now_ms: i64) -> Result<u64, StoreError>;

    // -- Capacity slots (SPEC §6) ---------------------------------------------------

    /// Takes one of `rule_id`'s `limit` concurrent-call slots for `call_id`, atomically:
    /// counts the rule's slots and inserts one only if fewer than `limit` are taken. Two
    /// takers, even on two nodes sharing one PostgreSQL, never both get the last slot.
    ///
    /// Returns `true` if the call holds a slot of `rule_id` now. Idempotent: taking again for
    /// the same call and rule returns `true` without a second slot. A call that holds a slot
    /// of another rule (sent on by a route policy) moves it when the new rule has room, and
    /// keeps it otherwise.
    async fn take_slot(
        &self,
        rule_id: &str,
        limit: u32,
        call_id: &str,
        node_id: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError>;

    /// Releases the call's slot, if it has one.
    async fn release_slot(&self, call_id: &str) -> Result<(), StoreError>;

    /// Releases every slot held by `node_id`; returns how many. For an operator removing a
    /// node that will not come back (a node that restarts does this itself, through
    /// [`close_interrupted`](Self::close_interrupted)).
    async fn release_node_slots(&self, node_id: &str) -> Result<u64, StoreError>;

    /// Slots taken per rule (rules without slots are absent).
    async fn slot_counts(&self) -> Result<HashMap<String, u32>, StoreError>;

    // -- Media-stream agent endpoints (SPEC §5 item 2) ---------------------------------

    /// Every endpoint, in ascending `agent_name` order.
    async fn list_agent_endpoints(&self) -> Result<Vec<AgentEndpoint>, StoreError>;

    async fn get_agent_endpoint(
        &self,
        agent_name: &str,
    ) -> Result<Option<AgentEndpoint>, StoreError>;

    /// Inserts the endpoint, or replaces the one with the same `agent_name`. A replacement
    /// keeps the stored `created_at_ms` and takes the new `url` and `updated_at_ms`; returns
    /// the endpoint as stored.
    async fn put_agent_endpoint(
        &self,
        endpoint: &AgentEndpoint,
    ) -> Result<AgentEndpoint, StoreError>;

    /// Deletes the endpoint of `agent_name`; `false` when there was none.
    async fn delete_agent_endpoint(&self, agent_name: &str) -> Result<bool, StoreError>;

    // -- Webhook deliveries ------------------------------------------------------------

    /// Queues `deliveries` in one transaction (all or nothing). A delivery whose id is
    /// already queued is left as it is.
    async fn enqueue_webhooks(&self, deliveries: &[WebhookDelivery]) -> Result<(), StoreError>;

    /// Up to `limit` undelivered deliveries whose `next_attempt_at_ms <= now_ms`, the
    /// longest-waiting first.
    async fn due_webhooks(
        &self,
        now_ms: i64,
        limit: u32,
    ) -> Result<Vec<WebhookDelivery>, StoreError>;

    /// Marks the delivery delivered at `now_ms` (counting that attempt).
    async fn webhook_delivered(&self, id: &str, now_ms: i64) -> Result<(), StoreError>;

    /// Records a failed attempt: `attempts` made so far, when to try next (`i64::MAX`: never)
    /// and why it failed.
    async fn webhook_failed(
        &self,
        id: &str,
        attempts: u32,
        next_attempt_at_ms: i64,
        error: &str,
    ) -> Result<(), StoreError>;
}

/// Opens the store named by `database_url`:
///
/// - `postgres://...` or `postgresql://...`: [`PostgresStore::connect`];
/// - `sqlite://PATH`, `sqlite:PATH`, or a plain file path: [`SqliteStore::open`]
///   (`sqlite:///abs/path.db` is an absolute path, `sqlite://rel.db` a relative one).
///
/// A PostgreSQL URL may select a schema with the libpq-style `options` parameter, e.g.
/// `postgres://sw@db/app?options[search_path]=switchboard` (the schema must exist; use
/// [`PostgresStore::connect_with_schema`] to have it created).
///
/// The file or schema is created and migrated if needed. Errors are actionable and never
/// contain the URL's password.
pub async fn open(database_url: &str) -> Result<Arc<dyn Store>, StoreError> {
    let url = database_url.trim();
    if url.is_empty() {
        return Err(StoreError::Backend(
            "database_url is empty; give a file path (e.g. ./switchboard.db) or \
             postgres://USER@HOST[:PORT]/DATABASE"
                .to_owned(),
        ));
    }
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
        return Ok(Arc::new(PostgresStore::connect(url).await?));
    }
    let (path, is_url) = if lower.starts_with("sqlite://") {
        (&url["sqlite://".len()..], true)
    } else if lower.starts_with("sqlite:") {
        (&url["sqlite:".len()..], true)
    } else if let Some((scheme, _)) = url.split_once("://") {
        return Err(StoreError::Backend(format!(
            "unsupported database_url {:?} (scheme {scheme:?}); give a file path, \
             sqlite://PATH or postgres://USER@HOST[:PORT]/DATABASE",
            redact_database_url(url)
        )));
    } else {
        (url, false)
    };
    // A `?` in a plain path is part of the file name; in a URL it would start query
    // parameters, which are not supported (and silently ignoring them would surprise).
    if path.is_empty() || path.starts_with(":memory:") || (is_url && path.contains('?')) {
        return Err(StoreError::Backend(format!(
            "unsupported SQLite database_url {:?}: give the path of a database file, \
             without query parameters (in-memory databases are not supported, they would \
             lose the configuration on restart)",
            redact_database_url(url)
        )));
    }
    Ok(Arc::new(
        SqliteStore::open(std::path::Path::new(path)).await?,
    ))
}

/// `url` with any password replaced by `***`, for logs and error messages.
///
/// Handles the userinfo password (`scheme://user:PASSWORD@host`) and a `password=` query
/// parameter. Plain paths and URLs without a password come back unchanged. When the URL is
/// ambiguous (for example an unescaped `@` or `/` inside the password), it redacts more
/// rather than less.
pub fn redact_database_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let rest_start = scheme_end + 3;
    let rest = &url[rest_start..];
    let mut out = String::with_capacity(url.len());
    out.push_str(&url[..rest_start]);

    // Everything up to the last '@' is userinfo: an '@' in a password (even unescaped)
    // then stays on the redacted side.
    let after_userinfo = match rest.rfind('@') {
        Some(at) => {
            let userinfo = &rest[..at];
            match userinfo.find(':') {
                Some(colon) => {
                    out.push_str(&userinfo[..colon]);
                    out.push_str(":***");
                }
                None => out.push_str(userinfo),
            }
            out.push('@');
            &rest[at + 1..]
        }
        None => rest,
    };

    match after_userinfo.split_once('?') {
        None => out.push_str(after_userinfo),
        Some((before, query)) => {
            out.push_str(before);
            out.push('?');
            let (query, fragment) = match query.split_once('#') {
                Some((q, f)) => (q, Some(f)),
                None => (query, None),
            };
            let params: Vec<String> = query
                .split('&')
                .map(|param| match param.split_once('=') {
                    Some((key, _)) if key.eq_ignore_ascii_case("password") => {
                        format!("{key}=***")
                    }
                    _ => param.to_owned(),
                })
                .collect();
            out.push_str(&params.join("&"));
            if let Some(fragment) = fragment {
                out.push('#');
                out.push_str(fragment);
            }
        }
    }
    out
}

/// The passwords `url` carries (raw and percent-decoded), to scrub from error text that a
/// driver might have built from the URL.
pub(crate) fn url_secrets(url: &str) -> Vec<String> {
    let mut secrets = Vec::new();
    let Some(scheme_end) = url.find("://") else {
        return secrets;
    };
    let rest = &url[scheme_end + 3..];
    if let Some(at) = rest.rfind('@')
        && let Some((_, password)) = rest[..at].split_once(':')
    {
        secrets.push(password.to_owned());
    }
    if let Some((_, query)) = rest.split_once('?') {
        let query = query.split('#').next().unwrap_or_default();
        for param in query.split('&') {
            if let Some((key, value)) = param.split_once('=')
                && key.eq_ignore_ascii_case("password")
            {
                secrets.push(value.to_owned());
            }
        }
    }
    let decoded: Vec<String> = secrets.iter().map(|s| percent_decode(s)).collect();
    secrets.extend(decoded);
    secrets.retain(|s| !s.is_empty());
    secrets.sort();
    secrets.dedup();
    // Longest first, so that a secret containing another is replaced whole.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    secrets
}

/// Replaces every occurrence of each secret in `text` by `***`.
pub(crate) fn scrub(text: &str, secrets: &[String]) -> String {
    secrets.iter().fold(text.to_owned(), |text, secret| {
        text.replace(secret.as_str(), "***")
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push(hi * 16 + lo);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_userinfo_password() {
        assert_eq!(
            redact_database_url("postgres://alice:s3cret@db.example:5432/sw"),
            "postgres://alice:***@db.example:5432/sw"
        );
        assert_eq!(
            redact_database_url("postgresql://alice:p%40ss@db/sw?sslmode=require"),
            "postgresql://alice:***@db/sw?sslmode=require"
        );
    }

    #[test]
    fn redacts_unescaped_specials_in_password() {
        let redacted = redact_database_url("postgres://alice:pa/ss@w?rd@db:5432/sw");
        assert_eq!(redacted, "postgres://alice:***@db:5432/sw");
    }

    #[test]
    fn redacts_query_password() {
        assert_eq!(
            redact_database_url("postgres://db/sw?user=alice&password=s3cret&sslmode=disable"),
            "postgres://db/sw?user=alice&password=***&sslmode=disable"
        );
        assert_eq!(
            redact_database_url("postgres://db/sw?PASSWORD=s3cret#frag"),
            "postgres://db/sw?PASSWORD=***#frag"
        );
    }

    #[test]
    fn leaves_urls_without_password_alone() {
        for url in [
            "postgres://alice@db:5432/sw",
            "postgres://db/sw",
            "sqlite://data/switchboard.db",
            "./switchboard.db",
            "sqlite:switchboard.db",
        ] {
            assert_eq!(redact_database_url(url), url);
        }
    }

    #[test]
    fn finds_and_scrubs_secrets() {
        let secrets = url_secrets("postgres://alice:p%40ss@db/sw?password=other");
        assert!(secrets.contains(&"p%40ss".to_owned()));
        assert!(secrets.contains(&"p@ss".to_owned()));
        assert!(secrets.contains(&"other".to_owned()));
        assert_eq!(
            scrub("auth failed for p@ss and other", &secrets),
            "auth failed for *** and ***"
        );
        assert!(url_secrets("postgres://alice@db/sw").is_empty());
        assert!(url_secrets("./x.db").is_empty());
    }

    #[tokio::test]
    async fn open_rejects_unsupported_urls() {
        for url in [
            "",
            "mysql://root:hunter2@db/sw",
            "sqlite::memory:",
            "sqlite://x.db?mode=ro",
        ] {
            let err = match open(url).await {
                Ok(store) => panic!("{url:?} opened {}", store.describe()),
                Err(err) => err.to_string(),
            };
            assert!(!err.contains("hunter2"), "{err}");
            assert!(
                err.contains("database_url") || err.contains("SQLite"),
                "not actionable: {err}"
            );
        }
    }
}
