//! The sans-I/O SIP endpoint: a UAS that owns transactions and dialogs, fed with
//! messages and the time, producing transmits and events (RFC 3261 §17.2, RFC 6026,
//! RFC 3581).
//!
//! * [`Endpoint::handle_input`] / [`Endpoint::handle_timeout`] drive it;
//!   [`Endpoint::poll_transmit`], [`Endpoint::poll_event`] and
//!   [`Endpoint::poll_timeout`] drain it. No clock, socket or task inside: tests use a
//!   fake `Instant`.
//! * Calls are addressed by [`CallKey`] (one per INVITE server transaction / dialog); the
//!   application answers with [`Endpoint::respond`], hangs up with
//!   [`Endpoint::send_bye`] and finally calls [`Endpoint::forget`].
//!
//! Files: `state.rs` (per-call state), `uas.rs` (incoming requests), `uac.rs` (our BYE /
//! INFO and responses to them), `commands.rs` (application commands), `timers.rs`,
//! `stats.rs`.

mod commands;
mod state;
mod stats;
mod timers;
mod uac;
mod uas;

#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rustc_hash::FxHashMap;

pub use stats::Stats;

use crate::message::{Message, parse};
use state::{Call, Flow};
use timers::TimerQueue;

/// One call: an INVITE server transaction and the dialog it may create.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallKey(pub u64);

/// An in-dialog request the application must answer (a re-INVITE).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestKey {
    pub call: CallKey,
    pub id: u64,
}

/// The transport a message came in on / must go out on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transport {
    Udp,
    /// A TCP connection, identified by the shell.
    Tcp(u64),
}

impl Transport {
    /// Reliable transports get no retransmissions (RFC 3261 §17).
    pub fn is_reliable(self) -> bool {
        matches!(self, Transport::Tcp(_))
    }

    /// The Via transport token.
    pub fn via_name(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp(_) => "TCP",
        }
    }
}

/// Something that happened on the network.
#[derive(Clone, Debug)]
pub enum Input {
    /// A UDP datagram or one TCP frame (see [`crate::message::Framer`]).
    Datagram {
        transport: Transport,
        local: SocketAddr,
        remote: SocketAddr,
        data: Bytes,
    },
    /// A TCP connection went away: calls on it get [`Event::TransportError`].
    ConnectionClosed { conn: u64 },
}

/// Bytes to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    pub transport: Transport,
    /// Our socket to send from (UDP: the socket the request arrived on).
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub data: Bytes,
}

/// A response the application gives to an INVITE (or re-INVITE).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub reason: Cow<'static, str>,
    /// Extra headers. A `Contact` is added to 101–299 responses when absent.
    pub headers: Vec<(String, String)>,
    /// `(Content-Type, body)`.
    pub body: Option<(String, Bytes)>,
}

impl Reply {
    pub fn new(status: u16, reason: impl Into<Cow<'static, str>>) -> Reply {
        Reply {
            status,
            reason: reason.into(),
            headers: Vec::new(),
            body: None,
        }
    }

    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn with_body(mut self, content_type: impl Into<String>, body: impl Into<Bytes>) -> Reply {
        self.body = Some((content_type.into(), body.into()));
        self
    }
}

/// What the application learns.
#[derive(Clone, Debug)]
pub enum Event {
    /// A new INVITE (never a retransmission; an auth retry with a new branch/CSeq is a new
    /// Invite). `100 Trying` was already sent.
    Invite {
        key: CallKey,
        request: Message,
        remote: SocketAddr,
        transport: Transport,
    },
    /// The caller cancelled (CANCEL, or BYE in the early dialog): the endpoint already
    /// answered the CANCEL 200 and the INVITE 487.
    Cancelled { key: CallKey },
    /// The ACK for our 2xx arrived.
    Acked { key: CallKey },
    /// No ACK for our 2xx within 64·T1: hang up with BYE.
    AckTimeout { key: CallKey },
    /// In-dialog INVITE; answer with [`Endpoint::respond_in_dialog`]. `100` already sent,
    /// the ACK is absorbed.
    ReInvite {
        key: CallKey,
        req: RequestKey,
        request: Message,
    },
    /// In-dialog INFO, already answered 200.
    Info {
        key: CallKey,
        content_type: String,
        body: Bytes,
    },
    /// The caller hung up; already answered 200.
    Bye { key: CallKey },
    /// Final answer to our BYE (`None`: Timer F expired).
    ByeCompleted { key: CallKey, status: Option<u16> },
    /// Final answer to our INFO (`None`: Timer F expired).
    InfoCompleted { key: CallKey, status: Option<u16> },
    /// The TCP connection of this call closed.
    TransportError { key: CallKey },
    /// The endpoint dropped the call by itself (a rejected call whose transaction ended):
    /// the key is now unknown. Not emitted after [`Endpoint::forget`].
    Terminated { key: CallKey },
}

