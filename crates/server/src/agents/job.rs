//! One job's task (§1.3, §2, §3): offer rounds, the assignment, the media channel, re-offer
//! on loss, and the queue of [`JobEvent`]s towards the call task.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use serde_json::json;
use switchboard_media::resample::Resampler;
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};

use super::protocol::{MediaCommand, ParticipantInfo, ProtoError, parse_media, pong};
use super::worker::Errors;
use super::{
    AgentOut, Agents, CALL_RATE, CallerFrame, Ctl, DECLINED_COOLDOWN, JobEvent, JobRequest,
    MAX_MESSAGE_BYTES, MAX_QUEUED_AUDIO_SAMPLES, MEDIA_CONNECT_TIMEOUT, MediaEvent, MediaLink,
    OFFER_TIMEOUT, OutputSink, RETRY_EVERY, WsIn, WsOut,
};

/// Capacity of the channel from a job's queue to the call task.
pub(super) const EVENTS_CHANNEL: usize = 64;

/// Events other than audio queued for the call task before the media channel is no longer
/// read (back-pressure on the worker).
pub(super) const MAX_QUEUED_EVENTS: usize = 1024;

/// Close code of a media channel whose job is over or moved.
const CLOSE_NORMAL: u16 = 1000;

/// The job's events waiting for the call task; agent audio bounded to
/// [`MAX_QUEUED_AUDIO_SAMPLES`], the oldest dropped first. With an [`OutputSink`], the
/// agent's output skips the queue and goes straight to the room's playout.
#[derive(Default)]
pub(super) struct Outbox {
    q: VecDeque<JobEvent>,
    audio: usize,
    /// Events that are not audio.
    others: usize,
    sink: Option<OutputSink>,
}

impl Outbox {
    pub fn new(sink: Option<OutputSink>) -> Outbox {
        Outbox {
            sink,
            ..Outbox::default()
        }
    }

    /// The agent's audio, a mark, `clear` or DTMF to send: applied to the room's playout
    /// at once when the job has one, else queued as its [`JobEvent`] (a `clear` drops the
    /// audio queued before it).
    pub fn output(&mut self, out: AgentOut<'_>) {
        if let Some(s) = &self.sink {
            s.output.apply(s.job, out);
            return;
        }
        match out {
            AgentOut::Audio(pcm) => self.push(JobEvent::Audio(pcm.to_vec())),
            AgentOut::Mark(name) => self.push(JobEvent::Mark(name.to_string())),
            AgentOut::Clear => {
                self.clear_audio();
                self.push(JobEvent::Clear);
            }
            AgentOut::Dtmf(digits) => self.push(JobEvent::SendDtmf(digits.to_string())),
        }
    }

    pub fn push(&mut self, ev: JobEvent) {
        if let JobEvent::Audio(s) = &ev {
            if s.is_empty() {
                return;
            }
            self.audio += s.len();
        } else {
            self.others += 1;
        }
        self.q.push_back(ev);
        while self.audio > MAX_QUEUED_AUDIO_SAMPLES {
            let excess = self.audio - MAX_QUEUED_AUDIO_SAMPLES;
            let Some(i) = self.q.iter().position(|e| matches!(e, JobEvent::Audio(_))) else {
                self.audio = 0;
                break;
            };
            if let Some(JobEvent::Audio(s)) = self.q.get_mut(i) {
                if s.len() <= excess {
                    self.audio -= s.len();
                    self.q.remove(i);
                } else {
                    s.drain(..excess);
                    self.audio -= excess;
                }
            }
        }
    }

    pub fn pop(&mut self) -> Option<JobEvent> {
        let ev = self.q.pop_front()?;
        if let JobEvent::Audio(s) = &ev {
            self.audio -= s.len();
        } else {
            self.others -= 1;
        }
        Some(ev)
    }

    pub fn clear_audio(&mut self) {
        self.q.retain(|e| !matches!(e, JobEvent::Audio(_)));
        self.audio = 0;
    }

    pub fn is_empty(&self) -> bool {
        self.q.is_empty()
    }

    /// Whether more commands from the worker may be queued.
    pub fn has_room(&self) -> bool {
        self.others < MAX_QUEUED_EVENTS
    }

    #[cfg(test)]
    pub fn audio_samples(&self) -> usize {
        self.audio
    }
}

