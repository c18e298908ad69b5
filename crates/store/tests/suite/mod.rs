//! The behaviour every [`Store`] must have, written once and run against each backend.
//!
//! A backend's test file implements [`Harness`] (how to open a fresh, isolated database and
//! clean it up) and invokes [`store_suite!`], which generates one `#[tokio::test]` per case.

use std::sync::Arc;

use async_trait::async_trait;
use switchboard_store::{Change, Loaded, PolicyRecord, Record, Store, StoreError};

/// One fresh, isolated database per test case.
#[async_trait]
pub trait Harness: Send + Sync + 'static {
    /// The store the case works with, opened when the harness was created.
    fn store(&self) -> &dyn Store;

    /// Opens another handle to the same database: a restart, or a second node.
    async fn reopen(&self) -> Arc<dyn Store>;

    /// Removes the database. Runs after the case, also when it failed.
    async fn cleanup(&self);
}

/// Generates one test per case, each against a fresh harness from `$new_harness` (an
/// expression evaluating to a future of the harness).
#[macro_export]
macro_rules! store_suite {
    ($new_harness:expr) => {
        $crate::store_suite!(@cases $new_harness;
            empty_store_loads_at_version_zero,
            put_and_load_round_trip,
            put_replaces_record_with_same_id,
            delete_removes_records,
            delete_missing_is_not_found_and_applies_nothing,
            stale_version_is_refused_and_applies_nothing,
            delete_rule_deletes_its_policy,
            empty_batch_still_bumps_version,
            concurrent_applies_exactly_one_wins,
            concurrent_applies_across_handles_exactly_one_wins,
            data_survives_reopening,
            describe_is_informative,
        );
    };
    (@cases $new_harness:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let harness = ::std::sync::Arc::new($new_harness.await);
                let running = ::std::sync::Arc::clone(&harness);
                // Run the case in its own task so a failure still reaches the cleanup.
                let outcome =
                    tokio::spawn(async move { suite::$case(&*running).await }).await;
                suite::Harness::cleanup(&*harness).await;
                if let Err(err) = outcome {
                    ::std::panic::resume_unwind(err.into_panic());
                }
            }
        )*
    };
}

// ---------------------------------------------------------------------------------------
// Fixtures

pub fn record(id: &str, name: &str, body: &[u8], created: i64, updated: i64) -> Record {
    Record {
        id: id.to_owned(),
        name: name.to_owned(),
        body: body.to_vec(),
        created_at_ms: created,
        updated_at_ms: updated,
    }
}

pub fn policy(rule_id: &str, body_json: &str, created: i64, updated: i64) -> PolicyRecord {
    PolicyRecord {
        rule_id: rule_id.to_owned(),
        body_json: body_json.to_owned(),
        created_at_ms: created,
        updated_at_ms: updated,
    }
}

async fn apply_ok(store: &dyn Store, expected: i64, changes: &[Change]) -> i64 {
    match store.apply(expected, changes).await {
        Ok(version) => {
            assert_eq!(version, expected + 1, "apply returns expected_version + 1");
            version
        }
        Err(err) => panic!("apply at version {expected} failed: {err}"),
    }
}

async fn load_ok(store: &dyn Store) -> Loaded {
    store
        .load()
        .await
        .unwrap_or_else(|err| panic!("load failed: {err}"))
}

async fn version_ok(store: &dyn Store) -> i64 {
    store
        .version()
        .await
        .unwrap_or_else(|err| panic!("version failed: {err}"))
}

