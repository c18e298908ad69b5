//! The sans-I/O caller side (UAC) of one call: the INVITE client transaction with its
//! retransmissions (RFC 3261 §17.1.1, Timers A and B over UDP), digest retries on `401` /
//! `407`, the ACK (for a `2xx` a new transaction to the remote target, for any other final
//! answer in the INVITE's transaction), CANCEL before the answer, BYE (a non-INVITE client
//! transaction, Timers E and F) and the far end's BYE.
//!
//! Nothing here touches a socket or a clock: datagrams and `Instant`s go in, [`Action`]s
//! (datagrams to send, events to report) come out. Every input is untrusted; a datagram that
//! does not parse, belongs to another call or transaction, or lacks what we need is counted
//! in [`Dialog::ignored`] and otherwise ignored.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use switchboard_sip::digest::{self, Algorithm, Credentials};
use switchboard_sip::message::{self, Message, Method, ResponseBuilder};

/// RTT estimate (RFC 3261 §17.1.1.1).
pub const T1: Duration = Duration::from_millis(500);
/// Longest retransmission interval of non-INVITE requests.
pub const T2: Duration = Duration::from_secs(4);
/// Timers B and F: a transaction gives up after 64·T1.
pub const TRANSACTION_TIMEOUT: Duration = Duration::from_secs(32);
/// Digest retries per call (a second challenge with `stale=true` is answered once more).
const MAX_AUTH_ATTEMPTS: u32 = 2;

/// What the caller is and where it calls.
#[derive(Clone, Debug)]
pub struct DialogConfig {
    /// The caller's number (From user part).
    pub from_user: String,
    /// The called number (Request-URI and To user part).
    pub to_user: String,
    /// The server as written in URIs, `host:port`.
    pub target: String,
    /// Our SIP address (Via sent-by, Contact).
    pub local: SocketAddr,
    /// The SDP offer.
    pub sdp: String,
    /// `(username, password)` for digest challenges.
    pub credentials: Option<(String, String)>,
    pub call_id: String,
    pub from_tag: String,
    /// Unique per call; branches and cnonces are derived from it.
    pub seed: String,
    pub user_agent: String,
    /// How long to wait for the final answer once the far end rings (then CANCEL).
    pub answer_timeout: Duration,
}

/// What the dialog asks its driver to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send this datagram to the server.
    Send(Vec<u8>),
    Event(Event),
}

/// What happened to the call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A `1xx` (each one, also `100 Trying`).
    Provisional { status: u16, reason: String },
    /// A `401`/`407`: the INVITE is sent again with credentials.
    Challenged { status: u16 },
    /// The call was answered (`2xx`, ACK sent); the body is the SDP answer.
    Answered {
        status: u16,
        reason: String,
        sdp: Vec<u8>,
    },
    /// A final answer of `300`–`699` (ACK sent). `challenge` when it was a `401`/`407` we
    /// could not (or no longer) answer.
    Rejected {
        status: u16,
        reason: String,
        challenge: bool,
    },
    /// Our CANCEL ended the call attempt (`487`).
    Cancelled,
    /// No final answer to the INVITE (Timer B, or the CANCEL went unanswered).
    NoAnswer,
    /// The far end sent BYE (answered `200`).
    RemoteHangup,
    /// Our BYE was answered with this status, or (`None`) not at all within Timer F.
    ByeAnswered(Option<u16>),
    /// A DTMF digit in a SIP INFO from the far end (answered `200`).
    InfoDtmf(char),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// INVITE sent, nothing heard yet.
    Calling,
    /// A provisional answer arrived.
    Proceeding,
    /// CANCEL sent; waiting for the INVITE's final answer.
    Cancelling,
    /// Answered and ACKed.
    Confirmed,
    /// BYE sent.
    Terminating,
    /// Over.
    Done,
}

#[derive(Clone, Debug)]
struct InviteTxn {
    branch: String,
    cseq: u32,
    request: Vec<u8>,
    /// Timer A: the next retransmission (`None` once a response arrived).
    retransmit_at: Option<Instant>,
    interval: Duration,
    /// Timer B (only before any response).
    give_up_at: Instant,
    /// The ACK sent for a non-2xx final answer, sent again when the answer is repeated.
    ack: Option<Vec<u8>>,
}

