//! The room hubs: one per room with callers on this node, owning the room's agent jobs and
//! its audio (SPEC §5).
//!
//! A call joins the hub of its room (creating it, and with it the room's agent jobs, when
//! it is the first caller) and holds a [`Membership`] until it ends. Agents are dispatched
//! once per room, not once per call: a second caller of a Direct or Callee room joins the
//! agents already there (`participant_joined`), hears them and the other callers, and the
//! agents hear the mix of every caller. The hub closes with its last member, ending the
//! jobs; an agent hanging up ends the hub at once (every member is told), and the next
//! caller of that room starts a new one.
//!
//! The registry only maps room names to running hubs; the hub itself is a task
//! ([`super::hub_task`]) reached through channels, so nothing here is held across an await.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use switchboard_dispatch::RoomAssignment;
use switchboard_media::MediaHandle;
use switchboard_media::socket::AudioFrame;
use tokio::sync::mpsc;

use super::CallPath;
use super::room_audio::RoomAudio;
use crate::agents::ParticipantInfo;

/// What a hub tells one member's call task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum HubEvent {
    /// An agent of the room is ready: answer the call.
    Ready,
    /// An agent hung up: end the call (BYE, or `480` while ringing).
    Hangup,
}

/// Messages into a hub's task.
pub(super) enum ToHub {
    Join {
        member: u64,
        participant: ParticipantInfo,
        events: mpsc::UnboundedSender<HubEvent>,
        /// Already answered (a PIN call): its RTP session.
        media: Option<MediaHandle>,
    },
    /// The member's call was answered; its RTP session takes the room's audio.
    Answered {
        member: u64,
        media: MediaHandle,
    },
    Dtmf {
        member: u64,
        digit: char,
        source: &'static str,
    },
    Leave {
        member: u64,
        reason: &'static str,
    },
}

/// Caller audio frames queued towards a hub (per hub, all members; ~1 s at 4 callers).
const HUB_AUDIO_QUEUE: usize = 200;

struct Entry {
    hub_id: u64,
    members: usize,
    ctl: mpsc::UnboundedSender<ToHub>,
    audio: mpsc::Sender<(u64, AudioFrame)>,
    room_audio: Arc<RoomAudio>,
}

/// Room name → running hub.
#[derive(Default)]
pub struct Hubs {
    map: Mutex<HashMap<String, Entry>>,
    next_id: AtomicU64,
}

