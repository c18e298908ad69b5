//! The agent worker protocol, server side (`docs/agent-protocol.md`, SPEC §5): the registry
//! of connected workers, the dispatch of one job per agent of a call, and the per-job media
//! channel.
//!
//! # Interface for the call path
//!
//! ```text
//! let agents: Arc<Agents> = …;                     // one per node (App::agents)
//! let mut job = agents.dispatch(JobRequest { … }); // one per room_config.agents entry,
//!                                                  // or one with agent_name "" (automatic)
//! loop { select! {
//!     ev = job.events.recv() => match ev { … },    // JobEvent, in order
//!     frame = rtp_in => job.control.caller_audio(&pcm_8k_20ms),
//! } }
//! drop(job);                                       // ends the job: the worker gets job_ended
//! ```
//!
//! * [`Agents::dispatch`] never blocks: a task per job (`job.rs`) offers it in the background.
//! * [`JobEvent`]s, in the order they happen: `Assigned` (a worker accepted), `Ready` (the
//!   agent said `ready`; the first one of a call answers it), `Audio` (agent audio already
//!   resampled to **8 kHz**, any length: the call task paces it at 20 ms), `Mark`, `Clear`
//!   (drop queued audio; then report pending marks with [`JobControl::mark_played`]),
//!   `SendDtmf`, `Hangup`, `SetAttributes`, `Lost` (the worker or its media channel went
//!   away; drop queued agent audio — the job is offered again and `Assigned` / `Ready` may
//!   follow), `Unavailable` (an offer round found nobody; sent once per streak — the job
//!   keeps being offered every [`RETRY_EVERY`] while it lives, so a worker that registers
//!   later still gets the call; the call path decides when to give up, e.g. at
//!   `ringing_timeout`).
//! * Events wait in a per-job queue until the call task reads them; queued agent audio is
//!   bounded at [`MAX_QUEUED_AUDIO_SAMPLES`] (60 s at 8 kHz), the oldest dropped beyond.
//!   Reading `events` eagerly moves the buffering (and its bound) to the call task.
//! * With an [`OutputSink`] in the request (the call path's room hub gives one), the
//!   agent's audio, marks, `clear` and DTMF skip the event queue: the job's task applies them
//!   to the room's playout as they arrive, in order.
//! * [`JobControl`] (cheap to clone, never blocks, a no-op once the job ended) carries the
//!   call's side: caller audio (20 ms frames at 8 kHz, resampled here to the worker's rate
//!   and sent as exact 20 ms binary frames; dropped while no media channel is open or when
//!   the worker reads too slowly), DTMF, call status, played marks, participants (replayed
//!   after `start` to a worker that takes the job over) and `hangup(reason)`, which sends
//!   the `hangup` event and ends the job with `job_ended{reason}`. Dropping the [`Job`]
//!   ends it too (`job_ended` reason `agent_hangup` after the agent's `hangup`, else the
//!   last reason given, else `room_closed`).
//!
//! # Where things live
//!
//! * `mod.rs` (this file): the shared registry [`Agents`] — workers, the live jobs, pending
//!   offers, media grants — behind one mutex held for short, non-async sections.
//! * `protocol.rs`: the JSON messages and their errors, no I/O.
//! * `worker.rs`: one control connection (register deadline, ping/keepalive, load,
//!   accept/decline, three errors in a row close it), written against channels of
//!   [`WsIn`] / [`WsOut`].
//! * `job.rs`: one job's task — offer rounds (least loaded first, next on decline or after
//!   [`OFFER_TIMEOUT`]), assignment and media token, the media channel (audio both ways,
//!   events and commands), re-offer on loss, the event queue.
//! * `ws.rs`: the thin shell pumping a control WebSocket into those channels, and handing
//!   a media WebSocket to its job.
//! * `media_link.rs`: a job's media channel, which the job's own task reads and writes (no
//!   task in between: a 20 ms frame each way is one wake-up less each).
//!   `http/agents.rs` has the upgrade handlers and `GET /api/v1/agents`.
//! * `media_stream.rs`: media-stream agents (SPEC §5 item 2). When an endpoint
//!   `{agent_name, url}` exists for a job's (non-empty) agent name, [`Agents::dispatch`]
//!   runs a Twilio Media Streams client job that dials the URL instead of offering the job
//!   to workers. The endpoints are cached here ([`Agents::set_endpoints`]): loaded from the
//!   store at start, reloaded after every API write, and polled every
//!   [`ENDPOINTS_REFRESH_EVERY`] for other nodes' writes; a dispatch only reads the cache.

