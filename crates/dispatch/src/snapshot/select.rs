//! Trunk and rule selection through the indexes of both layers, with an optional trace.

use subtle::ConstantTimeEq;

use smallvec::SmallVec;

use super::layer::Layer;
use super::rule_index::{Filing, NumKey};
use super::trunk_index::BucketKey;
use super::{RuleEntry, Snapshot, TrunkEntry};
use crate::call::{Call, Pin, Prepared};
use crate::decision::{Stage, StepResult, Tracer};
use crate::number::best_match;
use crate::rank::RuleRank;

/// A layer's best filing, with the scope and keys it was found under.
type Pick<'a> = (&'a Layer, &'a Filing, bool, NumKey, NumKey);

/// The selected trunk, and where it was found when that is known: the layer (base or
/// not) and its position there, which lets that layer's rule index find the trunk's rules
/// without hashing its id.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TrunkPick<'a> {
    pub entry: &'a TrunkEntry,
    pub at: Option<(bool, u32)>,
}

impl<'a> TrunkPick<'a> {
    /// The trunk id and, if the trunk belongs to this layer, its position there: what a
    /// layer's rule index looks the trunk's rules up by.
    fn scope_in(trunk: Option<TrunkPick<'a>>, is_base: bool) -> Option<(&'a str, Option<u32>)> {
        trunk.map(|t| {
            let pos = t.at.filter(|&(b, _)| b == is_base).map(|(_, i)| i);
            (t.entry.trunk.id.as_str(), pos)
        })
    }
}

/// How many dropped trunks an explain trace lists by name; the rest are counted.
const MAX_TRACED_DROPS: usize = 20;

/// Whether a rule with PIN `rule_pin` survives the PIN filter (SPEC §4).
pub(crate) fn pin_allows(rule_pin: &[u8], pin: Pin<'_>) -> bool {
    match pin {
        Pin::NotEntered => true,
        Pin::Skipped => rule_pin.is_empty(),
        Pin::Entered(p) => {
            !rule_pin.is_empty()
                && rule_pin.len() == p.len()
                && bool::from(rule_pin.ct_eq(p.as_bytes()))
        }
    }
}