impl Hubs {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn next(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// The hub of `hub_id` is over (an agent hung up): the room's next caller starts a
    /// new one. Members still holding it leave into nothing.
    pub(super) fn retire(&self, room: &str, hub_id: u64) {
        let mut map = self.lock();
        if map.get(room).is_some_and(|e| e.hub_id == hub_id) {
            map.remove(room);
        }
    }

    /// A member leaves: `tell` informs the hub under the same lock that joins send their
    /// `Join` under, so the hub sees joins and leaves in registry order, and the entry is
    /// forgotten with its last member — a new caller never joins a hub that is closing.
    fn leave(&self, room: &str, hub_id: u64, tell: impl FnOnce()) {
        let mut map = self.lock();
        tell();
        if let Some(e) = map.get_mut(room)
            && e.hub_id == hub_id
        {
            e.members = e.members.saturating_sub(1);
            if e.members == 0 {
                map.remove(room);
            }
        }
    }
}

/// Joins the caller to its room's hub, starting the hub (and dispatching the room's agents)
/// if the room has none on this node. `identity` is the caller's identity in the room (as
/// the room registry gave it); `media` is the session of a call answered already.
pub(super) fn join(
    path: &Arc<CallPath>,
    call_id: &str,
    room: &RoomAssignment,
    identity: &str,
    media: Option<&MediaHandle>,
) -> Membership {
    let participant = ParticipantInfo {
        identity: identity.to_string(),
        name: room.participant_name.clone(),
        kind: "sip".into(),
        metadata: room.participant_metadata.clone(),
        attributes: room.attributes.clone(),
    };
    let member = path.hubs.next();
    let (events_tx, events) = mpsc::unbounded_channel();
    let mut map = path.hubs.lock();
    let entry = match map.get_mut(&room.room_name) {
        Some(e) if !e.ctl.is_closed() => {
            e.members += 1;
            e
        }
        _ => {
            let hub_id = path.hubs.next();
            let (ctl, ctl_rx) = mpsc::unbounded_channel();
            let (audio, audio_rx) = mpsc::channel(HUB_AUDIO_QUEUE);
            let room_audio = Arc::new(RoomAudio::default());
            super::hub_task::spawn(
                path.clone(),
                hub_id,
                call_id,
                room,
                &participant,
                super::hub_task::Inbox {
                    ctl: ctl_rx,
                    audio: audio_rx,
                    room_audio: room_audio.clone(),
                },
            );
            map.insert(
                room.room_name.clone(),
                Entry {
                    hub_id,
                    members: 1,
                    ctl,
                    audio,
                    room_audio,
                },
            );
            map.get_mut(&room.room_name).expect("just inserted")
        }
    };
    let _ = entry.ctl.send(ToHub::Join {
        member,
        participant,
        events: events_tx,
        media: media.cloned(),
    });
    Membership {
        path: path.clone(),
        room: room.room_name.clone(),
        hub_id: entry.hub_id,
        member,
        ctl: entry.ctl.clone(),
        audio: entry.audio.clone(),
        room_audio: entry.room_audio.clone(),
        events,
        leave_reason: "caller_hangup",
    }
}

/// A call's place in its room's hub; dropping it leaves (with the reason set by
/// [`Membership::set_leave_reason`], `caller_hangup` by default).
pub(super) struct Membership {
    path: Arc<CallPath>,
    room: String,
    hub_id: u64,
    member: u64,
    ctl: mpsc::UnboundedSender<ToHub>,
    audio: mpsc::Sender<(u64, AudioFrame)>,
    room_audio: Arc<RoomAudio>,
    pub events: mpsc::UnboundedReceiver<HubEvent>,
    leave_reason: &'static str,
}

impl Membership {
    /// The call was answered: its session plays the room's audio from now on.
    pub fn answered(&self, media: &MediaHandle) {
        let _ = self.ctl.send(ToHub::Answered {
            member: self.member,
            media: media.clone(),
        });
    }

    /// Where the caller's RTP session puts each 20 ms frame, from its media task: to the
    /// agents' queues when the caller is alone in the room, else into the hub's queue
    /// (dropped if the hub lags).
    pub fn audio_sink(&self) -> switchboard_media::socket::AudioFn {
        let audio = self.audio.clone();
        let room_audio = self.room_audio.clone();
        let member = self.member;
        Arc::new(move |frame: &AudioFrame| {
            if !room_audio.caller_frame(member, frame) {
                let _ = audio.try_send((member, *frame));
            }
        })
    }

    pub fn dtmf(&self, digit: char, source: &'static str) {
        let _ = self.ctl.send(ToHub::Dtmf {
            member: self.member,
            digit,
            source,
        });
    }

    /// The member's session played the media mark `id`.
    pub fn mark_played(&self, id: u64) {
        self.room_audio.mark_played(id);
    }

    /// Why this call leaves, told to the agents if it is the room's last caller
    /// (`caller_hangup`, `ringing_timeout`, `max_duration`…).
    pub fn set_leave_reason(&mut self, reason: &'static str) {
        self.leave_reason = reason;
    }
}

impl Drop for Membership {
    fn drop(&mut self) {
        let leave = ToHub::Leave {
            member: self.member,
            reason: self.leave_reason,
        };
        self.path.hubs.leave(&self.room, self.hub_id, || {
            let _ = self.ctl.send(leave);
        });
    }
}