mod job;
mod media_link;
pub mod media_stream;
pub mod protocol;
mod worker;
pub mod ws;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::mpsc;
use tokio::time::Instant;

pub use protocol::ParticipantInfo;
use protocol::Registration;

/// A worker must register within this long of connecting.
pub const REGISTER_TIMEOUT: Duration = Duration::from_secs(10);
/// A worker must answer an offer within this long.
pub const OFFER_TIMEOUT: Duration = Duration::from_secs(10);
/// The media channel must connect within this long of the assignment.
pub const MEDIA_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// The server pings a worker this often; 3 intervals of silence disconnect it.
pub const PING_INTERVAL: Duration = Duration::from_secs(10);
/// How often a job nobody took is offered again.
pub const RETRY_EVERY: Duration = Duration::from_secs(1);
/// A worker that declined a job (or let the offer time out) is not offered that job again
/// for this long (other workers are, and after it, it is again).
pub const DECLINED_COOLDOWN: Duration = Duration::from_secs(10);
/// The largest text message, and the largest media binary frame.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// Queued agent audio per job, in samples at 8 kHz (60 s).
pub const MAX_QUEUED_AUDIO_SAMPLES: usize = 60 * 8000;
/// Consecutive protocol errors that close a connection (code 1008).
pub const MAX_CONSECUTIVE_ERRORS: u32 = 3;
/// The call's audio rate.
pub const CALL_RATE: u32 = 8000;
/// How often a node reloads the media-stream endpoints (other nodes' writes).
pub const ENDPOINTS_REFRESH_EVERY: Duration = Duration::from_secs(1);

/// A frame received on a WebSocket, as the protocol logic sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum WsIn {
    Text(String),
    Binary(Vec<u8>),
}

/// A frame to send on a WebSocket.
#[derive(Debug, Clone, PartialEq)]
pub enum WsOut {
    Text(String),
    Binary(Vec<u8>),
    /// Close with this code and reason; nothing is sent after it.
    Close(u16, String),
}

/// Capacity of a connection's outgoing queue (frames).
pub(crate) const OUT_QUEUE: usize = 256;

/// What the call path asks for: one job.
#[derive(Clone, Debug, Default)]
pub struct JobRequest {
    pub call_id: String,
    /// The dispatch entry's `agent_name`; empty for automatic dispatch.
    pub agent_name: String,
    /// The dispatch entry's `metadata`, verbatim.
    pub metadata: String,
    /// The dispatch entry's `attributes`.
    pub attributes: BTreeMap<String, String>,
    pub room_name: String,
    pub room_sid: String,
    /// The caller.
    pub participant: ParticipantInfo,
    /// Where the agent's output goes as it arrives; without one it is queued as
    /// [`JobEvent`]s.
    pub output: Option<OutputSink>,
}

