//! The driver task: owns the [`Endpoint`], feeds it network input, commands and timer
//! ticks, writes its transmits to the sockets and routes its events to per-call channels.
//! Nothing here can panic on network input: the endpoint never does, and every lookup is
//! checked.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use rustc_hash::FxHashMap;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::Instant as TokioInstant;

use super::call::{CallEvent, CallHandle, Command};
use super::{IncomingCall, TransportKind};
use crate::endpoint::{CallKey, Endpoint, Event, Input, Reply, Stats, Transport};

#[derive(Debug)]
pub(crate) struct Datagram {
    pub(crate) local: SocketAddr,
    pub(crate) remote: SocketAddr,
    pub(crate) data: Bytes,
}

#[derive(Debug)]
pub(crate) enum NetMsg {
    Udp(Vec<Datagram>),
    TcpOpen {
        id: u64,
        writer: mpsc::UnboundedSender<Bytes>,
    },
    TcpData {
        id: u64,
        local: SocketAddr,
        remote: SocketAddr,
        data: Bytes,
    },
    TcpClosed {
        id: u64,
    },
}

pub(crate) struct Driver {
    pub(crate) ep: Endpoint,
    pub(crate) udp: Vec<(SocketAddr, Arc<UdpSocket>)>,
    pub(crate) tcp: FxHashMap<u64, mpsc::UnboundedSender<Bytes>>,
    pub(crate) calls: FxHashMap<CallKey, mpsc::UnboundedSender<CallEvent>>,
    pub(crate) incoming: mpsc::Sender<IncomingCall>,
    pub(crate) cmd_tx: mpsc::UnboundedSender<Command>,
    pub(crate) cmd_rx: mpsc::UnboundedReceiver<Command>,
    pub(crate) net_rx: mpsc::Receiver<NetMsg>,
    pub(crate) stats: Arc<Mutex<Stats>>,
}

fn now() -> std::time::Instant {
    TokioInstant::now().into_std()
}

impl Driver {
    pub(crate) async fn run(mut self) {
        loop {
            let deadline = self.ep.poll_timeout().map(TokioInstant::from_std);
            tokio::select! {
                biased;
                cmd = self.cmd_rx.recv() => {
                    let Some(cmd) = cmd else { return };
                    if !self.command(cmd) {
                        return;
                    }
                    for _ in 0..256 {
                        match self.cmd_rx.try_recv() {
                            Ok(cmd) => if !self.command(cmd) { return },
                            Err(_) => break,
                        }
                    }
                }
                msg = self.net_rx.recv() => {
                    let Some(msg) = msg else { return };
                    self.net(msg);
                    for _ in 0..64 {
                        match self.net_rx.try_recv() {
                            Ok(msg) => self.net(msg),
                            Err(_) => break,
                        }
                    }
                }
                () = sleep_until(deadline), if deadline.is_some() => {}
            }
            self.ep.handle_timeout(now());
            self.flush().await;
            if let Ok(mut s) = self.stats.lock() {
                *s = self.ep.stats();
            }
        }
    }

    fn net(&mut self, msg: NetMsg) {
        let t = now();
        match msg {
            NetMsg::Udp(batch) => {
                for d in batch {
                    self.ep.handle_input(
                        t,
                        Input::Datagram {
                            transport: Transport::Udp,
                            local: d.local,
                            remote: d.remote,
                            data: d.data,
                        },
                    );
                }
            }
            NetMsg::TcpOpen { id, writer } => {
                self.tcp.insert(id, writer);
            }
            NetMsg::TcpData {
                id,
                local,
                remote,
                data,
            } => {
                self.ep.handle_input(
                    t,
                    Input::Datagram {
                        transport: Transport::Tcp(id),
                        local,
                        remote,
                        data,
                    },
                );
            }
            NetMsg::TcpClosed { id } => {
                self.tcp.remove(&id);
                self.ep
                    .handle_input(t, Input::ConnectionClosed { conn: id });
            }
        }
    }

