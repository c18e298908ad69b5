//! The behaviour every [`Store`] must have, written once and run against each backend.
//!
//! A backend's test file implements [`Harness`] (how to open a fresh, isolated database and
//! clean it up) and invokes [`store_suite!`], which generates one `#[tokio::test]` per case.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use switchboard_store::{
    AgentEndpoint, CallFilter, CallRecord, CallState, CallStatus, Change, FinalStatus, Loaded,
    PolicyRecord, Record, Store, StoreError, WebhookDelivery,
};

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
            calls_round_trip_every_field,
            calls_older_updates_are_ignored,
            calls_batch_of_5000,
            calls_pages_through_every_filter,
            calls_malformed_page_token_is_invalid_argument,
            calls_tail_follows_changes,
            calls_counts_per_rule,
            close_interrupted_touches_only_this_nodes_open_calls,
            capacity_concurrent_takers_across_handles_get_exactly_the_limit,
            capacity_release_take_again_and_idempotence,
            capacity_slots_of_ended_calls_and_nodes_are_released,
            agent_endpoints_put_get_list_delete,
            agent_endpoints_are_seen_by_another_handle,
            webhooks_queue_due_deliver_and_retry,
            webhooks_survive_reopening,
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

// ---------------------------------------------------------------------------------------
// Call records

/// A live call with the required fields set and every optional one empty.
pub fn call(id: &str, node: &str, created: i64, updated: i64) -> CallRecord {
    CallRecord {
        id: id.to_owned(),
        sip_call_id: format!("{id}@sip.example"),
        node_id: node.to_owned(),
        trunk_id: None,
        rule_id: None,
        routed_from_rule_id: None,
        room_name: None,
        caller: "+15550001111".to_owned(),
        called: "+15552223333".to_owned(),
        source_ip: "192.0.2.10".to_owned(),
        transport: "udp".to_owned(),
        state: CallState::Incoming,
        final_status: None,
        sip_status: None,
        reason: None,
        hangup_by: None,
        pin_attempts: 0,
        created_at_ms: created,
        answered_at_ms: None,
        ended_at_ms: None,
        updated_at_ms: updated,
    }
}

fn ended(mut record: CallRecord, status: FinalStatus, at: i64) -> CallRecord {
    record.state = CallState::Ended;
    record.final_status = Some(status);
    record.ended_at_ms = Some(at);
    record.updated_at_ms = at;
    record
}

async fn save_ok(store: &dyn Store, records: &[CallRecord]) {
    store
        .save_calls(records)
        .await
        .unwrap_or_else(|err| panic!("save_calls of {} records failed: {err}", records.len()));
}

async fn get_ok(store: &dyn Store, id: &str) -> Option<CallRecord> {
    store
        .get_call(id)
        .await
        .unwrap_or_else(|err| panic!("get_call {id} failed: {err}"))
}

/// Every page of `filter` with page size `limit`, checking that only the last page lacks
/// a token (newest-first order).
async fn all_pages(store: &dyn Store, filter: &CallFilter, limit: u32) -> Vec<CallRecord> {
    let mut out = Vec::new();
    let mut filter = CallFilter {
        limit: Some(limit),
        page_token: None,
        ..filter.clone()
    };
    for _ in 0..10_000 {
        let page = store
            .list_calls(&filter)
            .await
            .unwrap_or_else(|err| panic!("list_calls {filter:?} failed: {err}"));
        assert!(page.calls.len() <= limit as usize, "page over the limit");
        out.extend(page.calls);
        match page.next_page_token {
            Some(token) => filter.page_token = Some(token),
            None => return out,
        }
    }
    panic!("paging did not end");
}

