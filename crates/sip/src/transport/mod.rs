//! The tokio shell around the [`Endpoint`]: UDP and TCP sockets, one driver task, and
//! per-call channels for the application.
//!
//! ```text
//!  UDP recv task(s) ─┐ batches                       ┌─ mpsc<IncomingCall> (bounded: full ⇒ 503)
//!  TCP reader tasks ─┼──────────► driver task ───────┤
//!  CallHandle cmds ──┘ (unbounded) (owns Endpoint,   └─ per-call mpsc<CallEvent>
//!                                  timers, writes)
//! ```
//!
//! `call.rs`: [`CallHandle`], [`CallEvent`]; `driver.rs`: the loop; `udp.rs`, `tcp.rs`:
//! socket tasks.

mod call;
mod driver;
mod tcp;
mod udp;

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use rustc_hash::FxHashMap;
use tokio::sync::mpsc;

pub use call::{CallEvent, CallHandle};

use crate::endpoint::{Endpoint, EndpointConfig, Stats};
use crate::message::Request;
use call::Command;
use driver::Driver;

/// Listening addresses and knobs.
#[derive(Clone, Debug)]
pub struct TransportConfig {
    /// UDP sockets to bind (port 0 = any free port).
    pub udp: Vec<SocketAddr>,
    /// TCP listeners to bind.
    pub tcp: Vec<SocketAddr>,
    pub endpoint: EndpointConfig,
    /// Capacity of the [`IncomingCall`] queue; when full, new INVITEs get `503` +
    /// `Retry-After: 5`.
    pub incoming_queue: usize,
    /// SO_RCVBUF / SO_SNDBUF for UDP sockets (capped by the kernel's rmem_max/wmem_max).
    pub udp_buffer: Option<usize>,
}

impl Default for TransportConfig {
    fn default() -> Self {
        TransportConfig {
            udp: Vec::new(),
            tcp: Vec::new(),
            endpoint: EndpointConfig::default(),
            incoming_queue: 4096,
            udp_buffer: Some(4 * 1024 * 1024),
        }
    }
}

/// How the INVITE arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransportKind {
    Udp,
    Tcp,
}

/// A new call (`100 Trying` already sent). Dropping every clone of `handle` releases the
/// call (500 if it was never answered).
#[derive(Debug)]
pub struct IncomingCall {
    pub request: Request,
    pub remote: SocketAddr,
    pub transport: TransportKind,
    pub handle: CallHandle,
    pub events: mpsc::UnboundedReceiver<CallEvent>,
}

/// The running SIP stack.
#[derive(Debug, Clone)]
pub struct SipHandle {
    local_udp: Vec<SocketAddr>,
    local_tcp: Vec<SocketAddr>,
    stats: Arc<Mutex<Stats>>,
    cmd: mpsc::UnboundedSender<Command>,
}

impl SipHandle {
    /// Bound UDP addresses (ports resolved).
    pub fn local_udp(&self) -> &[SocketAddr] {
        &self.local_udp
    }

    /// Bound TCP addresses (ports resolved).
    pub fn local_tcp(&self) -> &[SocketAddr] {
        &self.local_tcp
    }

    /// Endpoint counters as of the driver's last loop iteration.
    pub fn stats(&self) -> Stats {
        self.stats.lock().map(|s| *s).unwrap_or_default()
    }

    /// Stop the driver (socket tasks end when they next touch the closed channel).
    pub fn shutdown(&self) {
        let _ = self.cmd.send(Command::Shutdown);
    }
}

/// Bind the sockets and spawn the driver. Must run inside a tokio runtime.
pub async fn start(
    config: TransportConfig,
) -> io::Result<(SipHandle, mpsc::Receiver<IncomingCall>)> {
    let (net_tx, net_rx) = mpsc::channel(4096);
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let (in_tx, in_rx) = mpsc::channel(config.incoming_queue.max(1));
    let mut udp = Vec::new();
    for addr in &config.udp {
        let sock = Arc::new(udp::bind(*addr, config.udp_buffer).await?);
        let local = sock.local_addr()?;
        udp.push((local, sock));
    }
    let mut listeners = Vec::new();
    for addr in &config.tcp {
        let l = tokio::net::TcpListener::bind(addr).await?;
        let local = l.local_addr()?;
        listeners.push((local, l));
    }
    let local_udp: Vec<SocketAddr> = udp.iter().map(|(a, _)| *a).collect();
    let local_tcp: Vec<SocketAddr> = listeners.iter().map(|(a, _)| *a).collect();
    for (local, sock) in &udp {
        tokio::spawn(udp::recv_loop(sock.clone(), *local, net_tx.clone()));
    }
    let ids = Arc::new(AtomicU64::new(1));
    for (local, l) in listeners {
        tokio::spawn(tcp::accept_loop(l, local, ids.clone(), net_tx.clone()));
    }
    let stats = Arc::new(Mutex::new(Stats::default()));
    let driver = Driver {
        ep: Endpoint::new(config.endpoint),
        udp,
        tcp: FxHashMap::default(),
        calls: FxHashMap::default(),
        incoming: in_tx,
        cmd_tx: cmd_tx.clone(),
        cmd_rx,
        net_rx,
        stats: stats.clone(),
    };
    tokio::spawn(driver.run());
    Ok((
        SipHandle {
            local_udp,
            local_tcp,
            stats,
            cmd: cmd_tx,
        },
        in_rx,
    ))
}
