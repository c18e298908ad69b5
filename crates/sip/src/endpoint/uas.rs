//! Incoming requests: INVITE (new call, retransmission, re-INVITE), ACK, CANCEL and the
//! non-INVITE requests the endpoint answers itself (BYE, INFO, OPTIONS, everything else).
//!
//! Choices worth knowing:
//! * `100 Trying` is sent as soon as a new INVITE arrives, before `Event::Invite`.
//! * BYE / INFO **without** a To-tag get `481` (they cannot match a dialog; LiveKit sends
//!   400 there — 481 says more precisely what is wrong).
//! * In-dialog requests for unknown dialogs get `481`; out-of-dialog OPTIONS `200` with
//!   `Allow`/`Accept`; any other method `405` with `Allow`.
//! * A BYE in the early dialog (To-tag = ours, no final yet) is treated like a CANCEL:
//!   `200` to the BYE, `487` to the INVITE, `Event::Cancelled`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use super::state::{Call, Dialog, Flow, InviteState, InviteTx};
use super::timers::{InviteTimer, Timer};
use super::{ALLOW, CallKey, Endpoint, Event, RequestKey, Transport, tx_key};
use crate::message::{Message, Method, ResponseBuilder};

const NO_SUCH_CALL: &str = "Call/Transaction Does Not Exist";

/// Where responses to `msg` go (RFC 3261 §18.2.2, RFC 3581 §4).
pub(crate) fn response_flow(
    msg: &Message,
    transport: Transport,
    local: SocketAddr,
    source: SocketAddr,
) -> Flow {
    let remote = match (transport, msg.top_via()) {
        (Transport::Udp, Some(v)) if v.rport.is_none() => {
            SocketAddr::new(source.ip(), v.port.unwrap_or(5060))
        }
        _ => source,
    };
    Flow {
        transport,
        local,
        remote,
        source,
    }
}

impl Endpoint {
    pub(super) fn on_request(
        &mut self,
        now: Instant,
        transport: Transport,
        local: SocketAddr,
        source: SocketAddr,
        msg: Message,
    ) {
        let method = msg.method();
        let flow = response_flow(&msg, transport, local, source);
        if let Some(reason) = msg.bad_request() {
            if method == Method::Ack {
                self.stats.stray_acks += 1;
                return;
            }
            let tag = self.random_token("");
            let data = ResponseBuilder::new(&msg, 400, reason)
                .to_tag(&tag)
                .source(source)
                .server(&self.cfg.user_agent)
                .header("Allow", ALLOW)
                .build();
            self.stats.bad_requests_sent += 1;
            self.stats.responses_sent += 1;
            self.transmit(&flow, data);
            return;
        }
        let mut key = std::mem::take(&mut self.key_buf);
        tx_key(&msg, &mut key);
        match method {
            Method::Invite => self.on_invite(now, flow, &key, msg),
            Method::Ack => self.on_ack(now, &key, &msg),
            Method::Cancel => self.on_cancel(now, flow, &mut key, &msg),
            _ => self.on_non_invite(now, flow, &mut key, &msg),
        }
        self.key_buf = key;
    }

    /// The call whose dialog `msg` belongs to (To-tag = our tag, Call-ID and From-tag
    /// equal).
    pub(super) fn find_dialog(&self, msg: &Message) -> Option<CallKey> {
        let tag = msg.to()?.tag?;
        let key = *self.tags.get(tag)?;
        let call = self.calls.get(&key)?;
        let inv = &call.invite.request;
        let same = inv.call_id() == msg.call_id()
            && inv.from().and_then(|f| f.tag) == msg.from().and_then(|f| f.tag);
        same.then_some(key)
    }

    fn on_invite(&mut self, now: Instant, flow: Flow, key: &str, msg: Message) {
        if let Some(&(ck, rk)) = self.invite_txs.get(key) {
            self.stats.retransmissions_absorbed += 1;
            let resend = self.calls.get(&ck).and_then(|c| {
                let tx = match rk {
                    Some(_) => &c.reinvite.as_deref()?.1,
                    None => &c.invite,
                };
                Some((tx.flow, tx.last.clone()?))
            });
            if let Some((f, data)) = resend {
                self.transmit(&f, data);
            }
            return;
        }
        if msg.to().and_then(|t| t.tag).is_some() {
            self.on_reinvite(now, flow, key, msg);
            return;
        }
        let ck = CallKey(self.next_id());
        let local_tag = self.random_token("");
        let tx_key: Arc<str> = Arc::from(key);
        let mut tx = InviteTx::new(msg, tx_key.clone(), flow, self.cfg.t1);
        let trying = ResponseBuilder::new(&tx.request, 100, "Trying")
            .source(flow.source)
            .server(&self.cfg.user_agent)
            .build();
        tx.last = Some(trying.clone());
        self.transmit(&flow, trying);
        self.stats.responses_sent += 1;
        self.stats.invites += 1;
        let request = tx.request.clone();
        self.invite_txs.insert(tx_key, (ck, None));
        self.tags.insert(local_tag.clone(), ck);
        self.calls.insert(
            ck,
            Call {
                local_tag,
                invite: tx,
                dialog: None,
                reinvite: None,
                clients: Default::default(),
                forgotten: false,
                ended: false,
            },
        );
        self.events.push_back(Event::Invite {
            key: ck,
            request,
            remote: flow.source,
            transport: flow.transport,
        });
    }

