//! The answer path of an accepted call (SPEC §5): negotiate media, join the room as the
//! caller participant, ring (refreshing `180`) until the call can be answered, answer with
//! the SDP, then stay in the call ([`super::in_call`]).
//!
//! A rule whose `room_config.agents` names agents rings until an agent is ready or the
//! trunk's `ringing_timeout` passes (`480`). Agents arrive with the worker protocol; until a
//! worker registry exists, no agent can become ready, so such calls end with `480
//! no_agent` after the timeout — the honest answer. A rule without agents is answered at
//! once.

use std::sync::Arc;

use switchboard_dispatch::Decision;
use switchboard_sip::transport::{CallEvent, IncomingCall};
use switchboard_store::{CallRecord, CallState, FinalStatus};

use super::facts::InviteFacts;
use super::flow::{Slot, close, now_ms, reject, reply};
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
    let leave = |path: &CallPath| {
        path.rooms.leave(&room.room_name, &identity);
    };

    // Ring until an agent is ready (none can be yet: see the module docs).
    if needs_agent {
        loop {
            tokio::select! {
                _ = refresh.tick() => call.handle.respond(reply(180, "Ringing")),
                _ = tokio::time::sleep_until(ring_deadline) => {
                    leave(&path);
                    drop(slot);
                    return reject(&path, &call, &mut rec, reply(480, "Temporarily Unavailable"), FinalStatus::Rejected, "no_agent");
                }
                _ = hangup.requested() => {
                    leave(&path);
                    drop(slot);
                    return reject(&path, &call, &mut rec, reply(480, "Temporarily Unavailable"), FinalStatus::Rejected, "hangup_api");
                }
                ev = call.events.recv() => match ev {
                    Some(CallEvent::Cancelled) => {
                        leave(&path);
                        drop(slot);
                        rec.sip_status = Some(487);
                        return close(&path, &mut rec, FinalStatus::Cancelled, "cancelled", Some("caller"));
                    }
                    Some(_) => {}
                    None => {
                        leave(&path);
                        drop(slot);
                        return close(&path, &mut rec, FinalStatus::Failed, "transport_error", None);
                    }
                }
            }
        }
    }

    let Some(session) = media::start_or_reject(&path, &call, &mut rec, &negotiated).await else {
        return;
    };
    let mut ok = reply(200, "OK").with_body("application/sdp", session.answer_sdp.clone());
    for (k, v) in &room.headers {
        ok = ok.with_header(k, v.clone());
    }
    call.handle.respond(ok);
    drop(setup);
    rec.state = CallState::Active;
    rec.sip_status = Some(200);
    rec.answered_at_ms = Some(now_ms());
    path.recorder.save(&mut rec);
    path.live.update(&rec);
    path.rooms
        .set_attribute(&room.room_name, &identity, "sip.callStatus", "active");
    tracing::info!(call_id = %rec.id, state = "active", "answered");

    super::in_call::run(
        &path,
        &mut call,
        &mut rec,
        session,
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
