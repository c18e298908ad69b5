//! The control connection: register, keepalive, offers, assignments.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use livekit_token::{AccessToken, VideoGrants};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

use crate::protocol::{
    self, Assignment, Attributes, AudioFormat, ErrorCode, ErrorMessage, JobEndReason, Participant,
    Register, Registered, Room, ServerMessage, WorkerMessage,
};
use crate::session::{self, JobSession, MediaEvent};
use crate::{Error, Ws};

/// How long the server has to answer `register`.
const REGISTER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the worker's JWT is valid (it is checked when connecting).
const TOKEN_TTL: Duration = Duration::from_secs(3600);
/// Extra time, beyond the offer's deadline, to wait for an assignment.
const ASSIGNMENT_GRACE: Duration = Duration::from_secs(10);

/// How to connect and register a worker.
#[derive(Clone, Debug)]
pub struct WorkerOptions {
    /// switchboard's HTTP address, e.g. `http://127.0.0.1:7880` (or `ws://…`; `/agent` is
    /// appended). Plain `ws://` only: this client has no TLS.
    pub url: String,
    /// An API key of the server (`serve --dev`: `devkey`).
    pub api_key: String,
    /// Its secret (`serve --dev`: `secret`).
    pub api_secret: String,
    /// A ready-made JWT to use instead of minting one from `api_key`/`api_secret`; it must
    /// carry the agent grant (`video.agent`).
    pub token: Option<String>,
    /// The worker's identity (the JWT `sub`); empty picks `worker-<agent_name>-<pid>`.
    pub identity: String,
    /// The name dispatch rules use in `room_config.agents[].agent_name`; empty registers for
    /// automatic dispatch (rules without agents).
    pub agent_name: String,
    /// How many jobs at once: 1–1000.
    pub max_jobs: u32,
    /// The PCM rate both ways: 8000, 16000, 24000 or 48000.
    pub sample_rate: u32,
    /// The worker's version, reported to the server.
    pub version: String,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions {
            url: "http://127.0.0.1:7880".into(),
            api_key: String::new(),
            api_secret: String::new(),
            token: None,
            identity: String::new(),
            agent_name: String::new(),
            max_jobs: 1,
            sample_rate: 16000,
            version: String::new(),
        }
    }
}

impl WorkerOptions {
    /// Options for `url` with an API key and secret, and the defaults (automatic dispatch,
    /// one job at a time, 16 kHz).
    pub fn new(url: &str, api_key: &str, api_secret: &str) -> Self {
        WorkerOptions {
            url: url.into(),
            api_key: api_key.into(),
            api_secret: api_secret.into(),
            ..Default::default()
        }
    }

    fn validate(&self) -> Result<(), Error> {
        if !protocol::MAX_JOBS.contains(&self.max_jobs) {
            return Err(Error::InvalidOptions(format!(
                "max_jobs is {}; it must be between 1 and 1000",
                self.max_jobs
            )));
        }
        if !protocol::SAMPLE_RATES.contains(&self.sample_rate) {
            return Err(Error::InvalidOptions(format!(
                "sample_rate is {}; it must be 8000, 16000, 24000 or 48000",
                self.sample_rate
            )));
        }
        Ok(())
    }

    fn jwt(&self) -> Result<String, Error> {
        if let Some(t) = &self.token {
            return Ok(t.clone());
        }
        if self.api_key.is_empty() || self.api_secret.is_empty() {
            return Err(Error::InvalidOptions(
                "api_key and api_secret are required (or a ready-made token): use one of the server's key pairs (`switchboard serve --dev`: devkey / secret)".into(),
            ));
        }
        let identity = if self.identity.is_empty() {
            let name = if self.agent_name.is_empty() {
                "auto"
            } else {
                &self.agent_name
            };
            format!("worker-{name}-{}", std::process::id())
        } else {
            self.identity.clone()
        };
        AccessToken::with_api_key(&self.api_key, &self.api_secret)
            .with_identity(&identity)
            .with_ttl(TOKEN_TTL)
            .with_grants(VideoGrants {
                agent: true,
                ..Default::default()
            })
            .to_jwt()
            .map_err(|e| Error::Token(e.to_string()))
    }
}

