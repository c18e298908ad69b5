//! A room's audio paths that do not go through its hub's task: the agents' output into the
//! answered callers' RTP sessions, and a lone caller's frames straight to the agents.
//!
//! Every 20 ms frame that crosses a task costs a wake-up, and on a busy node those are most
//! of the CPU a call costs. So the jobs' tasks apply the agents' output here themselves
//! ([`AgentOutput`]), in the order each agent sent it, and the media task of a room's only
//! caller hands its frames to the jobs' queues itself ([`RoomAudio::caller_frame`]). The hub
//! keeps what needs the room's whole state: who is answered (it adds and removes sessions
//! here), mixing several callers, and the events that change the call.
//!
//! * Agent output before any caller is answered (a greeting right after `ready` races the
//!   caller's `200 OK`) is held and played to the first caller answered.
//! * A mark is reported to its agent when the first session has played it, or at once when
//!   a `clear` drops it unplayed.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};

use switchboard_media::MediaHandle;
use switchboard_media::socket::AudioFrame;

use crate::agents::{AgentOut, AgentOutput, JobControl};

/// Most agent audio held for a room nobody hears yet (60 s at 8 kHz, as a job's queue).
const MAX_EARLY_SAMPLES: usize = 60 * 8000;

/// No member: [`RoomAudio::set_direct`] with nobody.
const NOBODY: u64 = 0;

/// Agent output as the sessions apply it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Out {
    Audio(Vec<i16>),
    /// A media mark id (see [`Marks`]).
    Mark(u64),
    Clear,
    Dtmf(String),
}

/// What the agents sent before any caller of the room was answered.
#[derive(Default)]
struct Early {
    out: VecDeque<Out>,
    samples: usize,
}

impl Early {
    /// Holds `out`; returns the marks that became due (a `clear` drops what is held and
    /// reports its marks, as a session would).
    fn push(&mut self, out: Out) -> Vec<u64> {
        match out {
            Out::Clear => {
                self.samples = 0;
                return std::mem::take(&mut self.out)
                    .into_iter()
                    .filter_map(|o| match o {
                        Out::Mark(id) => Some(id),
                        _ => None,
                    })
                    .collect();
            }
            Out::Audio(ref pcm) => self.samples += pcm.len(),
            _ => {}
        }
        self.out.push_back(out);
        while self.samples > MAX_EARLY_SAMPLES {
            match self.out.iter().position(|o| matches!(o, Out::Audio(_))) {
                Some(i) => {
                    if let Some(Out::Audio(pcm)) = self.out.remove(i) {
                        self.samples -= pcm.len();
                    }
                }
                None => self.samples = 0,
            }
        }
        Vec::new()
    }

    fn take(&mut self) -> VecDeque<Out> {
        self.samples = 0;
        std::mem::take(&mut self.out)
    }
}

/// Media mark ids given to the sessions, and the agent mark each stands for.
#[derive(Default)]
struct Marks {
    pending: HashMap<u64, (usize, String)>,
    next: u64,
}

impl Marks {
    fn add(&mut self, job: usize, name: &str) -> u64 {
        self.next += 1;
        self.pending.insert(self.next, (job, name.to_string()));
        self.next
    }
}

#[derive(Default)]
struct Inner {
    /// The answered callers' sessions, by member id, in the order they were answered.
    sessions: Vec<(u64, MediaHandle)>,
    early: Early,
    marks: Marks,
}

/// The audio of one room shared by its hub, its jobs and its callers' media tasks.
#[derive(Default)]
pub(super) struct RoomAudio {
    inner: Mutex<Inner>,
    /// The member whose frames go straight to the agents ([`NOBODY`] when frames go
    /// through the hub).
    direct: AtomicU64,
    /// The room's jobs, set once they are dispatched.
    jobs: OnceLock<Vec<JobControl>>,
}

impl RoomAudio {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The room's jobs, in the order their indexes number them.
    pub fn set_jobs(&self, jobs: Vec<JobControl>) {
        let _ = self.jobs.set(jobs);
    }

    fn jobs(&self) -> &[JobControl] {
        self.jobs.get().map_or(&[], Vec::as_slice)
    }

    /// Frames of `member` go straight to the agents from now on (the hub decides: the
    /// room's only member, answered); `None`: every frame goes through the hub.
    pub fn set_direct(&self, member: Option<u64>) {
        self.direct
            .store(member.unwrap_or(NOBODY), Ordering::Release);
    }

    /// Called by the media task of `member` with each frame: `true` if it went to the
    /// agents, `false` if the hub must take it.
    pub fn caller_frame(&self, member: u64, frame: &AudioFrame) -> bool {
        if self.direct.load(Ordering::Acquire) != member {
            return false;
        }
        for job in self.jobs() {
            job.caller_audio(frame);
        }
        true
    }

    /// A caller was answered: its session plays the agents from now on. The first one
    /// gets what was held for the room.
    pub fn add_session(&self, member: u64, media: MediaHandle) {
        let mut inner = self.lock();
        inner.sessions.retain(|(m, _)| *m != member);
        inner.sessions.push((member, media));
        for out in inner.early.take() {
            play(&inner.sessions, &out);
        }
    }

    pub fn remove_session(&self, member: u64) {
        self.lock().sessions.retain(|(m, _)| *m != member);
    }

    /// The session played the media mark `id`: tell its agent.
    pub fn mark_played(&self, id: u64) {
        let done = self.lock().marks.pending.remove(&id);
        self.report(done.into_iter());
    }

    fn report(&self, marks: impl Iterator<Item = (usize, String)>) {
        let jobs = self.jobs();
        for (job, name) in marks {
            if let Some(c) = jobs.get(job) {
                c.mark_played(&name);
            }
        }
    }
}

impl AgentOutput for RoomAudio {
    fn apply(&self, job: usize, out: AgentOut<'_>) {
        let mut inner = self.lock();
        let out = match out {
            AgentOut::Audio([]) => return,
            AgentOut::Audio(pcm) => {
                if !inner.sessions.is_empty() {
                    // The usual case, without copying the audio.
                    for (_, s) in &inner.sessions {
                        s.enqueue_pcm(pcm);
                    }
                    return;
                }
                Out::Audio(pcm.to_vec())
            }
            AgentOut::Mark(name) => Out::Mark(inner.marks.add(job, name)),
            AgentOut::Clear => Out::Clear,
            AgentOut::Dtmf(digits) => Out::Dtmf(digits.to_string()),
        };
        if !inner.sessions.is_empty() {
            play(&inner.sessions, &out);
            return;
        }
        let dropped = inner.early.push(out);
        let due: Vec<(usize, String)> = dropped
            .into_iter()
            .filter_map(|id| inner.marks.pending.remove(&id))
            .collect();
        drop(inner);
        self.report(due.into_iter());
    }
}

/// Applies agent output to every answered caller's session.
fn play(sessions: &[(u64, MediaHandle)], out: &Out) {
    for (_, s) in sessions {
        match out {
            Out::Audio(pcm) => {
                s.enqueue_pcm(pcm);
            }
            Out::Mark(id) => s.mark(*id),
            Out::Clear => s.clear(),
            Out::Dtmf(digits) => digits.chars().for_each(|d| {
                s.send_dtmf(d);
            }),
        }
    }
}