    fn on_reinvite(&mut self, _now: Instant, flow: Flow, key: &str, msg: Message) {
        let ck = self.find_dialog(&msg);
        let cseq = msg.cseq().map_or(0, |c| c.number);
        let status = match ck.and_then(|k| self.calls.get(&k)) {
            None => Some((481, NO_SUCH_CALL)),
            Some(call) => match &call.dialog {
                None => Some((481, NO_SUCH_CALL)),
                Some(_) if call.ended => Some((481, NO_SUCH_CALL)),
                Some(_) if call.reinvite.is_some() => Some((491, "Request Pending")),
                Some(d) if cseq <= d.remote_cseq => Some((500, "CSeq Out of Order")),
                Some(_) => None,
            },
        };
        if let Some((code, reason)) = status {
            if code == 481 {
                self.stats.no_dialog_481 += 1;
            }
            let tag = self.random_token("");
            let data = ResponseBuilder::new(&msg, code, reason)
                .to_tag(&tag)
                .source(flow.source)
                .server(&self.cfg.user_agent)
                .build();
            self.stats.responses_sent += 1;
            self.transmit(&flow, data);
            return;
        }
        let Some(ck) = ck else { return };
        let id = self.next_id();
        let rk = RequestKey { call: ck, id };
        let tx_key: Arc<str> = Arc::from(key);
        let mut tx = InviteTx::new(msg, tx_key.clone(), flow, self.cfg.t1);
        let trying = ResponseBuilder::new(&tx.request, 100, "Trying")
            .source(flow.source)
            .server(&self.cfg.user_agent)
            .build();
        tx.last = Some(trying.clone());
        self.transmit(&flow, trying);
        self.stats.responses_sent += 1;
        self.stats.reinvites += 1;
        let request = tx.request.clone();
        let Some(call) = self.calls.get_mut(&ck) else {
            return;
        };
        if let Some(d) = call.dialog.as_mut() {
            d.remote_cseq = cseq;
        }
        let forgotten = call.forgotten;
        call.reinvite = Some(Box::new((rk, tx)));
        self.invite_txs.insert(tx_key, (ck, Some(rk)));
        self.emit(
            forgotten,
            Event::ReInvite {
                key: ck,
                req: rk,
                request,
            },
        );
    }

    fn on_ack(&mut self, now: Instant, key: &str, msg: &Message) {
        let t4 = self.cfg.t4;
        if let Some(&(ck, rk)) = self.invite_txs.get(key)
            && let Some(call) = self.calls.get_mut(&ck)
        {
            let tx = match rk {
                Some(_) => call.reinvite.as_deref_mut().map(|(_, t)| t),
                None => Some(&mut call.invite),
            };
            if let Some(tx) = tx {
                match tx.state {
                    InviteState::Completed => {
                        tx.state = InviteState::Confirmed;
                        tx.generation += 1;
                        // Only ACK absorption remains: nothing will be re-sent.
                        tx.last = None;
                        let wait = if tx.flow.transport.is_reliable() {
                            Default::default()
                        } else {
                            t4
                        };
                        let generation = tx.generation;
                        self.timers.push(
                            now + wait,
                            Timer::Invite {
                                key: ck,
                                reinvite: rk.is_some(),
                                generation,
                                kind: InviteTimer::Confirmed,
                            },
                        );
                        return;
                    }
                    InviteState::Confirmed => {
                        self.stats.retransmissions_absorbed += 1;
                        return;
                    }
                    // An ACK for a 2xx reusing the INVITE branch (RFC 2543 style):
                    // fall through to dialog matching.
                    _ => {}
                }
            }
        }
        let Some(ck) = self.find_dialog(msg) else {
            self.stats.stray_acks += 1;
            return;
        };
        let cseq = msg.cseq().map_or(0, |c| c.number);
        let Some(call) = self.calls.get_mut(&ck) else {
            return;
        };
        let forgotten = call.forgotten;
        if call.invite.state == InviteState::Accepted && call.invite.cseq() == cseq {
            call.invite.state = InviteState::Done;
            call.invite.generation += 1;
            self.emit(forgotten, Event::Acked { key: ck });
            self.maybe_remove(ck);
            return;
        }
        if let Some((_, tx)) = call.reinvite.as_deref_mut()
            && tx.state == InviteState::Accepted
            && tx.cseq() == cseq
        {
            let k = tx.tx_key.clone();
            call.reinvite = None;
            self.invite_txs.remove(&k);
            self.maybe_remove(ck);
            return;
        }
        self.stats.retransmissions_absorbed += 1;
    }

