//! One immutable, indexed layer of a snapshot: trunks, rules and policies with their
//! indexes. A snapshot is a large base layer plus a small delta layer of recent writes.

use std::collections::HashMap;
use std::sync::Arc;

use super::entry::{RuleEntry, TrunkEntry};
use super::rule_index::RuleIndex;
use super::trunk_index::TrunkIndex;
use crate::policy::CompiledPolicy;

#[derive(Debug, Default)]
pub(crate) struct Layer {
    /// Ascending id order.
    pub trunks: Vec<Arc<TrunkEntry>>,
    /// Ascending id order.
    pub rules: Vec<Arc<RuleEntry>>,
    pub trunk_by_id: HashMap<String, u32>,
    pub rule_by_id: HashMap<String, u32>,
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
        let trunk_by_id = trunks
            .iter()
            .enumerate()
            .map(|(i, t)| (t.trunk.id.clone(), i as u32))
            .collect();
        let rule_by_id = rules
            .iter()
            .enumerate()
            .map(|(i, r)| (r.rule.id.clone(), i as u32))
            .collect();
        let mut rule_keys = HashMap::with_capacity(rules.len());
        for (i, r) in rules.iter().enumerate() {
            for k in &r.keys {
                rule_keys.entry(k.clone()).or_insert(i as u32);
            }
        }
        let trunk_index = TrunkIndex::build(&trunks);
        let rule_index = RuleIndex::build(&rules);
        Layer {
            trunks,
            rules,
            trunk_by_id,
            rule_by_id,
            rule_keys,
            policies,
            trunk_index,
            rule_index,
        }
    }

    pub fn len(&self) -> usize {
        self.trunks.len() + self.rules.len() + self.policies.len()
    }
}
