//! [`start`]: binds a port pair and spawns the task that runs one call's [`RtpSession`].
//!
//! One task, one `select!` over a 20 ms `tokio::time::interval`, the RTP socket, the RTCP
//! socket and the stop signal. On each tick it sends every packet the session says is due,
//! an RTCP report when due, and checks the media timeout; on each datagram it feeds the
//! session. Events go out on a bounded channel.
//!
//! The interval uses [`MissedTickBehavior::Burst`]: missed ticks fire back to back, so the
//! interval stays phase-locked to the absolute 20 ms grid that the session's own schedule
//! (and the RTP timestamps) follow, and a short scheduling hiccup is caught up at once
//! rather than shifting every later packet. The session decides what is actually due, caps
//! a burst at five packets and skips ahead after a longer stall, so `Burst` can never
//! flood the peer; `Delay` would instead drift the wake-ups off the grid and add up to a
//! tick of jitter to every packet after a hiccup.

use std::io;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::net::UdpSocket;
use tokio::sync::{Notify, mpsc};
use tokio::time::{Instant, MissedTickBehavior};

use super::MediaEvent;
use super::handle::{MediaHandle, Shared};
use super::port_pool::{PortLease, PortPool};
use crate::sdp::Negotiated;
use crate::session::{FRAME_SAMPLES, MAX_PACKET_LEN, PTIME, RtpSession, SessionConfig, Timeouts};

/// A 20 ms frame of decoded caller audio (8 kHz PCM16).
pub type AudioFrame = [i16; FRAME_SAMPLES];

/// Capacity of the event channel; events beyond it are dropped if the receiver lags.
pub const EVENT_CHANNEL_CAPACITY: usize = 256;

/// Where and how to run the media of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaConfig {
    /// Address the sockets bind to.
    pub bind_ip: IpAddr,
    /// Address announced in SDP (differs from `bind_ip` behind NAT or when binding 0.0.0.0).
    pub advertise_ip: IpAddr,
    /// Media timeouts.
    pub timeouts: Timeouts,
}

/// Binds an RTP/RTCP pair from `pool`, spawns the media task for `negotiated` and returns
/// its handle and event receiver. `rng_seed` seeds the SSRC and initial sequence number
/// and timestamp (pass a random one in production).
pub async fn start(
    config: MediaConfig,
    pool: &PortPool,
    negotiated: Negotiated,
    rng_seed: u64,
) -> io::Result<(MediaHandle, mpsc::Receiver<MediaEvent>)> {
    let ports = pool.allocate(config.bind_ip)?;
    ports.rtp.set_nonblocking(true)?;
    ports.rtcp.set_nonblocking(true)?;
    let local_rtp = ports.rtp.local_addr()?;
    let rtp = UdpSocket::from_std(ports.rtp)?;
    let rtcp = UdpSocket::from_std(ports.rtcp)?;

    let session_config = SessionConfig {
        timeouts: config.timeouts,
        ..SessionConfig::default()
    };
    let now = Instant::now();
    let session = RtpSession::new(
        negotiated,
        session_config,
        now.into_std(),
        &mut StdRng::seed_from_u64(rng_seed),
    );
    let shared = Arc::new(Shared {
        session: std::sync::Mutex::new(session),
        audio_sink: Default::default(),
        stop: Notify::new(),
        stopped: AtomicBool::new(false),
        local_rtp,
        advertise_ip: config.advertise_ip,
    });
    let (events_tx, events_rx) = mpsc::channel(EVENT_CHANNEL_CAPACITY);
    tokio::spawn(run(
        Arc::clone(&shared),
        rtp,
        rtcp,
        events_tx,
        ports.lease,
        now,
    ));
    Ok((MediaHandle::new(shared), events_rx))
}

async fn run(
    shared: Arc<Shared>,
    rtp: UdpSocket,
    rtcp: UdpSocket,
    events: mpsc::Sender<MediaEvent>,
    lease: PortLease,
    start: Instant,
) {
    let mut interval = tokio::time::interval_at(start, PTIME);
    interval.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let mut rx_buf = [0u8; 2048];
    let mut rtcp_buf = [0u8; 1500];
    let mut tx_buf = [0u8; MAX_PACKET_LEN];
    let mut rr_buf = [0u8; 64];

    while !shared.is_stopped() {
        tokio::select! {
            _ = shared.stop.notified() => break,
            _ = interval.tick() => {
                let now = Instant::now().into_std();
                loop {
                    let transmit = shared.session().poll_transmit(now, &mut tx_buf);
                    let Some(t) = transmit else { break };
                    // A failed send (unreachable network, ...) is not fatal: the next
                    // tick tries again, and the media timeout ends a dead call.
                    let _ = rtp.send_to(&tx_buf[..t.len], t.to).await;
                }
                let report = {
                    let mut session = shared.session();
                    session.handle_timeout(now);
                    session.poll_rtcp(now, &mut rr_buf)
                };
                if let Some(t) = report {
                    let _ = rtcp.send_to(&rr_buf[..t.len], t.to).await;
                }
            }
            received = rtp.recv_from(&mut rx_buf) => {
                if let Ok((len, from)) = received {
                    let now = Instant::now().into_std();
                    let sink = shared.sink();
                    shared.session().handle_packet(now, from, &rx_buf[..len], |frame| {
                        if let (Some(sink), Ok(frame)) = (&sink, <&AudioFrame>::try_from(frame)) {
                            sink(frame);
                        }
                    });
                }
            }
            received = rtcp.recv_from(&mut rtcp_buf) => {
                if let Ok((len, from)) = received {
                    let now = Instant::now().into_std();
                    shared.session().handle_rtcp(now, from, &rtcp_buf[..len]);
                }
            }
        }
        loop {
            let event = shared.session().poll_event();
            let Some(event) = event else { break };
            // Dropped if the receiver lags by EVENT_CHANNEL_CAPACITY or is gone.
            let _ = events.try_send(event);
        }
    }
    drop(rtp);
    drop(rtcp);
    drop(lease);
}