/// What the control connection reports besides offers.
#[derive(Debug)]
#[non_exhaustive]
#[allow(clippy::large_enum_variant)] // a few events per call: not worth a box
pub enum WorkerEvent {
    /// A job for this worker: accept or decline it before its deadline.
    Offer(JobOffer),
    /// A job of this worker is over (also delivered to its [`JobSession`] as
    /// [`MediaEvent::Ended`]).
    JobEnded {
        job_id: String,
        reason: JobEndReason,
    },
    /// An `error` from the server that answers no pending request of this client.
    ServerError(ErrorMessage),
}

/// A registered worker: one open control connection.
///
/// The connection stays open while the `Worker`, an unanswered [`JobOffer`] or a
/// [`JobSession`] of it exists, or until [`Worker::close`]. Closing it ends the worker's jobs
/// (the server offers them to other workers).
pub struct Worker {
    registered: Registered,
    sample_rate: u32,
    cmds: mpsc::UnboundedSender<Cmd>,
    events: tokio::sync::Mutex<mpsc::UnboundedReceiver<WorkerEvent>>,
    closed: Arc<Mutex<Option<Error>>>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("worker_id", &self.registered.worker_id)
            .finish_non_exhaustive()
    }
}

impl Worker {
    /// Connects to `GET /agent`, registers and starts the keepalive.
    pub async fn connect(options: WorkerOptions) -> Result<Worker, Error> {
        options.validate()?;
        let url = crate::control_url(&options.url)?;
        let token = options.jwt()?;
        let mut ws = crate::open_ws(&url, &token, false).await?;
        let register = WorkerMessage::Register(Register {
            agent_name: options.agent_name.clone(),
            version: options.version.clone(),
            max_jobs: options.max_jobs,
            audio: AudioFormat {
                sample_rate: options.sample_rate,
            },
        });
        send(&mut ws, &register).await?;
        let registered = tokio::time::timeout(REGISTER_TIMEOUT, await_registered(&mut ws))
            .await
            .map_err(|_| {
                Error::Timeout(format!(
                    "the server did not answer `register` within {} s; is {url} a switchboard agent endpoint?",
                    REGISTER_TIMEOUT.as_secs()
                ))
            })??;
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let (event_tx, event_rx) = mpsc::unbounded_channel();
        let closed = Arc::new(Mutex::new(None));
        let control = Control {
            ws,
            cmds: cmd_rx,
            weak_cmds: cmd_tx.downgrade(),
            events: event_tx,
            pending: Vec::new(),
            jobs: HashMap::new(),
            ping_interval: Duration::from_millis(registered.ping_interval_ms.max(100)),
            last_heard: Instant::now(),
            sample_rate: options.sample_rate,
            closed: closed.clone(),
        };
        tokio::spawn(control.run());
        Ok(Worker {
            registered,
            sample_rate: options.sample_rate,
            cmds: cmd_tx,
            events: tokio::sync::Mutex::new(event_rx),
            closed,
        })
    }

    /// The server's id of this worker (`AW_…`).
    pub fn worker_id(&self) -> &str {
        &self.registered.worker_id
    }

    /// The server's keepalive interval.
    pub fn ping_interval(&self) -> Duration {
        Duration::from_millis(self.registered.ping_interval_ms)
    }

    /// The server's version.
    pub fn server_version(&self) -> &str {
        &self.registered.server_version
    }

    /// The registered PCM rate.
    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// The next event; `None` once the control connection is closed (see
    /// [`Worker::close_reason`]).
    pub async fn next_event(&self) -> Option<WorkerEvent> {
        self.events.lock().await.recv().await
    }

    /// The next offer, skipping other events; `None` once the control connection is closed
    /// (see [`Worker::close_reason`]).
    pub async fn next_offer(&self) -> Option<JobOffer> {
        loop {
            if let WorkerEvent::Offer(o) = self.next_event().await? {
                return Some(o);
            }
        }
    }

    /// Reports the worker's load, 0 (idle) to 1 (full); offers go to the least-loaded
    /// worker first. Without reports the server uses active jobs / `max_jobs`.
    pub fn set_load(&self, load: f32) -> Result<(), Error> {
        if !(0.0..=1.0).contains(&load) {
            return Err(Error::InvalidOptions(format!(
                "load is {load}; it must be between 0 (idle) and 1 (full)"
            )));
        }
        // f32 → f64 without the binary noise (0.35f32 is 0.3499999940395355f64).
        let load = (f64::from(load) * 10_000.0).round() / 10_000.0;
        self.command(Cmd::Send(WorkerMessage::Load { load }))
    }

