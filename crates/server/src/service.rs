//! The configuration service: the single writer of trunks, dispatch rules and route
//! policies, and the owner of the live routing snapshot.
//!
//! Every write runs under one lock: validate against the current snapshot (which includes
//! every acknowledged write), write to the store guarded by the configuration version,
//! then rebuild the snapshot and swap it in — so `explain` reflects a write as soon as it
//! is acknowledged, and two conflicting writes can never both pass. When another node
//! wrote first, the store answers `Stale`; the service reloads and re-validates. A
//! background task polls the store version so that other nodes' writes arrive within a
//! second.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use livekit_protocol as lk;
use prost::Message;
use switchboard_dispatch::{self as d, ConfigChange, ConfigError, RoutePolicy, Snapshot};
use switchboard_store::{Change, PolicyRecord, Record, Store, StoreError};
use tokio::sync::Mutex;

use crate::convert;

/// Why a configuration request failed; the API maps these to its error codes.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("{message}")]
    Invalid { field: String, message: String },
    #[error("{message}")]
    Conflict {
        message: String,
        existing_id: String,
    },
    #[error("{what} {id:?} does not exist; {hint}")]
    NotFound {
        what: &'static str,
        id: String,
        /// How to find the ones that do exist.
        hint: &'static str,
    },
    #[error("storage is unavailable: {0}")]
    Unavailable(String),
}

const TRUNKS_HINT: &str = "list them with `switchboard sip inbound list`";
const RULES_HINT: &str = "list them with `switchboard sip dispatch list`";
const POLICIES_HINT: &str = "list them with GET /api/v1/policies";

impl From<ConfigError> for ServiceError {
    fn from(e: ConfigError) -> Self {
        match e {
            ConfigError::Invalid { field, message } => ServiceError::Invalid { field, message },
            ConfigError::Conflict {
                message,
                existing_id,
                ..
            } => ServiceError::Conflict {
                message,
                existing_id,
            },
        }
    }
}

impl ServiceError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        ServiceError::Invalid {
            field: field.to_string(),
            message: message.into(),
        }
    }

    fn trunk_not_found(id: &str) -> Self {
        ServiceError::NotFound {
            what: "inbound trunk",
            id: id.to_string(),
            hint: TRUNKS_HINT,
        }
    }

    fn rule_not_found(id: &str) -> Self {
        ServiceError::NotFound {
            what: "dispatch rule",
            id: id.to_string(),
            hint: RULES_HINT,
        }
    }
}

/// A stored route policy with its timestamps.
#[derive(Clone, Debug, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct StoredPolicy {
    #[serde(flatten)]
    pub policy: RoutePolicy,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// The configuration as stored, at one version.
#[derive(Clone, Debug, Default)]
struct Catalog {
    version: i64,
    trunks: BTreeMap<String, lk::SipInboundTrunkInfo>,
    rules: BTreeMap<String, lk::SipDispatchRuleInfo>,
    policies: BTreeMap<String, StoredPolicy>,
}

impl Catalog {
    fn from_store(loaded: switchboard_store::Loaded) -> (Catalog, Vec<String>) {
        let mut warnings = Vec::new();
        let mut c = Catalog {
            version: loaded.version,
            ..Default::default()
        };
        for r in loaded.trunks {
            match lk::SipInboundTrunkInfo::decode(r.body.as_slice()) {
                Ok(t) => {
                    c.trunks.insert(r.id, t);
                }
                Err(e) => warnings.push(format!("stored trunk {} is unreadable: {e}", r.id)),
            }
        }
        for r in loaded.rules {
            match lk::SipDispatchRuleInfo::decode(r.body.as_slice()) {
                Ok(x) => {
                    c.rules.insert(r.id, x);
                }
                Err(e) => {
                    warnings.push(format!("stored dispatch rule {} is unreadable: {e}", r.id))
                }
            }
        }
        for p in loaded.policies {
            match serde_json::from_str::<RoutePolicy>(&p.body_json) {
                Ok(policy) => {
                    c.policies.insert(
                        p.rule_id,
                        StoredPolicy {
                            policy,
                            created_at_ms: p.created_at_ms,
                            updated_at_ms: p.updated_at_ms,
                        },
                    );
                }
                Err(e) => warnings.push(format!(
                    "stored route policy for {} is unreadable: {e}",
                    p.rule_id
                )),
            }
        }
        (c, warnings)
    }

