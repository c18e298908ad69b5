//! The endpoint's timer queue: a binary heap of `(deadline, seq, Timer)`.
//!
//! Cancelling is lazy: a timer names its transaction and the generation it was armed for;
//! when it fires after the transaction moved on (generation bumped) or vanished, it is
//! ignored. Push and pop are O(log n); nothing ever scans.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;
use std::time::Instant;

use super::CallKey;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum InviteTimer {
    /// Timer G (non-2xx) or 2xx retransmission.
    Retransmit,
    /// Timer H (non-2xx) or the 2xx ACK wait (64·T1).
    Timeout,
    /// Timer I: absorb ACK retransmissions after the ACK.
    Confirmed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum ClientTimer {
    /// Timer E.
    Retransmit,
    /// Timer F.
    Timeout,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Timer {
    Invite {
        key: CallKey,
        reinvite: bool,
        generation: u32,
        kind: InviteTimer,
    },
    /// A forgotten, never-answered call stops absorbing retransmissions.
    Abandon { key: CallKey },
    Client {
        key: CallKey,
        id: u64,
        generation: u32,
        kind: ClientTimer,
    },
    /// Timer J of a non-INVITE server transaction.
    NonInvite { tx: Arc<str> },
}

#[derive(Debug, Default)]
pub(crate) struct TimerQueue {
    heap: BinaryHeap<Reverse<(Instant, u64, Timer)>>,
    seq: u64,
}

impl TimerQueue {
    pub(crate) fn push(&mut self, at: Instant, timer: Timer) {
        self.seq = self.seq.wrapping_add(1);
        self.heap.push(Reverse((at, self.seq, timer)));
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _, _))| *at)
    }

    /// The earliest timer due at `now`, removed from the queue.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<Timer> {
        if self.next_deadline()? > now {
            return None;
        }
        self.heap.pop().map(|Reverse((_, _, t))| t)
    }

    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }
}
