//! The reference evaluator: the same routing semantics as [`crate::Snapshot`], by brute
//! force over every trunk and rule with no index. It exists so that property tests can
//! check the indexes against the plain reading of SPEC §3; it is far too slow for calls.

use crate::call::{Call, Pin, Prepared};
use crate::decision::{Decision, Tracer};
use crate::evaluate::{Capacity, Selector, evaluate};
use crate::number::best_match;
use crate::rank::{TrunkNumber, TrunkRank};
use crate::snapshot::Snapshot;
use crate::snapshot::select::pin_allows;

struct Linear<'s>(&'s Snapshot);

impl Selector for Linear<'_> {
    fn snapshot(&self) -> &Snapshot {
        self.0
    }

    fn trunk(&self, call: &Call<'_>, p: &Prepared<'_>, _tr: &mut Tracer<'_>) -> Option<u32> {
        match_trunk(self.0, call, p)
    }

    fn rule(
        &self,
        trunk: Option<u32>,
        p: &Prepared<'_>,
        pin: Pin<'_>,
        _tr: &mut Tracer<'_>,
    ) -> Option<u32> {
        select_rule(self.0, trunk, p, pin)
    }
}

fn match_trunk(s: &Snapshot, call: &Call<'_>, p: &Prepared<'_>) -> Option<u32> {
    let mut best: Option<TrunkRank> = None;
    let mut winner = None;
    for (i, c) in s.ctrunks.iter().enumerate() {
        let number = if c.numbers.is_empty() {
            TrunkNumber::Wildcard
        } else {
            match best_match(&c.numbers, &p.called) {
                Some(m) => TrunkNumber::Listed(m),
                None => continue,
            }
        };
        if !c.caller_allowed(&p.caller) || !c.address_allowed(call.source_ip, &p.host_lower) {
            continue;
        }
        let rank = TrunkRank {
            number,
            caller_open: c.allowed_numbers.is_empty(),
            address_open: c.addresses.is_empty(),
            id_order: i as u32,
        };
        if best.is_none_or(|b| rank < b) {
            best = Some(rank);
            winner = Some(i as u32);
        }
    }
    winner
}

fn select_rule(s: &Snapshot, trunk: Option<u32>, p: &Prepared<'_>, pin: Pin<'_>) -> Option<u32> {
    let trunk_id = trunk.map(|t| s.trunks[t as usize].id.as_str());
    let mut best = None;
    for (i, (r, c)) in s.rules.iter().zip(&s.crules).enumerate() {
        let wildcard = r.trunk_ids.is_empty();
        if !wildcard && !trunk_id.is_some_and(|t| r.trunk_ids.iter().any(|x| x == t)) {
            continue;
        }
        let numbers = best_match(&c.numbers, &p.called);
        if !c.numbers.is_empty() && numbers.is_none() {
            continue;
        }
        let inbound = best_match(&c.inbound_numbers, &p.caller);
        if !c.inbound_numbers.is_empty() && inbound.is_none() {
            continue;
        }
        if !pin_allows(r.pin(), pin) {
            continue;
        }
        let rank = s.rule_rank(i as u32, wildcard, numbers, inbound);
        if best.is_none_or(|(b, _)| rank < b) {
            best = Some((rank, i as u32));
        }
    }
    best.map(|(_, i)| i)
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
        t.map(|i| s.trunks[i as usize].id.as_str()),
        r.map(|i| s.rules[i as usize].id.as_str()),
    )
}