    fn snapshot(&self, options: &d::RouterOptions) -> Snapshot {
        Snapshot::build(d::Config {
            trunks: self.trunks.values().map(convert::trunk).collect(),
            rules: self.rules.values().map(convert::rule).collect(),
            policies: self.policies.values().map(|p| p.policy.clone()).collect(),
            options: options.clone(),
        })
    }
}

struct Writer {
    catalog: Catalog,
}

/// What one write changes: in the store, in the routing snapshot, and what it answers.
struct Planned<T> {
    store: Vec<Change>,
    routing: Vec<ConfigChange>,
    out: T,
}

/// Owns the configuration and the live snapshot.
pub struct ConfigService {
    store: Arc<dyn Store>,
    options: d::RouterOptions,
    snapshot: ArcSwap<Snapshot>,
    writer: Mutex<Writer>,
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

fn new_id(prefix: &str) -> String {
    d::ids::new_id(prefix, rand::random::<u128>())
}

fn store_error(e: StoreError) -> ServiceError {
    ServiceError::Unavailable(e.to_string())
}

/// How many times a write is retried after another node wrote first.
const MAX_STALE_RETRIES: usize = 8;

impl ConfigService {
    /// Loads the configuration from the store and builds the first snapshot.
    pub async fn open(
        store: Arc<dyn Store>,
        options: d::RouterOptions,
    ) -> Result<Arc<Self>, ServiceError> {
        let loaded = store.load().await.map_err(store_error)?;
        let (catalog, warnings) = Catalog::from_store(loaded);
        for w in warnings {
            tracing::warn!("{w}");
        }
        let snapshot = catalog.snapshot(&options);
        for w in snapshot.warnings() {
            tracing::warn!("{w}");
        }
        Ok(Arc::new(ConfigService {
            store,
            options,
            snapshot: ArcSwap::from_pointee(snapshot),
            writer: Mutex::new(Writer { catalog }),
        }))
    }

    /// The live routing snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }

    pub fn store_description(&self) -> String {
        self.store.describe()
    }

    /// Rebuilds the snapshot from the whole catalog (at start and after a reload).
    fn publish(&self, w: &Writer) {
        let snap = w.catalog.snapshot(&self.options);
        for warning in snap.warnings() {
            tracing::warn!("{warning}");
        }
        self.snapshot.store(Arc::new(snap));
    }

    async fn reload(&self, w: &mut Writer) -> Result<(), ServiceError> {
        let loaded = self.store.load().await.map_err(store_error)?;
        let (catalog, warnings) = Catalog::from_store(loaded);
        for warning in warnings {
            tracing::warn!("{warning}");
        }
        w.catalog = catalog;
        self.publish(w);
        Ok(())
    }

    /// Picks up writes made by other nodes sharing the store. Cheap when nothing changed.
    /// The version is read under the writer lock: read outside it, a local write landing
    /// in between would look like another node's and force a needless full reload.
    pub async fn refresh(&self) -> Result<bool, ServiceError> {
        let mut w = self.writer.lock().await;
        let current = self.store.version().await.map_err(store_error)?;
        if current == w.catalog.version {
            return Ok(false);
        }
        self.reload(&mut w).await?;
        Ok(true)
    }

