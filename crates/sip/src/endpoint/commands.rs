//! Application commands: answer the INVITE or a re-INVITE, hang up, send INFO, forget.

use std::time::Instant;

use bytes::Bytes;

use super::state::{Flow, InviteState};
use super::timers::{InviteTimer, Timer};
use super::uas::new_dialog;
use super::{CallKey, Endpoint, EndpointError, Reply, RequestKey};
use crate::message::{Message, Method, ResponseBuilder, same_header};

/// Render the application's reply to an INVITE / re-INVITE.
fn render_reply(
    ua: &str,
    req: &Message,
    reply: &Reply,
    tag: &str,
    flow: &Flow,
    host: &str,
) -> Bytes {
    let mut b = ResponseBuilder::new(req, reply.status, &reply.reason)
        .to_tag(tag)
        .source(flow.source)
        .server(ua);
    for (n, v) in &reply.headers {
        b = b.header(n, v);
    }
    if (101..300).contains(&reply.status)
        && !reply.headers.iter().any(|(n, _)| same_header(n, "Contact"))
    {
        let transport = if flow.transport.is_reliable() {
            ";transport=tcp"
        } else {
            ""
        };
        let contact = format!("<sip:{host}:{}{transport}>", flow.local.port());
        b = b.header("Contact", &contact);
    }
    if let Some((ct, body)) = &reply.body {
        b = b.body(ct, body);
    }
    b.build()
}

impl Endpoint {
    /// Answer the call's INVITE: provisional (any number) then one final. A 2xx creates
    /// the dialog and is retransmitted (UDP) until the ACK; a non-2xx is retransmitted
    /// until the ACK or Timer H, after which the call is dropped (`Event::Terminated`).
    pub fn respond(
        &mut self,
        now: Instant,
        key: CallKey,
        reply: Reply,
    ) -> Result<(), EndpointError> {
        self.now = Some(now);
        if !(100..=699).contains(&reply.status) {
            return Err(EndpointError::InvalidStatus);
        }
        let host = {
            let call = self
                .calls
                .get(&key)
                .filter(|c| !c.forgotten)
                .ok_or(EndpointError::UnknownCall)?;
            if call.invite.state != InviteState::Proceeding {
                return Err(EndpointError::AlreadyAnswered);
            }
            self.advertised_host(call.invite.flow.local, &call.invite.request)
        };
        let Some(call) = self.calls.get_mut(&key) else {
            return Err(EndpointError::UnknownCall);
        };
        let tx = &mut call.invite;
        let data = render_reply(
            &self.cfg.user_agent,
            &tx.request,
            &reply,
            &call.local_tag,
            &tx.flow,
            &host,
        );
        let flow = tx.flow;
        tx.last = Some(data.clone());
        if reply.status >= 200 {
            tx.final_status = Some(reply.status);
            if reply.status < 300 {
                call.dialog = Some(new_dialog(tx));
            }
        }
        self.transmit(&flow, data);
        self.stats.responses_sent += 1;
        if reply.status >= 200 {
            self.arm_final(now, key, None, reply.status < 300);
        }
        Ok(())
    }

    /// Answer a re-INVITE (`Event::ReInvite`). A 2xx updates the remote target from the
    /// re-INVITE's Contact.
    pub fn respond_in_dialog(
        &mut self,
        now: Instant,
        req: RequestKey,
        reply: Reply,
    ) -> Result<(), EndpointError> {
        self.now = Some(now);
        if !(100..=699).contains(&reply.status) {
            return Err(EndpointError::InvalidStatus);
        }
        let key = req.call;
        let host = {
            let call = self.calls.get(&key).ok_or(EndpointError::UnknownCall)?;
            let Some((rk, tx)) = call.reinvite.as_deref() else {
                return Err(EndpointError::UnknownRequest);
            };
            if *rk != req {
                return Err(EndpointError::UnknownRequest);
            }
            if tx.state != InviteState::Proceeding {
                return Err(EndpointError::AlreadyAnswered);
            }
            self.advertised_host(tx.flow.local, &tx.request)
        };
        let Some(call) = self.calls.get_mut(&key) else {
            return Err(EndpointError::UnknownCall);
        };
        let Some((_, tx)) = call.reinvite.as_deref_mut() else {
            return Err(EndpointError::UnknownRequest);
        };
        let data = render_reply(
            &self.cfg.user_agent,
            &tx.request,
            &reply,
            &call.local_tag,
            &tx.flow,
            &host,
        );
        let flow = tx.flow;
        tx.last = Some(data.clone());
        if reply.status >= 200 {
            tx.final_status = Some(reply.status);
        }
        if (200..300).contains(&reply.status) {
            let target = tx.request.contact().map(|c| Box::<str>::from(c.uri.raw));
            if let (Some(d), Some(t)) = (call.dialog.as_mut(), target) {
                d.remote_target = Some(t);
            }
        }
        self.transmit(&flow, data);
        self.stats.responses_sent += 1;
        if reply.status >= 200 {
            self.arm_final(now, key, Some(req), reply.status < 300);
        }
        Ok(())
    }

