//! The immutable, indexed view of one configuration version.
//!
//! A [`Snapshot`] is shared read-only by every call; the server swaps in a new one
//! atomically after each configuration write. It is made of two [`Layer`]s:
//!
//! * a **base** layer, built from a whole configuration, and
//! * a small **delta** layer holding the objects written since, plus the set of base
//!   entries those writes replaced or deleted (hidden).
//!
//! A write ([`Snapshot::with_changes`]) rebuilds only the delta, so its cost grows with the
//! number of recent writes, not with the configuration. When the delta grows past about
//! 4·√n objects it is folded into a new base (compaction), which keeps lookups fast and
//! the amortized write cost low. Entries are compiled once and shared by `Arc` between
//! layers and versions.
//!
//! Each layer indexes trunks by normalized called number, by pattern prefix and the
//! wildcard bucket, then by caller, source IP, CIDR network and From host; and rules by
//! trunk scope (a compact block of filings per trunk, found by the trunk's position), then
//! by called-number key and caller key. A lookup is a bounded number of hash probes and
//! a short scan in each layer, whatever the number of trunks and rules. A lookup consults
//! both layers and picks the best candidate by the precedence orders of [`crate::rank`].

mod checks;
mod entry;
mod layer;
mod number_table;
mod rule_index;
pub(crate) mod select;
mod trunk_index;

use std::collections::{HashMap, HashSet};

use rustc_hash::{FxHashMap, FxHashSet};
use std::sync::Arc;

use crate::model::{Config, RouterOptions, Rule, Trunk};
use crate::policy::{CompiledPolicy, RoutePolicy};

pub(crate) use entry::{RuleEntry, TrunkEntry};
use layer::Layer;

/// One change to the configuration, for [`Snapshot::with_changes`].
#[derive(Clone, Debug, PartialEq)]
pub enum ConfigChange {
    /// Insert or replace (by id).
    PutTrunk(Trunk),
    DeleteTrunk(String),
    /// Insert or replace (by id).
    PutRule(Rule),
    /// Also deletes the rule's route policy.
    DeleteRule(String),
    /// Insert or replace (by rule id).
    PutPolicy(RoutePolicy),
    DeletePolicy(String),
}

/// One configuration version, compiled and indexed for routing.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub(crate) options: RouterOptions,
    pub(crate) base: Arc<Layer>,
    pub(crate) delta: Arc<Layer>,
    /// Base entries replaced or deleted by later writes (base indexes).
    pub(crate) hidden_trunks: Arc<HashSet<u32>>,
    pub(crate) hidden_rules: Arc<HashSet<u32>>,
    /// Rule ids whose base policy was replaced or deleted.
    pub(crate) hidden_policies: Arc<HashSet<String>>,
    warnings: Arc<Vec<String>>,
    /// Set only on the temporary copy [`Snapshot::compacted`] makes.
    force_compaction: bool,
}

/// The delta is folded into the base only once it holds more than this many objects (and
/// more than 4·√n): below it, rebuilding the delta is cheaper than a compaction.
const MIN_COMPACTION: usize = 64;

/// The trunks (or rules) of the next delta while changes are applied: the delta's entries
/// by id, and the base positions they hide.
struct Pending<E> {
    entries: HashMap<String, Arc<E>>,
    hidden: HashSet<u32>,
}

impl<E> Pending<E> {
    fn new(entries: impl Iterator<Item = (String, Arc<E>)>, hidden: &HashSet<u32>) -> Self {
        Pending {
            entries: entries.collect(),
            hidden: hidden.clone(),
        }
    }

    /// Inserts or replaces an entry; an invalid one is left out with a warning.
    fn put(
        &mut self,
        id: &str,
        in_base: Option<u32>,
        entry: Result<E, crate::ConfigError>,
        what: &str,
        warnings: &mut Vec<String>,
    ) {
        self.delete(id, in_base);
        match entry {
            Ok(e) => {
                self.entries.insert(id.to_string(), Arc::new(e));
            }
            Err(e) => warnings.push(format!("{what} {id} left out: {e}")),
        }
    }

    fn delete(&mut self, id: &str, in_base: Option<u32>) {
        if let Some(i) = in_base {
            self.hidden.insert(i);
        }
        self.entries.remove(id);
    }
}

/// A trunk or rule found by id, and whether it lives in the base or the delta.
fn visible<'a, T>(
    delta: &'a Layer,
    base: &'a Layer,
    by_id: impl Fn(&'a Layer) -> Option<&'a T>,
    hidden_in_base: impl Fn() -> bool,
) -> Option<&'a T> {
    by_id(delta).or_else(|| if hidden_in_base() { None } else { by_id(base) })
}

