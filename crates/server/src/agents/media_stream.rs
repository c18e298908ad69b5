//! Media-stream agents (SPEC §5 item 2, Twilio's model): a job for an agent name that has an
//! endpoint `{agent_name, url}` dials the URL and speaks the Twilio Media Streams protocol,
//! so a bot written for Twilio (Pipecat, Vocode, …) answers switchboard calls unchanged.
//!
//! To the call path the job looks exactly like a worker job (same [`Job`](super::Job),
//! same [`JobEvent`]s, same [`JobControl`](super::JobControl)).
//!
//! # The socket
//!
//! * Dial: `ws://` or `wss://` (rustls with the ring provider and the system's root
//!   certificates), [`CONNECT_TIMEOUT`]. A failure (refused, timeout, bad handshake) sends
//!   `JobEvent::Unavailable` once per streak and dials again every [`RETRY_EVERY`] while
//!   the job lives: the caller keeps ringing until the call path gives up.
//! * On connect we send `connected`, then `start`, then emit `Assigned` (worker id = the
//!   `streamSid`) and `Ready`: a Twilio bot has no ready signal, it is ready when the
//!   socket is up.
//! * Every message after `connected` carries `sequenceNumber` (a string, from `"1"`) and
//!   `streamSid` (`MZ` + 32 hex digits). `accountSid` is `"switchboard"`, `callSid` the
//!   switchboard call id.
//! * `start.customParameters` (a flat string map), lowest precedence first:
//!   1. the job metadata, if it is a JSON object: each top-level key with a string value
//!      as is, with a number, boolean, object or array value as its compact JSON text
//!      (`{"agent_config":{"greeting":"hi"}}` gives `agent_config` =
//!      `{"greeting":"hi"}`); `null` values are left out;
//!   2. the dispatch entry's `attributes`;
//!   3. the caller's attributes (`sip.phoneNumber`, `sip.trunkPhoneNumber`, `sip.callID`…);
//!   4. fixed keys: `metadata` (the job metadata verbatim, also when it is not JSON),
//!      `agent_name`, `room`, `room_sid`, `call_id`, `job_id`, `participant_identity`,
//!      `participant_name`.
//! * Caller audio (20 ms at 8 kHz) → µ-law → base64 → `media` with `track: "inbound"`,
//!   `chunk` (from `"1"`), `timestamp` (ms since the stream started). Caller DTMF → `dtmf`
//!   (`track: "inbound_track"`). A played mark → `mark` echo.
//! * From the bot: `media.payload` (µ-law 8 kHz base64, any length) → `JobEvent::Audio`;
//!   `mark.name` → `JobEvent::Mark`; `clear` → queued audio dropped + `JobEvent::Clear`.
//!   Other events are ignored. Binary frames, text that is not JSON, bad base64 and
//!   messages over [`MAX_BOT_MESSAGE_BYTES`] are ignored and counted (logged at the end);
//!   only frames over [`HARD_LIMIT_BYTES`] fail the socket (which then hangs up).
//! * The call ends (`hangup(reason)` or the [`Job`](super::Job) dropped): `stop`, then a
//!   close frame (1000). The bot closing the socket (or it failing) hangs up: `JobEvent::Hangup`
//!   (the record says `agent_hangup`, by `agent`); the job does not dial again.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use switchboard_media::g711;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, sleep_until};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::protocol::frame::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use super::job::Outbox;
use super::{
    AgentOut, Agents, CallerFrame, Ctl, JobEvent, JobRequest, MediaEvent, OUT_QUEUE, WsIn, WsOut,
};

/// How long one dial (TCP, TLS, WebSocket handshake) may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a job whose endpoint could not be reached dials again.
pub const RETRY_EVERY: Duration = Duration::from_secs(2);
/// Larger messages from the bot are ignored (and counted).
pub const MAX_BOT_MESSAGE_BYTES: usize = 1 << 20;
/// Larger frames fail the socket in the WebSocket layer.
pub const HARD_LIMIT_BYTES: usize = 8 << 20;
/// `start.accountSid`.
pub const ACCOUNT_SID: &str = "switchboard";
/// Frames queued from the socket to the job.
const IN_QUEUE: usize = 256;
/// How long a closing socket waits for the bot's close frame.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// An open stream.
struct Stream {
    tx: mpsc::Sender<WsOut>,
    rx: mpsc::Receiver<WsIn>,
    stream_sid: String,
    seq: u64,
    chunk: u64,
    started: Instant,
}

