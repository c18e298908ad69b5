//! One call, from INVITE to the end: admission, record, routing, authorization, capacity,
//! then the answer path ([`super::answer`]) or the PIN path ([`super::pin_stage`]).

use std::collections::HashSet;
use std::sync::Arc;

use switchboard_dispatch::{Call, Decision, Pin, Reason, Snapshot, Verdict};
use switchboard_sip::endpoint::Reply;
use switchboard_sip::transport::IncomingCall;
use switchboard_store::{CallRecord, CallState, FinalStatus};

use super::CallPath;
use super::auth::{AuthOutcome, authorize};
use super::facts::InviteFacts;

/// How long a node asks an overloaded caller to wait before retrying.
const RETRY_AFTER_SECS: u32 = 5;

/// A capacity slot this call holds in the store; released when dropped.
pub(super) struct Slot {
    path: Arc<CallPath>,
    call_id: String,
    pub rule_id: String,
}

impl Slot {
    /// Releases the slot and waits until the store has it back (needed before the same
    /// call takes a slot on another route: a take is idempotent per call).
    pub(super) async fn release_now(mut self) {
        let id = std::mem::take(&mut self.call_id);
        if let Err(e) = self.path.store.release_slot(&id).await {
            tracing::error!(call_id = %id, error = %e, "cannot release a capacity slot");
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if self.call_id.is_empty() {
            return;
        }
        let store = self.path.store.clone();
        let id = std::mem::take(&mut self.call_id);
        tokio::spawn(async move {
            if let Err(e) = store.release_slot(&id).await {
                tracing::error!(call_id = %id, error = %e, "cannot release a capacity slot");
            }
        });
    }
}

pub(super) fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// A reply with no extra headers or body.
pub(super) fn reply(status: u16, reason: &'static str) -> Reply {
    Reply::new(status, reason)
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        480 => "Temporarily Unavailable",
        486 => "Busy Here",
        488 => "Not Acceptable Here",
        503 => "Service Unavailable",
        603 => "Decline",
        _ => "Rejected",
    }
}

/// The routing facts of an INVITE as the dispatch core takes them.
pub(super) fn routing_call<'a>(
    f: &'a InviteFacts,
    id: &'a str,
    suffix: &'a str,
    pin: Pin<'a>,
) -> Call<'a> {
    Call {
        caller: &f.caller,
        from_host: &f.from_host,
        called: &f.called,
        source_ip: Some(f.source.ip()),
        pin,
        at: jiff::Timestamp::now(),
        call_id: id,
        sip_call_id: &f.sip_call_id,
        headers: &f.headers,
        room_suffix: suffix,
    }
}

/// Ends the call with a final non-2xx answer and closes its record.
pub(super) fn reject(
    path: &CallPath,
    call: &IncomingCall,
    rec: &mut CallRecord,
    response: Reply,
    final_status: FinalStatus,
    reason: &str,
) {
    rec.sip_status = Some(response.status);
    path.webhooks.emit("call.rejected", || {
        serde_json::json!({
            "call_id": rec.id,
            "sip_status": response.status,
            "reason": reason,
            "trunk_id": rec.trunk_id,
            "rule_id": rec.rule_id,
        })
    });
    // Record first: a challenged INVITE's retry shares this record, and must not be
    // overtaken by the close of the challenge (the retry can only arrive after the answer).
    close(path, rec, final_status, reason, None);
    call.handle.respond(response);
}

/// Closes a record with its final status.
pub(super) fn close(
    path: &CallPath,
    rec: &mut CallRecord,
    final_status: FinalStatus,
    reason: &str,
    hangup_by: Option<&str>,
) {
    rec.state = CallState::Ended;
    rec.final_status = Some(final_status);
    rec.reason = Some(reason.to_string());
    rec.hangup_by = hangup_by.map(str::to_string);
    rec.ended_at_ms = Some(now_ms());
    path.recorder.save(rec);
    path.live.remove(&rec.id);
    path.final_answer(&rec.id, reason, rec.sip_status.unwrap_or(0));
    if let (Some(answered), Some(ended)) = (rec.answered_at_ms, rec.ended_at_ms) {
        path.webhooks.emit("call.ended", || {
            serde_json::json!({
                "call_id": rec.id,
                "final_status": final_status.as_str(),
                "reason": reason,
                "hangup_by": hangup_by,
                "duration_secs": (ended - answered).max(0) as f64 / 1000.0,
                "sip_status": rec.sip_status,
            })
        });
    }
    if final_status == FinalStatus::Completed {
        path.metrics
            .completed(rec.rule_id.as_deref().unwrap_or_default());
    }
    tracing::info!(
        call_id = %rec.id,
        state = "ended",
        final_status = final_status.as_str(),
        sip_status = rec.sip_status.unwrap_or(0),
        reason,
        hangup_by = hangup_by.unwrap_or(""),
        "call ended"
    );
}