    /// Polls the store for other nodes' writes until the process ends.
    pub fn spawn_refresher(self: &Arc<Self>, every: Duration) {
        let me = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(svc) = me.upgrade() else { return };
                if let Err(e) = svc.refresh().await {
                    tracing::warn!("configuration refresh failed: {e}");
                }
            }
        });
    }

    /// Runs one write: `plan` validates against the current catalog and snapshot and
    /// returns the store changes, the matching routing changes, and the value to answer
    /// with. The new snapshot is the current one with the routing changes applied, which
    /// costs in proportion to recent writes, not to the whole configuration. Retried after
    /// a reload when another node wrote first.
    async fn write<T>(
        &self,
        mut plan: impl FnMut(&Catalog, &Snapshot) -> Result<Planned<T>, ServiceError>,
        mut commit: impl FnMut(&mut Catalog, &T),
    ) -> Result<T, ServiceError> {
        let mut w = self.writer.lock().await;
        for _ in 0..MAX_STALE_RETRIES {
            let snapshot = self.snapshot();
            let planned = plan(&w.catalog, &snapshot)?;
            match self.store.apply(w.catalog.version, &planned.store).await {
                Ok(version) => {
                    commit(&mut w.catalog, &planned.out);
                    w.catalog.version = version;
                    self.snapshot
                        .store(Arc::new(snapshot.with_changes(&planned.routing)));
                    return Ok(planned.out);
                }
                Err(StoreError::Stale { .. }) => self.reload(&mut w).await?,
                Err(StoreError::NotFound { what, id }) => {
                    let hint = match what {
                        "trunk" => TRUNKS_HINT,
                        "route policy" => POLICIES_HINT,
                        _ => RULES_HINT,
                    };
                    return Err(ServiceError::NotFound { what, id, hint });
                }
                Err(e) => return Err(store_error(e)),
            }
        }
        Err(ServiceError::Unavailable(
            "the configuration kept changing under this write; try again".into(),
        ))
    }

    // ---- inbound trunks -------------------------------------------------------------

    pub async fn list_trunks(&self) -> Vec<lk::SipInboundTrunkInfo> {
        self.writer
            .lock()
            .await
            .catalog
            .trunks
            .values()
            .cloned()
            .collect()
    }

    /// The trunks listing `number` exactly (a pattern entry does not count); `number` is
    /// compared normalized.
    pub async fn trunks_listing(&self, number: &str) -> Vec<lk::SipInboundTrunkInfo> {
        let exact = d::number::NumberPattern::Exact(d::number::normalize(number).into_owned());
        self.writer
            .lock()
            .await
            .catalog
            .trunks
            .values()
            .filter(|t| {
                t.numbers
                    .iter()
                    .any(|n| d::number::NumberPattern::parse(n) == exact)
            })
            .cloned()
            .collect()
    }

    pub async fn get_trunk(&self, id: &str) -> Result<lk::SipInboundTrunkInfo, ServiceError> {
        self.writer
            .lock()
            .await
            .catalog
            .trunks
            .get(id)
            .cloned()
            .ok_or_else(|| ServiceError::trunk_not_found(id))
    }

    /// Creates a trunk; its id must be empty (one is assigned).
    pub async fn create_trunk(
        &self,
        mut t: lk::SipInboundTrunkInfo,
    ) -> Result<lk::SipInboundTrunkInfo, ServiceError> {
        if !t.sip_trunk_id.is_empty() {
            return Err(ServiceError::invalid(
                "sip_trunk_id",
                "sip_trunk_id must be empty when creating a trunk: switchboard assigns it",
            ));
        }
        t.sip_trunk_id = new_id(d::ids::TRUNK_PREFIX);
        let now = now_ms();
        t.created_at = Some(convert::timestamp(now));
        t.updated_at = Some(convert::timestamp(now));
        self.put_trunk(t).await
    }

    /// Replaces or edits a stored trunk. `edit` gets the stored value to change in place.
    pub async fn update_trunk(
        &self,
        id: &str,
        mut edit: impl FnMut(&mut lk::SipInboundTrunkInfo) -> Result<(), ServiceError>,
    ) -> Result<lk::SipInboundTrunkInfo, ServiceError> {
        self.write(
            |cat, snap| {
                let old = cat
                    .trunks
                    .get(id)
                    .ok_or_else(|| ServiceError::trunk_not_found(id))?;
                let mut t = old.clone();
                edit(&mut t)?;
                t.sip_trunk_id = id.to_string();
                t.created_at = old.created_at;
                t.updated_at = Some(convert::timestamp(
                    now_ms().max(crate::convert::millis_of(&old.updated_at) + 1),
                ));
                let model = convert::trunk(&t);
                snap.check_trunk(&model)?;
                Ok(Planned {
                    store: vec![Change::PutTrunk(trunk_record(&t))],
                    routing: vec![ConfigChange::PutTrunk(model)],
                    out: t,
                })
            },
            |cat, t| {
                cat.trunks.insert(t.sip_trunk_id.clone(), t.clone());
            },
        )
        .await
    }

    async fn put_trunk(
        &self,
        t: lk::SipInboundTrunkInfo,
    ) -> Result<lk::SipInboundTrunkInfo, ServiceError> {
        self.write(
            |_, snap| {
                let model = convert::trunk(&t);
                snap.check_trunk(&model)?;
                Ok(Planned {
                    store: vec![Change::PutTrunk(trunk_record(&t))],
                    routing: vec![ConfigChange::PutTrunk(model)],
                    out: t.clone(),
                })
            },
            |cat, t| {
                cat.trunks.insert(t.sip_trunk_id.clone(), t.clone());
            },
        )
        .await
    }

    /// Deletes a trunk and returns what was stored.
    pub async fn delete_trunk(&self, id: &str) -> Result<lk::SipInboundTrunkInfo, ServiceError> {
        self.write(
            |cat, _| {
                let old = cat
                    .trunks
                    .get(id)
                    .ok_or_else(|| ServiceError::trunk_not_found(id))?;
                Ok(Planned {
                    store: vec![Change::DeleteTrunk(id.to_string())],
                    routing: vec![ConfigChange::DeleteTrunk(id.to_string())],
                    out: old.clone(),
                })
            },
            |cat, _| {
                cat.trunks.remove(id);
            },
        )
        .await
    }

    // ---- dispatch rules -------------------------------------------------------------

    pub async fn list_rules(&self) -> Vec<lk::SipDispatchRuleInfo> {
        self.writer
            .lock()
            .await
            .catalog
            .rules
            .values()
            .cloned()
            .collect()
    }

    pub async fn get_rule(&self, id: &str) -> Result<lk::SipDispatchRuleInfo, ServiceError> {
        self.writer
            .lock()
            .await
            .catalog
            .rules
            .get(id)
            .cloned()
            .ok_or_else(|| ServiceError::rule_not_found(id))
    }

    /// Creates a dispatch rule; its id must be empty (one is assigned).
    pub async fn create_rule(
        &self,
        mut r: lk::SipDispatchRuleInfo,
    ) -> Result<lk::SipDispatchRuleInfo, ServiceError> {
        if !r.sip_dispatch_rule_id.is_empty() {
            return Err(ServiceError::invalid(
                "sip_dispatch_rule_id",
                "sip_dispatch_rule_id must be empty when creating a dispatch rule: switchboard assigns it",
            ));
        }
        r.sip_dispatch_rule_id = new_id(d::ids::RULE_PREFIX);
        let now = now_ms();
        r.created_at = Some(convert::timestamp(now));
        r.updated_at = Some(convert::timestamp(now));
        self.write(
            |_, snap| {
                let model = convert::rule(&r);
                snap.check_rule(&model)?;
                Ok(Planned {
                    store: vec![Change::PutRule(rule_record(&r))],
                    routing: vec![ConfigChange::PutRule(model)],
                    out: r.clone(),
                })
            },
            |cat, r| {
                cat.rules.insert(r.sip_dispatch_rule_id.clone(), r.clone());
            },
        )
        .await
    }

    /// Replaces or edits a stored rule. `edit` gets the stored value to change in place.
    pub async fn update_rule(
        &self,
        id: &str,
        mut edit: impl FnMut(&mut lk::SipDispatchRuleInfo) -> Result<(), ServiceError>,
    ) -> Result<lk::SipDispatchRuleInfo, ServiceError> {
        self.write(
            |cat, snap| {
                let old = cat
                    .rules
                    .get(id)
                    .ok_or_else(|| ServiceError::rule_not_found(id))?;
                let mut r = old.clone();
                edit(&mut r)?;
                r.sip_dispatch_rule_id = id.to_string();
                r.created_at = old.created_at;
                r.updated_at = Some(convert::timestamp(
                    now_ms().max(crate::convert::millis_of(&old.updated_at) + 1),
                ));
                let model = convert::rule(&r);
                snap.check_rule(&model)?;
                Ok(Planned {
                    store: vec![Change::PutRule(rule_record(&r))],
                    routing: vec![ConfigChange::PutRule(model)],
                    out: r,
                })
            },
            |cat, r| {
                cat.rules.insert(r.sip_dispatch_rule_id.clone(), r.clone());
            },
        )
        .await
    }

    /// Deletes a rule (and its route policy) and returns what was stored.
    pub async fn delete_rule(&self, id: &str) -> Result<lk::SipDispatchRuleInfo, ServiceError> {
        self.write(
            |cat, _| {
                let old = cat
                    .rules
                    .get(id)
                    .ok_or_else(|| ServiceError::rule_not_found(id))?;
                Ok(Planned {
                    store: vec![Change::DeleteRule(id.to_string())],
                    routing: vec![ConfigChange::DeleteRule(id.to_string())],
                    out: old.clone(),
                })
            },
            |cat, _| {
                cat.rules.remove(id);
                cat.policies.remove(id);
            },
        )
        .await
    }

    // ---- route policies -------------------------------------------------------------

    pub async fn list_policies(&self) -> Vec<StoredPolicy> {
        self.writer
            .lock()
            .await
            .catalog
            .policies
            .values()
            .cloned()
            .collect()
    }

    pub async fn get_policy(&self, rule_id: &str) -> Result<StoredPolicy, ServiceError> {
        self.writer
            .lock()
            .await
            .catalog
            .policies
            .get(rule_id)
            .cloned()
            .ok_or_else(|| ServiceError::NotFound {
                what: "route policy for dispatch rule",
                id: rule_id.to_string(),
                hint: POLICIES_HINT,
            })
    }

    /// Creates or replaces the policy of a dispatch rule.
    pub async fn put_policy(&self, policy: RoutePolicy) -> Result<StoredPolicy, ServiceError> {
        policy.compile()?;
        self.write(
            |cat, _| {
                if !cat.rules.contains_key(&policy.rule_id) {
                    return Err(ServiceError::rule_not_found(&policy.rule_id));
                }
                if let d::PolicyAction::RouteToRule { rule_id } = &policy.after_hours
                    && !cat.rules.contains_key(rule_id)
                {
                    return Err(ServiceError::invalid(
                        "after_hours.rule_id",
                        format!("after_hours routes to dispatch rule {rule_id:?}, which does not exist; create it first or choose another rule"),
                    ));
                }
                if let d::PolicyAction::RouteToRule { rule_id } = &policy.over_capacity
                    && !cat.rules.contains_key(rule_id)
                {
                    return Err(ServiceError::invalid(
                        "over_capacity.rule_id",
                        format!("over_capacity routes to dispatch rule {rule_id:?}, which does not exist; create it first or choose another rule"),
                    ));
                }
                let now = now_ms();
                let created = cat.policies.get(&policy.rule_id).map_or(now, |p| p.created_at_ms);
                let stored = StoredPolicy {
                    policy: policy.clone(),
                    created_at_ms: created,
                    updated_at_ms: now,
                };
                let body_json = serde_json::to_string(&stored.policy)
                    .map_err(|e| ServiceError::invalid("policy", e.to_string()))?;
                Ok(Planned {
                    store: vec![Change::PutPolicy(PolicyRecord {
                        rule_id: policy.rule_id.clone(),
                        body_json,
                        created_at_ms: created,
                        updated_at_ms: now,
                    })],
                    routing: vec![ConfigChange::PutPolicy(policy.clone())],
                    out: stored,
                })
            },
            |cat, p| {
                cat.policies.insert(p.policy.rule_id.clone(), p.clone());
            },
        )
        .await
    }

    pub async fn delete_policy(&self, rule_id: &str) -> Result<StoredPolicy, ServiceError> {
        self.write(
            |cat, _| {
                let old = cat
                    .policies
                    .get(rule_id)
                    .ok_or_else(|| ServiceError::NotFound {
                        what: "route policy for dispatch rule",
                        id: rule_id.to_string(),
                        hint: POLICIES_HINT,
                    })?;
                Ok(Planned {
                    store: vec![Change::DeletePolicy(rule_id.to_string())],
                    routing: vec![ConfigChange::DeletePolicy(rule_id.to_string())],
                    out: old.clone(),
                })
            },
            |cat, _| {
                cat.policies.remove(rule_id);
            },
        )
        .await
    }
}

fn trunk_record(t: &lk::SipInboundTrunkInfo) -> Record {
    Record {
        id: t.sip_trunk_id.clone(),
        name: t.name.clone(),
        body: t.encode_to_vec(),
        created_at_ms: convert::millis_of(&t.created_at),
        updated_at_ms: convert::millis_of(&t.updated_at),
    }
}

fn rule_record(r: &lk::SipDispatchRuleInfo) -> Record {
    Record {
        id: r.sip_dispatch_rule_id.clone(),
        name: r.name.clone(),
        body: r.encode_to_vec(),
        created_at_ms: convert::millis_of(&r.created_at),
        updated_at_ms: convert::millis_of(&r.updated_at),
    }
}