pub async fn calls_round_trip_every_field(h: &dyn Harness) {
    let store = h.store();
    let full = CallRecord {
        id: "SCL_full".to_owned(),
        sip_call_id: "a84b4c76e66710@pc33.example ünï ☎".to_owned(),
        node_id: "node-1".to_owned(),
        trunk_id: Some("ST_trunk".to_owned()),
        rule_id: Some("SDR_voicemail".to_owned()),
        routed_from_rule_id: Some("SDR_sales".to_owned()),
        room_name: Some("call-_+15550001111_abc".to_owned()),
        caller: "+1 (555) 000-1111".to_owned(),
        called: "sales*#".to_owned(),
        source_ip: "2001:db8::1".to_owned(),
        transport: "tcp".to_owned(),
        state: CallState::Ended,
        final_status: Some(FinalStatus::Completed),
        sip_status: Some(u16::MAX),
        reason: Some("caller_bye".to_owned()),
        hangup_by: Some("caller".to_owned()),
        pin_attempts: u32::MAX,
        created_at_ms: i64::MIN,
        answered_at_ms: Some(-1),
        ended_at_ms: Some(i64::MAX),
        updated_at_ms: i64::MAX,
    };
    let empty = call("SCL_empty", "", 0, 0);
    let mut records = vec![full.clone(), empty.clone()];
    for (i, state) in CallState::ALL.into_iter().enumerate() {
        let mut r = call(&format!("SCL_state_{i}"), "node-1", 1, 1);
        r.state = state;
        records.push(r);
    }
    for (i, status) in FinalStatus::ALL.into_iter().enumerate() {
        records.push(ended(
            call(&format!("SCL_final_{i}"), "node-1", 1, 1),
            status,
            2,
        ));
    }
    save_ok(store, &records).await;
    for record in &records {
        assert_eq!(get_ok(store, &record.id).await.as_ref(), Some(record));
    }
    assert_eq!(get_ok(store, "SCL_missing").await, None);
    // Another handle (a restart) reads the same.
    let reopened = h.reopen().await;
    assert_eq!(get_ok(&*reopened, "SCL_full").await, Some(full));
    // An empty batch is fine.
    save_ok(store, &[]).await;
}

pub async fn calls_older_updates_are_ignored(h: &dyn Harness) {
    let store = h.store();
    let arrived = call("SCL_1", "node-1", 100, 100);
    let mut answered = arrived.clone();
    answered.state = CallState::Active;
    answered.answered_at_ms = Some(150);
    answered.sip_status = Some(200);
    answered.updated_at_ms = 150;
    let finished = ended(answered.clone(), FinalStatus::Completed, 300);

    save_ok(store, std::slice::from_ref(&finished)).await;
    // Older writes arrive late, alone and in a batch: nothing changes.
    save_ok(store, std::slice::from_ref(&answered)).await;
    save_ok(store, &[arrived.clone(), answered.clone()]).await;
    assert_eq!(get_ok(store, "SCL_1").await, Some(finished.clone()));

    // The same updated_at_ms replaces (the later write of one instant wins).
    let mut same_time = finished.clone();
    same_time.reason = Some("server_bye".to_owned());
    save_ok(store, std::slice::from_ref(&same_time)).await;
    assert_eq!(get_ok(store, "SCL_1").await, Some(same_time.clone()));

    // Within one batch the newest write of an id wins, in whatever order it comes.
    let later = call("SCL_2", "node-1", 10, 10);
    let mut later_v2 = later.clone();
    later_v2.state = CallState::Ringing;
    later_v2.updated_at_ms = 20;
    let mut later_v3 = later_v2.clone();
    later_v3.state = CallState::Active;
    later_v3.updated_at_ms = 30;
    save_ok(store, &[later_v2.clone(), later_v3.clone(), later.clone()]).await;
    assert_eq!(get_ok(store, "SCL_2").await, Some(later_v3));

    // A newer write replaces.
    let mut newest = same_time;
    newest.updated_at_ms = 301;
    newest.pin_attempts = 2;
    save_ok(store, std::slice::from_ref(&newest)).await;
    assert_eq!(get_ok(store, "SCL_1").await, Some(newest));
}