/// An open media channel.
struct Media {
    link: MediaLink,
    /// 8 kHz → the worker's rate.
    up: Resampler,
    /// The worker's rate → 8 kHz.
    down: Resampler,
    up_buf: Vec<i16>,
    /// The last frame from the worker, decoded, and resampled to 8 kHz (kept to reuse
    /// their allocations).
    samples: Vec<i16>,
    down_buf: Vec<i16>,
    /// Samples per 20 ms frame at the worker's rate.
    frame: usize,
    errors: Errors,
    ready: bool,
}

enum Phase {
    /// Offer (again) at `retry_at`.
    Idle { retry_at: Instant },
    /// Offered to `worker_id`; `deadline` None once the answer is known to be queued.
    Offering {
        worker_id: String,
        deadline: Option<Instant>,
    },
    /// Accepted; waiting for the media channel.
    Assigned {
        worker_id: String,
        generation: u64,
        deadline: Instant,
        sample_rate: u32,
    },
    Connected {
        worker_id: String,
        media: Box<Media>,
    },
}

impl Phase {
    fn deadline(&self) -> Option<Instant> {
        match self {
            Phase::Idle { retry_at } => Some(*retry_at),
            Phase::Offering { deadline, .. } => *deadline,
            Phase::Assigned { deadline, .. } => Some(*deadline),
            Phase::Connected { .. } => None,
        }
    }
}

enum Input {
    Dropped,
    Ctl(Ctl),
    CallerAudio(CallerFrame),
    Media(Option<WsIn>),
    Deadline,
    Nothing,
}

struct JobTask {
    agents: Arc<Agents>,
    id: String,
    req: JobRequest,
    ctl: mpsc::UnboundedReceiver<Ctl>,
    audio: mpsc::Receiver<CallerFrame>,
    audio_open: bool,
    events: mpsc::Sender<JobEvent>,
    outbox: Outbox,
    /// Replayed to a worker that takes the job over.
    participants: BTreeMap<String, ParticipantInfo>,
    call_status: Option<String>,
    agent_hung_up: bool,
    /// Workers that declined or let the offer expire, and when.
    tried: HashMap<String, Instant>,
    generation: u64,
    unavailable_sent: bool,
    phase: Phase,
}

pub(super) async fn run(
    agents: Arc<Agents>,
    id: String,
    req: JobRequest,
    ctl: mpsc::UnboundedReceiver<Ctl>,
    audio: mpsc::Receiver<CallerFrame>,
    events: mpsc::Sender<JobEvent>,
) {
    let outbox = Outbox::new(req.output.clone());
    let mut t = JobTask {
        agents,
        id,
        req,
        ctl,
        audio,
        audio_open: true,
        events,
        outbox,
        participants: BTreeMap::new(),
        call_status: None,
        agent_hung_up: false,
        tried: HashMap::new(),
        generation: 0,
        unavailable_sent: false,
        phase: Phase::Idle {
            retry_at: Instant::now(),
        },
    };
    tracing::debug!(job_id = %t.id, call_id = %t.req.call_id, agent_name = %t.req.agent_name, "agent job dispatched");
    let reason = t.run().await;
    t.end(&reason);
}

fn pcm_bytes(samples: &[i16]) -> Vec<u8> {
    samples.iter().flat_map(|s| s.to_le_bytes()).collect()
}

fn event_json(e: &MediaEvent) -> String {
    match e {
        MediaEvent::Dtmf {
            digit,
            source,
            participant,
        } => {
            json!({"type": "dtmf", "digit": digit, "source": source, "participant": participant})
        }
        MediaEvent::CallStatus(s) => json!({"type": "call_status", "status": s}),
        MediaEvent::Mark(n) => json!({"type": "mark", "name": n}),
        MediaEvent::Joined(p) => json!({"type": "participant_joined", "participant": p}),
        MediaEvent::Left(i) => json!({"type": "participant_left", "identity": i}),
    }
    .to_string()
}

