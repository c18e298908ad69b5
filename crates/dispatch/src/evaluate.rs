//! From a selected trunk and rule to the final decision: route policy (schedule, capacity,
//! fallback rules), PIN, and the room assignment (SPEC §3–§6).
//!
//! The pipeline is shared by the indexed snapshot and the linear reference evaluator; they
//! differ only in how they select the trunk and the rule.

use std::time::Duration;

use crate::call::{Call, Pin, Prepared};
use crate::decision::{
    Decision, Reason, RoomAssignment, Stage, StepResult, TraceEntry, Tracer, Verdict,
};
use crate::policy::ScheduleStatus;
use crate::room;
use crate::snapshot::select::TrunkPick;
use crate::snapshot::select::pin_allows;
use crate::snapshot::{RuleEntry, Snapshot};

/// Default ringing timeout when the trunk sets none (LiveKit's).
pub const DEFAULT_RINGING_TIMEOUT: Duration = Duration::from_secs(180);
/// Default and maximum call duration.
pub const MAX_CALL_DURATION: Duration = Duration::from_secs(24 * 3600);
/// How many `route_to_rule` hops a call may take before it is refused.
const MAX_FALLBACK_HOPS: usize = 4;

/// Admission to a route's concurrency limit. The call path takes a slot atomically;
/// `explain` compares with the current count.
pub trait Capacity {
    /// Whether one more call may be admitted to `rule_id`, whose limit is `limit`.
    fn admit(&mut self, rule_id: &str, limit: u32) -> bool;
}

/// No concurrency limits are enforced.
pub struct Unlimited;

impl Capacity for Unlimited {
    fn admit(&mut self, _rule_id: &str, _limit: u32) -> bool {
        true
    }
}

impl<F: FnMut(&str, u32) -> bool> Capacity for F {
    fn admit(&mut self, rule_id: &str, limit: u32) -> bool {
        self(rule_id, limit)
    }
}

/// How a selector picks the trunk and the rule.
pub(crate) trait Selector<'s> {
    fn snapshot(&self) -> &'s Snapshot;
    fn trunk(
        &self,
        call: &Call<'_>,
        p: &Prepared<'_>,
        tr: &mut Tracer<'_>,
    ) -> Option<TrunkPick<'s>>;
    fn rule(
        &self,
        trunk: Option<TrunkPick<'s>>,
        p: &Prepared<'_>,
        pin: Pin<'_>,
        tr: &mut Tracer<'_>,
    ) -> Option<&'s RuleEntry>;
}

fn reject(status: Option<u16>, reason: Reason, detail: String) -> Decision {
    Decision {
        verdict: Verdict::Reject,
        sip_status: status,
        reason,
        detail,
        trunk_id: None,
        rule_id: None,
        routed_from_rule_id: None,
        room: None,
        capacity: None,
        closed: None,
        trace: Vec::new(),
    }
}

/// Routes one call.
pub(crate) fn evaluate<'s>(
    sel: &impl Selector<'s>,
    call: &Call<'_>,
    capacity: &mut dyn Capacity,
    trace: Option<&mut Vec<TraceEntry>>,
) -> Decision {
    let mut tr = Tracer(trace);
    let mut d = decide(sel, call, capacity, &mut tr);
    if let Some(t) = tr.0 {
        d.trace = std::mem::take(t);
    }
    d
}