impl Snapshot {
    /// Compiles and indexes a configuration. Never fails: invalid objects are skipped and
    /// listed in [`Snapshot::warnings`].
    pub fn build(config: Config) -> Snapshot {
        let Config {
            trunks,
            rules,
            policies,
            options,
        } = config;
        let mut warnings = Vec::new();
        let trunks: Vec<Arc<TrunkEntry>> = trunks
            .into_iter()
            .filter_map(|t| {
                let id = t.id.clone();
                TrunkEntry::new(t)
                    .map_err(|e| warnings.push(format!("trunk {id} left out: {e}")))
                    .ok()
                    .map(Arc::new)
            })
            .collect();
        let rules: Vec<Arc<RuleEntry>> = rules
            .into_iter()
            .filter_map(|r| {
                let id = r.id.clone();
                RuleEntry::new(r)
                    .map_err(|e| warnings.push(format!("dispatch rule {id} left out: {e}")))
                    .ok()
                    .map(Arc::new)
            })
            .collect();
        let rule_ids: FxHashSet<&str> = rules.iter().map(|r| r.rule.id.as_str()).collect();
        let mut compiled_policies = FxHashMap::default();
        for p in policies {
            if !rule_ids.contains(p.rule_id.as_str()) {
                warnings.push(format!(
                    "route policy for {} left out: no such dispatch rule",
                    p.rule_id
                ));
                continue;
            }
            match p.compile() {
                Ok(c) => {
                    compiled_policies.insert(p.rule_id.clone(), Arc::new(c));
                }
                Err(e) => warnings.push(format!("route policy for {} left out: {e}", p.rule_id)),
            }
        }
        Snapshot {
            options,
            base: Arc::new(Layer::build(trunks, rules, compiled_policies)),
            delta: Arc::new(Layer::default()),
            hidden_trunks: Arc::default(),
            hidden_rules: Arc::default(),
            hidden_policies: Arc::default(),
            warnings: Arc::new(warnings),
            force_compaction: false,
        }
    }

    /// The same configuration with the delta folded into a new base: faster lookups after
    /// many writes. [`Snapshot::with_changes`] does this by itself when the delta grows.
    pub fn compacted(&self) -> Snapshot {
        let mut s = self.clone();
        s.force_compaction = true;
        s.with_changes(&[])
    }

    /// An empty snapshot (no trunks, no rules) with these options.
    pub fn empty(options: RouterOptions) -> Snapshot {
        Snapshot::build(Config {
            options,
            ..Default::default()
        })
    }

    /// The next version: this one with `changes` applied, in order. Only the delta layer is
    /// rebuilt, unless it has grown enough to be folded into a new base. Invalid objects are
    /// skipped with a warning, as in [`Snapshot::build`] (writers validate first).
    pub fn with_changes(&self, changes: &[ConfigChange]) -> Snapshot {
        let mut trunks = Pending::new(
            self.delta
                .trunks
                .iter()
                .map(|t| (t.trunk.id.clone(), t.clone())),
            &self.hidden_trunks,
        );
        let mut rules = Pending::new(
            self.delta
                .rules
                .iter()
                .map(|r| (r.rule.id.clone(), r.clone())),
            &self.hidden_rules,
        );
        let mut policies = self.delta.policies.clone();
        let mut hidden_policies = (*self.hidden_policies).clone();
        let mut warnings = (*self.warnings).clone();
        for change in changes {
            match change {
                ConfigChange::PutTrunk(t) => trunks.put(
                    &t.id,
                    self.base.trunk_position(&t.id),
                    TrunkEntry::new(t.clone()),
                    "trunk",
                    &mut warnings,
                ),
                ConfigChange::DeleteTrunk(id) => trunks.delete(id, self.base.trunk_position(id)),
                ConfigChange::PutRule(r) => rules.put(
                    &r.id,
                    self.base.rule_position(&r.id),
                    RuleEntry::new(r.clone()),
                    "dispatch rule",
                    &mut warnings,
                ),
                ConfigChange::DeleteRule(id) => {
                    rules.delete(id, self.base.rule_position(id));
                    hidden_policies.insert(id.clone());
                    policies.remove(id);
                }
                ConfigChange::PutPolicy(p) => {
                    hidden_policies.insert(p.rule_id.clone());
                    match p.compile() {
                        Ok(c) => {
                            policies.insert(p.rule_id.clone(), Arc::new(c));
                        }
                        Err(e) => {
                            policies.remove(&p.rule_id);
                            warnings.push(format!("route policy for {} left out: {e}", p.rule_id));
                        }
                    }
                }
                ConfigChange::DeletePolicy(rule_id) => {
                    hidden_policies.insert(rule_id.clone());
                    policies.remove(rule_id);
                }
            }
        }
        let Pending {
            entries: trunks,
            hidden: hidden_trunks,
        } = trunks;
        let Pending {
            entries: rules,
            hidden: hidden_rules,
        } = rules;
        let delta_len =
            trunks.len() + rules.len() + policies.len() + hidden_trunks.len() + hidden_rules.len();
        let total = self.base.len() + delta_len;
        let compact = self.force_compaction
            || (delta_len > MIN_COMPACTION && delta_len * delta_len > 16 * total);
        if compact {
            let visible_base_trunks = self
                .base
                .trunks
                .iter()
                .enumerate()
                .filter(|(i, _)| !hidden_trunks.contains(&(*i as u32)))
                .map(|(_, t)| t.clone());
            let visible_base_rules = self
                .base
                .rules
                .iter()
                .enumerate()
                .filter(|(i, _)| !hidden_rules.contains(&(*i as u32)))
                .map(|(_, r)| r.clone());
            let all_trunks: Vec<_> = visible_base_trunks.chain(trunks.into_values()).collect();
            let all_rules: Vec<_> = visible_base_rules.chain(rules.into_values()).collect();
            let mut all_policies: FxHashMap<String, Arc<CompiledPolicy>> = self
                .base
                .policies
                .iter()
                .filter(|(id, _)| !hidden_policies.contains(*id))
                .map(|(id, p)| (id.clone(), p.clone()))
                .collect();
            all_policies.extend(policies);
            return Snapshot {
                options: self.options.clone(),
                base: Arc::new(Layer::build(all_trunks, all_rules, all_policies)),
                delta: Arc::new(Layer::default()),
                hidden_trunks: Arc::default(),
                hidden_rules: Arc::default(),
                hidden_policies: Arc::default(),
                warnings: Arc::new(warnings),
                force_compaction: false,
            };
        }
        Snapshot {
            options: self.options.clone(),
            base: self.base.clone(),
            delta: Arc::new(Layer::build(
                trunks.into_values().collect(),
                rules.into_values().collect(),
                policies,
            )),
            hidden_trunks: Arc::new(hidden_trunks),
            hidden_rules: Arc::new(hidden_rules),
            hidden_policies: Arc::new(hidden_policies),
            warnings: Arc::new(warnings),
            force_compaction: false,
        }
    }