impl Stream {
    fn next_seq(&mut self) -> String {
        self.seq += 1;
        self.seq.to_string()
    }

    /// Queues a message; a bot that reads too slowly loses it rather than delaying the call.
    fn send(&self, v: Value) {
        let _ = self.tx.try_send(WsOut::Text(v.to_string()));
    }
}

enum Phase {
    /// Dial at `at`.
    Waiting {
        at: Instant,
    },
    Dialing(oneshot::Receiver<Result<Link, String>>),
    Open(Box<Stream>),
    /// The bot closed the socket: nothing more to do but wait for the end of the job.
    Closed,
}

/// The channels of a connected socket.
struct Link {
    tx: mpsc::Sender<WsOut>,
    rx: mpsc::Receiver<WsIn>,
}

enum Input {
    Dropped,
    Ctl(Ctl),
    CallerAudio(CallerFrame),
    Bot(Option<WsIn>),
    Dialed(Result<Link, String>),
    Retry,
    Nothing,
}

struct StreamTask {
    id: String,
    req: JobRequest,
    url: String,
    ctl: mpsc::UnboundedReceiver<Ctl>,
    audio: mpsc::Receiver<CallerFrame>,
    audio_open: bool,
    events: mpsc::Sender<JobEvent>,
    outbox: Outbox,
    phase: Phase,
    unavailable_sent: bool,
    agent_hung_up: bool,
    /// Messages from the bot that were ignored (not JSON, too large, binary, bad payload).
    ignored: u64,
}

pub(super) async fn run(
    agents: Arc<Agents>,
    id: String,
    req: JobRequest,
    url: String,
    ctl: mpsc::UnboundedReceiver<Ctl>,
    audio: mpsc::Receiver<CallerFrame>,
    events: mpsc::Sender<JobEvent>,
) {
    tracing::debug!(job_id = %id, call_id = %req.call_id, agent_name = %req.agent_name, url = %url, "media-stream job dispatched");
    let outbox = Outbox::new(req.output.clone());
    let mut t = StreamTask {
        id,
        req,
        url,
        ctl,
        audio,
        audio_open: true,
        events,
        outbox,
        phase: Phase::Waiting { at: Instant::now() },
        unavailable_sent: false,
        agent_hung_up: false,
        ignored: 0,
    };
    let reason = t.run().await;
    t.end(&reason);
    agents.finish_job(&t.id);
}

/// `MZ` and 32 hex digits, as Twilio's stream SIDs.
fn stream_sid() -> String {
    let b: [u8; 16] = rand::random();
    format!("MZ{}", super::hex(&b))
}

/// The `customParameters` of `start` (see the module docs for the precedence).
pub(crate) fn custom_parameters(job_id: &str, req: &JobRequest) -> BTreeMap<String, String> {
    let mut p = BTreeMap::new();
    if let Ok(Value::Object(m)) = serde_json::from_str::<Value>(&req.metadata) {
        for (k, v) in m {
            match v {
                Value::Null => {}
                Value::String(s) => {
                    p.insert(k, s);
                }
                other => {
                    p.insert(k, other.to_string());
                }
            }
        }
    }
    for (k, v) in req.attributes.iter().chain(&req.participant.attributes) {
        p.insert(k.clone(), v.clone());
    }
    for (k, v) in [
        ("metadata", &req.metadata),
        ("agent_name", &req.agent_name),
        ("room", &req.room_name),
        ("room_sid", &req.room_sid),
        ("call_id", &req.call_id),
        ("participant_identity", &req.participant.identity),
        ("participant_name", &req.participant.name),
    ] {
        p.insert(k.to_string(), v.clone());
    }
    p.insert("job_id".into(), job_id.to_string());
    p
}

/// Dials `url`; on success the socket is pumped by its own task.
async fn dial(url: String) -> Result<Link, String> {
    // A small initial read buffer: the WebSocket layer zero-fills it up to capacity
    // before every read (the 128 KiB default is most of a call's memory).
    let config = WebSocketConfig::default()
        .max_message_size(Some(HARD_LIMIT_BYTES))
        .max_frame_size(Some(HARD_LIMIT_BYTES))
        .read_buffer_size(4096);
    let connect = tokio_tungstenite::connect_async_with_config(url.as_str(), Some(config), true);
    let (socket, _resp) = match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
        Err(_) => return Err(format!("no connection within {CONNECT_TIMEOUT:?}")),
        Ok(Err(e)) => return Err(e.to_string()),
        Ok(Ok(s)) => s,
    };
    let (in_tx, in_rx) = mpsc::channel(IN_QUEUE);
    let (out_tx, out_rx) = mpsc::channel(OUT_QUEUE);
    tokio::spawn(pump(socket, in_tx, out_rx));
    Ok(Link {
        tx: out_tx,
        rx: in_rx,
    })
}