/// What an agent sends towards the callers, applied by an [`AgentOutput`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum AgentOut<'a> {
    /// Agent audio at 8 kHz, any length.
    Audio(&'a [i16]),
    Mark(&'a str),
    /// Drop the agent audio not yet played.
    Clear,
    /// Digits to send to the callers.
    Dtmf(&'a str),
}

/// The room's playout, fed by its jobs' tasks directly: the agent's audio, marks, `clear`
/// and DTMF reach the callers' RTP sessions without a hop through the call's task, in the
/// order the agent sent them. `job` is the job's index in its room.
pub trait AgentOutput: Send + Sync {
    fn apply(&self, job: usize, out: AgentOut<'_>);
}

/// A job's [`AgentOutput`] and its index there.
#[derive(Clone)]
pub struct OutputSink {
    pub job: usize,
    pub output: Arc<dyn AgentOutput>,
}

impl std::fmt::Debug for OutputSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutputSink")
            .field("job", &self.job)
            .finish()
    }
}

/// What happened to a job (see the module docs).
#[derive(Clone, Debug, PartialEq)]
pub enum JobEvent {
    Assigned {
        worker_id: String,
    },
    Ready,
    /// Agent audio at 8 kHz.
    Audio(Vec<i16>),
    Mark(String),
    Clear,
    SendDtmf(String),
    Hangup,
    SetAttributes(BTreeMap<String, String>),
    Lost,
    Unavailable,
}

/// One dispatched job, owned by the call task; dropping it ends the job.
pub struct Job {
    pub id: String,
    pub events: mpsc::Receiver<JobEvent>,
    pub control: JobControl,
}

/// Caller audio frames queued towards a job (1 s of 20 ms frames).
const CALLER_AUDIO_QUEUE: usize = 50;

/// The call's side of a job; cheap to clone, never blocks.
#[derive(Clone, Debug)]
pub struct JobControl {
    ctl: mpsc::UnboundedSender<Ctl>,
    audio: mpsc::Sender<CallerFrame>,
}

/// 20 ms of caller audio at 8 kHz, passed by value (no allocation per frame).
pub type CallerFrame = [i16; CALLER_FRAME];

/// Samples in a [`CallerFrame`].
pub const CALLER_FRAME: usize = 160;

impl JobControl {
    /// 20 ms of caller audio at 8 kHz (the room's mix without the agent). Dropped when the
    /// worker is not connected or cannot keep up.
    pub fn caller_audio(&self, frame_8k: &CallerFrame) {
        let _ = self.audio.try_send(*frame_8k);
    }

    /// A DTMF digit from the caller `participant` (its room identity); `source` is
    /// `rfc4733` or `info`.
    pub fn dtmf(&self, digit: char, source: &str, participant: &str) {
        self.send(Ctl::Event(MediaEvent::Dtmf {
            digit: digit.to_string(),
            source: source.to_string(),
            participant: participant.to_string(),
        }));
    }

    /// `ringing`, `active` or `hangup`.
    pub fn call_status(&self, status: &str) {
        self.send(Ctl::Event(MediaEvent::CallStatus(status.to_string())));
    }

    /// The agent audio queued before the mark `name` has been played.
    pub fn mark_played(&self, name: &str) {
        self.send(Ctl::Event(MediaEvent::Mark(name.to_string())));
    }

    /// The call is over for this job: sends the `hangup` event, then ends the job with
    /// `job_ended{reason}` (`caller_hangup`, `max_duration`, `room_closed`, `ringing_timeout`…).
    pub fn hangup(&self, reason: &str) {
        self.send(Ctl::Hangup(reason.to_string()));
    }

    /// Another participant joined the room (replayed to a worker taking the job over).
    #[allow(dead_code)] // part of the call-path interface; not every path uses it yet
    pub fn participant_joined(&self, p: &ParticipantInfo) {
        self.send(Ctl::Event(MediaEvent::Joined(p.clone())));
    }

    #[allow(dead_code)] // part of the call-path interface; not every path uses it yet
    pub fn participant_left(&self, identity: &str) {
        self.send(Ctl::Event(MediaEvent::Left(identity.to_string())));
    }

    fn send(&self, c: Ctl) {
        let _ = self.ctl.send(c);
    }
}

/// Events of the call forwarded to the worker on the media channel.
#[derive(Clone, Debug, PartialEq)]
enum MediaEvent {
    Dtmf {
        digit: String,
        source: String,
        participant: String,
    },
    CallStatus(String),
    Mark(String),
    Joined(ParticipantInfo),
    Left(String),
}

pub(crate) use media_link::MediaLink;

/// Messages into a job's task.
#[derive(Debug)]
enum Ctl {
    Event(MediaEvent),
    Hangup(String),
    /// The worker the job was offered to answered (or is gone: `accept` false).
    Answer {
        worker_id: String,
        accept: bool,
    },
    /// The worker the job is assigned to disconnected.
    WorkerLost {
        worker_id: String,
    },
    /// The media channel of assignment `generation` connected.
    Media {
        generation: u64,
        link: MediaLink,
    },
}

/// A worker as `GET /api/v1/agents` and `switchboard agents list` show it.
#[derive(Clone, Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct WorkerView {
    pub worker_id: String,
    /// Empty: automatic dispatch.
    pub agent_name: String,
    pub version: String,
    pub max_jobs: u32,
    pub sample_rate: u32,
    /// 0 (idle) to 1 (full): reported, else active jobs / max_jobs.
    pub load: f64,
    /// The last load the worker reported, if any.
    pub reported_load: Option<f64>,
    pub jobs: Vec<JobView>,
    /// Offers awaiting the worker's answer.
    pub pending_offers: usize,
    /// RFC 3339.
    pub connected_at: String,
}