/// Why an application command was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndpointError {
    /// No such call (never existed, forgotten, or already terminated).
    UnknownCall,
    /// No such pending in-dialog request.
    UnknownRequest,
    /// A final response was already sent.
    AlreadyAnswered,
    /// BYE/INFO need an answered (2xx) call; before that, respond with a final status.
    NotAnswered,
    /// The dialog already ended (BYE sent or received).
    DialogEnded,
    /// Status outside 100–699.
    InvalidStatus,
}

impl std::fmt::Display for EndpointError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}

impl std::error::Error for EndpointError {}

/// Endpoint settings.
#[derive(Clone, Debug)]
pub struct EndpointConfig {
    /// `Server:` / `User-Agent:` value.
    pub user_agent: String,
    /// RTT estimate (500 ms).
    pub t1: Duration,
    /// Maximum retransmit interval for non-INVITE requests and INVITE responses (4 s).
    pub t2: Duration,
    /// Maximum time a message stays in the network (5 s).
    pub t4: Duration,
    /// Seed of the tag / branch generator (use a fixed one in tests, OS entropy otherwise).
    pub seed: u64,
    /// Host to put in our Via / Contact (default: the local socket IP, or the
    /// Request-URI host if the socket is bound to a wildcard address).
    pub advertised_host: Option<String>,
}

impl Default for EndpointConfig {
    fn default() -> Self {
        EndpointConfig {
            user_agent: "switchboard".to_string(),
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
            seed: rand::rng().random(),
            advertised_host: None,
        }
    }
}

/// The allowed methods we advertise.
pub const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO";

/// The sans-I/O UAS. One per process; every transport feeds it.
#[derive(Debug)]
pub struct Endpoint {
    cfg: EndpointConfig,
    rng: SmallRng,
    next_id: u64,
    now: Option<Instant>,
    calls: FxHashMap<CallKey, Call>,
    /// INVITE server transaction key → call (and re-INVITE id).
    invite_txs: FxHashMap<Arc<str>, (CallKey, Option<RequestKey>)>,
    /// Our To-tag → call (dialog and early-dialog matching).
    tags: FxHashMap<Arc<str>, CallKey>,
    /// Branch of our BYE/INFO → call.
    client_txs: FxHashMap<Arc<str>, CallKey>,
    /// Non-INVITE server transactions (UDP only): key → (response, flow).
    non_invite: FxHashMap<Arc<str>, (Bytes, Flow)>,
    timers: TimerQueue,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    stats: Stats,
    key_buf: String,
}

impl Endpoint {
    pub fn new(config: EndpointConfig) -> Endpoint {
        Endpoint {
            rng: SmallRng::seed_from_u64(config.seed),
            cfg: config,
            next_id: 0,
            now: None,
            calls: FxHashMap::default(),
            invite_txs: FxHashMap::default(),
            tags: FxHashMap::default(),
            client_txs: FxHashMap::default(),
            non_invite: FxHashMap::default(),
            timers: TimerQueue::default(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: Stats::default(),
            key_buf: String::with_capacity(128),
        }
    }

    pub fn config(&self) -> &EndpointConfig {
        &self.cfg
    }

    /// Feed a datagram / frame / connection event.
    pub fn handle_input(&mut self, now: Instant, input: Input) {
        self.now = Some(now);
        match input {
            Input::Datagram {
                transport,
                local,
                remote,
                data,
            } => {
                self.stats.messages_received += 1;
                let Ok(msg) = parse(data) else {
                    self.stats.parse_errors_dropped += 1;
                    return;
                };
                if msg.is_request() {
                    self.on_request(now, transport, local, remote, msg);
                } else {
                    self.on_response(now, msg);
                }
            }
            Input::ConnectionClosed { conn } => self.on_connection_closed(conn),
        }
    }

    /// Run the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = Some(now);
        while let Some(timer) = self.timers.pop_due(now) {
            self.on_timer(now, timer);
        }
    }