pub async fn calls_batch_of_5000(h: &dyn Harness) {
    let store = h.store();
    let records: Vec<CallRecord> = (0..5000)
        .map(|i| {
            let mut r = call(&format!("SCL_{i:05}"), "node-1", i, i);
            r.rule_id = Some(format!("SDR_{}", i % 7));
            r
        })
        .collect();
    save_ok(store, &records).await;
    let listed = all_pages(store, &CallFilter::default(), 1000).await;
    assert_eq!(listed.len(), 5000);
    assert_eq!(listed[0], records[4999], "newest first");
    assert_eq!(listed[4999], records[0]);

    // Rewriting all of them (ended), and once more with a stale copy: one transaction each.
    let finished: Vec<CallRecord> = records
        .iter()
        .map(|r| ended(r.clone(), FinalStatus::Completed, 10_000))
        .collect();
    save_ok(store, &finished).await;
    save_ok(store, &records).await;
    let counts = store.call_counts(None).await.expect("call_counts");
    assert_eq!(counts.len(), 7);
    assert_eq!(counts.iter().map(|c| c.completed).sum::<u64>(), 5000);
    assert_eq!(counts.iter().map(|c| c.live).sum::<u64>(), 0);

    // Rough timing for the report (not asserted): 1,000 new records in one batch.
    let fresh: Vec<CallRecord> = (0..1000)
        .map(|i| call(&format!("SCL_t{i:04}"), "node-2", 20_000 + i, 20_000 + i))
        .collect();
    let started = Instant::now();
    save_ok(store, &fresh).await;
    let insert = started.elapsed();
    let updated: Vec<CallRecord> = fresh
        .iter()
        .map(|r| ended(r.clone(), FinalStatus::Completed, 30_000))
        .collect();
    let started = Instant::now();
    save_ok(store, &updated).await;
    eprintln!(
        "timing: save_calls of 1,000 records on {}: insert {:?}, update {:?}",
        store.describe(),
        insert,
        started.elapsed()
    );
}

/// 250 calls spread over rules, trunks, statuses, numbers and times (with ties).
fn mixed_calls() -> Vec<CallRecord> {
    let statuses = [
        None,
        Some(FinalStatus::Completed),
        Some(FinalStatus::Rejected),
        Some(FinalStatus::Cancelled),
        Some(FinalStatus::Failed),
        Some(FinalStatus::Interrupted),
        Some(FinalStatus::Completed),
    ];
    (0..250i64)
        .map(|i| {
            // Every created_at_ms is shared by up to three calls: the id breaks the tie.
            let mut r = call(&format!("SCL_{:03}", (i * 37) % 250), "node-1", i / 3, 0);
            r.updated_at_ms = 1000 + (i * 13) % 97;
            r.rule_id = (i % 5 != 0).then(|| format!("SDR_{}", i % 3));
            r.trunk_id = (i % 4 != 0).then(|| format!("ST_{}", i % 2));
            r.caller = format!("+1555000{:04}", i % 11);
            r.called = format!("+1555999{:04}", i % 6);
            if i % 9 == 0 {
                // A caller equal to another call's called number.
                r.caller = "+15559990001".to_owned();
            }
            if i % 25 == 1 {
                // Caller and called both match the number filter: listed once.
                r.caller = r.called.clone();
            }
            if let Some(status) = statuses[(i % 7) as usize] {
                r = ended(r, status, 0);
                r.updated_at_ms = 1000 + (i * 13) % 97;
            }
            r
        })
        .collect()
}

fn newest_first(mut calls: Vec<CallRecord>) -> Vec<CallRecord> {
    calls.sort_by(|a, b| (b.created_at_ms, &b.id).cmp(&(a.created_at_ms, &a.id)));
    calls
}