/// A job assigned to a worker.
#[derive(Clone, Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct JobView {
    pub job_id: String,
    pub call_id: String,
}

struct Worker {
    reg: Registration,
    reported_load: Option<f64>,
    connected_at: jiff::Timestamp,
    /// `ws://host:port` the worker reached us at: the base of its media URLs.
    media_base: String,
    out: mpsc::Sender<WsOut>,
    offered: BTreeSet<String>,
    /// job id → call id
    assigned: BTreeMap<String, String>,
}

impl Worker {
    fn busy(&self) -> usize {
        self.offered.len() + self.assigned.len()
    }

    fn load(&self) -> f64 {
        self.reported_load
            .unwrap_or(self.busy() as f64 / f64::from(self.reg.max_jobs.max(1)))
    }
}

struct PendingOffer {
    worker_id: String,
}

struct MediaGrant {
    worker_id: String,
    token: [u8; 16],
    expires: Instant,
    generation: u64,
}

struct JobSlot {
    call_id: String,
    ctl: mpsc::UnboundedSender<Ctl>,
    offer: Option<PendingOffer>,
    grant: Option<MediaGrant>,
    /// (worker, generation)
    assigned: Option<(String, u64)>,
}

#[derive(Default)]
struct State {
    workers: HashMap<String, Worker>,
    jobs: HashMap<String, JobSlot>,
}

/// The registry of this node's workers and live jobs.
pub struct Agents {
    /// `ws://host:port` used for media URLs when a worker's request had no `Host`.
    public_base: String,
    state: Mutex<State>,
    /// Media-stream endpoints: agent name → URL.
    endpoints: arc_swap::ArcSwap<HashMap<String, String>>,
}

/// An offer the job task is about to send.
struct OfferTarget {
    worker_id: String,
    out: mpsc::Sender<WsOut>,
}

/// What an accepted offer turns into.
struct Assignment {
    media_url: String,
    token: String,
    out: mpsc::Sender<WsOut>,
    sample_rate: u32,
}

/// A media connection allowed in by its token.
pub struct MediaClaim {
    ctl: mpsc::UnboundedSender<Ctl>,
    generation: u64,
}

