//! Conflict checks for a trunk or rule about to be written, against this snapshot.
//!
//! The checks use the indexes of both layers, so validating one write costs the same with
//! 10 or 100,000 objects stored. An update is checked as a replacement: the stored object
//! with the same id is not counted against itself.

use super::Snapshot;
use crate::error::ConfigError;
use crate::model::{Rule, Trunk};
use crate::number::NumberPattern;
use crate::validate::{
    CompiledRule, CompiledTrunk, compile_rule, compile_trunk, describe_rule_key,
    rule_conflict_keys, trunks_conflict,
};

fn quoted_name(name: &str) -> String {
    if name.is_empty() {
        "<blank name>".to_string()
    } else {
        format!("{name:?}")
    }
}

impl Snapshot {
    /// Validates a trunk and checks that no other stored trunk could admit the same call
    /// at the same specificity.
    pub fn check_trunk(&self, trunk: &Trunk) -> Result<CompiledTrunk, ConfigError> {
        let compiled = compile_trunk(trunk)?;
        for (is_base, layer) in [(true, &*self.base), (false, &*self.delta)] {
            let ix = &layer.trunk_index;
            let mut candidates: Vec<u32> = Vec::new();
            if compiled.numbers.is_empty() {
                candidates.extend(&ix.wildcard_bucket().all);
            }
            for n in &compiled.numbers {
                let bucket = match n {
                    NumberPattern::Exact(e) => ix.exact_bucket(e),
                    NumberPattern::Prefix(p) => ix.prefix_bucket(p),
                };
                if let Some(b) = bucket {
                    candidates.extend(&b.all);
                }
            }
            candidates.sort_unstable();
            candidates.dedup();
            for i in candidates {
                if is_base && self.hidden_trunks.contains(&i) {
                    continue;
                }
                let other = &layer.trunks[i as usize];
                if other.trunk.id == trunk.id && !trunk.id.is_empty() {
                    continue;
                }
                if let Some(number) = trunks_conflict(&compiled, &other.compiled) {
                    let other = &other.trunk;
                    let numbers = if number.is_empty() {
                        "any called number (both are wildcard trunks)".to_string()
                    } else {
                        format!("called number {number}")
                    };
                    return Err(ConfigError::Conflict {
                        message: format!(
                            "Conflicting inbound SIP trunks: this trunk and trunk {:?} {} both admit calls to {numbers} from the same callers and sources; give one of them different numbers, allowed_numbers or allowed_addresses, or update {} instead of creating another",
                            other.id,
                            quoted_name(&other.name),
                            other.id
                        ),
                        existing_id: other.id.clone(),
                        existing_name: other.name.clone(),
                    });
                }
            }
        }
        Ok(compiled)
    }

    /// Validates a rule and checks that no other stored rule claims one of its
    /// (trunk, caller, called number, PIN) keys.
    pub fn check_rule(&self, rule: &Rule) -> Result<CompiledRule, ConfigError> {
        let compiled = compile_rule(rule)?;
        for key in rule_conflict_keys(rule, &compiled) {
            for (is_base, layer) in [(false, &*self.delta), (true, &*self.base)] {
                let Some(&i) = layer.rule_keys.get(key.as_str()) else {
                    continue;
                };
                if is_base && self.hidden_rules.contains(&i) {
                    continue;
                }
                let other = &layer.rules[i as usize].rule;
                if other.id == rule.id && !rule.id.is_empty() {
                    continue;
                }
                return Err(ConfigError::Conflict {
                    message: format!(
                        "Dispatch rule for the same trunk, inbound number, number, and PIN combination already exists in dispatch rule {:?} {} ({}); give this rule a different PIN, numbers, inbound_numbers or trunk_ids, or update {} instead",
                        other.id,
                        quoted_name(&other.name),
                        describe_rule_key(&key),
                        other.id
                    ),
                    existing_id: other.id.clone(),
                    existing_name: other.name.clone(),
                });
            }
        }
        Ok(compiled)
    }
}
