//! The answer path of an accepted call (SPEC §5): negotiate media, join the room as the
//! caller participant, ring (refreshing `180`) until the call can be answered, answer with
//! the SDP, then stay in the call ([`super::in_call`]).
//!
//! A rule whose `room_config.agents` names agents rings until the first dispatched agent
//! says `ready`, or the trunk's `ringing_timeout` passes (`480 no_agent`). A rule without
//! agents is answered at once, and its automatic-dispatch job (workers registered without
//! a name) joins when a worker takes it: such rules also serve rooms of callers alone,
//! where there is nobody to wait for.

use std::sync::Arc;

use switchboard_dispatch::Decision;
use switchboard_sip::transport::{CallEvent, IncomingCall};
use switchboard_store::{CallRecord, CallState, FinalStatus};

use super::facts::InviteFacts;
use super::flow::{Slot, close, now_ms, reject, reply};
use super::hub::{self, HubEvent};
use super::media;
use super::{CallPath, SetupGuard};
use crate::rooms::{Joining, ParticipantKind};

pub(super) async fn ring_and_answer(
    path: Arc<CallPath>,
    mut call: IncomingCall,
    facts: InviteFacts,
    mut rec: CallRecord,
    decision: Decision,
    slot: Option<Slot>,
    setup: SetupGuard,
) {
    let Some(room) = decision.room.clone() else {
        return reject(
            &path,
            &call,
            &mut rec,
            reply(500, "Server Internal Error"),
            FinalStatus::Failed,
            "no_room",
        );
    };
    let Some(negotiated) = media::negotiate_or_reject(&path, &call, &mut rec, facts.sdp.as_deref())
    else {
        return;
    };

    call.handle.respond(reply(180, "Ringing"));
    rec.state = CallState::Ringing;
    rec.room_name = Some(room.room_name.clone());
    let mut attributes = room.attributes.clone();
    attributes.insert("sip.callStatus".into(), "ringing".into());
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
    let mut hangup = path.live.insert(&rec);
    path.recorder.save(&mut rec);
    path.live.update(&rec);
    tracing::info!(call_id = %rec.id, state = "ringing", room = %room.room_name, "ringing");

    let started = tokio::time::Instant::now();
    let max_end = started + room.max_call_duration;
    let ring_deadline = started + room.ringing_timeout;
    let mut refresh = tokio::time::interval(path.settings.ringing_interval);
    refresh.tick().await;
    let needs_agent = !room.agents.is_empty();
    let mut hub = hub::join(&path, &rec.id, &room, &identity, None);
    let leave = |path: &CallPath, hub: hub::Membership, reason: &'static str| {
        let mut hub = hub;
        hub.set_leave_reason(reason);
        drop(hub);
        path.rooms.leave(&room.room_name, &identity);
    };

    // Ring until the first agent is ready (at once if the room's agents are ready already).
    if needs_agent {
        loop {
            tokio::select! {
                _ = refresh.tick() => call.handle.respond(reply(180, "Ringing")),
                ev = hub.events.recv() => match ev {
                    Some(HubEvent::Ready) => break,
                    Some(HubEvent::Hangup) | None => {
                        leave(&path, hub, "agent_hangup");
                        drop(slot);
                        return reject(&path, &call, &mut rec, reply(480, "Temporarily Unavailable"), FinalStatus::Rejected, "agent_hangup");
                    }
                },
                _ = tokio::time::sleep_until(ring_deadline) => {
                    leave(&path, hub, "ringing_timeout");
                    drop(slot);
                    return reject(&path, &call, &mut rec, reply(480, "Temporarily Unavailable"), FinalStatus::Rejected, "no_agent");
                }
                _ = hangup.requested() => {
                    leave(&path, hub, "room_closed");
                    drop(slot);
                    return reject(&path, &call, &mut rec, reply(480, "Temporarily Unavailable"), FinalStatus::Rejected, "hangup_api");
                }
                ev = call.events.recv() => match ev {
                    Some(CallEvent::Cancelled) => {
                        leave(&path, hub, "caller_hangup");
                        drop(slot);
                        rec.sip_status = Some(487);
                        return close(&path, &mut rec, FinalStatus::Cancelled, "cancelled", Some("caller"));
                    }
                    Some(_) => {}
                    None => {
                        leave(&path, hub, "caller_hangup");
                        drop(slot);
                        return close(&path, &mut rec, FinalStatus::Failed, "transport_error", None);
                    }
                }
            }
        }
    }

    let Some(session) = media::start_or_reject(&path, &call, &mut rec, &negotiated).await else {
        leave(&path, hub, "room_closed");
        return;
    };
    let mut ok = reply(200, "OK").with_body("application/sdp", session.answer_sdp.clone());
    for (k, v) in &room.headers {
        ok = ok.with_header(k, v.clone());
    }
    call.handle.respond(ok);
    path.final_answer(&rec.id, "answered", 200);
    drop(setup);
    rec.state = CallState::Active;
    rec.sip_status = Some(200);
    rec.answered_at_ms = Some(now_ms());
    path.webhooks.emit(
        "call.answered",
        || serde_json::json!({"call_id": rec.id, "rule_id": rec.rule_id, "room_name": rec.room_name}),
    );
    path.recorder.save(&mut rec);
    path.live.update(&rec);
    path.rooms
        .set_attribute(&room.room_name, &identity, "sip.callStatus", "active");
    hub.answered(&session.handle);
    tracing::info!(call_id = %rec.id, state = "active", "answered");

    super::in_call::run(
        &path,
        &mut call,
        &mut rec,
        session,
        hub,
        &mut hangup,
        max_end,
        super::in_call::Member {
            room: room.room_name.clone(),
            identity,
        },
    )
    .await;
    drop(slot);
}
