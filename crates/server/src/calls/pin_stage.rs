//! The PIN path (SPEC §4): answer at once, prompt, collect digits from RFC 4733 events and
//! SIP INFO, route again with the PIN, and either join the room or try again — three
//! attempts in all, then "That PIN is not valid", a tone and BYE.
//!
//! The attempt logic (digits, `#`, timeouts, attempts) is the pure [`super::pin::PinEntry`];
//! this file plays the prompts and talks to SIP, media, routing and the store.

use std::sync::Arc;
use std::time::Instant;

use switchboard_dispatch::{Decision, Pin, Snapshot, Verdict};
use switchboard_media::{MediaEvent, Prompt, Tone};
use switchboard_sip::transport::{CallEvent, IncomingCall};
use switchboard_store::{CallRecord, CallState, FinalStatus};

use super::facts::InviteFacts;
use super::flow::{Slot, admit_with_pin, close, now_ms, reply, routing_call};
use super::in_call::{Member, wait_bye};
use super::media::{self, Session};
use super::pin::{AfterFailure, Attempt, PinEntry};
use super::{CallPath, SetupGuard};
use crate::rooms::{Joining, ParticipantKind};

/// Longest we wait for the closing prompts before hanging up anyway.
const GOODBYE_LIMIT: std::time::Duration = std::time::Duration::from_secs(10);

#[allow(clippy::too_many_arguments)]
pub(super) async fn run(
    path: Arc<CallPath>,
    mut call: IncomingCall,
    facts: InviteFacts,
    mut rec: CallRecord,
    decision: Decision,
    mut slot: Option<Slot>,
    setup: SetupGuard,
    snapshot: Arc<Snapshot>,
) {
    let Some(negotiated) = media::negotiate_or_reject(&path, &call, &mut rec, facts.sdp.as_deref())
    else {
        return;
    };
    let Some(mut session) = media::start_or_reject(&path, &call, &mut rec, &negotiated).await
    else {
        return;
    };
    // LiveKit answers a PIN call without the trunk's headers: they belong to the accepted call.
    call.handle
        .respond(reply(200, "OK").with_body("application/sdp", session.answer_sdp.clone()));
    path.final_answer(&rec.id, "pin_required", 200);
    drop(setup);
    rec.state = CallState::Pin;
    rec.sip_status = Some(200);
    rec.answered_at_ms = Some(now_ms());
    // A PIN call is answered before it has a room (it joins one once the PIN is right).
    path.webhooks.emit(
        "call.answered",
        || serde_json::json!({"call_id": rec.id, "rule_id": rec.rule_id, "room_name": rec.room_name}),
    );
    let mut hangup = path.live.insert(&rec);
    path.recorder.save(&mut rec);
    path.live.update(&rec);
    tracing::info!(call_id = %rec.id, state = "pin", rule_id = ?decision.rule_id, "asking for the PIN");

    session.handle.play(Prompt::EnterPin);
    let mut entry = PinEntry::new(Instant::now());
    let suffix = switchboard_dispatch::ids::base57_suffix(rand::random());
    loop {
        let deadline = tokio::time::Instant::from_std(entry.deadline());
        let attempt: Option<Attempt> = tokio::select! {
            ev = call.events.recv() => match ev {
                Some(CallEvent::Bye) => {
                    media::finish(&path, &session, false);
                    close(&path, &mut rec, FinalStatus::Completed, "caller_bye", Some("caller"));
                    call.handle.forget();
                    return;
                }
                Some(CallEvent::Info { content_type, body }) => {
                    media::info_digit(&content_type, &body).and_then(|d| entry.digit(Instant::now(), d))
                }
                Some(CallEvent::ReInvite { req, request }) => {
                    media::answer_reinvite(&path, &call, &session, req, request.body());
                    None
                }
                Some(CallEvent::AckTimeout) => {
                    return hang_up(&path, &mut call, &mut rec, &mut session, "no_ack", false).await;
                }
                Some(CallEvent::TransportError) | None => {
                    media::finish(&path, &session, false);
                    close(&path, &mut rec, FinalStatus::Failed, "transport_error", None);
                    call.handle.forget();
                    return;
                }
                Some(_) => None,
            },
            ev = session.events.recv() => match ev {
                Some(MediaEvent::Dtmf(d)) => entry.digit(Instant::now(), d),
                Some(MediaEvent::Timeout) | None => {
                    return hang_up(&path, &mut call, &mut rec, &mut session, "media_timeout", false).await;
                }
                Some(_) => None,
            },
            _ = tokio::time::sleep_until(deadline) => match entry.timeout(Instant::now()) {
                Err(()) => {
                    return hang_up(&path, &mut call, &mut rec, &mut session, "pin_timeout", true).await;
                }
                Ok(a) => a,
            },
            _ = hangup.requested() => {
                return hang_up(&path, &mut call, &mut rec, &mut session, "hangup_api", false).await;
            }
        };
        let Some(attempt) = attempt else { continue };
        rec.pin_attempts += 1;
        path.recorder.save(&mut rec);
        let pin = match &attempt {
            Attempt::Digits(d) => Pin::Entered(d),
            Attempt::Skipped => Pin::Skipped,
            // Too long matches no PIN; route as a PIN no rule can have.
            Attempt::TooLong => Pin::Entered("\u{0}"),
        };
        let mut decided = snapshot.evaluate(
            &routing_call(&facts, &rec.id, &suffix, pin),
            &mut switchboard_dispatch::Unlimited,
        );
        if decided.verdict == Verdict::Accept {
            // The slot taken for the PIN rule counts only if the PIN leads to the same route.
            let same =
                matches!((&slot, &decided.capacity), (Some(s), Some((r, _))) if &s.rule_id == r);
            if !same && let Some(s) = slot.take() {
                s.release_now().await;
            }
            if !same {
                match admit_with_pin(
                    &path,
                    &snapshot,
                    &facts,
                    &rec.id,
                    &suffix,
                    pin,
                    &mut decided,
                )
                .await
                {
                    Ok((d, s)) => {
                        decided = d;
                        slot = s;
                    }
                    Err(e) => {
                        tracing::error!(call_id = %rec.id, error = %e, "capacity check failed");
                        return hang_up(
                            &path,
                            &mut call,
                            &mut rec,
                            &mut session,
                            "store_unavailable",
                            true,
                        )
                        .await;
                    }
                }
            }
        }
        rec.rule_id = decided.rule_id.clone().or(rec.rule_id.take());
        path.metrics.pin_attempt(decided.verdict == Verdict::Accept);
        match decided.verdict {
            Verdict::Accept => {
                return joined(path, call, rec, session, decided, slot, hangup).await;
            }
            Verdict::Reject
                if matches!(
                    decided.reason,
                    switchboard_dispatch::Reason::InvalidPin | switchboard_dispatch::Reason::NoRule
                ) =>
            {
                tracing::info!(call_id = %rec.id, attempts = entry.attempts(), "wrong PIN");
                match entry.failed() {
                    AfterFailure::TryAgain => {
                        session.handle.play(Prompt::InvalidPin);
                        session.handle.play(Prompt::EnterPin);
                    }
                    AfterFailure::GiveUp => {
                        session.handle.play(Prompt::InvalidPin);
                        return hang_up(
                            &path,
                            &mut call,
                            &mut rec,
                            &mut session,
                            "invalid_pin",
                            true,
                        )
                        .await;
                    }
                }
            }
            // The PIN was right but the route is closed or full now.
            _ => {
                let reason = decided.reason.code();
                return hang_up(&path, &mut call, &mut rec, &mut session, reason, true).await;
            }
        }
    }
}