impl JobTask {
    /// Runs until the job is over; returns the `job_ended` reason.
    async fn run(&mut self) -> String {
        loop {
            if let Phase::Idle { retry_at } = self.phase
                && Instant::now() >= retry_at
            {
                self.offer_round();
            }
            let deadline = self.phase.deadline();
            let input = {
                let media_rx = match &mut self.phase {
                    Phase::Connected { media, .. } => Some(&mut media.link),
                    _ => None,
                };
                let connected = media_rx.is_some() && self.outbox.has_room();
                let media_next = async move {
                    match media_rx {
                        Some(rx) => rx.recv().await,
                        None => std::future::pending().await,
                    }
                };
                let far = Instant::now() + std::time::Duration::from_secs(86400 * 365);
                tokio::select! {
                    biased;
                    _ = self.events.closed() => Input::Dropped,
                    c = self.ctl.recv() => c.map_or(Input::Dropped, Input::Ctl),
                    m = media_next, if connected => Input::Media(m),
                    a = self.audio.recv(), if self.audio_open => match a {
                        Some(a) => Input::CallerAudio(a),
                        None => { self.audio_open = false; Input::Nothing }
                    },
                    _ = sleep_until(deadline.unwrap_or(far)), if deadline.is_some() => Input::Deadline,
                    p = self.events.reserve(), if !self.outbox.is_empty() => {
                        if let (Ok(p), Some(ev)) = (p, self.outbox.pop()) {
                            p.send(ev);
                        }
                        Input::Nothing
                    }
                }
            };
            match input {
                Input::Nothing => {}
                Input::Dropped => {
                    return if self.agent_hung_up {
                        "agent_hangup".into()
                    } else {
                        "room_closed".into()
                    };
                }
                Input::Ctl(c) => {
                    if let Some(reason) = self.on_ctl(c) {
                        return reason;
                    }
                }
                Input::CallerAudio(frame) => self.on_caller_audio(&frame),
                Input::Media(m) => self.on_media(m),
                Input::Deadline => self.on_deadline(),
            }
        }
    }

    fn push(&mut self, ev: JobEvent) {
        self.outbox.push(ev);
    }

    fn offer_json(&self) -> String {
        json!({
            "type": "offer",
            "job_id": self.id,
            "agent_name": self.req.agent_name,
            "room": {"name": self.req.room_name, "sid": self.req.room_sid},
            "participant": self.req.participant,
            "metadata": self.req.metadata,
            "attributes": self.req.attributes,
            "deadline_ms": OFFER_TIMEOUT.as_millis() as u64,
        })
        .to_string()
    }

    /// Offers the job to the least-loaded eligible worker, or waits [`RETRY_EVERY`].
    fn offer_round(&mut self) {
        let now = Instant::now();
        self.tried.retain(|_, t| now < *t + DECLINED_COOLDOWN);
        let offer = self.offer_json();
        loop {
            let tried = &self.tried;
            let target = self
                .agents
                .offer_next(&self.id, &self.req.agent_name, &|w| tried.contains_key(w));
            let Some(target) = target else {
                if !self.unavailable_sent {
                    self.unavailable_sent = true;
                    self.push(JobEvent::Unavailable);
                }
                self.phase = Phase::Idle {
                    retry_at: now + RETRY_EVERY,
                };
                return;
            };
            if target.out.try_send(WsOut::Text(offer.clone())).is_err() {
                // The worker's queue is full or closed: skip it this time.
                self.agents.withdraw_offer(&self.id, &target.worker_id);
                self.tried.insert(target.worker_id, now);
                continue;
            }
            tracing::debug!(job_id = %self.id, worker_id = %target.worker_id, "job offered");
            self.phase = Phase::Offering {
                worker_id: target.worker_id,
                deadline: Some(now + OFFER_TIMEOUT),
            };
            return;
        }
    }

    fn on_deadline(&mut self) {
        match &mut self.phase {
            Phase::Idle { .. } | Phase::Connected { .. } => {}
            Phase::Offering {
                worker_id,
                deadline,
            } => {
                if self.agents.withdraw_offer(&self.id, worker_id) {
                    tracing::debug!(job_id = %self.id, worker_id = %worker_id, "offer timed out");
                    self.tried.insert(worker_id.clone(), Instant::now());
                    self.phase = Phase::Idle {
                        retry_at: Instant::now(),
                    };
                } else {
                    // The answer raced the deadline and is queued: wait for it.
                    *deadline = None;
                }
            }
            Phase::Assigned { .. } => self.lost("media_closed"),
        }
    }

    /// The worker or its media channel went away: tell it the job is over for it, and
    /// offer the job again.
    fn lost(&mut self, reason: &str) {
        let phase = std::mem::replace(
            &mut self.phase,
            Phase::Idle {
                retry_at: Instant::now(),
            },
        );
        let worker_id = match phase {
            Phase::Assigned { worker_id, .. } => worker_id,
            Phase::Connected { worker_id, media } => {
                media.link.close(CLOSE_NORMAL, reason);
                worker_id
            }
            other => {
                self.phase = other;
                return;
            }
        };
        tracing::info!(job_id = %self.id, worker_id = %worker_id, reason, "agent job lost; offering it again");
        if let Some(out) = self.agents.unassign(&self.id, &worker_id) {
            let _ = out.try_send(WsOut::Text(
                json!({"type": "job_ended", "job_id": self.id, "reason": reason}).to_string(),
            ));
        }
        self.tried.insert(worker_id, Instant::now());
        self.outbox.clear_audio();
        self.push(JobEvent::Lost);
    }

