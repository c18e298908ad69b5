//! A job's media channel to its worker, as the job's task reads and writes it.
//!
//! The worker's media WebSocket is driven by the job's own task ([`MediaLink::Socket`]):
//! a 20 ms frame each way would otherwise cross a pump task and a channel in each
//! direction, two more thread wake-ups per frame, which on a busy node cost more than the
//! frame's resampling. Writes never wait: frames queue in the link (a worker that reads too
//! slowly loses audio rather than delaying it) and go out whenever the task polls
//! [`MediaLink::recv`], which it does after everything it handles. Tests drive the same
//! job logic through channels ([`MediaLink::Channels`]).

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use tokio::sync::mpsc;

use super::{OUT_QUEUE, WsIn, WsOut};

/// How long a closing socket gets to deliver what was queued and hear the peer's close.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// A media channel handed to a job.
#[derive(Debug)]
pub(crate) enum MediaLink {
    /// Frames through channels: the unit tests' fake peer.
    #[cfg_attr(not(test), allow(dead_code))]
    Channels {
        rx: mpsc::Receiver<WsIn>,
        tx: mpsc::Sender<WsOut>,
    },
    /// The WebSocket itself.
    Socket(Box<SocketLink>),
}

/// A WebSocket and the frames waiting to be written to it.
pub(crate) struct SocketLink {
    socket: WebSocket,
    out: VecDeque<Message>,
    /// Frames written since the last flush.
    unflushed: bool,
    /// A close frame is queued: nothing more is.
    closing: bool,
    failed: bool,
}

impl std::fmt::Debug for SocketLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SocketLink")
            .field("queued", &self.out.len())
            .finish()
    }
}

fn close_frame(code: u16, reason: String) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}

impl MediaLink {
    pub fn socket(socket: WebSocket) -> MediaLink {
        MediaLink::Socket(Box::new(SocketLink {
            socket,
            out: VecDeque::new(),
            unflushed: false,
            closing: false,
            failed: false,
        }))
    }

    /// Queues a frame for the worker; never waits. Dropped when [`OUT_QUEUE`] frames are
    /// already waiting, or after a close.
    pub fn send(&mut self, frame: WsOut) {
        match self {
            MediaLink::Channels { tx, .. } => {
                let _ = tx.try_send(frame);
            }
            MediaLink::Socket(s) => {
                if s.closing || s.out.len() >= OUT_QUEUE {
                    return;
                }
                s.out.push_back(match frame {
                    WsOut::Text(t) => Message::Text(t.into()),
                    WsOut::Binary(b) => Message::Binary(b.into()),
                    WsOut::Close(code, reason) => {
                        s.closing = true;
                        close_frame(code, reason)
                    }
                });
            }
        }
    }

    /// The next frame from the worker (`None`: the channel is closed or failed), writing
    /// the queued frames meanwhile. Cancel-safe: nothing is lost when the future is dropped.
    pub async fn recv(&mut self) -> Option<WsIn> {
        match self {
            MediaLink::Channels { rx, .. } => rx.recv().await,
            MediaLink::Socket(s) => std::future::poll_fn(|cx| s.poll_io(cx)).await,
        }
    }

    /// Closes the channel with `code` and `reason` after the frames queued; the closing
    /// handshake finishes in the background.
    pub fn close(self, code: u16, reason: &str) {
        match self {
            MediaLink::Channels { tx, .. } => {
                let _ = tx.try_send(WsOut::Close(code, reason.to_string()));
            }
            MediaLink::Socket(mut s) => {
                if !s.closing {
                    s.out.push_back(close_frame(code, reason.to_string()));
                }
                tokio::spawn(s.finish());
            }
        }
    }
}

impl SocketLink {
    fn poll_io(&mut self, cx: &mut Context<'_>) -> Poll<Option<WsIn>> {
        self.poll_write(cx);
        if self.failed {
            return Poll::Ready(None);
        }
        loop {
            let Poll::Ready(next) = Pin::new(&mut self.socket).poll_next(cx) else {
                return Poll::Pending;
            };
            let frame = match next {
                Some(Ok(Message::Text(t))) => WsIn::Text(t.as_str().to_owned()),
                Some(Ok(Message::Binary(b))) => WsIn::Binary(b.to_vec()),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(Message::Close(_)) | Err(_)) | None => {
                    self.failed = true;
                    return Poll::Ready(None);
                }
            };
            return Poll::Ready(Some(frame));
        }
    }

    /// Writes what the socket takes without waiting, then flushes.
    fn poll_write(&mut self, cx: &mut Context<'_>) {
        while !self.failed && !self.out.is_empty() {
            match Pin::new(&mut self.socket).poll_ready(cx) {
                Poll::Pending => break,
                Poll::Ready(Err(_)) => self.failed = true,
                Poll::Ready(Ok(())) => {
                    let Some(frame) = self.out.pop_front() else {
                        break;
                    };
                    match Pin::new(&mut self.socket).start_send(frame) {
                        Ok(()) => self.unflushed = true,
                        Err(_) => self.failed = true,
                    }
                }
            }
        }
        if self.unflushed && !self.failed {
            match Pin::new(&mut self.socket).poll_flush(cx) {
                Poll::Pending => {}
                Poll::Ready(Ok(())) => self.unflushed = false,
                Poll::Ready(Err(_)) => self.failed = true,
            }
        }
    }

    /// Delivers the queued frames (a close frame last), then lets the peer answer the
    /// close so that it sees a clean one.
    async fn finish(self: Box<Self>) {
        let SocketLink {
            mut socket, out, ..
        } = *self;
        let _ = tokio::time::timeout(CLOSE_GRACE, async {
            for frame in out {
                if socket.feed(frame).await.is_err() {
                    return;
                }
            }
            if socket.flush().await.is_err() {
                return;
            }
            while let Some(Ok(m)) = socket.next().await {
                if matches!(m, Message::Close(_)) {
                    break;
                }
            }
        })
        .await;
    }
}
