//! The task of one room hub (see [`super::hub`]): the room's agent jobs, its members, and
//! the audio between them.
//!
//! * Agent audio, marks, `clear` and `send_dtmf` go to every answered caller's RTP
//!   session, applied by the jobs' own tasks through the room's [`RoomAudio`]; the hub
//!   tells it which sessions are answered. What agents send before any caller is answered
//!   (a greeting right after `ready`) is held there and played to the first caller
//!   answered.
//! * Each caller's audio goes, as live audio, into every other answered caller's session,
//!   which sums it on top of the agent's (so each caller hears the agents and everyone
//!   else, never themselves).
//! * The agents hear the callers: a room's only caller, once answered, hands its frames to
//!   the jobs from its media task ([`RoomAudio::caller_frame`]); with several callers, they are mixed on a 20 ms tick through per-caller jitter
//!   buffers ([`LiveMix`]) into one stream.
//! * Callers joining after the first are announced to the agents (`participant_joined`),
//!   and leaving ones (`participant_left`); the last one to leave ends the jobs with its
//!   reason. An agent's hang-up ends every member's call.

use std::sync::Arc;
use std::time::Duration;

use switchboard_dispatch::RoomAssignment;
use switchboard_media::MediaHandle;
use switchboard_media::live_mix::{FRAME, LiveMix};
use switchboard_media::socket::AudioFrame;
use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;

use super::CallPath;
use super::agent_jobs::AgentJobs;
use super::hub::{HubEvent, ToHub};
use super::room_audio::RoomAudio;
use crate::agents::{AgentOut, AgentOutput, JobEvent, ParticipantInfo};

/// How long an ended room's jobs get to tell their workers.
const JOB_WIND_DOWN: Duration = Duration::from_secs(5);

struct Member {
    id: u64,
    identity: String,
    events: mpsc::UnboundedSender<HubEvent>,
    media: Option<MediaHandle>,
}

struct Hub {
    path: Arc<CallPath>,
    hub_id: u64,
    room: String,
    jobs: AgentJobs,
    members: Vec<Member>,
    /// An agent said `ready`.
    ready: bool,
    /// A member was answered (the agents were told `active`).
    active: bool,
    /// The callers' audio for the agents, when more than one is answered.
    mix: LiveMix,
    /// The agents' output into the answered callers' sessions, and a lone caller's frames
    /// to the agents.
    audio: Arc<RoomAudio>,
}

/// What a hub is reached through: its messages, its callers' frames when they are mixed,
/// and the audio paths that skip it.
pub(super) struct Inbox {
    pub ctl: mpsc::UnboundedReceiver<ToHub>,
    pub audio: mpsc::Receiver<(u64, AudioFrame)>,
    pub room_audio: Arc<RoomAudio>,
}

/// Starts the hub of `room`, dispatching its agents for `first`, the caller creating it.
pub(super) fn spawn(
    path: Arc<CallPath>,
    hub_id: u64,
    call_id: &str,
    room: &RoomAssignment,
    first: &ParticipantInfo,
    inbox: Inbox,
) {
    let Inbox {
        ctl,
        audio,
        room_audio,
    } = inbox;
    let jobs = AgentJobs::start(&path, call_id, room, first, &room_audio);
    let hub = Hub {
        path,
        hub_id,
        room: room.room_name.clone(),
        jobs,
        members: Vec::new(),
        ready: false,
        active: false,
        mix: LiveMix::new(),
        audio: room_audio,
    };
    tokio::spawn(hub.run(ctl, audio));
}

impl Hub {
    async fn run(
        mut self,
        mut ctl: mpsc::UnboundedReceiver<ToHub>,
        mut audio: mpsc::Receiver<(u64, AudioFrame)>,
    ) {
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
        loop {
            let mixing = self.answered() > 1;
            tokio::select! {
                msg = ctl.recv() => match msg {
                    Some(m) => if self.on_ctl(m) { break; },
                    None => {
                        self.end("room_closed");
                        break;
                    }
                },
                Some((member, frame)) = audio.recv() => self.on_audio(member, &frame),
                _ = tick.tick(), if mixing => self.on_tick(),
                Some((i, ev)) = self.jobs.next_event() => if self.on_job(i, ev) { break; },
            }
        }
        self.wind_down().await;
    }

    fn answered(&self) -> usize {
        self.members.iter().filter(|m| m.media.is_some()).count()
    }

    fn sessions(&self) -> impl Iterator<Item = &MediaHandle> {
        self.members.iter().filter_map(|m| m.media.as_ref())
    }