fn new_record(path: &CallPath, f: &InviteFacts, id: &str) -> CallRecord {
    let now = now_ms();
    CallRecord {
        id: id.to_string(),
        sip_call_id: f.sip_call_id.clone(),
        node_id: path.settings.node_id.clone(),
        trunk_id: None,
        rule_id: None,
        routed_from_rule_id: None,
        room_name: None,
        caller: f.caller.clone(),
        called: f.called.clone(),
        source_ip: f.source.ip().to_string(),
        transport: f.transport.to_string(),
        state: CallState::Incoming,
        final_status: None,
        sip_status: None,
        reason: None,
        hangup_by: None,
        pin_attempts: 0,
        created_at_ms: now,
        answered_at_ms: None,
        ended_at_ms: None,
        updated_at_ms: now,
    }
}

pub(super) async fn handle(path: Arc<CallPath>, call: IncomingCall) {
    let facts = InviteFacts::of(&call);
    let id = facts.call_id();
    let mut rec = new_record(&path, &facts, &id);
    let ip = facts.source.ip();
    path.arrived(&id);
    tracing::info!(call_id = %id, sip_call_id = %facts.sip_call_id, from = %facts.caller, to = %facts.called, source = %facts.source, transport = facts.transport, state = "incoming", "INVITE");

    let Some(setup) = path.enter_setup() else {
        let r = reply(503, "Service Unavailable")
            .with_header("Retry-After", RETRY_AFTER_SECS.to_string());
        return reject(
            &path,
            &call,
            &mut rec,
            r,
            FinalStatus::Rejected,
            "overloaded",
        );
    };
    if !path.flood_allows(ip) {
        let r = reply(503, "Service Unavailable")
            .with_header("Retry-After", RETRY_AFTER_SECS.to_string());
        return reject(
            &path,
            &call,
            &mut rec,
            r,
            FinalStatus::Rejected,
            "throttled",
        );
    }

    let snapshot = path.service.snapshot();
    let suffix = switchboard_dispatch::ids::base57_suffix(rand::random());
    let decision = snapshot.evaluate(
        &routing_call(&facts, &id, &suffix, Pin::NotEntered),
        &mut switchboard_dispatch::Unlimited,
    );
    rec.trunk_id = decision.trunk_id.clone();

    // Authorization against the matched trunk comes before any routing answer.
    if let Some(trunk) = decision.trunk_id.as_deref().and_then(|t| snapshot.trunk(t)) {
        if trunk.requires_auth() && !path.auth_failures_allow(ip) {
            return reject(
                &path,
                &call,
                &mut rec,
                reply(403, "Forbidden"),
                FinalStatus::Rejected,
                "auth_throttled",
            );
        }
        let creds: Vec<&str> = facts.credentials.iter().map(String::as_str).collect();
        let now_secs = jiff::Timestamp::now().as_second().max(0) as u64;
        match authorize(
            trunk,
            &creds,
            &facts.sip_call_id,
            &path.nonce,
            now_secs,
            path.settings.sha256,
        ) {
            AuthOutcome::Authorized => {}
            AuthOutcome::Challenge(challenges) => {
                let status = challenges[0].status();
                let mut r = reply(
                    status,
                    if status == 407 {
                        "Proxy Authentication Required"
                    } else {
                        "Unauthorized"
                    },
                );
                for c in &challenges {
                    r = r.with_header(c.header_name(), c.header_value());
                }
                return reject(
                    &path,
                    &call,
                    &mut rec,
                    r,
                    FinalStatus::Rejected,
                    "auth_required",
                );
            }
            AuthOutcome::Forbidden(why) => {
                path.count_auth_failure(ip);
                tracing::info!(call_id = %id, why, "digest credentials refused");
                return reject(
                    &path,
                    &call,
                    &mut rec,
                    reply(403, "Forbidden"),
                    FinalStatus::Rejected,
                    "auth_failed",
                );
            }
        }
    }
    path.recorder.save(&mut rec);

    let (decision, slot) = match admit(&path, &snapshot, &facts, &id, &suffix, decision).await {
        Ok(d) => d,
        Err(e) => {
            tracing::error!(call_id = %id, error = %e, "capacity check failed");
            let r = reply(503, "Service Unavailable")
                .with_header("Retry-After", RETRY_AFTER_SECS.to_string());
            return reject(
                &path,
                &call,
                &mut rec,
                r,
                FinalStatus::Failed,
                "store_unavailable",
            );
        }
    };
    rec.rule_id = decision.rule_id.clone();
    rec.routed_from_rule_id = decision.routed_from_rule_id.clone();
    path.webhooks.emit("call.incoming", || {
        serde_json::json!({
            "call_id": id,
            "sip_call_id": facts.sip_call_id,
            "from": facts.caller,
            "to": facts.called,
            "source_ip": ip.to_string(),
            "transport": facts.transport.to_string(),
        })
    });

    match decision.verdict {
        Verdict::Reject => {
            let unmatched = matches!(decision.reason, Reason::NoTrunk | Reason::NoRule);
            if unmatched && path.settings.drop_unmatched {
                call.handle.forget();
                return close(
                    &path,
                    &mut rec,
                    FinalStatus::Rejected,
                    decision.reason.code(),
                    None,
                );
            }
            let status = decision.sip_status.unwrap_or(404);
            let r = reply(status, reason_phrase(status));
            reject(
                &path,
                &call,
                &mut rec,
                r,
                FinalStatus::Rejected,
                decision.reason.code(),
            )
        }
        Verdict::Accept => {
            super::answer::ring_and_answer(path, call, facts, rec, decision, slot, setup).await
        }
        Verdict::RequestPin => {
            super::pin_stage::run(path, call, facts, rec, decision, slot, setup, snapshot).await
        }
    }
}

