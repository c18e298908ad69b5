//! The application's side of one call: [`CallHandle`] (commands to the driver) and the
//! [`CallEvent`]s it receives.
//!
//! Commands travel on an **unbounded** channel to the driver, so every method is
//! non-blocking and never fails; if the driver is gone they are silently dropped. When the
//! last clone of a handle is dropped, the driver releases the call: a call that never got
//! a final response is answered `500`, then forgotten (see `Endpoint::release`).

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::endpoint::{CallKey, Reply, RequestKey};
use crate::message::Request;

/// What happened to a call after the INVITE (see `endpoint::Event` for the semantics).
#[derive(Clone, Debug)]
pub enum CallEvent {
    /// CANCEL (or early BYE): 200 / 487 already sent.
    Cancelled,
    /// ACK for our 2xx.
    Acked,
    /// No ACK for our 2xx within 64·T1: hang up with `bye`.
    AckTimeout,
    /// Re-INVITE: answer with [`CallHandle::respond_in_dialog`].
    ReInvite {
        req: RequestKey,
        request: Box<Request>,
    },
    /// INFO (already answered 200).
    Info { content_type: String, body: Bytes },
    /// The caller hung up (already answered 200).
    Bye,
    /// Final answer to our BYE (`None`: timeout).
    ByeCompleted { status: Option<u16> },
    /// Final answer to our INFO (`None`: timeout).
    InfoCompleted { status: Option<u16> },
    /// The TCP connection carrying the call closed.
    TransportError,
    /// The endpoint dropped the call (rejected call finished); no more events.
    Terminated,
}

#[derive(Debug)]
pub(crate) enum Command {
    Respond(CallKey, Reply),
    RespondInDialog(RequestKey, Reply),
    Bye(CallKey, Vec<(String, String)>),
    Info(CallKey, String, Bytes),
    Forget(CallKey),
    Release(CallKey),
    Shutdown,
}

#[derive(Debug)]
struct Inner {
    key: CallKey,
    cmd: mpsc::UnboundedSender<Command>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let _ = self.cmd.send(Command::Release(self.key));
    }
}

/// Cheap-to-clone handle to command one call.
#[derive(Clone, Debug)]
pub struct CallHandle {
    inner: Arc<Inner>,
}

impl CallHandle {
    pub(crate) fn new(key: CallKey, cmd: mpsc::UnboundedSender<Command>) -> CallHandle {
        CallHandle {
            inner: Arc::new(Inner { key, cmd }),
        }
    }

    pub fn key(&self) -> CallKey {
        self.inner.key
    }

    fn send(&self, c: Command) {
        let _ = self.inner.cmd.send(c);
    }

    /// Provisional or final response to the INVITE.
    pub fn respond(&self, reply: Reply) {
        self.send(Command::Respond(self.inner.key, reply));
    }

    /// Answer a re-INVITE.
    pub fn respond_in_dialog(&self, req: RequestKey, reply: Reply) {
        self.send(Command::RespondInDialog(req, reply));
    }

    /// Hang up an answered call (refused by the endpoint before the 2xx).
    pub fn bye(&self, headers: Vec<(String, String)>) {
        self.send(Command::Bye(self.inner.key, headers));
    }

    /// Send an INFO (e.g. DTMF relay).
    pub fn info(&self, content_type: impl Into<String>, body: Bytes) {
        self.send(Command::Info(self.inner.key, content_type.into(), body));
    }

    /// Done with the call: no more events; see `Endpoint::forget` (no automatic 500).
    pub fn forget(&self) {
        self.send(Command::Forget(self.inner.key));
    }
}
