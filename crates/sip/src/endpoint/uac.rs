//! Our side as UAC inside a dialog: sending BYE / INFO (non-INVITE client transactions,
//! Timers E and F), matching their responses, and the timer dispatch for everything.
//!
//! In-dialog requests go to the **flow** the INVITE came from (source IP and
//! rport/sent-by port over UDP, the same connection over TCP) with the remote target
//! (Contact) as Request-URI and the Record-Route set as Route: the sans-I/O core does no
//! DNS, and trunks expect symmetric signalling.

use std::time::Instant;

use bytes::Bytes;

use super::state::{ClientTx, InviteState};
use super::timers::{ClientTimer, InviteTimer, Timer};
use super::{CallKey, Endpoint, EndpointError, Event};
use crate::message::{DialogRequest, Message, Method};

/// Split Record-Route header values into single route entries (commas outside `<>`).
fn route_set(inv: &Message) -> Vec<Box<str>> {
    let mut out = Vec::new();
    for v in inv.record_routes() {
        let mut depth = 0i32;
        let mut start = 0;
        for (i, c) in v.char_indices() {
            match c {
                '<' => depth += 1,
                '>' => depth -= 1,
                ',' if depth <= 0 => {
                    let item = v.get(start..i).unwrap_or("").trim();
                    if !item.is_empty() {
                        out.push(item.into());
                    }
                    start = i + 1;
                }
                _ => {}
            }
        }
        let item = v.get(start..).unwrap_or("").trim();
        if !item.is_empty() {
            out.push(item.into());
        }
    }
    out
}

impl Endpoint {
    pub(super) fn send_in_dialog(
        &mut self,
        now: Instant,
        key: CallKey,
        method: Method,
        headers: &[(String, String)],
        body: Option<(&str, &Bytes)>,
    ) -> Result<(), EndpointError> {
        let host = {
            let call = self.calls.get(&key).ok_or(EndpointError::UnknownCall)?;
            self.advertised_host(call.invite.flow.local, &call.invite.request)
        };
        let branch = self.random_token("z9hG4bK");
        let id = self.next_id();
        let t1 = self.cfg.t1;
        let call = self.calls.get_mut(&key).ok_or(EndpointError::UnknownCall)?;
        let Some(dialog) = call.dialog.as_mut() else {
            return Err(EndpointError::NotAnswered);
        };
        dialog.local_cseq = dialog.local_cseq.saturating_add(1);
        let cseq = dialog.local_cseq;
        let inv = &call.invite.request;
        let flow = call.invite.flow;
        let from = format!("{};tag={}", inv.to().map_or("", |t| t.raw), call.local_tag);
        let to = inv.from().map_or("", |f| f.raw);
        let target = match &dialog.remote_target {
            Some(t) => t.to_string(),
            None => inv
                .contact()
                .map(|c| c.uri.raw)
                .or_else(|| inv.from().map(|f| f.uri.raw))
                .unwrap_or("")
                .to_string(),
        };
        let routes = route_set(inv);
        let sent_by = format!("{host}:{}", flow.local.port());
        let data = DialogRequest {
            method,
            request_uri: &target,
            transport: flow.transport.via_name(),
            sent_by: &sent_by,
            branch: &branch,
            from: &from,
            to,
            call_id: inv.call_id().unwrap_or(""),
            cseq,
            route_set: &routes,
            user_agent: Some(&self.cfg.user_agent),
            headers,
            body: body.map(|(ct, b)| (ct, &b[..])),
        }
        .build();
        call.clients.push(ClientTx {
            id,
            branch: branch.clone(),
            method,
            data: data.clone(),
            interval: t1,
            generation: 0,
        });
        self.client_txs.insert(branch, key);
        self.transmit(&flow, data);
        self.stats.requests_sent += 1;
        if !flow.transport.is_reliable() {
            self.timers.push(
                now + t1,
                Timer::Client {
                    key,
                    id,
                    generation: 0,
                    kind: ClientTimer::Retransmit,
                },
            );
        }
        self.timers.push(
            now + t1 * 64,
            Timer::Client {
                key,
                id,
                generation: 0,
                kind: ClientTimer::Timeout,
            },
        );
        Ok(())
    }

    /// A response: it must answer one of our BYE / INFO transactions.
    pub(super) fn on_response(&mut self, _now: Instant, msg: Message) {
        let t2 = self.cfg.t2;
        let Some(branch) = msg.top_via().and_then(|v| v.branch) else {
            self.stats.stray_responses += 1;
            return;
        };
        let Some(&key) = self.client_txs.get(branch) else {
            self.stats.stray_responses += 1;
            return;
        };
        let status = msg.status().unwrap_or(0);
        let Some(call) = self.calls.get_mut(&key) else {
            self.stats.stray_responses += 1;
            return;
        };
        let Some(pos) = call.clients.iter().position(|c| &*c.branch == branch) else {
            self.stats.stray_responses += 1;
            return;
        };
        if status < 200 {
            if let Some(c) = call.clients.get_mut(pos) {
                c.interval = t2;
            }
            return;
        }
        let c = call.clients.remove(pos);
        let forgotten = call.forgotten;
        self.client_txs.remove(&c.branch);
        let event = match c.method {
            Method::Bye => Event::ByeCompleted {
                key,
                status: Some(status),
            },
            _ => Event::InfoCompleted {
                key,
                status: Some(status),
            },
        };
        self.emit(forgotten, event);
        self.maybe_remove(key);
    }