    /// The job is over.
    fn end(&mut self, reason: &str) {
        let phase = std::mem::replace(
            &mut self.phase,
            Phase::Idle {
                retry_at: Instant::now(),
            },
        );
        let worker = match phase {
            Phase::Idle { .. } => None,
            Phase::Offering { worker_id, .. } => {
                self.agents.withdraw_offer(&self.id, &worker_id);
                None
            }
            Phase::Assigned { worker_id, .. } => Some(worker_id),
            Phase::Connected { worker_id, media } => {
                media.link.close(CLOSE_NORMAL, reason);
                Some(worker_id)
            }
        };
        if let Some(w) = worker
            && let Some(out) = self.agents.unassign(&self.id, &w)
        {
            let _ = out.try_send(WsOut::Text(
                json!({"type": "job_ended", "job_id": self.id, "reason": reason}).to_string(),
            ));
        }
        self.agents.finish_job(&self.id);
        tracing::debug!(job_id = %self.id, reason, "agent job ended");
    }

    fn on_ctl(&mut self, c: Ctl) -> Option<String> {
        match c {
            Ctl::Event(e) => {
                match &e {
                    MediaEvent::Joined(p) => {
                        self.participants.insert(p.identity.clone(), p.clone());
                    }
                    MediaEvent::Left(i) => {
                        self.participants.remove(i);
                    }
                    MediaEvent::CallStatus(s) => self.call_status = Some(s.clone()),
                    _ => {}
                }
                if let Phase::Connected { media, .. } = &mut self.phase {
                    media.link.send(WsOut::Text(event_json(&e)));
                }
            }
            Ctl::Hangup(reason) => {
                if let Phase::Connected { media, .. } = &mut self.phase {
                    media.link.send(WsOut::Text(
                        json!({"type": "hangup", "reason": reason}).to_string(),
                    ));
                }
                return Some(reason);
            }
            Ctl::Answer { worker_id, accept } => {
                let Phase::Offering { worker_id: w, .. } = &self.phase else {
                    return None;
                };
                if *w != worker_id {
                    return None;
                }
                if accept {
                    self.assign(worker_id);
                } else {
                    self.tried.insert(worker_id, Instant::now());
                    self.phase = Phase::Idle {
                        retry_at: Instant::now(),
                    };
                }
            }
            Ctl::WorkerLost { worker_id } => match &self.phase {
                Phase::Assigned { worker_id: w, .. } | Phase::Connected { worker_id: w, .. }
                    if *w == worker_id =>
                {
                    self.lost("worker_lost");
                }
                _ => {}
            },
            Ctl::Media { generation, link } => self.attach(generation, link),
        }
        None
    }

    fn assign(&mut self, worker_id: String) {
        self.generation += 1;
        let Some(a) = self.agents.assign(&self.id, &worker_id, self.generation) else {
            // Gone between its accept and now.
            self.phase = Phase::Idle {
                retry_at: Instant::now(),
            };
            return;
        };
        let msg = json!({
            "type": "assignment",
            "job_id": self.id,
            "media_url": a.media_url,
            "media_token": a.token,
        });
        if a.out.try_send(WsOut::Text(msg.to_string())).is_err() {
            self.agents.unassign(&self.id, &worker_id);
            self.tried.insert(worker_id, Instant::now());
            self.phase = Phase::Idle {
                retry_at: Instant::now(),
            };
            return;
        }
        tracing::info!(job_id = %self.id, call_id = %self.req.call_id, worker_id = %worker_id, "agent job assigned");
        self.unavailable_sent = false;
        self.push(JobEvent::Assigned {
            worker_id: worker_id.clone(),
        });
        self.phase = Phase::Assigned {
            worker_id,
            generation: self.generation,
            deadline: Instant::now() + MEDIA_CONNECT_TIMEOUT,
            sample_rate: a.sample_rate,
        };
    }