/// Moves frames between the socket and the channels until either side closes.
async fn pump<S>(
    socket: tokio_tungstenite::WebSocketStream<S>,
    in_tx: mpsc::Sender<WsIn>,
    mut out_rx: mpsc::Receiver<WsOut>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let (mut sink, mut stream) = socket.split();
    loop {
        tokio::select! {
            m = stream.next() => {
                let frame = match m {
                    Some(Ok(Message::Text(t))) => WsIn::Text(t.as_str().to_owned()),
                    Some(Ok(Message::Binary(b))) => WsIn::Binary(b.to_vec()),
                    Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                };
                if in_tx.send(frame).await.is_err() {
                    break;
                }
            }
            o = out_rx.recv() => {
                let msg = match o {
                    Some(WsOut::Text(t)) => Message::Text(t.into()),
                    Some(WsOut::Binary(b)) => Message::Binary(b.into()),
                    Some(WsOut::Close(code, reason)) => {
                        let _ = sink
                            .send(Message::Close(Some(CloseFrame {
                                code: CloseCode::from(code),
                                reason: reason.into(),
                            })))
                            .await;
                        break;
                    }
                    None => {
                        let _ = sink.send(Message::Close(None)).await;
                        break;
                    }
                };
                if sink.send(msg).await.is_err() {
                    return;
                }
            }
        }
    }
    drop(in_tx);
    let _ = tokio::time::timeout(CLOSE_GRACE, async {
        while let Some(Ok(m)) = stream.next().await {
            if matches!(m, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}

impl StreamTask {
    async fn run(&mut self) -> String {
        loop {
            let input = {
                let retry_at = match &self.phase {
                    Phase::Waiting { at } => Some(*at),
                    _ => None,
                };
                let (bot_rx, dialing) = match &mut self.phase {
                    Phase::Open(s) => (Some(&mut s.rx), None),
                    Phase::Dialing(d) => (None, Some(d)),
                    _ => (None, None),
                };
                let reading = bot_rx.is_some() && self.outbox.has_room();
                let bot_next = async move {
                    match bot_rx {
                        Some(rx) => rx.recv().await,
                        None => std::future::pending().await,
                    }
                };
                let dialed = async move {
                    match dialing {
                        Some(d) => d
                            .await
                            .unwrap_or_else(|_| Err("the dial task failed".into())),
                        None => std::future::pending().await,
                    }
                };
                let far = Instant::now() + Duration::from_secs(86400 * 365);
                tokio::select! {
                    biased;
                    _ = self.events.closed() => Input::Dropped,
                    c = self.ctl.recv() => c.map_or(Input::Dropped, Input::Ctl),
                    m = bot_next, if reading => Input::Bot(m),
                    d = dialed => Input::Dialed(d),
                    a = self.audio.recv(), if self.audio_open => match a {
                        Some(a) => Input::CallerAudio(a),
                        None => { self.audio_open = false; Input::Nothing }
                    },
                    _ = sleep_until(retry_at.unwrap_or(far)), if retry_at.is_some() => Input::Retry,
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
                Input::Bot(m) => self.on_bot(m),
                Input::Dialed(r) => self.on_dialed(r),
                Input::Retry => {
                    let (tx, rx) = oneshot::channel();
                    let url = self.url.clone();
                    tokio::spawn(async move {
                        let _ = tx.send(dial(url).await);
                    });
                    self.phase = Phase::Dialing(rx);
                }
            }
        }
    }

    fn on_dialed(&mut self, r: Result<Link, String>) {
        let link = match r {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(job_id = %self.id, call_id = %self.req.call_id, agent_name = %self.req.agent_name, url = %self.url, error = %e, "cannot reach the media-stream endpoint; retrying in {RETRY_EVERY:?}");
                if !self.unavailable_sent {
                    self.unavailable_sent = true;
                    self.outbox.push(JobEvent::Unavailable);
                }
                self.phase = Phase::Waiting {
                    at: Instant::now() + RETRY_EVERY,
                };
                return;
            }
        };
        let mut s = Stream {
            tx: link.tx,
            rx: link.rx,
            stream_sid: stream_sid(),
            seq: 0,
            chunk: 0,
            started: Instant::now(),
        };
        s.send(json!({"event": "connected", "protocol": "Call", "version": "1.0.0"}));
        let seq = s.next_seq();
        s.send(json!({
            "event": "start",
            "sequenceNumber": seq,
            "streamSid": s.stream_sid,
            "start": {
                "streamSid": s.stream_sid,
                "accountSid": ACCOUNT_SID,
                "callSid": self.req.call_id,
                "tracks": ["inbound"],
                "customParameters": custom_parameters(&self.id, &self.req),
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            },
        }));
        tracing::info!(job_id = %self.id, call_id = %self.req.call_id, agent_name = %self.req.agent_name, stream_sid = %s.stream_sid, "media stream connected");
        self.unavailable_sent = false;
        self.outbox.push(JobEvent::Assigned {
            worker_id: s.stream_sid.clone(),
        });
        self.outbox.push(JobEvent::Ready);
        self.phase = Phase::Open(Box::new(s));
    }

    fn on_ctl(&mut self, c: Ctl) -> Option<String> {
        match c {
            Ctl::Hangup(reason) => return Some(reason),
            Ctl::Event(e) => {
                let Phase::Open(s) = &mut self.phase else {
                    return None;
                };
                match e {
                    MediaEvent::Dtmf { digit, .. } => {
                        let seq = s.next_seq();
                        s.send(json!({
                            "event": "dtmf",
                            "sequenceNumber": seq,
                            "streamSid": s.stream_sid,
                            "dtmf": {"track": "inbound_track", "digit": digit},
                        }));
                    }
                    MediaEvent::Mark(name) => {
                        let seq = s.next_seq();
                        s.send(json!({
                            "event": "mark",
                            "sequenceNumber": seq,
                            "streamSid": s.stream_sid,
                            "mark": {"name": name},
                        }));
                    }
                    // Twilio's protocol has no room or call-status events.
                    MediaEvent::CallStatus(_) | MediaEvent::Joined(_) | MediaEvent::Left(_) => {}
                }
            }
            // Worker-registry messages do not concern a media-stream job.
            Ctl::Answer { .. } | Ctl::WorkerLost { .. } => {}
            Ctl::Media { link, .. } => link.close(1000, "the job is a media stream"),
        }
        None
    }

    fn on_caller_audio(&mut self, frame: &[i16]) {
        let Phase::Open(s) = &mut self.phase else {
            return;
        };
        let mut ulaw = vec![0u8; frame.len()];
        let n = g711::encode_ulaw(frame, &mut ulaw);
        ulaw.truncate(n);
        s.chunk += 1;
        let seq = s.next_seq();
        let ts = s.started.elapsed().as_millis() as u64;
        s.send(json!({
            "event": "media",
            "sequenceNumber": seq,
            "streamSid": s.stream_sid,
            "media": {
                "track": "inbound",
                "chunk": s.chunk.to_string(),
                "timestamp": ts.to_string(),
                "payload": B64.encode(&ulaw),
            },
        }));
    }

    fn ignore(&mut self, what: &str) {
        self.ignored += 1;
        if self.ignored == 1 {
            tracing::warn!(job_id = %self.id, call_id = %self.req.call_id, "ignoring a message from the media-stream bot: {what} (further ones are counted)");
        }
    }

    fn on_bot(&mut self, m: Option<WsIn>) {
        let text = match m {
            None => {
                tracing::info!(job_id = %self.id, call_id = %self.req.call_id, "the media-stream bot closed the socket: hanging up");
                self.agent_hung_up = true;
                self.outbox.push(JobEvent::Hangup);
                self.phase = Phase::Closed;
                return;
            }
            Some(WsIn::Binary(_)) => return self.ignore("a binary frame"),
            Some(WsIn::Text(t)) => t,
        };
        if text.len() > MAX_BOT_MESSAGE_BYTES {
            return self.ignore("a message over 1 MiB");
        }
        let Ok(v) = serde_json::from_str::<Value>(&text) else {
            return self.ignore("a message that is not JSON");
        };
        match v.get("event").and_then(Value::as_str) {
            Some("media") => {
                let Some(payload) = v.pointer("/media/payload").and_then(Value::as_str) else {
                    return self.ignore("a media message without media.payload");
                };
                let Ok(bytes) = B64.decode(payload) else {
                    return self.ignore("a media payload that is not base64");
                };
                let mut pcm = vec![0i16; bytes.len()];
                let n = g711::decode_ulaw(&bytes, &mut pcm);
                self.outbox.output(AgentOut::Audio(&pcm[..n]));
            }
            Some("mark") => {
                let Some(name) = v.pointer("/mark/name").and_then(Value::as_str) else {
                    return self.ignore("a mark message without mark.name");
                };
                self.outbox.output(AgentOut::Mark(name));
            }
            Some("clear") => self.outbox.output(AgentOut::Clear),
            _ => self.ignore("an unknown event"),
        }
    }

    /// The job is over: `stop`, then close the socket.
    fn end(&mut self, reason: &str) {
        if let Phase::Open(s) = &mut self.phase {
            let seq = s.next_seq();
            s.send(json!({
                "event": "stop",
                "sequenceNumber": seq,
                "streamSid": s.stream_sid,
                "stop": {"accountSid": ACCOUNT_SID, "callSid": self.req.call_id},
            }));
            let _ = s.tx.try_send(WsOut::Close(1000, reason.to_string()));
        }
        self.phase = Phase::Closed;
        if self.ignored > 0 {
            tracing::warn!(job_id = %self.id, call_id = %self.req.call_id, ignored = self.ignored, "media-stream job ended; messages from the bot were ignored");
        }
        tracing::debug!(job_id = %self.id, reason, "media-stream job ended");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::ParticipantInfo;

    #[test]
    fn custom_parameters_flatten_metadata_below_attributes_and_fixed_keys() {
        let req = JobRequest {
            call_id: "SCL_1".into(),
            agent_name: "bot".into(),
            metadata:
                r#"{"agent_config":{"greeting":"hi"},"lang":"fr","n":3,"x":null,"room":"evil"}"#
                    .into(),
            attributes: BTreeMap::from([("lang".into(), "en".into())]),
            room_name: "r1".into(),
            room_sid: "RM_1".into(),
            participant: ParticipantInfo {
                identity: "sip_+1555".into(),
                name: "Caller".into(),
                kind: "sip".into(),
                metadata: String::new(),
                attributes: BTreeMap::from([("sip.phoneNumber".into(), "+1555".into())]),
            },
            output: None,
        };
        let p = custom_parameters("AJ_1", &req);
        assert_eq!(p["agent_config"], r#"{"greeting":"hi"}"#);
        assert_eq!(p["lang"], "en");
        assert_eq!(p["n"], "3");
        assert!(!p.contains_key("x"));
        assert_eq!(p["room"], "r1");
        assert_eq!(p["metadata"], req.metadata);
        assert_eq!(p["sip.phoneNumber"], "+1555");
        assert_eq!(p["agent_name"], "bot");
        assert_eq!(p["job_id"], "AJ_1");
        let plain = JobRequest {
            metadata: "not json".into(),
            ..req
        };
        assert_eq!(custom_parameters("AJ_1", &plain)["metadata"], "not json");
    }

    /// `wss://` goes through rustls (ring provider, system roots) without panicking: a peer
    /// that is not TLS makes the dial fail with an error.
    #[tokio::test]
    async fn wss_dials_through_rustls_and_fails_cleanly() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        tokio::spawn(async move {
            if let Ok((mut tcp, _)) = listener.accept().await {
                use tokio::io::AsyncWriteExt;
                let _ = tcp.write_all(b"HTTP/1.1 400 Nope\r\n\r\n").await;
            }
        });
        let err = match dial(format!("wss://localhost:{port}/media")).await {
            Ok(_) => panic!("a plain-TCP peer cannot pass a TLS handshake"),
            Err(e) => e,
        };
        assert!(!err.is_empty());
        // Nobody listening: refused at once, not after the 10 s timeout.
        let started = std::time::Instant::now();
        assert!(dial(format!("ws://127.0.0.1:{port}/")).await.is_err());
        assert!(started.elapsed() < CONNECT_TIMEOUT);
    }

    #[test]
    fn stream_sids_look_like_twilios() {
        let s = stream_sid();
        assert_eq!(s.len(), 34);
        assert!(s.starts_with("MZ"));
    }
}