    pub(super) fn on_timer(&mut self, now: Instant, timer: Timer) {
        match timer {
            Timer::Invite {
                key,
                reinvite,
                generation,
                kind,
            } => self.on_invite_timer(now, key, reinvite, generation, kind),
            Timer::Abandon { key } => {
                if self
                    .calls
                    .get(&key)
                    .is_some_and(|c| c.invite.state == InviteState::Abandoned)
                {
                    self.remove_call(key);
                }
            }
            Timer::Client {
                key,
                id,
                generation,
                kind,
            } => self.on_client_timer(now, key, id, generation, kind),
            Timer::NonInvite { tx } => {
                self.non_invite.remove(&tx);
            }
        }
    }

    fn on_invite_timer(
        &mut self,
        now: Instant,
        key: CallKey,
        reinvite: bool,
        generation: u32,
        kind: InviteTimer,
    ) {
        let t2 = self.cfg.t2;
        let Some(call) = self.calls.get_mut(&key) else {
            return;
        };
        let forgotten = call.forgotten;
        let tx = if reinvite {
            match call.reinvite.as_deref_mut() {
                Some((_, t)) => t,
                None => return,
            }
        } else {
            &mut call.invite
        };
        if tx.generation != generation {
            return;
        }
        let mut finished = false;
        match kind {
            InviteTimer::Retransmit => {
                if matches!(tx.state, InviteState::Completed | InviteState::Accepted)
                    && let Some(data) = tx.last.clone()
                {
                    let flow = tx.flow;
                    tx.interval = (tx.interval * 2).min(t2);
                    let at = now + tx.interval;
                    self.timers.push(
                        at,
                        Timer::Invite {
                            key,
                            reinvite,
                            generation,
                            kind,
                        },
                    );
                    self.stats.retransmissions_sent += 1;
                    self.transmit(&flow, data);
                }
                return;
            }
            InviteTimer::Timeout => match tx.state {
                InviteState::Completed => {
                    self.stats.invite_timeouts += 1;
                    tx.state = InviteState::Done;
                    finished = true;
                }
                InviteState::Accepted => {
                    self.stats.ack_timeouts += 1;
                    tx.state = InviteState::Done;
                    tx.generation += 1;
                    finished = true;
                    if !reinvite {
                        self.emit(forgotten, Event::AckTimeout { key });
                    }
                }
                _ => {}
            },
            InviteTimer::Confirmed => {
                if tx.state == InviteState::Confirmed {
                    tx.state = InviteState::Done;
                    finished = true;
                }
            }
        }
        if finished {
            if reinvite
                && let Some(call) = self.calls.get_mut(&key)
                && let Some(pending) = call.reinvite.take()
            {
                self.invite_txs.remove(&pending.1.tx_key);
            }
            self.maybe_remove(key);
        }
    }

    fn on_client_timer(
        &mut self,
        now: Instant,
        key: CallKey,
        id: u64,
        generation: u32,
        kind: ClientTimer,
    ) {
        let t2 = self.cfg.t2;
        let Some(call) = self.calls.get_mut(&key) else {
            return;
        };
        let forgotten = call.forgotten;
        let flow = call.invite.flow;
        let Some(pos) = call.clients.iter().position(|c| c.id == id) else {
            return;
        };
        match kind {
            ClientTimer::Retransmit => {
                let Some(c) = call.clients.get_mut(pos) else {
                    return;
                };
                if c.generation != generation {
                    return;
                }
                c.interval = (c.interval * 2).min(t2);
                let at = now + c.interval;
                let data = c.data.clone();
                self.timers.push(
                    at,
                    Timer::Client {
                        key,
                        id,
                        generation,
                        kind,
                    },
                );
                self.stats.retransmissions_sent += 1;
                self.transmit(&flow, data);
            }
            ClientTimer::Timeout => {
                let c = call.clients.remove(pos);
                self.client_txs.remove(&c.branch);
                self.stats.client_timeouts += 1;
                let event = match c.method {
                    Method::Bye => Event::ByeCompleted { key, status: None },
                    _ => Event::InfoCompleted { key, status: None },
                };
                self.emit(forgotten, event);
                self.maybe_remove(key);
            }
        }
    }
}