fn decide<'s>(
    sel: &impl Selector<'s>,
    call: &Call<'_>,
    capacity: &mut dyn Capacity,
    tr: &mut Tracer<'_>,
) -> Decision {
    let snap = sel.snapshot();
    let p = Prepared::new(call);
    let trunk_pick = sel.trunk(call, &p, tr);
    let trunk_entry = trunk_pick.map(|t| t.entry);
    let trunk = trunk_entry.map(|e| &e.trunk);
    if trunk.is_none() && !snap.options.accept_trunkless_calls {
        return reject(
            Some(404),
            Reason::NoTrunk,
            format!(
                "no inbound trunk admits a call from {} to {}; add the number to a trunk, or check its allowed_addresses and allowed_numbers",
                p.caller, p.called
            ),
        );
    }
    let trunk_id = trunk.map(|t| t.id.clone());
    let with_trunk = |mut d: Decision| {
        d.trunk_id = trunk_id.clone();
        d
    };

    let Some(first) = sel.rule(trunk_pick, &p, call.pin, tr) else {
        return with_trunk(match call.pin {
            Pin::NotEntered => reject(
                Some(404),
                Reason::NoRule,
                format!(
                    "no dispatch rule accepts a call from {} to {}{}; create one for this trunk or for all trunks",
                    p.caller,
                    p.called,
                    trunk.map_or(String::new(), |t| format!(" on trunk {}", t.id))
                ),
            ),
            Pin::Entered(_) => reject(
                None,
                Reason::InvalidPin,
                "the PIN entered matches no dispatch rule; the caller hears \"That PIN is not valid\"".into(),
            ),
            Pin::Skipped => reject(
                None,
                Reason::NoRule,
                "the caller pressed # without a PIN and no open dispatch rule accepts the call".into(),
            ),
        });
    };

    // Route policy: schedule and capacity, possibly moving to fallback rules.
    let mut current = first;
    let mut hops: Vec<&str> = vec![&first.rule.id];
    let mut closed = None;
    let mut capacity_slot = None;
    loop {
        let rule = &current.rule;
        let Some(policy) = snap.policy(&rule.id) else {
            break;
        };
        let (action, default_status, reason, why) = match policy.schedule_at(call.at) {
            ScheduleStatus::Closed(c) => {
                let why = c.describe(policy);
                tr.push(
                    Stage::Policy,
                    &rule.id,
                    &rule.name,
                    StepResult::Dropped,
                    c.code(),
                    || why.clone(),
                );
                closed = Some(c);
                (&policy.policy().after_hours, 480, Reason::AfterHours, why)
            }
            ScheduleStatus::Open => match policy.policy().max_concurrent_calls {
                Some(limit) if !capacity.admit(&rule.id, limit) => {
                    let why = format!("the route is at its limit of {limit} concurrent calls");
                    tr.push(
                        Stage::Policy,
                        &rule.id,
                        &rule.name,
                        StepResult::Dropped,
                        "over_capacity",
                        || why.clone(),
                    );
                    (
                        &policy.policy().over_capacity,
                        486,
                        Reason::OverCapacity,
                        why,
                    )
                }
                limit => {
                    tr.push(
                        Stage::Policy,
                        &rule.id,
                        &rule.name,
                        StepResult::Kept,
                        "open",
                        || match limit {
                            Some(l) => format!(
                                "within schedule and under its limit of {l} concurrent calls"
                            ),
                            None => "within schedule".to_string(),
                        },
                    );
                    capacity_slot = limit.map(|l| (rule.id.clone(), l));
                    break;
                }
            },
        };
        if let Some(status) = action.reject_status(default_status) {
            let mut d = with_trunk(reject(
                Some(status),
                reason,
                format!("rule {}: {why}", rule.id),
            ));
            d.rule_id = Some(rule.id.clone());
            d.closed = closed;
            return d;
        }
        let crate::policy::PolicyAction::RouteToRule { rule_id: target } = action else {
            break;
        };
        match snap.rule_entry(target) {
            Some(next)
                if !hops.contains(&next.rule.id.as_str()) && hops.len() <= MAX_FALLBACK_HOPS =>
            {
                tr.push(
                    Stage::Policy,
                    &rule.id,
                    &rule.name,
                    StepResult::Info,
                    "route_to_rule",
                    || format!("{why}; the policy sends the call to rule {target}"),
                );
                hops.push(&next.rule.id);
                current = next;
                closed = None;
            }
            _ => {
                let mut d = with_trunk(reject(
                    Some(default_status),
                    reason,
                    format!(
                        "rule {}: {why}, and its fallback rule {target} does not exist or loops back; fix the route policy",
                        rule.id
                    ),
                ));
                d.rule_id = Some(rule.id.clone());
                d.closed = closed;
                return d;
            }
        }
    }

    let rule = &current.rule;
    let routed_from = (!std::ptr::eq(current, first)).then(|| first.rule.id.clone());
    let base = |verdict, status, reason, detail: String| Decision {
        verdict,
        sip_status: status,
        reason,
        detail,
        trunk_id: trunk_id.clone(),
        rule_id: Some(rule.id.clone()),
        routed_from_rule_id: routed_from.clone(),
        room: None,
        capacity: capacity_slot.clone(),
        closed: None,
        trace: Vec::new(),
    };
    if !rule.pin().is_empty() {
        match call.pin {
            Pin::NotEntered => {
                tr.push(Stage::Pin, &rule.id, &rule.name, StepResult::Info, "pin_required", || {
                    "the rule is PIN-protected: the call is answered and the caller asked for the PIN".into()
                });
                return base(
                    Verdict::RequestPin,
                    Some(200),
                    Reason::PinRequired,
                    format!("rule {} requires a PIN", rule.id),
                );
            }
            pin if !pin_allows(rule.pin().as_bytes(), pin) => {
                let mut d = base(
                    Verdict::Reject,
                    None,
                    Reason::InvalidPin,
                    format!("the PIN entered is not the PIN of rule {}", rule.id),
                );
                d.capacity = None;
                return d;
            }
            _ => {}
        }
    }

    let room = assign_room(trunk, rule, call, &p);
    let mut d = base(
        Verdict::Accept,
        Some(200),
        Reason::Matched,
        format!(
            "rule {} puts the caller in room {}",
            rule.id, room.room_name
        ),
    );
    d.room = Some(room);
    d
}