    /// Why the control connection closed, if it did (`None` while open, or after
    /// [`Worker::close`]).
    pub fn close_reason(&self) -> Option<Error> {
        self.closed.lock().unwrap().clone()
    }

    /// Closes the control connection (and so ends the worker's jobs).
    pub async fn close(self) {
        let (tx, rx) = oneshot::channel();
        if self.cmds.send(Cmd::Close(tx)).is_ok() {
            let _ = rx.await;
        }
    }

    fn command(&self, cmd: Cmd) -> Result<(), Error> {
        self.cmds.send(cmd).map_err(|_| {
            self.close_reason()
                .unwrap_or_else(|| Error::closed("the worker is closed"))
        })
    }
}

/// A job offered to this worker. Answer it with [`accept`](JobOffer::accept) or
/// [`decline`](JobOffer::decline) before [`deadline`](JobOffer::deadline); dropping it
/// declines it.
#[derive(Debug)]
pub struct JobOffer {
    /// `AJ_…`.
    pub job_id: String,
    pub agent_name: String,
    pub room: Room,
    /// The caller.
    pub participant: Participant,
    /// The dispatch entry's `metadata`, verbatim (e.g. SIPHON's `{"agent_config": …}`).
    pub metadata: String,
    /// The dispatch entry's `attributes`.
    pub attributes: Attributes,
    /// When the server stops waiting for an answer.
    pub deadline: Instant,
    sample_rate: u32,
    cmds: Option<mpsc::UnboundedSender<Cmd>>,
}

impl JobOffer {
    /// Accepts the job: waits for the assignment and opens the media channel.
    pub async fn accept(mut self) -> Result<JobSession, Error> {
        let cmds = self.cmds.take().expect("an offer is answered once");
        let (events_tx, events_rx) = mpsc::channel(session::EVENT_BUFFER);
        let (reply_tx, reply_rx) = oneshot::channel();
        cmds.send(Cmd::Accept {
            job_id: self.job_id.clone(),
            events: events_tx.downgrade(),
            reply: reply_tx,
        })
        .map_err(|_| Error::closed("cannot accept the offer"))?;
        let wait = self.deadline.saturating_duration_since(Instant::now()) + ASSIGNMENT_GRACE;
        let assignment = match tokio::time::timeout(wait, reply_rx).await {
            Err(_) => {
                return Err(Error::Timeout(format!(
                    "no assignment for job {} after accepting it",
                    self.job_id
                )));
            }
            Ok(Err(_)) => {
                return Err(Error::closed(&format!(
                    "no assignment for job {}",
                    self.job_id
                )));
            }
            Ok(Ok(r)) => r?,
        };
        let ws = crate::open_ws(&assignment.media_url, &assignment.media_token, true).await?;
        let info = session::JobInfo {
            job_id: std::mem::take(&mut self.job_id),
            agent_name: std::mem::take(&mut self.agent_name),
            room: std::mem::take(&mut self.room),
            participant: std::mem::take(&mut self.participant),
            metadata: std::mem::take(&mut self.metadata),
            attributes: std::mem::take(&mut self.attributes),
            sample_rate: self.sample_rate,
        };
        Ok(session::start(ws, info, events_tx, events_rx, cmds))
    }

    /// Declines the job; the server offers it to the next worker of that name.
    pub async fn decline(mut self, reason: &str) -> Result<(), Error> {
        let cmds = self.cmds.take().expect("an offer is answered once");
        cmds.send(Cmd::Send(WorkerMessage::Decline {
            job_id: self.job_id.clone(),
            reason: reason.into(),
        }))
        .map_err(|_| Error::closed("cannot decline the offer"))
    }
}

impl Drop for JobOffer {
    fn drop(&mut self) {
        if let Some(cmds) = self.cmds.take() {
            let _ = cmds.send(Cmd::Send(WorkerMessage::Decline {
                job_id: std::mem::take(&mut self.job_id),
                reason: "the worker dropped the offer without answering".into(),
            }));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The control task

pub(crate) enum Cmd {
    Send(WorkerMessage),
    Accept {
        job_id: String,
        events: mpsc::WeakSender<MediaEvent>,
        reply: oneshot::Sender<Result<Assignment, Error>>,
    },
    Close(oneshot::Sender<()>),
}

impl std::fmt::Debug for Cmd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Cmd::Send(_) => "Send",
            Cmd::Accept { .. } => "Accept",
            Cmd::Close(_) => "Close",
        })
    }
}