pub async fn calls_pages_through_every_filter(h: &dyn Harness) {
    let store = h.store();
    let calls = mixed_calls();
    // In several batches, out of order.
    for chunk in calls.rchunks(60) {
        save_ok(store, chunk).await;
    }
    let matching = |pred: &dyn Fn(&CallRecord) -> bool| {
        newest_first(calls.iter().filter(|c| pred(c)).cloned().collect())
    };

    let mut cases: Vec<(CallFilter, Vec<CallRecord>)> = vec![
        (CallFilter::default(), matching(&|_| true)),
        (
            CallFilter {
                rule_id: Some("SDR_1".into()),
                ..CallFilter::default()
            },
            matching(&|c| c.rule_id.as_deref() == Some("SDR_1")),
        ),
        (
            CallFilter {
                trunk_id: Some("ST_0".into()),
                ..CallFilter::default()
            },
            matching(&|c| c.trunk_id.as_deref() == Some("ST_0")),
        ),
        (
            CallFilter {
                status: Some(CallStatus::Live),
                ..CallFilter::default()
            },
            matching(&|c| c.final_status.is_none()),
        ),
        (
            CallFilter {
                number: Some("+15559990001".into()),
                ..CallFilter::default()
            },
            matching(&|c| c.caller == "+15559990001" || c.called == "+15559990001"),
        ),
        (
            CallFilter {
                since_ms: Some(20),
                until_ms: Some(61),
                ..CallFilter::default()
            },
            matching(&|c| (20..61).contains(&c.created_at_ms)),
        ),
        (
            CallFilter {
                rule_id: Some("SDR_2".into()),
                trunk_id: Some("ST_1".into()),
                status: Some(CallStatus::Final(FinalStatus::Completed)),
                since_ms: Some(10),
                ..CallFilter::default()
            },
            matching(&|c| {
                c.rule_id.as_deref() == Some("SDR_2")
                    && c.trunk_id.as_deref() == Some("ST_1")
                    && c.final_status == Some(FinalStatus::Completed)
                    && c.created_at_ms >= 10
            }),
        ),
        (
            CallFilter {
                rule_id: Some("SDR_none".into()),
                ..CallFilter::default()
            },
            Vec::new(),
        ),
    ];
    for status in FinalStatus::ALL {
        cases.push((
            CallFilter {
                status: Some(CallStatus::Final(status)),
                ..CallFilter::default()
            },
            matching(&|c| c.final_status == Some(status)),
        ));
    }
    for (filter, want) in &cases {
        assert!(
            !want.is_empty() || filter.rule_id.as_deref() == Some("SDR_none"),
            "fixture covers {filter:?}"
        );
        for limit in [7, 50, 1000] {
            let got = all_pages(store, filter, limit).await;
            assert_eq!(
                got.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
                want.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
                "{filter:?}, limit {limit}"
            );
            assert_eq!(&got, want, "{filter:?}: records are complete");
        }
    }

    // Default and maximum page sizes; a full last page still ends the listing cleanly.
    let page = store
        .list_calls(&CallFilter::default())
        .await
        .expect("list");
    assert_eq!(page.calls.len(), 50);
    assert!(page.next_page_token.is_some());
    let page = store
        .list_calls(&CallFilter {
            limit: Some(5000),
            ..CallFilter::default()
        })
        .await
        .expect("list");
    assert_eq!(page.calls.len(), 250);
    assert_eq!(page.next_page_token, None);
    let exact = all_pages(store, &CallFilter::default(), 125).await;
    assert_eq!(exact.len(), 250);

    // Calls arriving while paging do not disturb the older pages.
    let first = store
        .list_calls(&CallFilter {
            limit: Some(100),
            ..CallFilter::default()
        })
        .await
        .expect("first page");
    save_ok(store, &[call("SCL_new", "node-1", 10_000, 10_000)]).await;
    let second = store
        .list_calls(&CallFilter {
            limit: Some(1000),
            page_token: first.next_page_token,
            ..CallFilter::default()
        })
        .await
        .expect("second page");
    let all = matching(&|_| true);
    assert_eq!(first.calls, all[..100]);
    assert_eq!(second.calls, all[100..]);
}

pub async fn calls_malformed_page_token_is_invalid_argument(h: &dyn Harness) {
    let store = h.store();
    save_ok(
        store,
        &(0..5)
            .map(|i| call(&format!("SCL_{i}"), "n", i, i))
            .collect::<Vec<_>>(),
    )
    .await;
    let page = store
        .list_calls(&CallFilter {
            limit: Some(2),
            ..CallFilter::default()
        })
        .await
        .expect("list");
    let token = page.next_page_token.expect("more pages");
    let mut bad: Vec<CallFilter> = ["garbage", "zz", "'; DROP TABLE calls; --", "00", "é"]
        .into_iter()
        .map(|t| CallFilter {
            page_token: Some(t.to_owned()),
            ..CallFilter::default()
        })
        .collect();
    // A token of another query.
    bad.push(CallFilter {
        rule_id: Some("SDR_x".into()),
        page_token: Some(token.clone()),
        ..CallFilter::default()
    });
    bad.push(CallFilter {
        updated_after_ms: Some(0),
        page_token: Some(token.clone()),
        ..CallFilter::default()
    });
    // A truncated token.
    bad.push(CallFilter {
        page_token: Some(token[..token.len() - 2].to_owned()),
        ..CallFilter::default()
    });
    for filter in bad {
        match store.list_calls(&filter).await {
            Err(StoreError::InvalidArgument(message)) => {
                assert!(message.contains("page_token"), "{message}")
            }
            other => panic!("{filter:?}: want InvalidArgument, got {other:?}"),
        }
    }
    // The good token still works; changing only the limit is allowed.
    let next = store
        .list_calls(&CallFilter {
            limit: Some(10),
            page_token: Some(token),
            ..CallFilter::default()
        })
        .await
        .expect("next page");
    assert_eq!(
        next.calls.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        ["SCL_2", "SCL_1", "SCL_0"]
    );
}