    fn attach(&mut self, generation: u64, link: MediaLink) {
        let Phase::Assigned {
            worker_id,
            generation: g,
            sample_rate,
            ..
        } = &self.phase
        else {
            link.close(CLOSE_NORMAL, "the job moved on");
            return;
        };
        if *g != generation {
            link.close(CLOSE_NORMAL, "the job moved on");
            return;
        }
        let rate = *sample_rate;
        let (Ok(up), Ok(down)) = (
            Resampler::new(CALL_RATE, rate),
            Resampler::new(rate, CALL_RATE),
        ) else {
            // Registration only admits supported rates; be safe anyway.
            self.lost("media_closed");
            return;
        };
        let start = json!({
            "type": "start",
            "job_id": self.id,
            "sample_rate": rate,
            "call_id": self.req.call_id,
            "room": {"name": self.req.room_name, "sid": self.req.room_sid},
            "participant": self.req.participant,
            "metadata": self.req.metadata,
            "attributes": self.req.attributes,
        });
        let mut link = link;
        link.send(WsOut::Text(start.to_string()));
        if let Some(s) = &self.call_status {
            link.send(WsOut::Text(event_json(&MediaEvent::CallStatus(s.clone()))));
        }
        for p in self.participants.values() {
            link.send(WsOut::Text(event_json(&MediaEvent::Joined(p.clone()))));
        }
        let worker_id = worker_id.clone();
        tracing::debug!(job_id = %self.id, worker_id = %worker_id, "media channel connected");
        self.phase = Phase::Connected {
            worker_id,
            media: Box::new(Media {
                link,
                up,
                down,
                up_buf: Vec::new(),
                samples: Vec::new(),
                down_buf: Vec::new(),
                frame: (rate / 50) as usize,
                errors: Errors::new(),
                ready: false,
            }),
        };
    }

    fn on_caller_audio(&mut self, frame: &[i16]) {
        let Phase::Connected { media, .. } = &mut self.phase else {
            return;
        };
        media.up.process(frame, &mut media.up_buf);
        while media.up_buf.len() >= media.frame {
            let bytes = pcm_bytes(&media.up_buf[..media.frame]);
            media.up_buf.drain(..media.frame);
            // A worker that cannot keep up loses audio rather than delaying it.
            media.link.send(WsOut::Binary(bytes));
        }
    }

    fn on_media(&mut self, m: Option<WsIn>) {
        let Some(m) = m else {
            self.lost("media_closed");
            return;
        };
        let Phase::Connected { media, .. } = &mut self.phase else {
            return;
        };
        let result = match m {
            WsIn::Binary(b) => {
                if b.len() > MAX_MESSAGE_BYTES {
                    Err(ProtoError::new(
                        "too_large",
                        format!(
                            "the audio frame has {} bytes; the limit is {MAX_MESSAGE_BYTES}",
                            b.len()
                        ),
                    ))
                } else if b.len() % 2 != 0 {
                    Err(ProtoError::bad(
                        "an audio frame must hold whole PCM16 samples (an even number of bytes)",
                    ))
                } else {
                    media.samples.clear();
                    media
                        .samples
                        .extend(b.chunks_exact(2).map(|c| i16::from_le_bytes([c[0], c[1]])));
                    media.down_buf.clear();
                    media.down.process(&media.samples, &mut media.down_buf);
                    self.outbox.output(AgentOut::Audio(&media.down_buf));
                    Ok(())
                }
            }
            WsIn::Text(t) => match parse_media(&t) {
                Err(e) => Err(e),
                Ok(cmd) => {
                    match cmd {
                        MediaCommand::Ready => {
                            if !media.ready {
                                media.ready = true;
                                self.outbox.push(JobEvent::Ready);
                            }
                        }
                        MediaCommand::Mark(n) => self.outbox.output(AgentOut::Mark(&n)),
                        MediaCommand::Clear => self.outbox.output(AgentOut::Clear),
                        MediaCommand::SendDtmf(d) => self.outbox.output(AgentOut::Dtmf(&d)),
                        MediaCommand::Hangup => {
                            self.agent_hung_up = true;
                            self.outbox.push(JobEvent::Hangup);
                        }
                        MediaCommand::SetAttributes(a) => {
                            self.outbox.push(JobEvent::SetAttributes(a))
                        }
                        MediaCommand::Ping(ts) => {
                            media.link.send(WsOut::Text(pong(&ts)));
                        }
                        MediaCommand::Pong => {}
                    }
                    Ok(())
                }
            },
        };
        match result {
            Ok(()) => media.errors.ok(),
            Err(e) => {
                let link = &mut media.link;
                if media.errors.report(|frame| link.send(frame), &e) {
                    self.lost("media_closed");
                }
            }
        }
    }
}
