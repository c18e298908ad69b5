//! The immutable, indexed view of one configuration version.
//!
//! A [`Snapshot`] is built once per configuration change ([`Snapshot::build`]) and then
//! shared read-only by every call; the server swaps in a new one atomically. Building
//! sorts trunks and rules by id (so index order is id order, the final tie-breaker),
//! compiles every object once, and indexes:
//!
//! * trunks by normalized called number, by pattern prefix, and the wildcard bucket; inside
//!   each bucket by caller, then by source IP, CIDR network and From host;
//! * rules by (trunk scope, called-number key, caller key), where a key is an exact
//!   normalized number, a pattern prefix, or "any".
//!
//! A lookup is a bounded number of hash probes — one per pattern length in use — whatever
//! the number of trunks and rules. Objects that fail validation are left out of the
//! snapshot and reported in [`Snapshot::warnings`]: a bad object never fails other calls.

mod checks;
mod rule_index;
pub(crate) mod select;
mod trunk_index;

use std::collections::HashMap;

use crate::model::{Config, RouterOptions, Rule, Trunk};
use crate::policy::CompiledPolicy;
use crate::rank::RuleRank;
use crate::validate::{
    CompiledRule, CompiledTrunk, compile_rule, compile_trunk, rule_conflict_keys,
};

use rule_index::RuleIndex;
use trunk_index::TrunkIndex;

/// One configuration version, compiled and indexed for routing.
#[derive(Debug)]
pub struct Snapshot {
    pub(crate) options: RouterOptions,
    pub(crate) trunks: Vec<Trunk>,
    pub(crate) ctrunks: Vec<CompiledTrunk>,
    pub(crate) rules: Vec<Rule>,
    pub(crate) crules: Vec<CompiledRule>,
    /// Per rule: position in (room key, id) order.
    pub(crate) rule_tiebreak: Vec<u32>,
    pub(crate) policies: Vec<Option<CompiledPolicy>>,
    pub(crate) trunk_by_id: HashMap<String, u32>,
    pub(crate) rule_by_id: HashMap<String, u32>,
    pub(crate) rule_keys: HashMap<String, u32>,
    trunk_index: TrunkIndex,
    rule_index: RuleIndex,
    warnings: Vec<String>,
}