/// Why the PIN filter dropped a rule, for traces.
pub(crate) fn pin_drop_reason(rule_pin: &str, pin: Pin<'_>) -> &'static str {
    match pin {
        Pin::Skipped if !rule_pin.is_empty() => "pin_rule_skipped",
        Pin::Entered(_) if rule_pin.is_empty() => "open_rule_excluded_by_pin",
        _ => "pin_mismatch",
    }
}

impl Snapshot {
    /// The two layers, base first, each with whether it is the base.
    fn layers(&self) -> [(bool, &Layer); 2] {
        [(true, &*self.base), (false, &*self.delta)]
    }

    /// Base entries may be hidden by later writes; delta entries never are.
    fn trunk_visible(&self, base: bool, i: u32) -> bool {
        !base || self.hidden_trunks.is_empty() || !self.hidden_trunks.contains(&i)
    }

    fn rule_visible(&self, base: bool, i: u32) -> bool {
        !base || self.hidden_rules.is_empty() || !self.hidden_rules.contains(&i)
    }

    /// The trunk that admits the call, recording every trunk looked at when tracing.
    pub(crate) fn select_trunk(
        &self,
        call: &Call<'_>,
        p: &Prepared<'_>,
        tr: &mut Tracer<'_>,
    ) -> Option<TrunkPick<'_>> {
        if tr.on() {
            return self
                .select_trunk_traced(call, p, tr)
                .map(|entry| TrunkPick { entry, at: None });
        }
        let mut best: Option<TrunkPick<'_>> = None;
        for (is_base, layer) in self.layers() {
            if layer.trunks.is_empty() {
                continue;
            }
            let found = layer
                .trunk_index
                .lookup(
                    &layer.trunks,
                    &p.called,
                    &p.caller,
                    call.source_ip,
                    &p.host_lower,
                    |i| self.trunk_visible(is_base, i),
                )
                .map(|i| TrunkPick {
                    entry: &layer.trunks[i as usize],
                    at: Some((is_base, i)),
                });
            best = match (best, found) {
                (Some(b), Some(f)) if f.entry.rank(&p.called) < b.entry.rank(&p.called) => Some(f),
                (None, f) => f,
                (b, _) => b,
            };
        }
        best
    }

    fn select_trunk_traced(
        &self,
        call: &Call<'_>,
        p: &Prepared<'_>,
        tr: &mut Tracer<'_>,
    ) -> Option<&TrunkEntry> {
        // (entry, how the number matched: index into `hows`, dropped because)
        let mut seen: Vec<(&TrunkEntry, usize, Option<&'static str>)> = Vec::new();
        let mut hows: Vec<String> = Vec::new();
        for (is_base, layer) in self.layers() {
            for (key, bucket) in layer.trunk_index.buckets(&p.called) {
                hows.push(match key {
                    BucketKey::Exact => format!("lists {} exactly", p.called),
                    BucketKey::Prefix(pre) => format!("pattern {pre}* matches {}", p.called),
                    BucketKey::Wildcard => "wildcard trunk (no numbers)".to_string(),
                });
                let how = hows.len() - 1;
                for &i in &bucket.all {
                    if !self.trunk_visible(is_base, i) {
                        continue;
                    }
                    let e = &*layer.trunks[i as usize];
                    let dropped = if !e.compiled.caller_allowed(&p.caller) {
                        Some("caller_not_allowed")
                    } else if !e.compiled.address_allowed(call.source_ip, &p.host_lower) {
                        Some("address_not_allowed")
                    } else {
                        None
                    };
                    seen.push((e, how, dropped));
                }
            }
        }
        seen.sort_by(|a, b| a.0.rank(&p.called).cmp(&b.0.rank(&p.called)));
        let winner = seen
            .iter()
            .find(|(_, _, d)| d.is_none())
            .map(|(e, _, _)| *e);
        let mut dropped_listed = 0usize;
        let mut dropped_unlisted = 0usize;
        for (e, how, dropped) in &seen {
            let t = &e.trunk;
            let how = &hows[*how];
            if dropped.is_some() {
                if dropped_listed == MAX_TRACED_DROPS {
                    dropped_unlisted += 1;
                    continue;
                }
                dropped_listed += 1;
            }
            match dropped {
                Some("caller_not_allowed") => tr.push(Stage::Trunk, &t.id, &t.name, StepResult::Dropped, "caller_not_allowed", || {
                    format!("{how}, but caller {} is not in allowed_numbers", p.caller)
                }),
                Some(reason) => tr.push(Stage::Trunk, &t.id, &t.name, StepResult::Dropped, reason, || {
                    let src = call.source_ip.map_or("unknown".to_string(), |s| s.to_string());
                    format!(
                        "{how}, but neither source {src} nor From host {:?} is in allowed_addresses",
                        call.from_host
                    )
                }),
                None if winner.is_some_and(|w| std::ptr::eq(w, *e)) => {
                    tr.push(Stage::Trunk, &t.id, &t.name, StepResult::Selected, "most_specific", || {
                        let mut d = format!("{how}; the most specific trunk that admits the call");
                        if t.requires_auth() {
                            d.push_str(&format!(
                                "; the caller must answer a digest challenge (realm {:?})",
                                t.realm()
                            ));
                        }
                        d
                    })
                }
                None => tr.push(Stage::Trunk, &t.id, &t.name, StepResult::Kept, "less_specific", || {
                    format!("{how}; admits the call but a more specific trunk was selected")
                }),
            }
        }
        if dropped_unlisted > 0 {
            tr.push(Stage::Trunk, "", "", StepResult::Info, "more_dropped", || {
                format!(
                    "{dropped_unlisted} more trunks serve this number but not this caller or source (not listed)"
                )
            });
        }
        if winner.is_none() {
            tr.push(Stage::Trunk, "", "", StepResult::Info, "no_trunk", || {
                format!(
                    "no trunk lists {} (exactly or by pattern) and admits this caller and source, and no wildcard trunk does",
                    p.called
                )
            });
        }
        winner
    }

    /// The winning rule for the call on `trunk`.
    pub(crate) fn select_rule(
        &self,
        trunk: Option<TrunkPick<'_>>,
        p: &Prepared<'_>,
        pin: Pin<'_>,
        tr: &mut Tracer<'_>,
    ) -> Option<&RuleEntry> {
        if tr.on() {
            return self.best_rule(trunk, p, pin, tr).map(|(_, e)| e);
        }
        self.select_rule_fast(trunk, p, pin)
            .map(|(layer, f)| &*layer.rules[f.idx as usize])
    }

    /// The id of the winning rule for the call on `trunk`, answered from the index alone.
    pub(crate) fn select_rule_id(
        &self,
        trunk: Option<TrunkPick<'_>>,
        p: &Prepared<'_>,
        pin: Pin<'_>,
    ) -> Option<&str> {
        self.select_rule_fast(trunk, p, pin).map(|(_, f)| &*f.id)
    }

    /// The call path: picks each layer's best filing from the index alone (the index has
    /// compared its keys with the call's) and reads rule entries only when both layers
    /// have a candidate, to rank them against each other.
    fn select_rule_fast(
        &self,
        trunk: Option<TrunkPick<'_>>,
        p: &Prepared<'_>,
        pin: Pin<'_>,
    ) -> Option<(&Layer, &Filing)> {
        let mut picks: SmallVec<[Pick<'_>; 2]> = SmallVec::new();
        for (is_base, layer) in self.layers() {
            if layer.rules.is_empty() {
                continue;
            }
            let ix = &layer.rule_index;
            let best = ix.best(
                TrunkPick::scope_in(trunk, is_base),
                &p.called,
                &p.caller,
                |f| {
                    self.rule_visible(is_base, f.idx)
                        && match pin {
                            Pin::NotEntered => true,
                            Pin::Skipped => f.open(),
                            Pin::Entered(_) => !f.open() && pin_allows(ix.pin(f), pin),
                        }
                },
            );
            if let Some((f, wildcard, n, k)) = best {
                picks.push((layer, f, wildcard, n, k));
            }
        }
        match picks.as_slice() {
            [] => None,
            [(layer, f, ..)] => Some((*layer, *f)),
            _ => picks
                .iter()
                .map(|&(layer, f, wildcard, n, k)| {
                    let e = &layer.rules[f.idx as usize];
                    (e.rank(wildcard, n.matched(), k.matched()), (layer, f))
                })
                .min_by(|a, b| a.0.cmp(&b.0))
                .map(|(_, pick)| pick),
        }
    }

    /// One pass over every candidate of both layers, each checked against its real filters:
    /// the slow path behind [`Self::select_rule_fast`], and the one that can trace.
    fn best_rule(
        &self,
        trunk: Option<TrunkPick<'_>>,
        p: &Prepared<'_>,
        pin: Pin<'_>,
        tr: &mut Tracer<'_>,
    ) -> Option<(RuleRank<'_>, &RuleEntry)> {
        let mut best: Option<(RuleRank<'_>, &RuleEntry)> = None;
        let mut seen: Vec<(&RuleEntry, RuleRank<'_>, bool)> = Vec::new();
        for (is_base, layer) in self.layers() {
            if layer.rules.is_empty() {
                continue;
            }
            layer.rule_index.candidates(
                TrunkPick::scope_in(trunk, is_base),
                &p.called,
                &p.caller,
                |f, wildcard, n, k| {
                    if !self.rule_visible(is_base, f.idx) {
                        return;
                    }
                    let e = &*layer.rules[f.idx as usize];
                    let rank = e.rank(wildcard, n.matched(), k.matched());
                    let ok = pin_allows(e.rule.pin().as_bytes(), pin);
                    if ok && best.is_none_or(|(b, _)| rank < b) {
                        best = Some((rank, e));
                    }
                    if tr.on() {
                        match seen.iter_mut().find(|(x, _, _)| std::ptr::eq(*x, e)) {
                            Some(s) if rank < s.1 => s.1 = rank,
                            Some(_) => {}
                            None => seen.push((e, rank, ok)),
                        }
                    }
                },
            );
        }
        if tr.on() {
            let trunk = trunk.map(|t| t.entry);
            self.trace_rules(&mut seen, best.map(|(_, e)| e), trunk, p, pin, tr);
        }
        best
    }

    fn trace_rules(
        &self,
        seen: &mut [(&RuleEntry, RuleRank<'_>, bool)],
        winner: Option<&RuleEntry>,
        trunk: Option<&TrunkEntry>,
        p: &Prepared<'_>,
        pin: Pin<'_>,
        tr: &mut Tracer<'_>,
    ) {
        seen.sort_by_key(|(_, rank, _)| *rank);
        for &(e, rank, ok) in seen.iter() {
            let (r, c) = (&e.rule, &e.compiled);
            let scope = if rank.wildcard {
                "all trunks"
            } else {
                "this trunk"
            };
            let describe = || {
                let mut parts = vec![format!(
                    "{} rule for {scope}, priority {}",
                    r.kind.as_ref().map_or("untyped", |k| k.label()),
                    rank.priority()
                )];
                if let Some(m) = best_match(&c.numbers, &p.called) {
                    parts.push(format!("called number matched {}", m.describe()));
                }
                if let Some(m) = best_match(&c.inbound_numbers, &p.caller) {
                    parts.push(format!("caller matched {}", m.describe()));
                }
                if !r.pin().is_empty() {
                    parts.push("PIN-protected".to_string());
                }
                parts.join(", ")
            };
            if winner.is_some_and(|w| std::ptr::eq(w, e)) {
                tr.push(
                    Stage::Rule,
                    &r.id,
                    &r.name,
                    StepResult::Selected,
                    "highest_priority",
                    describe,
                );
            } else if !ok {
                let reason = pin_drop_reason(r.pin(), pin);
                tr.push(
                    Stage::Rule,
                    &r.id,
                    &r.name,
                    StepResult::Dropped,
                    reason,
                    || {
                        let why = match reason {
                            "pin_rule_skipped" => {
                                "the caller pressed # without a PIN, which selects open rules only"
                            }
                            "open_rule_excluded_by_pin" => {
                                "a PIN was entered, which selects PIN rules only"
                            }
                            _ => "the entered PIN is not this rule's PIN",
                        };
                        format!("{}; {why}", describe())
                    },
                );
            } else {
                tr.push(
                    Stage::Rule,
                    &r.id,
                    &r.name,
                    StepResult::Kept,
                    "lower_priority",
                    || format!("{}; a rule of higher precedence was selected", describe()),
                );
            }
        }
        if winner.is_none() {
            let on = trunk.map_or("calls without a trunk".to_string(), |t| {
                format!("trunk {}", t.trunk.id)
            });
            tr.push(Stage::Rule, "", "", StepResult::Info, "no_rule", || {
                format!(
                    "no dispatch rule for {on} or for all trunks accepts caller {} calling {}{}",
                    p.caller,
                    p.called,
                    match pin {
                        Pin::Entered(_) => " with the PIN entered",
                        Pin::Skipped => " without a PIN",
                        Pin::NotEntered => "",
                    }
                )
            });
        }
    }
}