pub async fn calls_tail_follows_changes(h: &dyn Harness) {
    let store = h.store();
    let calls = mixed_calls();
    save_ok(store, &calls).await;
    let filter = CallFilter {
        updated_after_ms: Some(1040),
        rule_id: Some("SDR_0".into()),
        ..CallFilter::default()
    };
    let mut want: Vec<CallRecord> = calls
        .iter()
        .filter(|c| c.updated_at_ms > 1040 && c.rule_id.as_deref() == Some("SDR_0"))
        .cloned()
        .collect();
    want.sort_by(|a, b| (a.updated_at_ms, &a.id).cmp(&(b.updated_at_ms, &b.id)));
    assert!(want.len() > 10);

    // Page through in change order; the token keeps coming back as a resume point.
    let mut got = Vec::new();
    let mut f = CallFilter {
        limit: Some(4),
        ..filter.clone()
    };
    loop {
        let page = store.list_calls(&f).await.expect("tail");
        let short = page.calls.len() < 4;
        got.extend(page.calls);
        f.page_token = Some(page.next_page_token.expect("tail always returns a cursor"));
        if short {
            break;
        }
    }
    assert_eq!(got, want);

    // Caught up: an empty page, same cursor. Then a change shows up, once.
    let page = store.list_calls(&f).await.expect("tail");
    assert!(page.calls.is_empty());
    assert_eq!(page.next_page_token, f.page_token);
    let mut changed = want[0].clone();
    changed.state = CallState::Ended;
    changed.final_status = Some(FinalStatus::Completed);
    changed.updated_at_ms = 5000;
    save_ok(store, std::slice::from_ref(&changed)).await;
    let page = store.list_calls(&f).await.expect("tail");
    assert_eq!(page.calls, vec![changed]);
    f.page_token = page.next_page_token;
    assert!(store.list_calls(&f).await.expect("tail").calls.is_empty());
}

pub async fn calls_counts_per_rule(h: &dyn Harness) {
    let store = h.store();
    let mut records = Vec::new();
    for i in 0..10 {
        let mut r = call(&format!("SCL_a{i}"), "n", i, i);
        r.rule_id = Some("SDR_a".into());
        if i < 3 {
            r = ended(r, FinalStatus::Completed, 100);
        } else if i < 5 {
            r = ended(r, FinalStatus::Rejected, 100);
        }
        records.push(r);
    }
    let mut b = call("SCL_b", "n", 1, 1);
    b.rule_id = Some("SDR_b".into());
    records.push(ended(b, FinalStatus::Completed, 5));
    records.push(call("SCL_norule", "n", 1, 1));
    save_ok(store, &records).await;

    let all = store.call_counts(None).await.expect("counts");
    let summary: Vec<(&str, u64, u64, u64)> = all
        .iter()
        .map(|c| (c.rule_id.as_str(), c.live, c.completed, c.total))
        .collect();
    assert_eq!(summary, [("SDR_a", 5, 3, 10), ("SDR_b", 0, 1, 1)]);

    let some = store
        .call_counts(Some(&["SDR_zzz".to_owned(), "SDR_b".to_owned()]))
        .await
        .expect("counts");
    let summary: Vec<(&str, u64, u64, u64)> = some
        .iter()
        .map(|c| (c.rule_id.as_str(), c.live, c.completed, c.total))
        .collect();
    assert_eq!(summary, [("SDR_b", 0, 1, 1), ("SDR_zzz", 0, 0, 0)]);
    assert!(
        store
            .call_counts(Some(&[]))
            .await
            .expect("counts")
            .is_empty()
    );
}

