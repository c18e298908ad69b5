//! A trunk or rule together with its compiled form, shared between snapshot versions.
//!
//! Entries are compiled once, when written, and then shared by `Arc` between every layer
//! and snapshot that contains them, so building a layer never re-parses anything.

use crate::model::{Rule, Trunk};
use crate::number::{NumberMatch, best_match};
use crate::rank::{RuleRank, TrunkNumber, TrunkRank};
use crate::validate::{CompiledRule, CompiledTrunk};

#[derive(Debug)]
pub(crate) struct TrunkEntry {
    pub trunk: Trunk,
    pub compiled: CompiledTrunk,
}

#[derive(Debug)]
pub(crate) struct RuleEntry {
    pub rule: Rule,
    /// The rule id, shared with the rule index so that a lookup answers it from there.
    pub id: std::sync::Arc<str>,
    pub compiled: CompiledRule,
    /// Its conflict keys ([`crate::validate::rule_conflict_keys`]).
    pub keys: Vec<std::sync::Arc<str>>,
}

impl TrunkEntry {
    /// Compiles a trunk; the error says why it is invalid.
    pub fn new(trunk: Trunk) -> Result<TrunkEntry, crate::ConfigError> {
        let compiled = crate::validate::compile_trunk(&trunk)?;
        Ok(TrunkEntry { trunk, compiled })
    }

    /// The trunk's specificity for a call to `called` (normalized), if its numbers admit it.
    pub fn rank(&self, called: &str) -> Option<TrunkRank<'_>> {
        let c = &self.compiled;
        let number = if c.numbers.is_empty() {
            TrunkNumber::Wildcard
        } else {
            TrunkNumber::Listed(best_match(&c.numbers, called)?)
        };
        Some(TrunkRank {
            number,
            caller_open: c.allowed_numbers.is_empty(),
            address_open: c.addresses.is_empty(),
            id: &self.trunk.id,
        })
    }
}

impl RuleEntry {
    /// Compiles a rule; the error says why it is invalid.
    pub fn new(rule: Rule) -> Result<RuleEntry, crate::ConfigError> {
        let compiled = crate::validate::compile_rule(&rule)?;
        let mut keys: Vec<std::sync::Arc<str>> = Vec::new();
        crate::validate::for_each_rule_conflict_key(&rule, &compiled, |k| {
            keys.push(std::sync::Arc::from(k))
        });
        keys.sort_unstable();
        keys.dedup();
        Ok(RuleEntry {
            id: rule.id.as_str().into(),
            rule,
            compiled,
            keys,
        })
    }

    /// The rule's precedence given how its filters matched (`None` = empty filter).
    pub fn rank(
        &self,
        wildcard: bool,
        numbers: Option<NumberMatch>,
        inbound: Option<NumberMatch>,
    ) -> RuleRank<'_> {
        let c = &self.compiled;
        RuleRank {
            wildcard,
            number_score: crate::rank::number_score(
                c.numbers.is_empty(),
                c.inbound_numbers.is_empty(),
            ),
            numbers: numbers.unwrap_or(NumberMatch::Exact),
            inbound: inbound.unwrap_or(NumberMatch::Exact),
            open: self.rule.pin().is_empty(),
            kind: self.rule.kind.as_ref().map_or(u8::MAX, |k| k.rank() as u8),
            room_key: self.rule.room_key(),
            id: &self.rule.id,
        }
    }
}
