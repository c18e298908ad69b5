//! An answered call, until it ends: the caller's BYE, our BYE (media timeout, maximum call
//! duration, missing ACK, a hang-up through the API or by an agent), re-INVITEs for hold
//! and resume, and in-dialog INFO. The caller's audio frames (8 kHz), DTMF and played marks
//! go to the room's hub ([`super::hub`]), which feeds the agents and puts their audio, and
//! the other callers', on this call's RTP session.

use switchboard_media::MediaEvent;
use switchboard_sip::transport::{CallEvent, IncomingCall};
use switchboard_store::{CallRecord, FinalStatus};

use super::CallPath;
use super::flow::close;
use super::hub::{HubEvent, Membership};
use super::live::HangupSignal;
use super::media::{self, Session};

/// How long we wait for the answer to our BYE before forgetting the dialog.
const BYE_WAIT: std::time::Duration = std::time::Duration::from_secs(33);

/// The caller's place in a room.
pub(super) struct Member {
    pub room: String,
    pub identity: String,
}

/// Why an answered call ended.
enum End {
    CallerBye,
    Ours(&'static str, &'static str),
    Transport,
}

#[allow(clippy::too_many_arguments)]
pub(super) async fn run(
    path: &CallPath,
    call: &mut IncomingCall,
    rec: &mut CallRecord,
    mut session: Session,
    mut hub: Membership,
    hangup: &mut HangupSignal,
    max_end: tokio::time::Instant,
    member: Member,
) {
    // Caller audio goes from the media task straight to the room's hub.
    session.handle.set_audio_fn(Some(hub.audio_sink()));
    let end = loop {
        tokio::select! {
            ev = call.events.recv() => match ev {
                Some(CallEvent::Bye) => break End::CallerBye,
                Some(CallEvent::AckTimeout) => break End::Ours("no_ack", "server"),
                Some(CallEvent::ReInvite { req, request }) => {
                    media::answer_reinvite(path, call, &session, req, request.body());
                }
                Some(CallEvent::Info { content_type, body }) => {
                    if let Some(d) = media::info_digit(&content_type, &body) {
                        tracing::debug!(call_id = %rec.id, "DTMF (INFO)");
                        hub.dtmf(d, "info");
                    }
                }
                Some(CallEvent::TransportError) | None => break End::Transport,
                Some(_) => {}
            },
            ev = session.events.recv() => match ev {
                Some(MediaEvent::Timeout) => break End::Ours("media_timeout", "server"),
                Some(MediaEvent::Dtmf(d)) => {
                    tracing::debug!(call_id = %rec.id, "DTMF (RFC 4733)");
                    hub.dtmf(d, "rfc4733");
                }
                Some(MediaEvent::MarkPlayed(id)) => hub.mark_played(id),
                Some(_) => {}
                None => break End::Ours("media_failed", "server"),
            },
            ev = hub.events.recv() => match ev {
                Some(HubEvent::Hangup) | None => break End::Ours("agent_hangup", "agent"),
                Some(HubEvent::Ready) => {}
            },
            _ = tokio::time::sleep_until(max_end) => break End::Ours("max_duration", "server"),
            _ = hangup.requested() => break End::Ours("hangup_api", "server"),
        }
    };
    media::finish(path, &session, matches!(end, End::Ours("media_timeout", _)));
    // Leave the hub before our BYE's answer is awaited, so the agents hear of it now; the
    // room's last caller ends the jobs with this reason.
    hub.set_leave_reason(match &end {
        End::CallerBye | End::Transport => "caller_hangup",
        End::Ours("max_duration", _) => "max_duration",
        End::Ours("agent_hangup", _) => "agent_hangup",
        End::Ours("media_timeout", _) => "media_timeout",
        End::Ours(..) => "room_closed",
    });
    drop(hub);
    path.rooms
        .set_attribute(&member.room, &member.identity, "sip.callStatus", "hangup");
    path.rooms.leave(&member.room, &member.identity);
    match end {
        End::CallerBye => {
            close(
                path,
                rec,
                FinalStatus::Completed,
                "caller_bye",
                Some("caller"),
            );
            call.handle.forget();
        }
        End::Transport => {
            close(path, rec, FinalStatus::Failed, "transport_error", None);
            call.handle.forget();
        }
        End::Ours(reason, by) => {
            call.handle.bye(Vec::new());
            close(path, rec, FinalStatus::Completed, reason, Some(by));
            wait_bye(call).await;
        }
    }
}

/// Waits for the answer to our BYE (retransmitted by the SIP layer), then lets the dialog go.
pub(super) async fn wait_bye(call: &mut IncomingCall) {
    let _ = tokio::time::timeout(BYE_WAIT, async {
        while let Some(ev) = call.events.recv().await {
            if matches!(ev, CallEvent::ByeCompleted { .. } | CallEvent::Bye) {
                break;
            }
        }
    })
    .await;
    call.handle.forget();
}
