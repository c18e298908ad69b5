//! One immutable, indexed layer of a snapshot: trunks, rules and policies with their
//! indexes. A snapshot is a large base layer plus a small delta layer of recent writes.

use rustc_hash::FxHashMap as HashMap;
use std::sync::Arc;

use super::entry::{RuleEntry, TrunkEntry};
use super::rule_index::{RuleIndex, SCAN_LIMIT};
use super::trunk_index::TrunkIndex;
use crate::policy::CompiledPolicy;

#[derive(Debug, Default)]
pub(crate) struct Layer {
    /// Ascending id order.
    pub trunks: Vec<Arc<TrunkEntry>>,
    /// Ascending id order.
    pub rules: Vec<Arc<RuleEntry>>,
    /// Conflict key → the first rule (by id) claiming it.
    pub rule_keys: HashMap<Arc<str>, u32>,
    /// Route policies by rule id.
    pub policies: HashMap<String, Arc<CompiledPolicy>>,
    pub trunk_index: TrunkIndex,
    pub rule_index: RuleIndex,
}

impl Layer {
    pub fn build(
        mut trunks: Vec<Arc<TrunkEntry>>,
        mut rules: Vec<Arc<RuleEntry>>,
        policies: HashMap<String, Arc<CompiledPolicy>>,
    ) -> Layer {
        trunks.sort_by(|a, b| a.trunk.id.cmp(&b.trunk.id));
        trunks.dedup_by(|a, b| a.trunk.id == b.trunk.id);
        rules.sort_by(|a, b| a.rule.id.cmp(&b.rule.id));
        rules.dedup_by(|a, b| a.rule.id == b.rule.id);
        let mut rule_keys = HashMap::with_capacity_and_hasher(rules.len(), Default::default());
        for (i, r) in rules.iter().enumerate() {
            for k in &r.keys {
                rule_keys.entry(k.clone()).or_insert(i as u32);
            }
        }
        let trunk_index = TrunkIndex::build(&trunks);
        let rule_index = RuleIndex::build(&rules, &trunks, SCAN_LIMIT);
        Layer {
            trunks,
            rules,
            rule_keys,
            policies,
            trunk_index,
            rule_index,
        }
    }

    /// Where the trunk with this id sits (the vectors are sorted by id).
    pub fn trunk_position(&self, id: &str) -> Option<u32> {
        self.trunks
            .binary_search_by(|t| t.trunk.id.as_str().cmp(id))
            .ok()
            .map(|i| i as u32)
    }

    /// Where the rule with this id sits.
    pub fn rule_position(&self, id: &str) -> Option<u32> {
        self.rules
            .binary_search_by(|r| r.rule.id.as_str().cmp(id))
            .ok()
            .map(|i| i as u32)
    }

    pub fn len(&self) -> usize {
        self.trunks.len() + self.rules.len() + self.policies.len()
    }
}