impl Snapshot {
    /// Compiles and indexes a configuration. Never fails: invalid objects are skipped and
    /// listed in [`Snapshot::warnings`].
    pub fn build(config: Config) -> Snapshot {
        let Config {
            mut trunks,
            mut rules,
            policies,
            options,
        } = config;
        let mut warnings = Vec::new();
        trunks.sort_by(|a, b| a.id.cmp(&b.id));
        trunks.dedup_by(|a, b| a.id == b.id);
        rules.sort_by(|a, b| a.id.cmp(&b.id));
        rules.dedup_by(|a, b| a.id == b.id);

        let mut kept_trunks = Vec::with_capacity(trunks.len());
        let mut ctrunks = Vec::with_capacity(trunks.len());
        for t in trunks {
            match compile_trunk(&t) {
                Ok(c) => {
                    kept_trunks.push(t);
                    ctrunks.push(c);
                }
                Err(e) => warnings.push(format!("trunk {} left out: {e}", t.id)),
            }
        }
        let mut kept_rules = Vec::with_capacity(rules.len());
        let mut crules = Vec::with_capacity(rules.len());
        for r in rules {
            match compile_rule(&r) {
                Ok(c) => {
                    kept_rules.push(r);
                    crules.push(c);
                }
                Err(e) => warnings.push(format!("dispatch rule {} left out: {e}", r.id)),
            }
        }
        let trunks = kept_trunks;
        let rules = kept_rules;
        let trunk_by_id: HashMap<String, u32> = trunks
            .iter()
            .enumerate()
            .map(|(i, t)| (t.id.clone(), i as u32))
            .collect();
        let rule_by_id: HashMap<String, u32> = rules
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.clone(), i as u32))
            .collect();

        let mut order: Vec<u32> = (0..rules.len() as u32).collect();
        order.sort_by(|&a, &b| {
            let (ra, rb) = (&rules[a as usize], &rules[b as usize]);
            ra.room_key().cmp(rb.room_key()).then(ra.id.cmp(&rb.id))
        });
        let mut rule_tiebreak = vec![0u32; rules.len()];
        for (pos, idx) in order.into_iter().enumerate() {
            rule_tiebreak[idx as usize] = pos as u32;
        }
        let rule_scopes: Vec<Vec<u32>> = rules
            .iter()
            .map(|r| {
                let mut s: Vec<u32> = r
                    .trunk_ids
                    .iter()
                    .filter_map(|id| trunk_by_id.get(id).copied())
                    .collect();
                s.sort_unstable();
                s.dedup();
                s
            })
            .collect();

        let mut compiled_policies: Vec<Option<CompiledPolicy>> = vec![None; rules.len()];
        for p in policies {
            let Some(&idx) = rule_by_id.get(&p.rule_id) else {
                warnings.push(format!(
                    "route policy for {} left out: no such dispatch rule",
                    p.rule_id
                ));
                continue;
            };
            match p.compile() {
                Ok(c) => compiled_policies[idx as usize] = Some(c),
                Err(e) => warnings.push(format!("route policy for {} left out: {e}", p.rule_id)),
            }
        }

        let mut rule_keys = HashMap::with_capacity(rules.len());
        for (i, (r, c)) in rules.iter().zip(&crules).enumerate() {
            for k in rule_conflict_keys(r, c) {
                rule_keys.entry(k).or_insert(i as u32);
            }
        }

        let trunk_index = TrunkIndex::build(&trunks, &ctrunks);
        let rule_index = RuleIndex::build(&crules, &rule_scopes, &rules);
        Snapshot {
            options,
            trunks,
            ctrunks,
            rules,
            crules,
            rule_tiebreak,
            policies: compiled_policies,
            trunk_by_id,
            rule_by_id,
            rule_keys,
            trunk_index,
            rule_index,
            warnings,
        }
    }

    /// An empty snapshot (no trunks, no rules) with these options.
    pub fn empty(options: RouterOptions) -> Snapshot {
        Snapshot::build(Config {
            options,
            ..Default::default()
        })
    }

    /// Objects left out of this snapshot and why.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    pub fn options(&self) -> &RouterOptions {
        &self.options
    }

    /// Trunks in ascending id order.
    pub fn trunks(&self) -> &[Trunk] {
        &self.trunks
    }

    /// Rules in ascending id order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn trunk(&self, id: &str) -> Option<&Trunk> {
        self.trunk_by_id.get(id).map(|&i| &self.trunks[i as usize])
    }

    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rule_by_id.get(id).map(|&i| &self.rules[i as usize])
    }

    /// The route policy governing a rule, if any.
    pub fn policy(&self, rule_id: &str) -> Option<&CompiledPolicy> {
        self.rule_by_id
            .get(rule_id)
            .and_then(|&i| self.policies[i as usize].as_ref())
    }

    /// The precedence key of rule `idx` when matched in `scope` with these number matches.
    pub(crate) fn rule_rank(
        &self,
        idx: u32,
        wildcard: bool,
        numbers: Option<crate::number::NumberMatch>,
        inbound: Option<crate::number::NumberMatch>,
    ) -> RuleRank {
        let r = &self.rules[idx as usize];
        let c = &self.crules[idx as usize];
        RuleRank {
            wildcard,
            number_score: crate::rank::number_score(
                c.numbers.is_empty(),
                c.inbound_numbers.is_empty(),
            ),
            numbers: numbers.unwrap_or(crate::number::NumberMatch::Exact),
            inbound: inbound.unwrap_or(crate::number::NumberMatch::Exact),
            open: r.pin().is_empty(),
            kind: r.kind.as_ref().map_or(u8::MAX, |k| k.rank() as u8),
            tiebreak: self.rule_tiebreak[idx as usize],
        }
    }
}