impl MediaClaim {
    /// Hands the connected channel to the job (closed at once if the job is over).
    pub(crate) fn attach(self, link: MediaLink) {
        let sent = self.ctl.send(Ctl::Media {
            generation: self.generation,
            link,
        });
        if let Err(mpsc::error::SendError(Ctl::Media { link, .. })) = sent {
            link.close(1000, "the job is over");
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<[u8; 16]> {
    let s = s.as_bytes();
    if s.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, pair) in s.chunks_exact(2).enumerate() {
        let d = |c: u8| (c as char).to_digit(16);
        out[i] = (d(pair[0])? * 16 + d(pair[1])?) as u8;
    }
    Some(out)
}

impl Agents {
    /// A registry; `public_base` (`ws://host:port`) builds media URLs for workers whose
    /// upgrade request carried no `Host` header.
    pub fn new(public_base: impl Into<String>) -> Arc<Agents> {
        Arc::new(Agents {
            public_base: public_base.into(),
            state: Mutex::new(State::default()),
            endpoints: Default::default(),
        })
    }

    /// Replaces the cached media-stream endpoints.
    pub fn set_endpoints(&self, endpoints: &[switchboard_store::AgentEndpoint]) {
        let map: HashMap<String, String> = endpoints
            .iter()
            .map(|e| (e.agent_name.clone(), e.url.clone()))
            .collect();
        if **self.endpoints.load() != map {
            self.endpoints.store(Arc::new(map));
        }
    }

    /// The media-stream URL of `agent_name`, if it has an endpoint (never for "").
    pub fn endpoint(&self, agent_name: &str) -> Option<String> {
        if agent_name.is_empty() {
            return None;
        }
        self.endpoints.load().get(agent_name).cloned()
    }

    /// Reloads the media-stream endpoints from the store.
    pub async fn reload_endpoints(
        &self,
        store: &dyn switchboard_store::Store,
    ) -> Result<(), switchboard_store::StoreError> {
        let list = store.list_agent_endpoints().await?;
        self.set_endpoints(&list);
        Ok(())
    }

    /// Keeps the endpoints in step with the store (other nodes' writes), every `every`.
    pub fn spawn_endpoint_refresher(
        self: &Arc<Self>,
        store: Arc<dyn switchboard_store::Store>,
        every: Duration,
    ) {
        let agents = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut failing = false;
            loop {
                tokio::time::sleep(every).await;
                let Some(agents) = agents.upgrade() else {
                    return;
                };
                match agents.reload_endpoints(&*store).await {
                    Ok(()) => failing = false,
                    Err(e) if !failing => {
                        failing = true;
                        tracing::warn!(error = %e, "cannot reload the media-stream agent endpoints; keeping the last ones");
                    }
                    Err(_) => {}
                }
            }
        });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts dispatching one job (see the module docs). Never blocks; needs a Tokio runtime.
    pub fn dispatch(self: &Arc<Self>, req: JobRequest) -> Job {
        let id = switchboard_dispatch::ids::new_id("AJ_", rand::random());
        let (ctl_tx, ctl_rx) = mpsc::unbounded_channel();
        let (audio_tx, audio_rx) = mpsc::channel::<CallerFrame>(CALLER_AUDIO_QUEUE);
        let (events_tx, events_rx) = mpsc::channel(job::EVENTS_CHANNEL);
        self.lock().jobs.insert(
            id.clone(),
            JobSlot {
                call_id: req.call_id.clone(),
                ctl: ctl_tx.clone(),
                offer: None,
                grant: None,
                assigned: None,
            },
        );
        if let Some(url) = self.endpoint(&req.agent_name) {
            tokio::spawn(media_stream::run(
                self.clone(),
                id.clone(),
                req,
                url,
                ctl_rx,
                audio_rx,
                events_tx,
            ));
        } else {
            tokio::spawn(job::run(
                self.clone(),
                id.clone(),
                req,
                ctl_rx,
                audio_rx,
                events_tx,
            ));
        }
        Job {
            id,
            events: events_rx,
            control: JobControl {
                ctl: ctl_tx,
                audio: audio_tx,
            },
        }
    }

    /// The connected workers, oldest first.
    pub fn workers(&self) -> Vec<WorkerView> {
        let st = self.lock();
        let mut v: Vec<WorkerView> = st
            .workers
            .iter()
            .map(|(id, w)| WorkerView {
                worker_id: id.clone(),
                agent_name: w.reg.agent_name.clone(),
                version: w.reg.version.clone(),
                max_jobs: w.reg.max_jobs,
                sample_rate: w.reg.sample_rate,
                load: w.load(),
                reported_load: w.reported_load,
                jobs: w
                    .assigned
                    .iter()
                    .map(|(j, c)| JobView {
                        job_id: j.clone(),
                        call_id: c.clone(),
                    })
                    .collect(),
                pending_offers: w.offered.len(),
                connected_at: w.connected_at.to_string(),
            })
            .collect();
        v.sort_by(|a, b| {
            (a.connected_at.as_str(), a.worker_id.as_str())
                .cmp(&(b.connected_at.as_str(), b.worker_id.as_str()))
        });
        v
    }

    /// The number of live jobs (for tests and metrics).
    #[allow(dead_code)] // for metrics
    pub fn live_jobs(&self) -> usize {
        self.lock().jobs.len()
    }

    // ---- worker side (worker.rs) ----

    fn register_worker(
        &self,
        reg: Registration,
        media_base: Option<String>,
        out: mpsc::Sender<WsOut>,
    ) -> String {
        let id = switchboard_dispatch::ids::new_id("AW_", rand::random());
        self.lock().workers.insert(
            id.clone(),
            Worker {
                reg,
                reported_load: None,
                connected_at: jiff::Timestamp::now(),
                media_base: media_base.unwrap_or_else(|| self.public_base.clone()),
                out,
                offered: BTreeSet::new(),
                assigned: BTreeMap::new(),
            },
        );
        id
    }

    fn set_load(&self, worker_id: &str, load: f64) {
        if let Some(w) = self.lock().workers.get_mut(worker_id) {
            w.reported_load = Some(load);
        }
    }

    /// A worker disconnected: its pending offers count as declined, its jobs are lost.
    fn remove_worker(&self, worker_id: &str) {
        let mut st = self.lock();
        let Some(w) = st.workers.remove(worker_id) else {
            return;
        };
        for job_id in &w.offered {
            if let Some(slot) = st.jobs.get_mut(job_id)
                && slot
                    .offer
                    .as_ref()
                    .is_some_and(|o| o.worker_id == worker_id)
            {
                slot.offer = None;
                let _ = slot.ctl.send(Ctl::Answer {
                    worker_id: worker_id.to_string(),
                    accept: false,
                });
            }
        }
        for job_id in w.assigned.keys() {
            if let Some(slot) = st.jobs.get_mut(job_id) {
                let _ = slot.ctl.send(Ctl::WorkerLost {
                    worker_id: worker_id.to_string(),
                });
            }
        }
    }

    /// A worker's `accept` / `decline`; `Err` when the job is not offered to it (anymore).
    fn answer(&self, worker_id: &str, job_id: &str, accept: bool) -> Result<(), ()> {
        let mut st = self.lock();
        let slot = st.jobs.get_mut(job_id).ok_or(())?;
        if slot.offer.as_ref().is_none_or(|o| o.worker_id != worker_id) {
            return Err(());
        }
        slot.offer = None;
        let _ = slot.ctl.send(Ctl::Answer {
            worker_id: worker_id.to_string(),
            accept,
        });
        if let Some(w) = st.workers.get_mut(worker_id) {
            w.offered.remove(job_id);
        }
        Ok(())
    }

    // ---- job side (job.rs) ----

    /// Picks the least-loaded eligible worker for a job and records the offer to it.
    fn offer_next(
        &self,
        job_id: &str,
        agent_name: &str,
        skip: &dyn Fn(&str) -> bool,
    ) -> Option<OfferTarget> {
        let mut st = self.lock();
        let best = st
            .workers
            .iter()
            .filter(|(id, w)| {
                w.reg.agent_name == agent_name
                    && w.busy() < w.reg.max_jobs as usize
                    && !w.offered.contains(job_id)
                    && !skip(id)
            })
            .min_by(|(ia, a), (ib, b)| {
                a.load()
                    .total_cmp(&b.load())
                    .then(a.busy().cmp(&b.busy()))
                    .then(a.connected_at.cmp(&b.connected_at))
                    .then(ia.cmp(ib))
            })
            .map(|(id, _)| id.clone())?;
        let slot = st.jobs.get_mut(job_id)?;
        slot.offer = Some(PendingOffer {
            worker_id: best.clone(),
        });
        let w = st.workers.get_mut(&best)?;
        w.offered.insert(job_id.to_string());
        Some(OfferTarget {
            worker_id: best,
            out: w.out.clone(),
        })
    }

    /// Withdraws an unanswered offer; false when an answer already came (it is in the
    /// job's queue).
    fn withdraw_offer(&self, job_id: &str, worker_id: &str) -> bool {
        let mut st = self.lock();
        if let Some(w) = st.workers.get_mut(worker_id) {
            w.offered.remove(job_id);
        }
        match st.jobs.get_mut(job_id) {
            Some(slot)
                if slot
                    .offer
                    .as_ref()
                    .is_some_and(|o| o.worker_id == worker_id) =>
            {
                slot.offer = None;
                true
            }
            _ => false,
        }
    }

    /// Assigns a job to the worker that accepted it and mints its media token; `None` when
    /// the worker is gone.
    fn assign(&self, job_id: &str, worker_id: &str, generation: u64) -> Option<Assignment> {
        let mut st = self.lock();
        let st = &mut *st;
        let w = st.workers.get_mut(worker_id)?;
        let slot = st.jobs.get_mut(job_id)?;
        let token: [u8; 16] = rand::random();
        w.assigned.insert(job_id.to_string(), slot.call_id.clone());
        slot.assigned = Some((worker_id.to_string(), generation));
        slot.grant = Some(MediaGrant {
            worker_id: worker_id.to_string(),
            token,
            expires: Instant::now() + MEDIA_CONNECT_TIMEOUT,
            generation,
        });
        Some(Assignment {
            media_url: format!("{}/agent/jobs/{job_id}/media", w.media_base),
            token: hex(&token),
            out: w.out.clone(),
            sample_rate: w.reg.sample_rate,
        })
    }

    /// Ends an assignment; returns the worker's control queue (for `job_ended`) if it is
    /// still connected.
    fn unassign(&self, job_id: &str, worker_id: &str) -> Option<mpsc::Sender<WsOut>> {
        let mut st = self.lock();
        if let Some(slot) = st.jobs.get_mut(job_id) {
            slot.grant = None;
            slot.assigned = None;
        }
        let w = st.workers.get_mut(worker_id)?;
        w.assigned.remove(job_id);
        Some(w.out.clone())
    }

    /// The job is over: forget it.
    fn finish_job(&self, job_id: &str) {
        let mut st = self.lock();
        let Some(slot) = st.jobs.remove(job_id) else {
            return;
        };
        let mut workers = Vec::new();
        if let Some(o) = slot.offer {
            workers.push(o.worker_id);
        }
        if let Some((w, _)) = slot.assigned {
            workers.push(w);
        }
        for id in workers {
            if let Some(w) = st.workers.get_mut(&id) {
                w.offered.remove(job_id);
                w.assigned.remove(job_id);
            }
        }
    }

    /// Checks a media token (constant time, single use, unexpired, bound to the job and its
    /// assigned worker).
    pub fn claim_media(&self, job_id: &str, token: &str) -> Option<MediaClaim> {
        use subtle::ConstantTimeEq;
        let presented = unhex(token.trim())?;
        let mut st = self.lock();
        let slot = st.jobs.get_mut(job_id)?;
        let grant = slot.grant.as_ref()?;
        let bound = slot
            .assigned
            .as_ref()
            .is_some_and(|(w, g)| *w == grant.worker_id && *g == grant.generation);
        if !bool::from(grant.token.ct_eq(&presented)) || !bound || Instant::now() > grant.expires {
            return None;
        }
        let generation = grant.generation;
        slot.grant = None;
        Some(MediaClaim {
            ctl: slot.ctl.clone(),
            generation,
        })
    }
}