    fn on_cancel(&mut self, now: Instant, flow: Flow, key: &mut String, msg: &Message) {
        let invite_key_len = key.len();
        key.push_str("|CANCEL");
        if self.resend_non_invite(key) {
            return;
        }
        let target = self
            .invite_txs
            .get(key.get(..invite_key_len).unwrap_or(""))
            .copied();
        let Some((ck, rk)) = target.filter(|(ck, _)| self.calls.contains_key(ck)) else {
            self.answer_481(now, flow, key, msg, false);
            return;
        };
        self.stats.cancels += 1;
        let tag = self.calls.get(&ck).map(|c| c.local_tag.clone());
        self.answer_non_invite(now, flow, key, msg, 200, "OK", tag.as_deref(), &[]);
        let cancelled = self.final_response(now, ck, rk, 487, "Request Terminated");
        if cancelled && rk.is_none() {
            let forgotten = self.calls.get(&ck).is_none_or(|c| c.forgotten);
            self.emit(forgotten, Event::Cancelled { key: ck });
        }
    }

    /// Send a non-2xx final built by the endpoint itself (487) if the transaction is still
    /// proceeding. Returns whether it was sent.
    pub(super) fn final_response(
        &mut self,
        now: Instant,
        ck: CallKey,
        rk: Option<RequestKey>,
        status: u16,
        reason: &'static str,
    ) -> bool {
        let ua = self.cfg.user_agent.clone();
        let Some(call) = self.calls.get_mut(&ck) else {
            return false;
        };
        let tag = call.local_tag.clone();
        let tx = match rk {
            Some(_) => match call.reinvite.as_deref_mut() {
                Some((_, t)) => t,
                None => return false,
            },
            None => &mut call.invite,
        };
        if !matches!(tx.state, InviteState::Proceeding | InviteState::Abandoned) {
            return false;
        }
        let data = ResponseBuilder::new(&tx.request, status, reason)
            .to_tag(&tag)
            .source(tx.flow.source)
            .server(&ua)
            .build();
        let flow = tx.flow;
        tx.last = Some(data.clone());
        tx.final_status = Some(status);
        self.transmit(&flow, data);
        self.stats.responses_sent += 1;
        self.arm_final(now, ck, rk, false);
        true
    }

    fn on_non_invite(&mut self, now: Instant, flow: Flow, key: &mut String, msg: &Message) {
        key.push('|');
        key.push_str(msg.method_str());
        if self.resend_non_invite(key) {
            return;
        }
        let method = msg.method();
        let has_tag = msg.to().and_then(|t| t.tag).is_some();
        if !has_tag {
            match method {
                Method::Options => {
                    let tag = self.random_token("");
                    let hdrs = [("Allow", ALLOW), ("Accept", "application/sdp")];
                    self.answer_non_invite(now, flow, key, msg, 200, "OK", Some(&tag), &hdrs);
                }
                Method::Bye | Method::Info => {
                    self.answer_481(now, flow, key, msg, true);
                }
                _ => {
                    self.stats.method_not_allowed_405 += 1;
                    let tag = self.random_token("");
                    self.answer_non_invite(
                        now,
                        flow,
                        key,
                        msg,
                        405,
                        "Method Not Allowed",
                        Some(&tag),
                        &[("Allow", ALLOW)],
                    );
                }
            }
            return;
        }
        let Some(ck) = self.find_dialog(msg) else {
            self.answer_481(now, flow, key, msg, false);
            return;
        };
        let cseq = msg.cseq().map_or(0, |c| c.number);
        let Some(call) = self.calls.get_mut(&ck) else {
            return;
        };
        let forgotten = call.forgotten;
        if let Some(d) = call.dialog.as_mut() {
            if cseq <= d.remote_cseq && method != Method::Bye {
                self.answer_non_invite(now, flow, key, msg, 500, "CSeq Out of Order", None, &[]);
                return;
            }
            d.remote_cseq = d.remote_cseq.max(cseq);
        }
        match method {
            Method::Bye => {
                self.answer_non_invite(now, flow, key, msg, 200, "OK", None, &[]);
                self.on_bye(now, ck);
            }
            Method::Info => {
                let answered = call.dialog.is_some();
                if !answered {
                    self.answer_481(now, flow, key, msg, false);
                    return;
                }
                self.answer_non_invite(now, flow, key, msg, 200, "OK", None, &[]);
                let content_type = msg.content_type().unwrap_or("").to_string();
                self.emit(
                    forgotten,
                    Event::Info {
                        key: ck,
                        content_type,
                        body: msg.body_bytes(),
                    },
                );
            }
            Method::Options => {
                let hdrs = [("Allow", ALLOW), ("Accept", "application/sdp")];
                self.answer_non_invite(now, flow, key, msg, 200, "OK", None, &hdrs);
            }
            _ => {
                self.stats.method_not_allowed_405 += 1;
                self.answer_non_invite(
                    now,
                    flow,
                    key,
                    msg,
                    405,
                    "Method Not Allowed",
                    None,
                    &[("Allow", ALLOW)],
                );
            }
        }
    }