struct PendingAccept {
    job_id: String,
    events: mpsc::WeakSender<MediaEvent>,
    reply: oneshot::Sender<Result<Assignment, Error>>,
}

struct Control {
    ws: Ws,
    cmds: mpsc::UnboundedReceiver<Cmd>,
    /// For the offers this task creates; weak so that the connection closes once the
    /// worker, its offers and its sessions are gone.
    weak_cmds: mpsc::WeakUnboundedSender<Cmd>,
    events: mpsc::UnboundedSender<WorkerEvent>,
    /// Accepts waiting for their assignment, oldest first.
    pending: Vec<PendingAccept>,
    /// Assigned jobs → their session's events (weak: the media reader owns the channel).
    jobs: HashMap<String, mpsc::WeakSender<MediaEvent>>,
    ping_interval: Duration,
    last_heard: Instant,
    sample_rate: u32,
    closed: Arc<Mutex<Option<Error>>>,
}

impl Control {
    async fn run(mut self) {
        let mut ticker = tokio::time::interval(self.ping_interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        let reason: Option<Error> = loop {
            tokio::select! {
                msg = self.ws.next() => match msg {
                    None => break Some(Error::closed("the server closed the control connection")),
                    Some(Err(e)) => break Some(Error::Closed(format!("the control connection failed: {e}"))),
                    Some(Ok(Message::Close(frame))) => {
                        break Some(Error::Closed(match frame {
                            Some(f) if !f.reason.is_empty() => format!(
                                "the server closed the control connection (code {}): {}",
                                u16::from(f.code),
                                f.reason
                            ),
                            Some(f) => format!("the server closed the control connection (code {})", u16::from(f.code)),
                            None => "the server closed the control connection".into(),
                        }));
                    }
                    Some(Ok(Message::Text(text))) => {
                        self.last_heard = Instant::now();
                        if let Err(e) = self.handle(&text).await {
                            break Some(e);
                        }
                    }
                    Some(Ok(_)) => self.last_heard = Instant::now(),
                },
                cmd = self.cmds.recv() => match cmd {
                    None => {
                        let _ = self.ws.close(None).await;
                        break None;
                    }
                    Some(Cmd::Close(done)) => {
                        let _ = self.ws.close(None).await;
                        let _ = done.send(());
                        break None;
                    }
                    Some(Cmd::Send(m)) => {
                        if let Err(e) = send(&mut self.ws, &m).await {
                            break Some(e);
                        }
                    }
                    Some(Cmd::Accept { job_id, events, reply }) => {
                        let m = WorkerMessage::Accept { job_id: job_id.clone() };
                        self.pending.push(PendingAccept { job_id, events, reply });
                        if let Err(e) = send(&mut self.ws, &m).await {
                            break Some(e);
                        }
                    }
                },
                _ = ticker.tick() => {
                    if self.last_heard.elapsed() > self.ping_interval * 3 {
                        break Some(Error::Timeout(format!(
                            "nothing arrived from the server for {:?} (3 ping intervals); the worker disconnected",
                            self.ping_interval * 3
                        )));
                    }
                    let ts = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as u64;
                    if let Err(e) = send(&mut self.ws, &WorkerMessage::Ping { ts: ts.into() }).await {
                        break Some(e);
                    }
                }
            }
        };
        let err = reason
            .clone()
            .unwrap_or_else(|| Error::closed("the worker closed"));
        for p in self.pending.drain(..) {
            let _ = p.reply.send(Err(err.clone()));
        }
        *self.closed.lock().unwrap() = reason;
    }

    async fn handle(&mut self, text: &str) -> Result<(), Error> {
        // Unknown types (a newer server) and malformed messages are ignored.
        let Ok(msg) = serde_json::from_str::<ServerMessage>(text) else {
            return Ok(());
        };
        match msg {
            ServerMessage::Ping { ts } => send(&mut self.ws, &WorkerMessage::Pong { ts }).await?,
            ServerMessage::Pong { .. } | ServerMessage::Registered(_) => {}
            ServerMessage::Offer(o) => {
                let Some(cmds) = self.weak_cmds.upgrade() else {
                    return Ok(());
                };
                let offer = JobOffer {
                    deadline: Instant::now() + Duration::from_millis(o.deadline_ms),
                    job_id: o.job_id,
                    agent_name: o.agent_name,
                    room: o.room,
                    participant: o.participant,
                    metadata: o.metadata,
                    attributes: o.attributes,
                    sample_rate: self.sample_rate,
                    cmds: Some(cmds),
                };
                // If the worker is gone the offer is dropped here, which declines it.
                let _ = self.events.send(WorkerEvent::Offer(offer));
            }
            ServerMessage::Assignment(a) => {
                if let Some(i) = self.pending.iter().position(|p| p.job_id == a.job_id) {
                    let p = self.pending.remove(i);
                    self.jobs.insert(a.job_id.clone(), p.events);
                    let _ = p.reply.send(Ok(a));
                }
            }
            ServerMessage::JobEnded { job_id, reason } => {
                if let Some(i) = self.pending.iter().position(|p| p.job_id == job_id) {
                    let p = self.pending.remove(i);
                    let _ = p.reply.send(Err(Error::Closed(format!(
                        "job {job_id} ended ({reason}) before it was assigned"
                    ))));
                }
                if let Some(tx) = self.jobs.remove(&job_id).and_then(|w| w.upgrade()) {
                    let ended = MediaEvent::Ended(reason.clone());
                    // Never block the control loop on a slow session.
                    if let Err(mpsc::error::TrySendError::Full(ev)) = tx.try_send(ended) {
                        tokio::spawn(async move {
                            let _ = tx.send(ev).await;
                        });
                    }
                }
                let _ = self.events.send(WorkerEvent::JobEnded { job_id, reason });
            }
            ServerMessage::Error(e) => {
                // Errors carry no job id: a not_your_job answers the oldest pending accept.
                if e.code == ErrorCode::NotYourJob && !self.pending.is_empty() {
                    let p = self.pending.remove(0);
                    let _ = p.reply.send(Err(Error::Server {
                        code: e.code,
                        message: format!(
                            "{} (job {}: it was not offered to this worker, or the 10 s deadline passed)",
                            e.message, p.job_id
                        ),
                    }));
                } else {
                    let _ = self.events.send(WorkerEvent::ServerError(e));
                }
            }
        }
        // Forget jobs whose session is gone.
        self.jobs.retain(|_, w| w.strong_count() > 0);
        Ok(())
    }
}

async fn send(ws: &mut Ws, msg: &WorkerMessage) -> Result<(), Error> {
    let text = serde_json::to_string(msg).expect("messages serialize");
    ws.send(Message::text(text))
        .await
        .map_err(|e| Error::Closed(format!("cannot send on the control connection: {e}")))
}

/// Reads until `registered` (answering pings) or a refusal.
async fn await_registered(ws: &mut Ws) -> Result<Registered, Error> {
    loop {
        let msg = match ws.next().await {
            None => {
                return Err(Error::closed(
                    "the server closed the connection before `registered`",
                ));
            }
            Some(Err(e)) => {
                return Err(Error::Closed(format!(
                    "the connection failed before `registered`: {e}"
                )));
            }
            Some(Ok(m)) => m,
        };
        match msg {
            Message::Text(text) => match serde_json::from_str::<ServerMessage>(&text) {
                Ok(ServerMessage::Registered(r)) => return Ok(r),
                Ok(ServerMessage::Error(e)) => {
                    return Err(Error::Registration {
                        code: e.code,
                        message: e.message,
                    });
                }
                Ok(ServerMessage::Ping { ts }) => send(ws, &WorkerMessage::Pong { ts }).await?,
                Ok(_) => {}
                Err(e) => {
                    return Err(Error::Protocol(format!(
                        "unexpected answer to `register` ({e}): {text}"
                    )));
                }
            },
            Message::Close(frame) => {
                let reason = frame
                    .map(|f| format!("code {}: {}", u16::from(f.code), f.reason))
                    .unwrap_or_else(|| "no reason given".into());
                return Err(Error::Registration {
                    code: ErrorCode::Other("closed".into()),
                    message: format!("the server closed the connection ({reason})"),
                });
            }
            _ => {}
        }
    }
}