    /// When [`Endpoint::handle_timeout`] should be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next_deadline()
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Counters, with the gauges filled in.
    pub fn stats(&self) -> Stats {
        Stats {
            calls: self.calls.len() as u64,
            non_invite_transactions: self.non_invite.len() as u64,
            ..self.stats
        }
    }

    /// Approximate bytes held for one call (its struct, the INVITE, the last response,
    /// keys), excluding hash-map slots (~40 bytes per index entry, 3 entries per call).
    pub fn call_memory(&self, key: CallKey) -> Option<usize> {
        self.calls.get(&key).map(Call::approx_bytes)
    }

    /// Number of pending timer entries (cancelled ones included until they come due).
    pub fn pending_timers(&self) -> usize {
        self.timers.len()
    }

    fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// A random token of 64 bits, hex.
    fn random_token(&mut self, prefix: &str) -> Arc<str> {
        let mut s = String::with_capacity(prefix.len() + 16);
        s.push_str(prefix);
        let _ = write!(s, "{:016x}", self.rng.random::<u64>());
        Arc::from(s)
    }

    fn transmit(&mut self, flow: &Flow, data: Bytes) {
        self.transmits.push_back(Transmit {
            transport: flow.transport,
            local: flow.local,
            remote: flow.remote,
            data,
        });
    }

    fn emit(&mut self, forgotten: bool, event: Event) {
        if !forgotten {
            self.events.push_back(event);
        }
    }

    /// Our host for Via / Contact.
    fn advertised_host(&self, local: SocketAddr, request: &Message) -> String {
        if let Some(h) = &self.cfg.advertised_host {
            return h.clone();
        }
        let ip = local.ip();
        if ip.is_unspecified() {
            if let Some(u) = request.request_uri().filter(|u| !u.host.is_empty()) {
                return u.host.to_string();
            }
            return "127.0.0.1".to_string();
        }
        match ip {
            std::net::IpAddr::V6(v6) => format!("[{v6}]"),
            std::net::IpAddr::V4(v4) => v4.to_string(),
        }
    }

    /// Remove a call and every index entry pointing at it.
    fn remove_call(&mut self, key: CallKey) -> Option<Call> {
        let call = self.calls.remove(&key)?;
        self.invite_txs.remove(&call.invite.tx_key);
        if let Some((_, tx)) = call.reinvite.as_deref() {
            self.invite_txs.remove(&tx.tx_key);
        }
        self.tags.remove(&call.local_tag);
        for c in &call.clients {
            self.client_txs.remove(&c.branch);
        }
        Some(call)
    }

    /// Drop a call whose transactions are over if the application forgot it, or if it
    /// never got a dialog (rejected / cancelled call).
    fn maybe_remove(&mut self, key: CallKey) {
        let Some(call) = self.calls.get(&key) else {
            return;
        };
        if call.has_live_transactions() {
            return;
        }
        if call.forgotten {
            self.remove_call(key);
        } else if call.dialog.is_none() {
            self.remove_call(key);
            self.events.push_back(Event::Terminated { key });
        }
    }
}

/// RFC 3261 §17.2.3 transaction key: branch (magic cookie) + sent-by, or for RFC 2543
/// peers Call-ID, From-tag, CSeq number, sent-by and branch. ACK and CANCEL map to the
/// INVITE's key; callers append the method where it must differ.
pub(crate) fn tx_key(msg: &Message, out: &mut String) {
    out.clear();
    let Some(via) = msg.top_via() else { return };
    match via.branch {
        Some(b) if b.starts_with("z9hG4bK") => {
            let _ = write!(out, "{b}|{}:{}", via.host, via.port.unwrap_or(0));
        }
        b => {
            let _ = write!(
                out,
                "{}|{}|{}|{}:{}|{}",
                msg.call_id().unwrap_or(""),
                msg.from().and_then(|f| f.tag).unwrap_or(""),
                msg.cseq().map_or(0, |c| c.number),
                via.host,
                via.port.unwrap_or(0),
                b.unwrap_or("")
            );
        }
    }
}