/// Takes a capacity slot when the decided route has a limit. When the route is full, the
/// call is routed again with that route refused, which applies its `over_capacity`
/// action (reject, or a fallback rule — which may have a limit of its own).
pub(super) async fn admit(
    path: &Arc<CallPath>,
    snapshot: &Snapshot,
    facts: &InviteFacts,
    id: &str,
    suffix: &str,
    mut decision: Decision,
) -> Result<(Decision, Option<Slot>), switchboard_store::StoreError> {
    admit_with_pin(
        path,
        snapshot,
        facts,
        id,
        suffix,
        Pin::NotEntered,
        &mut decision,
    )
    .await
}

pub(super) async fn admit_with_pin(
    path: &Arc<CallPath>,
    snapshot: &Snapshot,
    facts: &InviteFacts,
    id: &str,
    suffix: &str,
    pin: Pin<'_>,
    decision: &mut Decision,
) -> Result<(Decision, Option<Slot>), switchboard_store::StoreError> {
    let mut refused: HashSet<String> = HashSet::new();
    loop {
        let Some((rule_id, limit)) = decision.capacity.clone() else {
            return Ok((decision.clone(), None));
        };
        if decision.verdict == Verdict::Reject {
            return Ok((decision.clone(), None));
        }
        let taken = path
            .store
            .take_slot(&rule_id, limit, id, &path.settings.node_id, now_ms())
            .await?;
        if taken {
            let slot = Slot {
                path: path.clone(),
                call_id: id.to_string(),
                rule_id,
            };
            return Ok((decision.clone(), Some(slot)));
        }
        refused.insert(rule_id);
        if refused.len() > 8 {
            return Ok((decision.clone(), None));
        }
        *decision = snapshot.evaluate(
            &routing_call(facts, id, suffix, pin),
            &mut |r: &str, _limit: u32| !refused.contains(r),
        );
    }
}
