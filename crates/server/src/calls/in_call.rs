//! An answered call, until it ends: the caller's BYE, our BYE (media timeout, maximum call
//! duration, missing ACK, a hang-up through the API or by an agent), re-INVITEs for hold
//! and resume, and in-dialog INFO — and the audio bridge: caller frames (8 kHz) go to every
//! agent job, agent audio (already at 8 kHz) is queued on the RTP session and paced out,
//! with `mark`, `clear` and `send_dtmf` applied to the session.

use switchboard_media::MediaEvent;
use switchboard_sip::transport::{CallEvent, IncomingCall};
use switchboard_store::{CallRecord, FinalStatus};

use super::CallPath;
use super::agent_jobs::AgentJobs;
use super::flow::close;
use super::live::HangupSignal;
use super::media::{self, Session};
use crate::agents::JobEvent;

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
    jobs: &mut AgentJobs,
    hangup: &mut HangupSignal,
    max_end: tokio::time::Instant,
    member: Member,
) {
    // Caller audio for the agents (1 s of frames; the media task drops what does not fit).
    let (audio_tx, mut audio_rx) = tokio::sync::mpsc::channel(50);
    session.handle.set_audio_sink(Some(audio_tx));
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
                        jobs.each(|c| c.dtmf(d, "info"));
                    }
                }
                Some(CallEvent::TransportError) | None => break End::Transport,
                Some(_) => {}
            },
            ev = session.events.recv() => match ev {
                Some(MediaEvent::Timeout) => break End::Ours("media_timeout", "server"),
                Some(MediaEvent::Dtmf(d)) => {
                    tracing::debug!(call_id = %rec.id, "DTMF (RFC 4733)");
                    jobs.each(|c| c.dtmf(d, "rfc4733"));
                }
                Some(MediaEvent::MarkPlayed(id)) => jobs.mark_played(id),
                Some(_) => {}
                None => break End::Ours("media_failed", "server"),
            },
            Some(frame) = audio_rx.recv() => jobs.each(|c| c.caller_audio(&frame[..])),
            Some((i, ev)) = jobs.events.recv() => {
                jobs.note(path, i, &ev);
                match ev {
                    JobEvent::Audio(pcm) => {
                        session.handle.enqueue_pcm(&pcm);
                    }
                    JobEvent::Mark(name) => {
                        let id = jobs.mark(i, name);
                        session.handle.mark(id);
                    }
                    JobEvent::Clear => session.handle.clear(),
                    JobEvent::SendDtmf(digits) => {
                        for d in digits.chars() {
                            session.handle.send_dtmf(d);
                        }
                    }
                    JobEvent::Hangup => break End::Ours("agent_hangup", "agent"),
                    JobEvent::Lost => {
                        // The agent's queued audio belongs to a worker that is gone.
                        session.handle.clear();
                        tracing::warn!(call_id = %rec.id, job = i, "agent lost; the job is offered again");
                    }
                    _ => {}
                }
            }
            _ = tokio::time::sleep_until(max_end) => break End::Ours("max_duration", "server"),
            _ = hangup.requested() => break End::Ours("hangup_api", "server"),
        }
    };
    media::finish(path, &session, matches!(end, End::Ours("media_timeout", _)));
    jobs.each(|c| c.call_status("hangup"));
    jobs.end(
        path,
        match &end {
            End::CallerBye | End::Transport => "caller_hangup",
            End::Ours("max_duration", _) => "max_duration",
            End::Ours("agent_hangup", _) => "agent_hangup",
            End::Ours("media_timeout", _) => "media_timeout",
            End::Ours(..) => "room_closed",
        },
    );
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