#[derive(Clone, Debug)]
struct NonInviteTxn {
    method: Method,
    branch: String,
    cseq: u32,
    request: Vec<u8>,
    retransmit_at: Option<Instant>,
    interval: Duration,
    give_up_at: Instant,
}

/// The confirmed dialog's routing state.
#[derive(Clone, Debug, Default)]
struct Peer {
    /// The To header of the `2xx`, with the far end's tag.
    to: String,
    remote_tag: String,
    /// Contact of the `2xx`.
    remote_target: String,
    /// Record-Route reversed.
    route_set: Vec<String>,
    /// The ACK for the `2xx` (sent again when the `2xx` is repeated).
    ack: Vec<u8>,
}

/// One outgoing call.
#[derive(Debug)]
pub struct Dialog {
    cfg: DialogConfig,
    state: State,
    next_cseq: u32,
    branches: u32,
    invite: InviteTxn,
    non_invite: Option<NonInviteTxn>,
    peer: Option<Peer>,
    auth_attempts: u32,
    /// `hangup` was asked before the far end sent anything: CANCEL on the first `1xx`.
    cancel_pending: bool,
    /// When a ringing call is CANCELled for taking too long.
    answer_deadline: Option<Instant>,
    /// Datagrams that were not for us or could not be used.
    pub ignored: u32,
    /// The final status of the INVITE, once known.
    pub final_status: Option<u16>,
}

