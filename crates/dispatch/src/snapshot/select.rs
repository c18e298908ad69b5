//! Trunk and rule selection through the indexes, with an optional trace.

use subtle::ConstantTimeEq;

use super::Snapshot;
use super::trunk_index::BucketKey;
use crate::call::{Call, Pin, Prepared};
use crate::decision::{Stage, StepResult, Tracer};
use crate::number::best_match;
use crate::rank::RuleRank;

/// Whether a rule with PIN `rule_pin` survives the PIN filter (SPEC §4).
pub(crate) fn pin_allows(rule_pin: &str, pin: Pin<'_>) -> bool {
    match pin {
        Pin::NotEntered => true,
        Pin::Skipped => rule_pin.is_empty(),
        Pin::Entered(p) => {
            !rule_pin.is_empty()
                && rule_pin.len() == p.len()
                && bool::from(rule_pin.as_bytes().ct_eq(p.as_bytes()))
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
    /// The trunk that admits the call, by index, recording every trunk looked at when
    /// tracing.
    pub(crate) fn select_trunk(
        &self,
        call: &Call<'_>,
        p: &Prepared<'_>,
        tr: &mut Tracer<'_>,
    ) -> Option<u32> {
        if !tr.on() {
            return self
                .trunk_index
                .lookup(&p.called, &p.caller, call.source_ip, &p.host_lower);
        }
        let mut winner: Option<u32> = None;
        for (key, bucket) in self.trunk_index.buckets(&p.called) {
            let how = match key {
                BucketKey::Exact => format!("lists {} exactly", p.called),
                BucketKey::Prefix(pre) => format!("pattern {pre}* matches {}", p.called),
                BucketKey::Wildcard => "wildcard trunk (no numbers)".to_string(),
            };
            let mut order = bucket.all.clone();
            order.sort_by_key(|&i| {
                let c = &self.ctrunks[i as usize];
                (c.allowed_numbers.is_empty(), c.addresses.is_empty(), i)
            });
            for i in order {
                let (t, c) = (&self.trunks[i as usize], &self.ctrunks[i as usize]);
                if !c.caller_allowed(&p.caller) {
                    tr.push(
                        Stage::Trunk,
                        &t.id,
                        &t.name,
                        StepResult::Dropped,
                        "caller_not_allowed",
                        || format!("{how}, but caller {} is not in allowed_numbers", p.caller),
                    );
                } else if !c.address_allowed(call.source_ip, &p.host_lower) {
                    tr.push(Stage::Trunk, &t.id, &t.name, StepResult::Dropped, "address_not_allowed", || {
                        let src = call.source_ip.map_or("unknown".to_string(), |s| s.to_string());
                        format!(
                            "{how}, but neither source {src} nor From host {:?} is in allowed_addresses",
                            call.from_host
                        )
                    });
                } else if winner.is_none() {
                    winner = Some(i);
                    tr.push(
                        Stage::Trunk,
                        &t.id,
                        &t.name,
                        StepResult::Selected,
                        "most_specific",
                        || {
                            let mut d =
                                format!("{how}; the most specific trunk that admits the call");
                            if t.requires_auth() {
                                d.push_str(&format!(
                                    "; the caller must answer a digest challenge (realm {:?})",
                                    t.realm()
                                ));
                            }
                            d
                        },
                    );
                } else {
                    tr.push(
                        Stage::Trunk,
                        &t.id,
                        &t.name,
                        StepResult::Kept,
                        "less_specific",
                        || format!("{how}; admits the call but a more specific trunk was selected"),
                    );
                }
            }
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

    /// The winning rule for the call on `trunk`, with its rank.
    pub(crate) fn select_rule(
        &self,
        trunk: Option<u32>,
        p: &Prepared<'_>,
        pin: Pin<'_>,
        tr: &mut Tracer<'_>,
    ) -> Option<(u32, RuleRank)> {
        let mut best: Option<(RuleRank, u32)> = None;
        let mut seen: Vec<(u32, RuleRank, bool)> = Vec::new();
        self.rule_index
            .candidates(trunk, &p.called, &p.caller, |idx, wildcard, n, k| {
                let rank = self.rule_rank(idx, wildcard, n.matched(), k.matched());
                let ok = pin_allows(self.rules[idx as usize].pin(), pin);
                if ok && best.is_none_or(|(b, _)| rank < b) {
                    best = Some((rank, idx));
                }
                if tr.on() {
                    match seen.iter_mut().find(|(i, _, _)| *i == idx) {
                        Some(e) if rank < e.1 => e.1 = rank,
                        Some(_) => {}
                        None => seen.push((idx, rank, ok)),
                    }
                }
            });
        if tr.on() {
            self.trace_rules(&mut seen, best.map(|(_, i)| i), trunk, p, pin, tr);
        }
        best.map(|(rank, idx)| (idx, rank))
    }

    fn trace_rules(
        &self,
        seen: &mut [(u32, RuleRank, bool)],
        winner: Option<u32>,
        trunk: Option<u32>,
        p: &Prepared<'_>,
        pin: Pin<'_>,
        tr: &mut Tracer<'_>,
    ) {
        seen.sort_by_key(|(_, rank, _)| *rank);
        for &(idx, rank, ok) in seen.iter() {
            let r = &self.rules[idx as usize];
            let c = &self.crules[idx as usize];
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
            if Some(idx) == winner {
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
                format!("trunk {}", self.trunks[t as usize].id)
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