pub async fn close_interrupted_touches_only_this_nodes_open_calls(h: &dyn Harness) {
    let store = h.store();
    let mut answered = call("SCL_a_active", "node-a", 10, 20);
    answered.state = CallState::Active;
    answered.answered_at_ms = Some(15);
    answered.sip_status = Some(200);
    let ringing = call("SCL_a_ringing", "node-a", 11, 11);
    let done = ended(
        call("SCL_a_done", "node-a", 5, 5),
        FinalStatus::Completed,
        9,
    );
    let mut from_future = call("SCL_a_future", "node-a", 12, 2_000);
    from_future.state = CallState::Pin;
    let other = call("SCL_b_active", "node-b", 10, 20);
    save_ok(
        store,
        &[
            answered.clone(),
            ringing.clone(),
            done.clone(),
            from_future.clone(),
            other.clone(),
        ],
    )
    .await;
    for (call_id, node) in [("SCL_a_active", "node-a"), ("SCL_b_active", "node-b")] {
        assert!(
            store
                .take_slot("SDR_x", 10, call_id, node, 1)
                .await
                .expect("take")
        );
    }

    assert_eq!(
        store
            .close_interrupted("node-a", 1_000)
            .await
            .expect("close"),
        3
    );
    for before in [&answered, &ringing, &from_future] {
        let after = get_ok(store, &before.id).await.expect("still there");
        let mut want = before.clone();
        want.state = CallState::Ended;
        want.final_status = Some(FinalStatus::Interrupted);
        want.reason = Some("interrupted".to_owned());
        want.ended_at_ms = Some(1_000);
        want.updated_at_ms = before.updated_at_ms.max(1_000);
        if before.updated_at_ms >= 1_000 {
            want.updated_at_ms = before.updated_at_ms + 1;
        }
        assert_eq!(after, want);
    }
    assert_eq!(get_ok(store, "SCL_a_done").await, Some(done));
    assert_eq!(get_ok(store, "SCL_b_active").await, Some(other));
    assert_eq!(
        store.slot_counts().await.expect("slots"),
        HashMap::from([("SDR_x".to_owned(), 1)]),
        "node-a's slot went, node-b's stayed"
    );

    // A late write from before the crash does not reopen the call.
    save_ok(store, std::slice::from_ref(&answered)).await;
    assert_eq!(
        get_ok(store, "SCL_a_active")
            .await
            .and_then(|c| c.final_status),
        Some(FinalStatus::Interrupted)
    );
    // Nothing left to close; an unknown node has nothing either.
    assert_eq!(
        store
            .close_interrupted("node-a", 2_000)
            .await
            .expect("close"),
        0
    );
    assert_eq!(
        store
            .close_interrupted("node-z", 2_000)
            .await
            .expect("close"),
        0
    );
}

pub async fn capacity_concurrent_takers_across_handles_get_exactly_the_limit(h: &dyn Harness) {
    // Three independent handles (separate pools): three nodes sharing the database.
    let mut stores = Vec::new();
    for _ in 0..3 {
        stores.push(h.reopen().await);
    }
    for round in 0..3 {
        let start = Arc::new(tokio::sync::Barrier::new(20));
        let tasks: Vec<_> = (0..20)
            .map(|i| {
                let store = Arc::clone(&stores[i % 3]);
                let start = Arc::clone(&start);
                tokio::spawn(async move {
                    let call_id = format!("SCL_r{round}_{i:02}");
                    let node = format!("node-{}", i % 3);
                    start.wait().await;
                    store
                        .take_slot(&format!("SDR_{round}"), 5, &call_id, &node, 1)
                        .await
                })
            })
            .collect();
        let mut taken = 0;
        for task in tasks {
            if task.await.expect("taker panicked").expect("take_slot") {
                taken += 1;
            }
        }
        assert_eq!(taken, 5, "round {round}: exactly the limit");
    }
    assert_eq!(
        h.store().slot_counts().await.expect("slots"),
        HashMap::from([
            ("SDR_0".to_owned(), 5),
            ("SDR_1".to_owned(), 5),
            ("SDR_2".to_owned(), 5)
        ])
    );
}

