//! Dispatch-rule lookup by (trunk scope, called-number key, caller key).
//!
//! Every rule is filed under each combination of its scopes (its trunks, or the wildcard
//! scope 0) and its number-filter entries (an exact normalized number, a pattern prefix, or
//! "any" when the filter is empty). A call probes the keys that could apply to it: its
//! exact numbers, the prefixes of the lengths in use, and "any" — a count bounded by the
//! pattern lengths in use, not by the number of rules. Number strings are interned to
//! integers once, at build time.

use std::collections::HashMap;

use std::sync::Arc;

use super::entry::RuleEntry;
use crate::number::{NumberMatch, NumberPattern};

/// A number-filter key: any (empty filter), an exact number, or a pattern prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum NumKey {
    Any,
    Exact(u32),
    Prefix(u32, u32),
}

impl NumKey {
    /// How a number matched under this key (`None` for an empty filter).
    pub fn matched(self) -> Option<NumberMatch> {
        match self {
            NumKey::Any => None,
            NumKey::Exact(_) => Some(NumberMatch::Exact),
            NumKey::Prefix(_, len) => Some(NumberMatch::prefix(len as usize)),
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct RuleIndex {
    map: HashMap<(u32, NumKey, NumKey), Vec<u32>>,
    /// Trunk ids named by rules → scope numbers (0 is the wildcard scope).
    scopes: HashMap<Box<str>, u32>,
    exact_ids: HashMap<Box<str>, u32>,
    prefix_ids: HashMap<Box<str>, u32>,
    numbers_prefix_lens: Vec<usize>,
    inbound_prefix_lens: Vec<usize>,
}

impl RuleIndex {
    pub fn build(rules: &[Arc<RuleEntry>]) -> RuleIndex {
        let mut ix = RuleIndex::default();
        for (i, entry) in rules.iter().enumerate() {
            let (r, c) = (&entry.rule, &entry.compiled);
            let mut rule_scopes: Vec<u32> = if r.trunk_ids.is_empty() {
                vec![0]
            } else {
                r.trunk_ids
                    .iter()
                    .map(|t| {
                        let next = ix.scopes.len() as u32 + 1;
                        *ix.scopes.entry(t.as_str().into()).or_insert(next)
                    })
                    .collect()
            };
            rule_scopes.sort_unstable();
            rule_scopes.dedup();
            let num_keys = ix.keys_for(&c.numbers, true);
            let inb_keys = ix.keys_for(&c.inbound_numbers, false);
            for &s in &rule_scopes {
                for &n in &num_keys {
                    for &k in &inb_keys {
                        ix.map.entry((s, n, k)).or_default().push(i as u32);
                    }
                }
            }
        }
        ix.numbers_prefix_lens.sort_unstable();
        ix.inbound_prefix_lens.sort_unstable();
        ix
    }

    fn keys_for(&mut self, list: &[NumberPattern], numbers: bool) -> Vec<NumKey> {
        if list.is_empty() {
            return vec![NumKey::Any];
        }
        list.iter()
            .map(|p| match p {
                NumberPattern::Exact(e) => {
                    let next = self.exact_ids.len() as u32;
                    NumKey::Exact(*self.exact_ids.entry(e.as_str().into()).or_insert(next))
                }
                NumberPattern::Prefix(pre) => {
                    let next = self.prefix_ids.len() as u32;
                    let id = *self.prefix_ids.entry(pre.as_str().into()).or_insert(next);
                    let lens = if numbers {
                        &mut self.numbers_prefix_lens
                    } else {
                        &mut self.inbound_prefix_lens
                    };
                    if !lens.contains(&pre.len()) {
                        lens.push(pre.len());
                    }
                    NumKey::Prefix(id, pre.len() as u32)
                }
            })
            .collect()
    }

    /// The keys a normalized number can be filed under, "any" included.
    fn probe_keys(&self, number: &str, lens: &[usize], out: &mut Vec<NumKey>) {
        out.clear();
        out.push(NumKey::Any);
        if let Some(&id) = self.exact_ids.get(number) {
            out.push(NumKey::Exact(id));
        }
        for &len in lens {
            if let Some(&id) = number.get(..len).and_then(|p| self.prefix_ids.get(p)) {
                out.push(NumKey::Prefix(id, len as u32));
            }
        }
    }

    /// Calls `visit(rule, scope_is_wildcard, numbers_key, inbound_key)` for every rule filed
    /// under a key that applies to the call.
    pub fn candidates(
        &self,
        trunk_id: Option<&str>,
        called: &str,
        caller: &str,
        mut visit: impl FnMut(u32, bool, NumKey, NumKey),
    ) {
        let mut num_keys = Vec::with_capacity(4);
        let mut inb_keys = Vec::with_capacity(4);
        self.probe_keys(called, &self.numbers_prefix_lens, &mut num_keys);
        self.probe_keys(caller, &self.inbound_prefix_lens, &mut inb_keys);
        let trunk_scope = trunk_id.and_then(|t| self.scopes.get(t).copied());
        let scopes = trunk_scope.into_iter().chain(std::iter::once(0));
        for s in scopes {
            for &n in &num_keys {
                for &k in &inb_keys {
                    if let Some(list) = self.map.get(&(s, n, k)) {
                        for &r in list {
                            visit(r, s == 0, n, k);
                        }
                    }
                }
            }
        }
    }
}