    /// Hang up an answered call. Before the 2xx this is refused
    /// ([`EndpointError::NotAnswered`]): respond with a final status instead.
    pub fn send_bye(
        &mut self,
        now: Instant,
        key: CallKey,
        headers: Vec<(String, String)>,
    ) -> Result<(), EndpointError> {
        self.now = Some(now);
        let call = self
            .calls
            .get_mut(&key)
            .filter(|c| !c.forgotten)
            .ok_or(EndpointError::UnknownCall)?;
        if call.dialog.is_none() {
            return Err(EndpointError::NotAnswered);
        }
        if call.ended {
            return Err(EndpointError::DialogEnded);
        }
        call.ended = true;
        if call.invite.state == InviteState::Accepted {
            // Stop retransmitting the 2xx; no AckTimeout after our own BYE.
            call.invite.state = InviteState::Done;
            call.invite.generation += 1;
        }
        self.send_in_dialog(now, key, Method::Bye, &headers, None)
    }

    /// Send an INFO in an answered call (e.g. `application/dtmf-relay`).
    pub fn send_info(
        &mut self,
        now: Instant,
        key: CallKey,
        content_type: &str,
        body: Bytes,
    ) -> Result<(), EndpointError> {
        self.now = Some(now);
        let call = self
            .calls
            .get(&key)
            .filter(|c| !c.forgotten)
            .ok_or(EndpointError::UnknownCall)?;
        if call.dialog.is_none() {
            return Err(EndpointError::NotAnswered);
        }
        if call.ended {
            return Err(EndpointError::DialogEnded);
        }
        self.send_in_dialog(now, key, Method::Info, &[], Some((content_type, &body)))
    }

    /// The application is done with the call: no more events. Live transactions finish
    /// (a final response keeps being retransmitted until its ACK) and the state is then
    /// dropped. A call forgotten **without** a final response gets none (silent drop):
    /// INVITE retransmissions are absorbed for 64·T1, then everything is gone.
    pub fn forget(&mut self, key: CallKey) {
        let now = self.now.unwrap_or_else(Instant::now);
        let t1 = self.cfg.t1;
        let Some(call) = self.calls.get_mut(&key) else {
            return;
        };
        call.forgotten = true;
        if call.invite.state == InviteState::Proceeding {
            call.invite.state = InviteState::Abandoned;
            call.invite.generation += 1;
            self.timers.push(now + t1 * 64, Timer::Abandon { key });
        }
        self.maybe_remove(key);
    }

    /// Like [`Endpoint::forget`], but a call without a final response is first answered
    /// `500` (what the shell does when every handle of a call is dropped).
    pub fn release(&mut self, now: Instant, key: CallKey) {
        let unanswered = self
            .calls
            .get(&key)
            .is_some_and(|c| !c.forgotten && c.invite.state == InviteState::Proceeding);
        if unanswered {
            let _ = self.respond(now, key, Reply::new(500, "Server Internal Error"));
        }
        self.forget(key);
    }

    /// Arm the timers after a final response: 2xx → Accepted (retransmit until ACK, ACK
    /// wait 64·T1); non-2xx → Completed (Timer G over UDP, Timer H).
    pub(super) fn arm_final(
        &mut self,
        now: Instant,
        key: CallKey,
        rk: Option<RequestKey>,
        is_2xx: bool,
    ) {
        let t1 = self.cfg.t1;
        let Some(call) = self.calls.get_mut(&key) else {
            return;
        };
        let tx = match rk {
            Some(_) => match call.reinvite.as_deref_mut() {
                Some((_, t)) => t,
                None => return,
            },
            None => &mut call.invite,
        };
        tx.state = if is_2xx {
            InviteState::Accepted
        } else {
            InviteState::Completed
        };
        tx.generation += 1;
        tx.interval = t1;
        let generation = tx.generation;
        let reinvite = rk.is_some();
        if !tx.flow.transport.is_reliable() {
            self.timers.push(
                now + t1,
                Timer::Invite {
                    key,
                    reinvite,
                    generation,
                    kind: InviteTimer::Retransmit,
                },
            );
        }
        self.timers.push(
            now + t1 * 64,
            Timer::Invite {
                key,
                reinvite,
                generation,
                kind: InviteTimer::Timeout,
            },
        );
    }
}