pub async fn capacity_release_take_again_and_idempotence(h: &dyn Harness) {
    let store = h.store();
    let take = |call_id: &'static str, limit: u32| async move {
        store
            .take_slot("SDR_a", limit, call_id, "node-1", 7)
            .await
            .expect("take_slot")
    };
    assert!(take("SCL_1", 2).await);
    assert!(take("SCL_1", 2).await, "taking again is idempotent");
    assert!(take("SCL_2", 2).await);
    assert!(take("SCL_1", 2).await, "still idempotent at the limit");
    assert!(!take("SCL_3", 2).await, "full");
    assert_eq!(
        store.slot_counts().await.expect("slots"),
        HashMap::from([("SDR_a".to_owned(), 2)])
    );

    store.release_slot("SCL_1").await.expect("release");
    store
        .release_slot("SCL_1")
        .await
        .expect("release is idempotent");
    store
        .release_slot("SCL_never")
        .await
        .expect("release unknown");
    assert!(take("SCL_3", 2).await, "a released slot can be taken again");
    assert!(!take("SCL_1", 2).await);

    // A limit of 0 admits no one; a lowered limit admits no one until enough leave.
    assert!(
        !store
            .take_slot("SDR_zero", 0, "SCL_z", "node-1", 7)
            .await
            .expect("take")
    );
    assert!(!take("SCL_4", 1).await);

    // A call sent on to another rule moves its slot when that rule has room.
    assert!(
        store
            .take_slot("SDR_b", 1, "SCL_2", "node-1", 8)
            .await
            .expect("move")
    );
    assert!(
        !store
            .take_slot("SDR_b", 1, "SCL_3", "node-1", 8)
            .await
            .expect("full")
    );
    assert_eq!(
        store.slot_counts().await.expect("slots"),
        HashMap::from([("SDR_a".to_owned(), 1), ("SDR_b".to_owned(), 1)]),
        "SCL_3 kept its SDR_a slot when SDR_b was full"
    );
}

pub async fn capacity_slots_of_ended_calls_and_nodes_are_released(h: &dyn Harness) {
    let store = h.store();
    for (call_id, node) in [
        ("SCL_1", "node-1"),
        ("SCL_2", "node-1"),
        ("SCL_3", "node-2"),
        ("SCL_4", "node-2"),
    ] {
        assert!(
            store
                .take_slot("SDR_a", 10, call_id, node, 1)
                .await
                .expect("take")
        );
    }
    // Saving a call's final record drops its slot (a lost release cannot leak it); a live
    // record keeps it.
    let mut live = call("SCL_2", "node-1", 1, 2);
    live.state = CallState::Active;
    save_ok(
        store,
        &[
            ended(call("SCL_1", "node-1", 1, 1), FinalStatus::Completed, 5),
            live,
        ],
    )
    .await;
    assert_eq!(
        store.slot_counts().await.expect("slots"),
        HashMap::from([("SDR_a".to_owned(), 3)])
    );
    // An operator removes a node that is gone for good.
    assert_eq!(
        store.release_node_slots("node-2").await.expect("release"),
        2
    );
    assert_eq!(
        store.release_node_slots("node-2").await.expect("release"),
        0
    );
    assert_eq!(
        store.slot_counts().await.expect("slots"),
        HashMap::from([("SDR_a".to_owned(), 1)])
    );
}

// ---------------------------------------------------------------------------------------
// Media-stream agent endpoints

fn endpoint(name: &str, url: &str, created: i64, updated: i64) -> AgentEndpoint {
    AgentEndpoint {
        agent_name: name.to_owned(),
        url: url.to_owned(),
        created_at_ms: created,
        updated_at_ms: updated,
    }
}

pub async fn agent_endpoints_put_get_list_delete(h: &dyn Harness) {
    let store = h.store();
    assert!(store.list_agent_endpoints().await.expect("list").is_empty());
    assert_eq!(store.get_agent_endpoint("bot").await.expect("get"), None);

    let saved = store
        .put_agent_endpoint(&endpoint("bot", "ws://127.0.0.1:9000/media", 10, 10))
        .await
        .expect("put");
    assert_eq!(saved, endpoint("bot", "ws://127.0.0.1:9000/media", 10, 10));
    store
        .put_agent_endpoint(&endpoint("alpha", "wss://a.example/s", 11, 11))
        .await
        .expect("put");

    // Upsert by name: the url and updated_at_ms change, created_at_ms stays.
    let replaced = store
        .put_agent_endpoint(&endpoint("bot", "wss://bot.example/twilio", 99, 20))
        .await
        .expect("replace");
    assert_eq!(
        replaced,
        endpoint("bot", "wss://bot.example/twilio", 10, 20)
    );
    assert_eq!(
        store.get_agent_endpoint("bot").await.expect("get"),
        Some(replaced.clone())
    );

    let all = store.list_agent_endpoints().await.expect("list");
    assert_eq!(
        all,
        vec![endpoint("alpha", "wss://a.example/s", 11, 11), replaced]
    );

    // Endpoints are not versioned configuration.
    assert_eq!(version_ok(store).await, 0);

    assert!(store.delete_agent_endpoint("bot").await.expect("delete"));
    assert!(
        !store
            .delete_agent_endpoint("bot")
            .await
            .expect("delete again")
    );
    assert_eq!(store.get_agent_endpoint("bot").await.expect("get"), None);
    let names: Vec<String> = store
        .list_agent_endpoints()
        .await
        .expect("list")
        .into_iter()
        .map(|e| e.agent_name)
        .collect();
    assert_eq!(names, ["alpha"]);
}