    /// Handles a member's message; `true` when the hub is over.
    fn on_ctl(&mut self, msg: ToHub) -> bool {
        match msg {
            ToHub::Join {
                member,
                participant,
                events,
                media,
            } => {
                if self.members.is_empty() && !self.active {
                    if media.is_none() {
                        self.jobs.each(|c| c.call_status("ringing"));
                    }
                } else {
                    self.jobs.each(|c| c.participant_joined(&participant));
                }
                if self.ready {
                    let _ = events.send(HubEvent::Ready);
                }
                self.members.push(Member {
                    id: member,
                    identity: participant.identity,
                    events,
                    media: None,
                });
                if let Some(media) = media {
                    self.on_answered(member, media);
                }
                self.route_callers();
            }
            ToHub::Answered { member, media } => self.on_answered(member, media),
            ToHub::Dtmf {
                member,
                digit,
                source,
            } => {
                let identity = self
                    .members
                    .iter()
                    .find(|m| m.id == member)
                    .map(|m| m.identity.as_str())
                    .unwrap_or_default();
                self.jobs.each(|c| c.dtmf(digit, source, identity));
            }
            ToHub::Leave { member, reason } => {
                let Some(i) = self.members.iter().position(|m| m.id == member) else {
                    return false;
                };
                let gone = self.members.swap_remove(i);
                self.audio.remove_session(member);
                self.route_callers();
                self.mix.remove(member);
                for s in self.sessions() {
                    s.remove_live(member);
                }
                if self.answered() <= 1 {
                    // Back to passing one caller straight through.
                    self.mix = LiveMix::new();
                }
                if self.members.is_empty() {
                    self.end(reason);
                    return true;
                }
                self.jobs.each(|c| c.participant_left(&gone.identity));
            }
        }
        false
    }

    fn on_answered(&mut self, member: u64, media: MediaHandle) {
        if let Some(m) = self.members.iter_mut().find(|m| m.id == member) {
            m.media = Some(media.clone());
        }
        self.audio.add_session(member, media);
        self.route_callers();
        if !self.active {
            self.active = true;
            self.jobs.each(|c| c.call_status("active"));
        }
    }

    /// A room whose only member is answered passes that caller's frames to the agents
    /// from its media task; any other room mixes them here.
    fn route_callers(&self) {
        let direct = match self.members.as_slice() {
            [only] if only.media.is_some() => Some(only.id),
            _ => None,
        };
        self.audio.set_direct(direct);
    }

    /// A caller's frame: to the other callers, and to the agents (straight, or into the mix).
    fn on_audio(&mut self, member: u64, frame: &AudioFrame) {
        if !self.members.iter().any(|m| m.id == member) {
            return; // a frame still in flight from a caller that left
        }
        let mut others = 0;
        for m in &self.members {
            if m.id != member
                && let Some(s) = &m.media
            {
                s.push_live(member, frame);
                others += 1;
            }
        }
        if others == 0 {
            self.jobs.each(|c| c.caller_audio(frame));
        } else {
            self.mix.push(member, frame);
        }
    }

    /// 20 ms of the callers' mix for the agents (silence when nobody is heard).
    fn on_tick(&mut self) {
        let mut frame = [0i16; FRAME];
        self.mix.mix_into(&mut frame);
        self.jobs.each(|c| c.caller_audio(&frame));
    }

    /// Handles an agent job's event; `true` when the hub is over.
    fn on_job(&mut self, i: usize, ev: JobEvent) -> bool {
        if self.jobs.note(&self.path, i, &ev) {
            self.ready = true;
            for m in &self.members {
                let _ = m.events.send(HubEvent::Ready);
            }
        }
        let out = match &ev {
            JobEvent::Audio(pcm) => AgentOut::Audio(pcm),
            JobEvent::Mark(name) => AgentOut::Mark(name),
            JobEvent::Clear => AgentOut::Clear,
            JobEvent::SendDtmf(digits) => AgentOut::Dtmf(digits),
            JobEvent::Hangup => {
                for m in &self.members {
                    let _ = m.events.send(HubEvent::Hangup);
                }
                self.path.hubs.retire(&self.room, self.hub_id);
                self.end("agent_hangup");
                return true;
            }
            JobEvent::Lost => {
                // The agent's queued audio belongs to a worker that is gone.
                tracing::warn!(room = %self.room, job = i, "agent lost; the job is offered again");
                AgentOut::Clear
            }
            _ => return false,
        };
        // The jobs apply their output themselves; this is the output of a job without
        // that path, applied the same way.
        self.audio.apply(i, out);
        false
    }

    /// The room is over for the agents.
    fn end(&mut self, reason: &str) {
        self.jobs.each(|c| c.call_status("hangup"));
        self.jobs.end(&self.path, reason);
    }

    /// Lets the jobs deliver the `hangup` and `job_ended` they were just given before the
    /// hub drops them (dropping a job ends it without a word to the worker).
    async fn wind_down(mut self) {
        let _ = tokio::time::timeout(JOB_WIND_DOWN, async {
            while self.jobs.next_event().await.is_some() {}
        })
        .await;
    }
}