    fn on_bye(&mut self, now: Instant, ck: CallKey) {
        let Some(call) = self.calls.get_mut(&ck) else {
            return;
        };
        call.ended = true;
        let forgotten = call.forgotten;
        match call.invite.state {
            InviteState::Proceeding | InviteState::Abandoned => {
                // Early dialog: behave as CANCEL.
                if self.final_response(now, ck, None, 487, "Request Terminated") {
                    self.emit(forgotten, Event::Cancelled { key: ck });
                }
            }
            InviteState::Accepted => {
                call.invite.state = InviteState::Done;
                call.invite.generation += 1;
                self.emit(forgotten, Event::Bye { key: ck });
                self.maybe_remove(ck);
            }
            _ => {
                self.emit(forgotten, Event::Bye { key: ck });
                self.maybe_remove(ck);
            }
        }
    }

    /// Re-send the cached answer of a non-INVITE server transaction.
    fn resend_non_invite(&mut self, key: &str) -> bool {
        let Some((data, flow)) = self.non_invite.get(key).cloned() else {
            return false;
        };
        self.stats.retransmissions_absorbed += 1;
        self.transmit(&flow, data);
        true
    }

    /// Answer a non-INVITE request and (over UDP) keep the answer for Timer J.
    /// `481 Call/Transaction Does Not Exist`, counted; `with_tag` adds a fresh To-tag (an
    /// out-of-dialog answer to a request that claimed a dialog).
    fn answer_481(&mut self, now: Instant, flow: Flow, key: &str, msg: &Message, with_tag: bool) {
        self.stats.no_dialog_481 += 1;
        let tag = with_tag.then(|| self.random_token(""));
        self.answer_non_invite(now, flow, key, msg, 481, NO_SUCH_CALL, tag.as_deref(), &[]);
    }

    #[allow(clippy::too_many_arguments)]
    fn answer_non_invite(
        &mut self,
        now: Instant,
        flow: Flow,
        key: &str,
        msg: &Message,
        status: u16,
        reason: &str,
        to_tag: Option<&str>,
        headers: &[(&str, &str)],
    ) {
        let mut b = ResponseBuilder::new(msg, status, reason)
            .source(flow.source)
            .server(&self.cfg.user_agent);
        if let Some(t) = to_tag {
            b = b.to_tag(t);
        }
        for (n, v) in headers {
            b = b.header(n, v);
        }
        let data = b.build();
        self.stats.responses_sent += 1;
        self.transmit(&flow, data.clone());
        if !flow.transport.is_reliable() && !key.is_empty() {
            let k: Arc<str> = Arc::from(key);
            self.non_invite.insert(k.clone(), (data, flow));
            self.timers
                .push(now + self.cfg.t1 * 64, Timer::NonInvite { tx: k });
        }
    }

    pub(super) fn on_connection_closed(&mut self, conn: u64) {
        let hit: Vec<(CallKey, bool)> = self
            .calls
            .iter()
            .filter(|(_, c)| c.invite.flow.transport == Transport::Tcp(conn))
            .map(|(k, c)| (*k, c.forgotten))
            .collect();
        for (k, forgotten) in hit {
            self.emit(forgotten, Event::TransportError { key: k });
        }
    }
}

/// Dialog state created when the 2xx goes out.
pub(crate) fn new_dialog(tx: &InviteTx) -> Dialog {
    Dialog {
        remote_cseq: tx.cseq(),
        local_cseq: tx.cseq(),
        remote_target: None,
    }
}