/// Ends the PIN stage with BYE; with `tone`, after the queued prompts and a tone.
async fn hang_up(
    path: &CallPath,
    call: &mut IncomingCall,
    rec: &mut CallRecord,
    session: &mut Session,
    reason: &str,
    tone: bool,
) {
    if tone {
        session.handle.play(Tone::Beep);
        let caller_left = tokio::time::timeout(GOODBYE_LIMIT, async {
            loop {
                tokio::select! {
                    ev = session.events.recv() => match ev {
                        Some(MediaEvent::PlaybackDone) if session.handle.is_idle() => return false,
                        None => return false,
                        _ => {}
                    },
                    ev = call.events.recv() => match ev {
                        Some(CallEvent::Bye) | None => return true,
                        _ => {}
                    }
                }
            }
        })
        .await
        .unwrap_or(false);
        if caller_left {
            media::finish(path, session, reason == "media_timeout");
            close(
                path,
                rec,
                rejected_or_completed(reason),
                reason,
                Some("caller"),
            );
            call.handle.forget();
            return;
        }
    }
    media::finish(path, session, reason == "media_timeout");
    call.handle.bye(Vec::new());
    close(
        path,
        rec,
        rejected_or_completed(reason),
        reason,
        Some("server"),
    );
    wait_bye(call).await;
}

fn rejected_or_completed(reason: &str) -> FinalStatus {
    match reason {
        "invalid_pin" | "no_rule" | "pin_timeout" | "after_hours" | "over_capacity" => {
            FinalStatus::Rejected
        }
        _ => FinalStatus::Completed,
    }
}

/// The right PIN: join the room and stay in the call.
async fn joined(
    path: Arc<CallPath>,
    mut call: IncomingCall,
    mut rec: CallRecord,
    session: Session,
    decided: Decision,
    slot: Option<Slot>,
    mut hangup: super::live::HangupSignal,
) {
    let Some(room) = decided.room else {
        let mut session = session;
        return hang_up(&path, &mut call, &mut rec, &mut session, "no_room", false).await;
    };
    let mut attributes = room.attributes.clone();
    attributes.insert("sip.callStatus".into(), "active".into());
    let identity = path.rooms.join(
        &room.room_name,
        Joining {
            base_identity: room.participant_identity.clone(),
            name: room.participant_name.clone(),
            kind: ParticipantKind::Sip,
            metadata: room.participant_metadata.clone(),
            attributes,
            call_id: Some(rec.id.clone()),
        },
        jiff::Timestamp::now(),
    );
    rec.state = CallState::Active;
    rec.room_name = Some(room.room_name.clone());
    rec.routed_from_rule_id = decided.routed_from_rule_id.clone();
    path.recorder.save(&mut rec);
    path.live.update(&rec);
    tracing::info!(call_id = %rec.id, state = "active", room = %room.room_name, "PIN accepted");
    // Maximum call duration runs from the join for PIN calls (LiveKit's behaviour).
    let max_end = tokio::time::Instant::now() + room.max_call_duration;
    // The call is already answered: the agents join when they are ready.
    let hub = super::hub::join(&path, &rec.id, &room, &identity, Some(&session.handle));
    super::in_call::run(
        &path,
        &mut call,
        &mut rec,
        session,
        hub,
        &mut hangup,
        max_end,
        Member {
            room: room.room_name.clone(),
            identity,
        },
    )
    .await;
    drop(slot);
}