pub async fn agent_endpoints_are_seen_by_another_handle(h: &dyn Harness) {
    h.store()
        .put_agent_endpoint(&endpoint("bot", "ws://b/1", 1, 1))
        .await
        .expect("put");
    let other = h.reopen().await;
    assert_eq!(
        other.get_agent_endpoint("bot").await.expect("get"),
        Some(endpoint("bot", "ws://b/1", 1, 1))
    );
    assert!(other.delete_agent_endpoint("bot").await.expect("delete"));
    assert!(
        h.store()
            .list_agent_endpoints()
            .await
            .expect("list")
            .is_empty()
    );
}

fn delivery(id: &str, url: &str, next_attempt_at_ms: i64) -> WebhookDelivery {
    WebhookDelivery {
        id: id.to_owned(),
        url: url.to_owned(),
        event: "call.ended".to_owned(),
        body: format!(r#"{{"id":"{id}","event":"call.ended","data":{{}}}}"#),
        attempts: 0,
        next_attempt_at_ms,
        delivered_at_ms: None,
        last_error: None,
        created_at_ms: 5,
    }
}

pub async fn webhooks_queue_due_deliver_and_retry(h: &dyn Harness) {
    let store = h.store();
    assert!(store.due_webhooks(1_000, 10).await.expect("due").is_empty());
    store.enqueue_webhooks(&[]).await.expect("empty enqueue");
    store
        .enqueue_webhooks(&[
            delivery("WH_b", "http://r/1", 20),
            delivery("WH_a", "http://r/2", 10),
            delivery("WH_c", "http://r/1", 500),
        ])
        .await
        .expect("enqueue");
    // Enqueuing an id again leaves the stored one alone.
    store
        .enqueue_webhooks(&[delivery("WH_a", "http://other", 0)])
        .await
        .expect("enqueue again");

    let due = store.due_webhooks(100, 10).await.expect("due");
    assert_eq!(
        due,
        [
            delivery("WH_a", "http://r/2", 10),
            delivery("WH_b", "http://r/1", 20)
        ]
    );
    assert_eq!(store.due_webhooks(100, 1).await.expect("due").len(), 1);

    store
        .webhook_delivered("WH_a", 101)
        .await
        .expect("delivered");
    store
        .webhook_failed("WH_b", 1, 300, "HTTP 500")
        .await
        .expect("failed");
    assert!(store.due_webhooks(200, 10).await.expect("due").is_empty());
    let due = store.due_webhooks(600, 10).await.expect("due");
    let ids: Vec<&str> = due.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, ["WH_b", "WH_c"]);
    assert_eq!(due[0].attempts, 1);
    assert_eq!(due[0].last_error.as_deref(), Some("HTTP 500"));

    // Giving up: never due again.
    store
        .webhook_failed("WH_b", 12, i64::MAX, "HTTP 500")
        .await
        .expect("give up");
    let ids: Vec<String> = store
        .due_webhooks(i64::MAX - 1, 10)
        .await
        .expect("due")
        .into_iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(ids, ["WH_c"]);
}

pub async fn webhooks_survive_reopening(h: &dyn Harness) {
    h.store()
        .enqueue_webhooks(&[delivery("WH_1", "http://r/1", 1)])
        .await
        .expect("enqueue");
    let other = h.reopen().await;
    assert_eq!(
        other.due_webhooks(2, 10).await.expect("due"),
        [delivery("WH_1", "http://r/1", 1)]
    );
    other.webhook_delivered("WH_1", 3).await.expect("delivered");
    assert!(h.store().due_webhooks(4, 10).await.expect("due").is_empty());
}