impl Dialog {
    /// Starts the call: returns the dialog and the INVITE to send.
    pub fn start(cfg: DialogConfig, now: Instant) -> (Dialog, Vec<Action>) {
        let mut d = Dialog {
            cfg,
            state: State::Calling,
            next_cseq: 1,
            branches: 0,
            invite: InviteTxn {
                branch: String::new(),
                cseq: 0,
                request: Vec::new(),
                retransmit_at: None,
                interval: T1,
                give_up_at: now,
                ack: None,
            },
            non_invite: None,
            peer: None,
            auth_attempts: 0,
            cancel_pending: false,
            answer_deadline: None,
            ignored: 0,
            final_status: None,
        };
        let invite = d.new_invite(None, now);
        (d, vec![Action::Send(invite)])
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn call_id(&self) -> &str {
        &self.cfg.call_id
    }

    /// The earliest instant [`on_timer`](Self::on_timer) has something to do.
    pub fn next_timer(&self) -> Option<Instant> {
        let mut t: Option<Instant> = None;
        let mut consider = |i: Option<Instant>| {
            if let Some(i) = i {
                t = Some(t.map_or(i, |t| t.min(i)));
            }
        };
        match self.state {
            State::Calling => {
                consider(self.invite.retransmit_at);
                consider(Some(self.invite.give_up_at));
            }
            State::Proceeding => consider(self.answer_deadline),
            State::Cancelling => consider(Some(self.invite.give_up_at)),
            _ => {}
        }
        if let Some(n) = &self.non_invite {
            consider(n.retransmit_at);
            consider(Some(n.give_up_at));
        }
        t
    }

    /// Retransmissions and time-outs due at `now`.
    pub fn on_timer(&mut self, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        match self.state {
            State::Calling => {
                if now >= self.invite.give_up_at {
                    self.state = State::Done;
                    out.push(Action::Event(Event::NoAnswer));
                    return out;
                }
                if let Some(at) = self.invite.retransmit_at
                    && now >= at
                {
                    self.invite.interval *= 2;
                    self.invite.retransmit_at = Some(now + self.invite.interval);
                    out.push(Action::Send(self.invite.request.clone()));
                }
            }
            State::Proceeding if self.answer_deadline.is_some_and(|d| now >= d) => {
                self.answer_deadline = None;
                out.extend(self.cancel(now));
            }
            State::Cancelling if now >= self.invite.give_up_at => {
                self.state = State::Done;
                self.non_invite = None;
                out.push(Action::Event(Event::NoAnswer));
                return out;
            }
            _ => {}
        }
        if let Some(n) = &mut self.non_invite {
            if now >= n.give_up_at {
                let method = n.method;
                self.non_invite = None;
                if method == Method::Bye && self.state == State::Terminating {
                    self.state = State::Done;
                    out.push(Action::Event(Event::ByeAnswered(None)));
                }
            } else if let Some(at) = n.retransmit_at
                && now >= at
            {
                n.interval = (n.interval * 2).min(T2);
                n.retransmit_at = Some(now + n.interval);
                out.push(Action::Send(n.request.clone()));
            }
        }
        out
    }

    /// Ends the call: BYE once answered, CANCEL while it rings (or as soon as it does).
    pub fn hangup(&mut self, now: Instant) -> Vec<Action> {
        match self.state {
            State::Calling => {
                self.cancel_pending = true;
                Vec::new()
            }
            State::Proceeding => self.cancel(now),
            State::Confirmed => self.bye(now),
            State::Cancelling | State::Terminating | State::Done => Vec::new(),
        }
    }

    /// A datagram from the server.
    pub fn on_datagram(&mut self, data: &[u8], now: Instant) -> Vec<Action> {
        let Ok(msg) = message::parse(Bytes::copy_from_slice(data)) else {
            self.ignored += 1;
            return Vec::new();
        };
        if msg.is_request() {
            self.on_request(&msg)
        } else {
            self.on_response(&msg, now)
        }
    }

    fn on_response(&mut self, msg: &Message, now: Instant) -> Vec<Action> {
        let (Some(status), Some(cseq), Some(via)) = (msg.status(), msg.cseq(), msg.top_via())
        else {
            self.ignored += 1;
            return Vec::new();
        };
        // A response the parser found fault with (a Content-Length larger than the datagram,
        // a missing To…) is discarded, as RFC 3261 §18.3 says for a truncated one.
        if msg.bad_request().is_some()
            || truncated(msg)
            || msg.call_id() != Some(self.cfg.call_id.as_str())
            || !(100..700).contains(&status)
        {
            self.ignored += 1;
            return Vec::new();
        }
        let branch = via.branch.unwrap_or_default();
        if cseq.method == Method::Invite
            && cseq.number == self.invite.cseq
            && branch == self.invite.branch
        {
            return self.on_invite_response(msg, status, now);
        }
        if let Some(n) = &mut self.non_invite
            && cseq.method == n.method
            && cseq.number == n.cseq
            && branch == n.branch
        {
            if status < 200 {
                // Proceeding: keep retransmitting, at T2.
                n.retransmit_at = Some(now + T2);
                n.interval = T2;
                return Vec::new();
            }
            let method = n.method;
            self.non_invite = None;
            if method == Method::Bye && self.state == State::Terminating {
                self.state = State::Done;
                return vec![Action::Event(Event::ByeAnswered(Some(status)))];
            }
            return Vec::new();
        }
        self.ignored += 1;
        Vec::new()
    }

    fn on_invite_response(&mut self, msg: &Message, status: u16, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        let reason = clean(msg.reason().unwrap_or_default());
        match status {
            100..=199 => {
                if !matches!(self.state, State::Calling | State::Proceeding) {
                    return out;
                }
                if self.state == State::Calling {
                    self.state = State::Proceeding;
                    self.invite.retransmit_at = None;
                    self.answer_deadline = Some(now + self.cfg.answer_timeout);
                }
                out.push(Action::Event(Event::Provisional { status, reason }));
                if self.cancel_pending {
                    self.cancel_pending = false;
                    out.extend(self.cancel(now));
                }
            }
            200..=299 => {
                if let Some(peer) = &self.peer {
                    // A repeated 2xx: our ACK was lost.
                    if msg.to().and_then(|t| t.tag) == Some(peer.remote_tag.as_str()) {
                        out.push(Action::Send(peer.ack.clone()));
                    } else {
                        self.ignored += 1;
                    }
                    return out;
                }
                if !matches!(
                    self.state,
                    State::Calling | State::Proceeding | State::Cancelling
                ) {
                    self.ignored += 1;
                    return out;
                }
                let Some(to) = msg.to() else {
                    self.ignored += 1;
                    return out;
                };
                let remote_tag = clean(to.tag.unwrap_or_default());
                let remote_target = msg
                    .contact()
                    .map(|c| c.uri.raw)
                    .filter(|u| usable_uri(u))
                    .map_or_else(|| self.request_uri(), str::to_owned);
                let mut route_set: Vec<String> = msg
                    .record_routes()
                    .flat_map(|rr| rr.split(','))
                    .map(|r| clean(r.trim()))
                    .filter(|r| !r.is_empty())
                    .collect();
                route_set.reverse();
                let mut peer = Peer {
                    to: clean(to.raw),
                    remote_tag,
                    remote_target,
                    route_set,
                    ack: Vec::new(),
                };
                let branch = self.new_branch();
                peer.ack = self.in_dialog(&peer, "ACK", self.invite.cseq, &branch, None);
                out.push(Action::Send(peer.ack.clone()));
                self.peer = Some(peer);
                self.final_status = Some(status);
                self.invite.retransmit_at = None;
                let cancelled = self.cancel_pending || self.state == State::Cancelling;
                self.cancel_pending = false;
                self.non_invite = None;
                self.state = State::Confirmed;
                out.push(Action::Event(Event::Answered {
                    status,
                    reason,
                    sdp: msg.body().to_vec(),
                }));
                if cancelled {
                    out.extend(self.bye(now));
                }
            }
            _ => {
                // Every final answer of the INVITE transaction is ACKed, repeats included.
                if let Some(ack) = &self.invite.ack {
                    out.push(Action::Send(ack.clone()));
                    return out;
                }
                if !matches!(
                    self.state,
                    State::Calling | State::Proceeding | State::Cancelling
                ) {
                    self.ignored += 1;
                    return out;
                }
                let ack = self.non_2xx_ack(msg);
                self.invite.ack = Some(ack.clone());
                self.invite.retransmit_at = None;
                out.push(Action::Send(ack));
                let challenged = status == 401 || status == 407;
                if challenged
                    && self.state != State::Cancelling
                    && !self.cancel_pending
                    && self.auth_attempts < MAX_AUTH_ATTEMPTS
                    && let Some(authorization) = self.authorization(msg, status)
                {
                    self.auth_attempts += 1;
                    self.state = State::Calling;
                    let invite = self.new_invite(Some(authorization), now);
                    out.push(Action::Event(Event::Challenged { status }));
                    out.push(Action::Send(invite));
                    return out;
                }
                self.final_status = Some(status);
                let cancelling = self.state == State::Cancelling;
                self.state = State::Done;
                self.non_invite = None;
                out.push(Action::Event(if cancelling && status == 487 {
                    Event::Cancelled
                } else {
                    Event::Rejected {
                        status,
                        reason,
                        challenge: challenged,
                    }
                }));
            }
        }
        out
    }

    fn on_request(&mut self, msg: &Message) -> Vec<Action> {
        let method = msg.method();
        if method == Method::Ack {
            return Vec::new();
        }
        if msg.bad_request().is_some() || msg.cseq().is_none() || msg.top_via().is_none() {
            self.ignored += 1;
            return Vec::new();
        }
        let ours = msg.call_id() == Some(self.cfg.call_id.as_str())
            && msg.to().and_then(|t| t.tag) == Some(self.cfg.from_tag.as_str())
            && self
                .peer
                .as_ref()
                .is_some_and(|p| msg.from().and_then(|f| f.tag) == Some(p.remote_tag.as_str()));
        if !ours {
            let reply = ResponseBuilder::new(msg, 481, "Call/Transaction Does Not Exist")
                .to_tag(&self.cfg.from_tag)
                .build();
            return vec![Action::Send(reply.to_vec())];
        }
        match method {
            Method::Bye => {
                let mut out = vec![Action::Send(
                    ResponseBuilder::new(msg, 200, "OK").build().to_vec(),
                )];
                if matches!(self.state, State::Confirmed | State::Terminating) {
                    self.state = State::Done;
                    self.non_invite = None;
                    out.push(Action::Event(Event::RemoteHangup));
                }
                out
            }
            Method::Invite => {
                // A refresh or re-INVITE: keep the media as it is.
                let contact = format!("<{}>", self.contact_uri());
                let reply = ResponseBuilder::new(msg, 200, "OK")
                    .header("Contact", &contact)
                    .body("application/sdp", self.cfg.sdp.as_bytes())
                    .build();
                vec![Action::Send(reply.to_vec())]
            }
            Method::Info => {
                let mut out = vec![Action::Send(
                    ResponseBuilder::new(msg, 200, "OK").build().to_vec(),
                )];
                let body = String::from_utf8_lossy(msg.body());
                if let Some(digit) = msg
                    .content_type()
                    .and_then(|ct| switchboard_media::dtmf::parse_info_body(ct, &body))
                {
                    out.push(Action::Event(Event::InfoDtmf(digit)));
                }
                out
            }
            _ => vec![Action::Send(
                ResponseBuilder::new(msg, 200, "OK").build().to_vec(),
            )],
        }
    }

    // -----------------------------------------------------------------------------------
    // Requests

    fn new_branch(&mut self) -> String {
        self.branches += 1;
        format!("z9hG4bK{}{}", self.cfg.seed, self.branches)
    }

    fn request_uri(&self) -> String {
        format!("sip:{}@{}", self.cfg.to_user, self.cfg.target)
    }

    fn contact_uri(&self) -> String {
        format!("sip:{}@{}", self.cfg.from_user, self.cfg.local)
    }

    fn our_from(&self) -> String {
        format!(
            "<sip:{}@{}>;tag={}",
            self.cfg.from_user,
            self.cfg.local.ip(),
            self.cfg.from_tag
        )
    }

    fn via(&self, branch: &str) -> String {
        format!("SIP/2.0/UDP {};branch={branch};rport", self.cfg.local)
    }

    /// A new INVITE transaction (the first, or the retry with credentials).
    fn new_invite(
        &mut self,
        authorization: Option<(&'static str, String)>,
        now: Instant,
    ) -> Vec<u8> {
        let branch = self.new_branch();
        let cseq = self.next_cseq;
        self.next_cseq += 1;
        let mut m = String::with_capacity(1024);
        let _ = write!(
            m,
            "INVITE {ruri} SIP/2.0\r\nVia: {via}\r\nMax-Forwards: 70\r\nFrom: {from}\r\n\
             To: <{ruri}>\r\nCall-ID: {call_id}\r\nCSeq: {cseq} INVITE\r\n\
             Contact: <{contact}>\r\nUser-Agent: {ua}\r\n\
             Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO\r\n",
            ruri = self.request_uri(),
            via = self.via(&branch),
            from = self.our_from(),
            call_id = self.cfg.call_id,
            contact = self.contact_uri(),
            ua = self.cfg.user_agent,
        );
        if let Some((name, value)) = authorization {
            let _ = write!(m, "{name}: {value}\r\n");
        }
        let _ = write!(
            m,
            "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{}",
            self.cfg.sdp.len(),
            self.cfg.sdp
        );
        let request = m.into_bytes();
        self.invite = InviteTxn {
            branch,
            cseq,
            request: request.clone(),
            retransmit_at: Some(now + T1),
            interval: T1,
            give_up_at: now + TRANSACTION_TIMEOUT,
            ack: None,
        };
        request
    }

    /// The ACK of a non-2xx final answer: same branch, Request-URI and CSeq number as the
    /// INVITE, the answer's To (RFC 3261 §17.1.1.3).
    fn non_2xx_ack(&self, msg: &Message) -> Vec<u8> {
        let to = msg
            .to()
            .map(|t| clean(t.raw))
            .unwrap_or_else(|| format!("<{}>", self.request_uri()));
        format!(
            "ACK {ruri} SIP/2.0\r\nVia: {via}\r\nMax-Forwards: 70\r\nFrom: {from}\r\nTo: {to}\r\n\
             Call-ID: {call_id}\r\nCSeq: {cseq} ACK\r\nContent-Length: 0\r\n\r\n",
            ruri = self.request_uri(),
            via = self.via(&self.invite.branch),
            from = self.our_from(),
            call_id = self.cfg.call_id,
            cseq = self.invite.cseq,
        )
        .into_bytes()
    }

    /// A request inside the confirmed dialog (ACK, BYE).
    fn in_dialog(
        &self,
        peer: &Peer,
        method: &str,
        cseq: u32,
        branch: &str,
        extra: Option<&str>,
    ) -> Vec<u8> {
        let mut m = String::with_capacity(512);
        let _ = write!(
            m,
            "{method} {target} SIP/2.0\r\nVia: {via}\r\nMax-Forwards: 70\r\n",
            target = peer.remote_target,
            via = self.via(branch),
        );
        for r in &peer.route_set {
            let _ = write!(m, "Route: {r}\r\n");
        }
        let _ = write!(
            m,
            "From: {from}\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} {method}\r\n\
             User-Agent: {ua}\r\n{extra}Content-Length: 0\r\n\r\n",
            from = self.our_from(),
            to = peer.to,
            call_id = self.cfg.call_id,
            ua = self.cfg.user_agent,
            extra = extra.unwrap_or_default(),
        );
        m.into_bytes()
    }

    fn bye(&mut self, now: Instant) -> Vec<Action> {
        let Some(peer) = self.peer.clone() else {
            return Vec::new();
        };
        let branch = self.new_branch();
        let cseq = self.next_cseq;
        self.next_cseq += 1;
        let request = self.in_dialog(&peer, "BYE", cseq, &branch, None);
        self.start_non_invite(Method::Bye, branch, cseq, request.clone(), now);
        self.state = State::Terminating;
        vec![Action::Send(request)]
    }

    /// CANCEL (RFC 3261 §9.1): the INVITE's Request-URI, Via branch, From, To and CSeq number.
    fn cancel(&mut self, now: Instant) -> Vec<Action> {
        let request = format!(
            "CANCEL {ruri} SIP/2.0\r\nVia: {via}\r\nMax-Forwards: 70\r\nFrom: {from}\r\n\
             To: <{ruri}>\r\nCall-ID: {call_id}\r\nCSeq: {cseq} CANCEL\r\n\
             User-Agent: {ua}\r\nContent-Length: 0\r\n\r\n",
            ruri = self.request_uri(),
            via = self.via(&self.invite.branch),
            from = self.our_from(),
            call_id = self.cfg.call_id,
            cseq = self.invite.cseq,
            ua = self.cfg.user_agent,
        )
        .into_bytes();
        let branch = self.invite.branch.clone();
        let cseq = self.invite.cseq;
        self.start_non_invite(Method::Cancel, branch, cseq, request.clone(), now);
        self.state = State::Cancelling;
        // Timer B again for the final answer the CANCEL should bring.
        self.invite.give_up_at = now + TRANSACTION_TIMEOUT;
        vec![Action::Send(request)]
    }

    fn start_non_invite(
        &mut self,
        method: Method,
        branch: String,
        cseq: u32,
        request: Vec<u8>,
        now: Instant,
    ) {
        self.non_invite = Some(NonInviteTxn {
            method,
            branch,
            cseq,
            request,
            retransmit_at: Some(now + T1),
            interval: T1,
            give_up_at: now + TRANSACTION_TIMEOUT,
        });
    }

    /// The `Authorization` / `Proxy-Authorization` answering the challenge in `msg`.
    fn authorization(&self, msg: &Message, status: u16) -> Option<(&'static str, String)> {
        let (user, password) = self.cfg.credentials.as_ref()?;
        let (challenge_header, answer_header) = if status == 407 {
            ("Proxy-Authenticate", "Proxy-Authorization")
        } else {
            ("WWW-Authenticate", "Authorization")
        };
        let challenge = msg
            .headers()
            .filter(|(n, _)| message::same_header(n, challenge_header))
            .find_map(|(_, v)| Challenge::parse(v))?;
        let cnonce = format!("{}{}", self.cfg.seed, self.auth_attempts + 1);
        let value = challenge.answer(user, password, "INVITE", &self.request_uri(), &cnonce)?;
        Some((answer_header, value))
    }
}

/// The parameters of a `Digest` challenge we can answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    pub realm: String,
    pub nonce: String,
    pub algorithm: Algorithm,
    /// The token to echo when `auth` is among the offered qops.
    pub qop_auth: bool,
    pub opaque: Option<String>,
}

/// Longest challenge accepted.
const MAX_CHALLENGE_LEN: usize = 4096;

impl Challenge {
    /// Parses `Digest realm="…", nonce="…", …`; `None` for another scheme, a missing realm
    /// or nonce, an algorithm we do not have, or a qop list without `auth`.
    pub fn parse(value: &str) -> Option<Challenge> {
        if value.len() > MAX_CHALLENGE_LEN {
            return None;
        }
        let value = value.trim();
        let scheme_end = value.find(|c: char| c.is_ascii_whitespace())?;
        if !value[..scheme_end].eq_ignore_ascii_case("Digest") {
            return None;
        }
        let mut realm = None;
        let mut nonce = None;
        let mut algorithm = None;
        let mut qop = None;
        let mut opaque = None;
        for (k, v) in params(&value[scheme_end..])? {
            match k.to_ascii_lowercase().as_str() {
                "realm" => realm = Some(v),
                "nonce" => nonce = Some(v),
                "algorithm" => algorithm = Some(v),
                "qop" => qop = Some(v),
                "opaque" => opaque = Some(v),
                _ => {}
            }
        }
        let qop_auth = match qop {
            None => false,
            Some(q) => {
                if !q.split(',').any(|t| t.trim().eq_ignore_ascii_case("auth")) {
                    return None;
                }
                true
            }
        };
        let nonce = nonce.filter(|n| !n.is_empty())?;
        Some(Challenge {
            realm: realm?,
            nonce,
            algorithm: Algorithm::parse(algorithm.as_deref())?,
            qop_auth,
            opaque,
        })
    }