    /// Apply one command; `false` = shut down.
    fn command(&mut self, cmd: Command) -> bool {
        let t = now();
        let res = match cmd {
            Command::Respond(k, r) => self.ep.respond(t, k, r),
            Command::RespondInDialog(rk, r) => self.ep.respond_in_dialog(t, rk, r),
            Command::Bye(k, h) => self.ep.send_bye(t, k, h),
            Command::Info(k, ct, body) => self.ep.send_info(t, k, &ct, body),
            Command::Forget(k) => {
                self.calls.remove(&k);
                self.ep.forget(k);
                Ok(())
            }
            Command::Release(k) => {
                self.calls.remove(&k);
                self.ep.release(t, k);
                Ok(())
            }
            Command::Shutdown => return false,
        };
        if let Err(e) = res {
            tracing::debug!(error = %e, "SIP command refused");
        }
        true
    }

    async fn flush(&mut self) {
        loop {
            let mut idle = true;
            while let Some(t) = self.ep.poll_transmit() {
                idle = false;
                match t.transport {
                    Transport::Udp => {
                        let sock = self
                            .udp
                            .iter()
                            .find(|(a, _)| *a == t.local)
                            .or_else(|| self.udp.first());
                        if let Some((_, s)) = sock {
                            match s.try_send_to(&t.data, t.remote) {
                                Ok(_) => {}
                                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                                    let _ = s.send_to(&t.data, t.remote).await;
                                }
                                Err(_) => {}
                            }
                        }
                    }
                    Transport::Tcp(id) => {
                        if let Some(w) = self.tcp.get(&id) {
                            let _ = w.send(t.data);
                        }
                    }
                }
            }
            while let Some(ev) = self.ep.poll_event() {
                idle = false;
                self.dispatch(ev);
            }
            if idle {
                return;
            }
        }
    }

    fn dispatch(&mut self, ev: Event) {
        let (key, ce) = match ev {
            Event::Invite {
                key,
                request,
                remote,
                transport,
            } => {
                let (etx, erx) = mpsc::unbounded_channel();
                let call = IncomingCall {
                    request,
                    remote,
                    transport: match transport {
                        Transport::Udp => TransportKind::Udp,
                        Transport::Tcp(_) => TransportKind::Tcp,
                    },
                    handle: CallHandle::new(key, self.cmd_tx.clone()),
                    events: erx,
                };
                match self.incoming.try_send(call) {
                    Ok(()) => {
                        self.calls.insert(key, etx);
                    }
                    Err(_) => {
                        // Overloaded (or nobody listening): shed with 503.
                        let reply =
                            Reply::new(503, "Service Unavailable").with_header("Retry-After", "5");
                        let _ = self.ep.respond(now(), key, reply);
                        self.ep.forget(key);
                    }
                }
                return;
            }
            Event::Cancelled { key } => (key, CallEvent::Cancelled),
            Event::Acked { key } => (key, CallEvent::Acked),
            Event::AckTimeout { key } => (key, CallEvent::AckTimeout),
            Event::ReInvite { key, req, request } => (
                key,
                CallEvent::ReInvite {
                    req,
                    request: Box::new(request),
                },
            ),
            Event::Info {
                key,
                content_type,
                body,
            } => (key, CallEvent::Info { content_type, body }),
            Event::Bye { key } => (key, CallEvent::Bye),
            Event::ByeCompleted { key, status } => (key, CallEvent::ByeCompleted { status }),
            Event::InfoCompleted { key, status } => (key, CallEvent::InfoCompleted { status }),
            Event::TransportError { key } => (key, CallEvent::TransportError),
            Event::Terminated { key } => {
                if let Some(tx) = self.calls.remove(&key) {
                    let _ = tx.send(CallEvent::Terminated);
                }
                return;
            }
        };
        if let Some(tx) = self.calls.get(&key) {
            let _ = tx.send(ce);
        }
    }
}

async fn sleep_until(deadline: Option<TokioInstant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