/// A configuration with one trunk, two rules and a policy, at version 1.
async fn seed(store: &dyn Store) -> Loaded {
    apply_ok(
        store,
        0,
        &[
            Change::PutTrunk(record("ST_trunk", "Main trunk", b"\x0a\x04main", 10, 11)),
            Change::PutRule(record("SDR_a", "Rule A", b"\x0a\x01a", 20, 21)),
            Change::PutRule(record("SDR_b", "Rule B", b"\x0a\x01b", 30, 31)),
            Change::PutPolicy(policy("SDR_a", r#"{"agent":"a"}"#, 40, 41)),
        ],
    )
    .await;
    load_ok(store).await
}

fn ids(records: &[Record]) -> Vec<&str> {
    records.iter().map(|r| r.id.as_str()).collect()
}

// ---------------------------------------------------------------------------------------
// Cases

pub async fn empty_store_loads_at_version_zero(h: &dyn Harness) {
    let store = h.store();
    assert_eq!(load_ok(store).await, Loaded::default());
    assert_eq!(version_ok(store).await, 0);
}

pub async fn put_and_load_round_trip(h: &dyn Harness) {
    let store = h.store();
    let all_bytes: Vec<u8> = (0..=255).collect();
    // Inserted out of order; ids chosen so byte order differs from case-insensitive or
    // locale order ("B" < "_" < "a" < "é" in bytes).
    let trunks = vec![
        record("é", "accent", b"", 5, 6),
        record(
            "a",
            "lower",
            &all_bytes,
            1_700_000_000_000,
            1_700_000_000_001,
        ),
        record("B", "upper", b"\0\0\xff", -1, i64::MAX),
        record("_", "underscore", "name ünïcødé ☎".as_bytes(), i64::MIN, 0),
    ];
    let rules = [
        record("SDR_2", "second", b"\x08\x96\x01", 3, 4),
        record("SDR_1", "first", &[0x80; 4096], 1, 2),
    ];
    let policies = [
        policy("SDR_2", r#"{"weights":[1,2],"note":"ünï ☎"}"#, 7, 8),
        policy("SDR_1", "{}", 9, 10),
    ];
    let mut changes: Vec<Change> = trunks.iter().cloned().map(Change::PutTrunk).collect();
    changes.extend(rules.iter().cloned().map(Change::PutRule));
    changes.extend(policies.iter().cloned().map(Change::PutPolicy));

    assert_eq!(apply_ok(store, 0, &changes).await, 1);

    let loaded = load_ok(store).await;
    assert_eq!(loaded.version, 1);
    assert_eq!(version_ok(store).await, 1);
    let mut want_trunks = trunks.clone();
    want_trunks.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(ids(&loaded.trunks), ["B", "_", "a", "é"]);
    assert_eq!(
        loaded.trunks, want_trunks,
        "trunks round-trip exactly, by id"
    );
    assert_eq!(ids(&loaded.rules), ["SDR_1", "SDR_2"]);
    assert_eq!(loaded.rules, vec![rules[1].clone(), rules[0].clone()]);
    assert_eq!(
        loaded.policies,
        vec![policies[1].clone(), policies[0].clone()]
    );
}

pub async fn put_replaces_record_with_same_id(h: &dyn Harness) {
    let store = h.store();
    seed(store).await;
    let trunk = record("ST_trunk", "Renamed", b"\x0a\x07renamed", 10, 99);
    let rule = record("SDR_a", "Rule A v2", b"", 20, 98);
    let pol = policy("SDR_a", r#"{"agent":"a2"}"#, 40, 97);
    apply_ok(
        store,
        1,
        &[
            Change::PutTrunk(trunk.clone()),
            Change::PutRule(rule.clone()),
            Change::PutPolicy(pol.clone()),
        ],
    )
    .await;
    let loaded = load_ok(store).await;
    assert_eq!(loaded.version, 2);
    assert_eq!(loaded.trunks, vec![trunk]);
    assert_eq!(ids(&loaded.rules), ["SDR_a", "SDR_b"]);
    assert_eq!(loaded.rules[0], rule);
    assert_eq!(loaded.policies, vec![pol]);

    // Putting the same id twice in one batch: the last one wins.
    let last = record("ST_trunk", "Last", b"last", 1, 2);
    apply_ok(
        store,
        2,
        &[
            Change::PutTrunk(record("ST_trunk", "First", b"first", 1, 1)),
            Change::PutTrunk(last.clone()),
        ],
    )
    .await;
    assert_eq!(load_ok(store).await.trunks, vec![last]);
}

pub async fn delete_removes_records(h: &dyn Harness) {
    let store = h.store();
    let before = seed(store).await;
    apply_ok(
        store,
        1,
        &[
            Change::DeleteTrunk("ST_trunk".to_owned()),
            Change::DeletePolicy("SDR_a".to_owned()),
        ],
    )
    .await;
    let loaded = load_ok(store).await;
    assert_eq!(loaded.version, 2);
    assert!(loaded.trunks.is_empty());
    assert!(loaded.policies.is_empty());
    assert_eq!(loaded.rules, before.rules, "the rules are untouched");

    // Deleting the rule whose policy is already gone works too.
    apply_ok(store, 2, &[Change::DeleteRule("SDR_a".to_owned())]).await;
    assert_eq!(ids(&load_ok(store).await.rules), ["SDR_b"]);

    // Put and delete in one batch, in that order, leaves nothing.
    apply_ok(
        store,
        3,
        &[
            Change::PutTrunk(record("ST_tmp", "tmp", b"x", 1, 1)),
            Change::DeleteTrunk("ST_tmp".to_owned()),
        ],
    )
    .await;
    assert!(load_ok(store).await.trunks.is_empty());
}

pub async fn delete_missing_is_not_found_and_applies_nothing(h: &dyn Harness) {
    let store = h.store();
    let before = seed(store).await;
    let cases = [
        (Change::DeleteTrunk("ST_missing".to_owned()), "trunk"),
        (
            Change::DeleteRule("SDR_missing".to_owned()),
            "dispatch rule",
        ),
        // SDR_b exists but has no policy.
        (Change::DeletePolicy("SDR_b".to_owned()), "route policy"),
    ];
    for (missing, what) in cases {
        let want_id = match &missing {
            Change::DeleteTrunk(id) | Change::DeleteRule(id) | Change::DeletePolicy(id) => {
                id.clone()
            }
            _ => unreachable!(),
        };
        // The failing delete comes after changes that would succeed on their own.
        let batch = [
            Change::PutTrunk(record("ST_new", "new", b"new", 1, 1)),
            Change::DeleteTrunk("ST_trunk".to_owned()),
            Change::PutPolicy(policy("SDR_x", "{}", 1, 1)),
            Change::DeleteRule("SDR_a".to_owned()),
            missing,
            Change::PutRule(record("SDR_after", "after", b"", 1, 1)),
        ];
        match store.apply(1, &batch).await {
            Err(StoreError::NotFound { what: got_what, id }) => {
                assert_eq!(got_what, what);
                assert_eq!(id, want_id);
            }
            other => panic!("deleting missing {what}: want NotFound, got {other:?}"),
        }
        assert_eq!(
            load_ok(store).await,
            before,
            "nothing of the batch was applied"
        );
        assert_eq!(version_ok(store).await, 1);
    }
    // The store still works after the rollbacks.
    apply_ok(store, 1, &[Change::DeleteTrunk("ST_trunk".to_owned())]).await;
}

pub async fn stale_version_is_refused_and_applies_nothing(h: &dyn Harness) {
    let store = h.store();
    let before = seed(store).await;
    let batch = [
        Change::PutTrunk(record("ST_new", "new", b"new", 1, 1)),
        Change::DeleteRule("SDR_a".to_owned()),
    ];
    for expected in [0, 2, 7, -1] {
        match store.apply(expected, &batch).await {
            Err(StoreError::Stale { current }) => assert_eq!(current, 1),
            other => panic!("apply at version {expected} (now 1): want Stale, got {other:?}"),
        }
        assert_eq!(load_ok(store).await, before, "nothing was applied");
    }
    let err = store.apply(0, &batch).await.expect_err("stale");
    assert!(err.to_string().contains("reload"), "{err}");
    apply_ok(store, 1, &batch).await;
}

pub async fn delete_rule_deletes_its_policy(h: &dyn Harness) {
    let store = h.store();
    seed(store).await;
    apply_ok(
        store,
        1,
        &[Change::PutPolicy(policy("SDR_b", r#"{"agent":"b"}"#, 1, 2))],
    )
    .await;
    apply_ok(store, 2, &[Change::DeleteRule("SDR_a".to_owned())]).await;
    let loaded = load_ok(store).await;
    assert_eq!(ids(&loaded.rules), ["SDR_b"]);
    assert_eq!(
        loaded.policies,
        vec![policy("SDR_b", r#"{"agent":"b"}"#, 1, 2)],
        "SDR_a's policy went with it, SDR_b's stayed"
    );
    assert_eq!(ids(&loaded.trunks), ["ST_trunk"]);
}

pub async fn empty_batch_still_bumps_version(h: &dyn Harness) {
    let store = h.store();
    for expected in 0..5 {
        assert_eq!(apply_ok(store, expected, &[]).await, expected + 1);
        assert_eq!(version_ok(store).await, expected + 1);
    }
    assert_eq!(load_ok(store).await.version, 5);
}

/// `n` writers all validated against the same version; each puts its own trunk.
async fn race(stores: &[Arc<dyn Store>], n: usize, expected: i64) -> Vec<Result<i64, StoreError>> {
    let start = Arc::new(tokio::sync::Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let store = Arc::clone(&stores[i % stores.len()]);
            let start = Arc::clone(&start);
            tokio::spawn(async move {
                let change = Change::PutTrunk(record(&format!("ST_{i:02}"), "racer", b"r", 1, 1));
                start.wait().await;
                store.apply(expected, &[change]).await
            })
        })
        .collect();
    let mut results = Vec::with_capacity(n);
    for task in tasks {
        results.push(task.await.expect("writer task panicked"));
    }
    results
}

async fn assert_one_winner(store: &dyn Store, results: Vec<Result<i64, StoreError>>) {
    let mut winners = Vec::new();
    for (i, result) in results.iter().enumerate() {
        match result {
            Ok(version) => {
                assert_eq!(*version, 2);
                winners.push(i);
            }
            Err(StoreError::Stale { current }) => assert_eq!(*current, 2),
            Err(err) => panic!("writer {i}: want Ok or Stale, got {err}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one writer wins: {results:?}");
    let loaded = load_ok(store).await;
    assert_eq!(loaded.version, 2);
    let winner = format!("ST_{:02}", winners[0]);
    let mut want = vec!["ST_trunk", winner.as_str()];
    want.sort();
    assert_eq!(ids(&loaded.trunks), want, "only the winner's change is in");
}

pub async fn concurrent_applies_exactly_one_wins(h: &dyn Harness) {
    seed(h.store()).await;
    let store = h.reopen().await;
    let results = race(std::slice::from_ref(&store), 20, 1).await;
    assert_one_winner(h.store(), results).await;
}

pub async fn concurrent_applies_across_handles_exactly_one_wins(h: &dyn Harness) {
    seed(h.store()).await;
    // Three independent handles (separate pools): like three processes or nodes.
    let mut stores = Vec::new();
    for _ in 0..3 {
        stores.push(h.reopen().await);
    }
    let results = race(&stores, 20, 1).await;
    assert_one_winner(h.store(), results).await;
}

pub async fn data_survives_reopening(h: &dyn Harness) {
    let before = seed(h.store()).await;
    apply_ok(
        h.store(),
        1,
        &[Change::PutTrunk(record(
            "ST_late",
            "late",
            b"\x00late",
            5,
            6,
        ))],
    )
    .await;
    let expected = load_ok(h.store()).await;
    assert_ne!(expected, before);

    let reopened = h.reopen().await;
    assert_eq!(load_ok(&*reopened).await, expected);
    assert_eq!(version_ok(&*reopened).await, 2);
    // Reopening migrates nothing and the reopened store writes normally.
    apply_ok(&*reopened, 2, &[Change::DeleteTrunk("ST_late".to_owned())]).await;
    assert_eq!(version_ok(h.store()).await, 3);
    let again = h.reopen().await;
    assert_eq!(load_ok(&*again).await.trunks, before.trunks);
}

pub async fn describe_is_informative(h: &dyn Harness) {
    let description = h.store().describe();
    assert!(
        description.contains("SQLite") || description.contains("PostgreSQL"),
        "describe() names the backend: {description:?}"
    );
    assert!(!description.contains("password"), "{description:?}");
}
