//! The reference evaluator: the same routing semantics as [`crate::Snapshot`], by brute
//! force over every visible trunk and rule with no index. It exists so that property tests
//! can check the indexes (and the layering of incremental snapshots) against the plain
//! reading of SPEC §3; it is far too slow for calls.

use crate::call::{Call, Pin, Prepared};
use crate::decision::{Decision, Tracer};
use crate::evaluate::{Capacity, Selector, evaluate};
use crate::number::best_match;
use crate::snapshot::select::{TrunkPick, pin_allows};
use crate::snapshot::{RuleEntry, Snapshot, TrunkEntry};

struct Linear<'s>(&'s Snapshot);

impl<'s> Selector<'s> for Linear<'s> {
    fn snapshot(&self) -> &'s Snapshot {
        self.0
    }

    fn trunk(
        &self,
        call: &Call<'_>,
        p: &Prepared<'_>,
        _tr: &mut Tracer<'_>,
    ) -> Option<TrunkPick<'s>> {
        match_trunk(self.0, call, p).map(|entry| TrunkPick { entry, at: None })
    }

    fn rule(
        &self,
        trunk: Option<TrunkPick<'s>>,
        p: &Prepared<'_>,
        pin: Pin<'_>,
        _tr: &mut Tracer<'_>,
    ) -> Option<&'s RuleEntry> {
        select_rule(self.0, trunk.map(|t| t.entry), p, pin)
    }
}

fn match_trunk<'s>(s: &'s Snapshot, call: &Call<'_>, p: &Prepared<'_>) -> Option<&'s TrunkEntry> {
    s.trunk_entries()
        .filter(|e| {
            e.compiled.caller_allowed(&p.caller)
                && e.compiled.address_allowed(call.source_ip, &p.host_lower)
        })
        .filter_map(|e| e.rank(&p.called).map(|rank| (rank, e)))
        .min_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, e)| e)
}

fn select_rule<'s>(
    s: &'s Snapshot,
    trunk: Option<&TrunkEntry>,
    p: &Prepared<'_>,
    pin: Pin<'_>,
) -> Option<&'s RuleEntry> {
    let trunk_id = trunk.map(|t| t.trunk.id.as_str());
    s.rule_entries()
        .filter_map(|e| {
            let (r, c) = (&e.rule, &e.compiled);
            let wildcard = r.trunk_ids.is_empty();
            if !wildcard && !trunk_id.is_some_and(|t| r.trunk_ids.iter().any(|x| x == t)) {
                return None;
            }
            let numbers = best_match(&c.numbers, &p.called);
            if !c.numbers.is_empty() && numbers.is_none() {
                return None;
            }
            let inbound = best_match(&c.inbound_numbers, &p.caller);
            if !c.inbound_numbers.is_empty() && inbound.is_none() {
                return None;
            }
            if !pin_allows(r.pin().as_bytes(), pin) {
                return None;
            }
            Some((e.rank(wildcard, numbers, inbound), e))
        })
        .min_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, e)| e)
}

/// Routes a call by brute force. Same answer as [`Snapshot::evaluate`], slower.
pub fn evaluate_linear(s: &Snapshot, call: &Call<'_>, capacity: &mut dyn Capacity) -> Decision {
    evaluate(&Linear(s), call, capacity, None)
}

/// Trunk and rule ids by brute force. Same answer as [`Snapshot::match_ids`].
pub fn match_ids_linear<'s>(
    s: &'s Snapshot,
    call: &Call<'_>,
) -> (Option<&'s str>, Option<&'s str>) {
    let p = Prepared::new(call);
    let t = match_trunk(s, call, &p);
    if t.is_none() && !s.options.accept_trunkless_calls {
        return (None, None);
    }
    let r = select_rule(s, t, &p, call.pin);
    (
        t.map(|e| e.trunk.id.as_str()),
        r.map(|e| e.rule.id.as_str()),
    )
}