    /// The credentials header value for a request `method uri`.
    pub fn answer(
        &self,
        username: &str,
        password: &str,
        method: &str,
        uri: &str,
        cnonce: &str,
    ) -> Option<String> {
        let c = Credentials {
            username: username.to_owned(),
            realm: self.realm.clone(),
            nonce: self.nonce.clone(),
            uri: uri.to_owned(),
            response: String::new(),
            algorithm: Some(self.algorithm.name().to_owned()),
            cnonce: self.qop_auth.then(|| cnonce.to_owned()),
            qop: self.qop_auth.then(|| "auth".to_owned()),
            nc: self.qop_auth.then(|| "00000001".to_owned()),
            opaque: self.opaque.clone(),
        };
        let response =
            digest::expected_response(self.algorithm, &c, method, &self.realm, password).ok()?;
        let mut v = format!(
            "Digest username=\"{}\", realm=\"{}\", nonce=\"{}\", uri=\"{}\", response=\"{response}\", algorithm={}",
            quote(username),
            quote(&self.realm),
            quote(&self.nonce),
            quote(uri),
            self.algorithm.name()
        );
        if self.qop_auth {
            let _ = write!(v, ", qop=auth, nc=00000001, cnonce=\"{}\"", quote(cnonce));
        }
        if let Some(o) = &self.opaque {
            let _ = write!(v, ", opaque=\"{}\"", quote(o));
        }
        Some(v)
    }
}

/// Splits `k=v, k="v", …`; `None` on a malformed list.
fn params(input: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut rest = input.trim_start();
    while !rest.is_empty() {
        rest = rest.trim_start_matches([',', ' ', '\t', '\r', '\n']);
        if rest.is_empty() {
            break;
        }
        let eq = rest.find('=')?;
        let key = rest[..eq].trim();
        if key.is_empty() || key.contains([',', '"', ' ']) {
            return None;
        }
        rest = rest[eq + 1..].trim_start();
        let value;
        if let Some(quoted) = rest.strip_prefix('"') {
            let mut v = String::new();
            let mut chars = quoted.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '"' => {
                        end = Some(i + 1);
                        break;
                    }
                    '\\' => v.push(chars.next()?.1),
                    c => v.push(c),
                }
            }
            value = v;
            rest = &quoted[end?..];
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            value = rest[..end].trim().to_owned();
            rest = &rest[end..];
        }
        out.push((key.to_owned(), value));
    }
    Some(out)
}

fn quote(s: &str) -> String {
    clean(s).replace('\\', "\\\\").replace('"', "\\\"")
}

/// A header value safe to copy into a message: control characters become spaces.
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Whether the datagram is shorter than its Content-Length says (RFC 3261 §18.3: discard).
fn truncated(msg: &Message) -> bool {
    msg.header("Content-Length").is_some_and(|v| {
        v.trim()
            .parse::<usize>()
            .map_or(true, |n| n > msg.body().len())
    })
}

/// A URI we can put in a Request-URI as it is.
fn usable_uri(u: &str) -> bool {
    !u.is_empty()
        && u.len() <= 512
        && (u.starts_with("sip:") || u.starts_with("sips:"))
        && !u
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>')
}

#[cfg(test)]
#[path = "dialog_tests.rs"]
mod tests;
