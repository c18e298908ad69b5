//! The call path: the only place that knows the whole story of a call (SPEC §3–§6, §8).
//!
//! The SIP layer hands over each new INVITE as an [`IncomingCall`]; [`CallPath::run`]
//! spawns one task per call, which
//!
//! 1. admits it (node setup limit and per-source flood throttle → `503`),
//! 2. writes its call record,
//! 3. routes it on the live snapshot (trunk, rule, route policy), then authorizes it against
//!    the matched trunk (digest challenge / `403`) before acting on the routing verdict —
//!    so an unauthenticated caller learns nothing about the rules,
//! 4. takes a capacity slot in the store when the route has `max_concurrent_calls`
//!    (re-routing to the `over_capacity` action when it cannot),
//! 5. negotiates media, rings, and answers — or answers first and runs PIN entry,
//! 6. stays with the call until someone hangs up, and closes the record.
//!
//! Submodules: [`flow`] (the per-call task: admission to routing), `answer` (ringing and
//! answering), `pin_stage` (the PIN prompt), `in_call` (an answered call), `media` (SDP
//! and RTP glue), [`auth`] (digest), [`pin`] (PIN entry),
//! [`throttle`] (rate limits), [`record`] (batched call-record writer), [`live`] (the
//! live-call registry), [`facts`] (what routing needs from the INVITE).

mod answer;
pub mod auth;
pub mod facts;
mod flow;
mod in_call;
pub mod live;
mod media;
pub mod pin;
mod pin_stage;
pub mod record;
pub mod throttle;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use switchboard_media::PortPool;
use switchboard_sip::digest::NonceKey;
use switchboard_sip::transport::IncomingCall;
use switchboard_store::Store;
use tokio::sync::mpsc;

use crate::config::CallPathSettings;
use crate::rooms::Rooms;
use crate::service::ConfigService;
use live::LiveCalls;
use record::Recorder;
use throttle::SourceLimiter;

/// Most source addresses the throttles keep state for.
const MAX_THROTTLED_SOURCES: usize = 100_000;

/// Everything the call tasks share.
pub struct CallPath {
    pub service: Arc<ConfigService>,
    pub store: Arc<dyn Store>,
    pub rooms: Arc<Rooms>,
    pub live: Arc<LiveCalls>,
    pub recorder: Recorder,
    pub settings: CallPathSettings,
    pub ports: Arc<PortPool>,
    nonce: NonceKey,
    in_setup: Arc<AtomicUsize>,
    invites: Mutex<SourceLimiter>,
    auth_failures: Mutex<SourceLimiter>,
}

/// Counts a call as "in setup" until dropped.
pub struct SetupGuard(Arc<AtomicUsize>);

impl Drop for SetupGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl CallPath {
    pub fn new(
        service: Arc<ConfigService>,
        store: Arc<dyn Store>,
        rooms: Arc<Rooms>,
        recorder: Recorder,
        settings: CallPathSettings,
        ports: Arc<PortPool>,
        nonce_secret: &[u8],
    ) -> CallPath {
        let invites = SourceLimiter::new(
            settings.invites_per_source_per_sec,
            Duration::from_secs(1),
            settings.invites_per_source_per_sec.saturating_mul(2),
            MAX_THROTTLED_SOURCES,
        );
        let auth_failures = SourceLimiter::new(
            settings.auth_failures_per_source_per_min,
            Duration::from_secs(60),
            settings.auth_failures_per_source_per_min,
            MAX_THROTTLED_SOURCES,
        );
        CallPath {
            service,
            store,
            rooms,
            live: Arc::new(LiveCalls::default()),
            recorder,
            settings,
            ports,
            nonce: NonceKey::new(nonce_secret),
            in_setup: Arc::new(AtomicUsize::new(0)),
            invites: Mutex::new(invites),
            auth_failures: Mutex::new(auth_failures),
        }
    }

    /// Takes each new INVITE from the SIP layer and runs it in its own task.
    pub async fn run(self: Arc<Self>, mut incoming: mpsc::Receiver<IncomingCall>) {
        while let Some(call) = incoming.recv().await {
            let path = self.clone();
            tokio::spawn(async move { flow::handle(path, call).await });
        }
    }

    /// Counts one more call in setup, or `None` when the node is at its limit.
    fn enter_setup(&self) -> Option<SetupGuard> {
        let n = self.in_setup.fetch_add(1, Ordering::Relaxed);
        let guard = SetupGuard(self.in_setup.clone());
        (n < self.settings.max_calls_in_setup).then_some(guard)
    }

    fn flood_allows(&self, ip: std::net::IpAddr) -> bool {
        self.invites
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take(ip, Instant::now())
    }

    fn auth_failures_allow(&self, ip: std::net::IpAddr) -> bool {
        self.auth_failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .allows(ip, Instant::now())
    }

    fn count_auth_failure(&self, ip: std::net::IpAddr) {
        self.auth_failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take(ip, Instant::now());
    }
}