fn assign_room(
    trunk: Option<&crate::model::Trunk>,
    rule: &crate::model::Rule,
    call: &Call<'_>,
    p: &Prepared<'_>,
) -> RoomAssignment {
    let (identity, name) = room::caller_participant(rule, call, &p.caller);
    let positive = |d: Option<Duration>| d.filter(|d| !d.is_zero());
    RoomAssignment {
        room_name: room::room_name(rule, call, &p.caller, &p.called),
        participant_identity: identity,
        participant_name: name,
        participant_metadata: rule.metadata.clone(),
        attributes: room::attributes(trunk, rule, call),
        agents: rule.agents().to_vec(),
        room_preset: rule.room_preset.clone(),
        ringing_timeout: positive(trunk.and_then(|t| t.ringing_timeout))
            .unwrap_or(DEFAULT_RINGING_TIMEOUT),
        max_call_duration: positive(trunk.and_then(|t| t.max_call_duration))
            .filter(|d| *d <= MAX_CALL_DURATION)
            .unwrap_or(MAX_CALL_DURATION),
        headers: trunk.map(|t| t.headers.clone()).unwrap_or_default(),
    }
}

/// The snapshot's own (indexed) selector.
pub(crate) struct Indexed<'s>(pub &'s Snapshot);

impl<'s> Selector<'s> for Indexed<'s> {
    fn snapshot(&self) -> &'s Snapshot {
        self.0
    }
    fn trunk(
        &self,
        call: &Call<'_>,
        p: &Prepared<'_>,
        tr: &mut Tracer<'_>,
    ) -> Option<TrunkPick<'s>> {
        self.0.select_trunk(call, p, tr)
    }
    fn rule(
        &self,
        trunk: Option<TrunkPick<'s>>,
        p: &Prepared<'_>,
        pin: Pin<'_>,
        tr: &mut Tracer<'_>,
    ) -> Option<&'s RuleEntry> {
        self.0.select_rule(trunk, p, pin, tr)
    }
}

impl Snapshot {
    /// Routes a call (the call path: no trace).
    pub fn evaluate(&self, call: &Call<'_>, capacity: &mut dyn Capacity) -> Decision {
        evaluate(&Indexed(self), call, capacity, None)
    }

    /// Routes a call and records why: the answer of `explain`.
    pub fn explain(&self, call: &Call<'_>, capacity: &mut dyn Capacity) -> Decision {
        let mut trace = Vec::new();
        evaluate(&Indexed(self), call, capacity, Some(&mut trace))
    }

    /// Only the trunk that admits the call (before digest auth), if any.
    pub fn match_trunk(&self, call: &Call<'_>) -> Option<&crate::model::Trunk> {
        let p = Prepared::new(call);
        self.select_trunk(call, &p, &mut Tracer(None))
            .map(|t| &t.entry.trunk)
    }

    /// The trunk and rule ids a call selects, without policies or room assignment. The
    /// cheapest question the snapshot answers; benchmarks measure it.
    pub fn match_ids(&self, call: &Call<'_>) -> (Option<&str>, Option<&str>) {
        let p = Prepared::new(call);
        let mut tr = Tracer(None);
        let t = self.select_trunk(call, &p, &mut tr);
        if t.is_none() && !self.options.accept_trunkless_calls {
            return (None, None);
        }
        let r = self.select_rule_id(t, &p, call.pin);
        (t.map(|t| t.entry.trunk.id.as_str()), r)
    }
}