    /// Objects left out of this snapshot and why.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    pub fn options(&self) -> &RouterOptions {
        &self.options
    }

    /// How many objects the delta layer holds (0 right after a build or a compaction).
    pub fn delta_len(&self) -> usize {
        self.delta.len()
    }

    pub(crate) fn trunk_entry(&self, id: &str) -> Option<&TrunkEntry> {
        visible(
            &self.delta,
            &self.base,
            |l| l.trunk_position(id).map(|i| &*l.trunks[i as usize]),
            || {
                self.base
                    .trunk_position(id)
                    .is_some_and(|i| self.hidden_trunks.contains(&i))
            },
        )
    }

    pub(crate) fn rule_entry(&self, id: &str) -> Option<&RuleEntry> {
        visible(
            &self.delta,
            &self.base,
            |l| l.rule_position(id).map(|i| &*l.rules[i as usize]),
            || {
                self.base
                    .rule_position(id)
                    .is_some_and(|i| self.hidden_rules.contains(&i))
            },
        )
    }

    pub fn trunk(&self, id: &str) -> Option<&Trunk> {
        self.trunk_entry(id).map(|e| &e.trunk)
    }

    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rule_entry(id).map(|e| &e.rule)
    }

    /// The route policy governing a rule, if any.
    pub fn policy(&self, rule_id: &str) -> Option<&CompiledPolicy> {
        self.delta
            .policies
            .get(rule_id)
            .or_else(|| {
                if self.hidden_policies.contains(rule_id) {
                    None
                } else {
                    self.base.policies.get(rule_id)
                }
            })
            .map(|p| &**p)
    }

    /// Every visible trunk (base order, then delta order).
    pub(crate) fn trunk_entries(&self) -> impl Iterator<Item = &TrunkEntry> {
        self.base
            .trunks
            .iter()
            .enumerate()
            .filter(|(i, _)| !self.hidden_trunks.contains(&(*i as u32)))
            .map(|(_, t)| &**t)
            .chain(self.delta.trunks.iter().map(|t| &**t))
    }

    /// Every visible rule (base order, then delta order).
    pub(crate) fn rule_entries(&self) -> impl Iterator<Item = &RuleEntry> {
        self.base
            .rules
            .iter()
            .enumerate()
            .filter(|(i, _)| !self.hidden_rules.contains(&(*i as u32)))
            .map(|(_, r)| &**r)
            .chain(self.delta.rules.iter().map(|r| &**r))
    }

    /// Every visible trunk, in no particular order.
    pub fn trunks(&self) -> impl Iterator<Item = &Trunk> {
        self.trunk_entries().map(|e| &e.trunk)
    }

    /// Every visible rule, in no particular order.
    pub fn rules(&self) -> impl Iterator<Item = &Rule> {
        self.rule_entries().map(|e| &e.rule)
    }
}
