//! Per-call state: the INVITE server transaction (RFC 3261 §17.2.1 with the RFC 6026
//! Accepted state), the dialog it creates, a pending re-INVITE and our client
//! transactions (BYE, INFO).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use smallvec::SmallVec;

use super::{RequestKey, Transport};
use crate::message::{Message, Method};

/// Where a response (or our in-dialog request) goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Flow {
    pub(crate) transport: Transport,
    /// Our socket the request arrived on.
    pub(crate) local: SocketAddr,
    /// Destination: the source IP and the rport / sent-by port (UDP), the peer (TCP).
    pub(crate) remote: SocketAddr,
    /// The packet's source address (for `received` / `rport`).
    pub(crate) source: SocketAddr,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum InviteState {
    /// No final response yet.
    Proceeding,
    /// Forgotten by the application without a final response: absorbing retransmissions
    /// until 64·T1, then dropped.
    Abandoned,
    /// Non-2xx final sent, waiting for the ACK (Timers G, H).
    Completed,
    /// ACK for the non-2xx received (Timer I).
    Confirmed,
    /// 2xx sent, waiting for the ACK (RFC 6026 "Accepted", 2xx retransmitted).
    Accepted,
    /// 2xx ACKed, or the ACK wait timed out: the transaction is over, the dialog lives on.
    Done,
}

/// An INVITE server transaction (the initial INVITE or a re-INVITE).
#[derive(Debug)]
pub(crate) struct InviteTx {
    pub(crate) request: Message,
    pub(crate) tx_key: Arc<str>,
    pub(crate) flow: Flow,
    pub(crate) state: InviteState,
    pub(crate) last: Option<Bytes>,
    pub(crate) final_status: Option<u16>,
    pub(crate) interval: Duration,
    pub(crate) generation: u32,
}

impl InviteTx {
    pub(crate) fn new(request: Message, tx_key: Arc<str>, flow: Flow, t1: Duration) -> InviteTx {
        InviteTx {
            request,
            tx_key,
            flow,
            state: InviteState::Proceeding,
            last: None,
            final_status: None,
            interval: t1,
            generation: 0,
        }
    }

    pub(crate) fn cseq(&self) -> u32 {
        self.request.cseq().map_or(0, |c| c.number)
    }

    /// Whether timers or retransmissions still need this transaction.
    pub(crate) fn is_live(&self) -> bool {
        matches!(
            self.state,
            InviteState::Proceeding
                | InviteState::Abandoned
                | InviteState::Completed
                | InviteState::Confirmed
                | InviteState::Accepted
        )
    }

    pub(crate) fn approx_bytes(&self) -> usize {
        self.request.as_bytes().len()
            + if self.request.headers.spilled() {
                self.request.headers.capacity() * 20
            } else {
                0
            }
            + self.last.as_ref().map_or(0, Bytes::len)
            + self.tx_key.len()
            + 32
    }
}

/// A BYE or INFO we sent (non-INVITE client transaction, Timers E and F).
#[derive(Debug)]
pub(crate) struct ClientTx {
    pub(crate) id: u64,
    pub(crate) branch: Arc<str>,
    pub(crate) method: Method,
    pub(crate) data: Bytes,
    pub(crate) interval: Duration,
    pub(crate) generation: u32,
}

/// Dialog state beyond what the INVITE itself carries.
#[derive(Debug, Default)]
pub(crate) struct Dialog {
    /// Highest CSeq seen from the caller.
    pub(crate) remote_cseq: u32,
    /// Our CSeq counter (starts at the INVITE's number; the first BYE uses +1).
    pub(crate) local_cseq: u32,
    /// Remote target updated by a re-INVITE's Contact.
    pub(crate) remote_target: Option<Box<str>>,
}

/// Everything the endpoint keeps for one call.
#[derive(Debug)]
pub(crate) struct Call {
    pub(crate) local_tag: Arc<str>,
    pub(crate) invite: InviteTx,
    /// Present once a 2xx was sent.
    pub(crate) dialog: Option<Dialog>,
    /// Boxed: rare, and it would double the size of every call.
    pub(crate) reinvite: Option<Box<(RequestKey, InviteTx)>>,
    pub(crate) clients: SmallVec<[ClientTx; 1]>,
    /// The application called `forget`: no more events, removed when nothing is live.
    pub(crate) forgotten: bool,
    /// A BYE was sent or received.
    pub(crate) ended: bool,
}

impl Call {
    pub(crate) fn has_live_transactions(&self) -> bool {
        self.invite.is_live() || self.reinvite.is_some() || !self.clients.is_empty()
    }

    /// Approximate memory held by this call (struct + owned buffers), for budgeting.
    pub(crate) fn approx_bytes(&self) -> usize {
        std::mem::size_of::<Call>()
            + self.invite.approx_bytes()
            + self.local_tag.len()
            + self.reinvite.as_deref().map_or(0, |(_, t)| {
                t.approx_bytes() + std::mem::size_of::<InviteTx>()
            })
            + self
                .clients
                .iter()
                .map(|c| c.data.len() + c.branch.len())
                .sum::<usize>()
            + self
                .dialog
                .as_ref()
                .map_or(0, |d| d.remote_target.as_ref().map_or(0, |t| t.len()))
    }
}
