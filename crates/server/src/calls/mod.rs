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
//! answering), `pin_stage` (the PIN prompt), `in_call` (an answered call), `hub` and
//! `hub_task` (a room's agents and audio, shared by its callers), `room_audio` (the audio
//! paths that skip the hub's task), `media` (SDP
//! and RTP glue), [`auth`] (digest), [`pin`] (PIN entry),
//! [`throttle`] (rate limits), [`record`] (batched call-record writer), [`live`] (the
//! live-call registry), [`facts`] (what routing needs from the INVITE).

mod agent_jobs;
mod answer;
pub mod auth;
pub mod facts;
mod flow;
mod hub;
mod hub_task;
mod in_call;
pub mod live;
mod media;
pub mod pin;
mod pin_stage;
pub mod record;
mod room_audio;
pub mod throttle;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use switchboard_media::PortPool;
use switchboard_sip::digest::NonceKey;
use switchboard_sip::transport::IncomingCall;
use switchboard_store::Store;
use tokio::sync::mpsc;

use crate::config::CallPathSettings;
use crate::metrics::Metrics;
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
    pub metrics: Arc<Metrics>,
    pub agents: Arc<crate::agents::Agents>,
    pub webhooks: Arc<crate::webhooks::Webhooks>,
    /// The room hubs: each room's agent jobs and audio.
    hubs: hub::Hubs,
    /// The SIP stack, kept alive as long as the call path (and read for its counters).
    sip: std::sync::OnceLock<switchboard_sip::transport::SipHandle>,
    /// When each call's INVITE arrived, until its final answer (setup latency).
    arrivals: Mutex<HashMap<String, Instant>>,
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
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        service: Arc<ConfigService>,
        store: Arc<dyn Store>,
        rooms: Arc<Rooms>,
        recorder: Recorder,
        settings: CallPathSettings,
        ports: Arc<PortPool>,
        metrics: Arc<Metrics>,
        agents: Arc<crate::agents::Agents>,
        webhooks: Arc<crate::webhooks::Webhooks>,
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
            metrics,
            agents,
            webhooks,
            hubs: hub::Hubs::default(),
            sip: std::sync::OnceLock::new(),
            arrivals: Mutex::new(HashMap::new()),
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

    /// Keeps the SIP stack's handle (for its counters, and so it lives as long as we do).
    pub fn set_sip(&self, sip: switchboard_sip::transport::SipHandle) {
        let _ = self.sip.set(sip);
    }

    /// The SIP stack's counters.
    pub fn sip_stats(&self) -> Option<switchboard_sip::endpoint::Stats> {
        self.sip.get().map(|s| s.stats())
    }

    /// Notes the arrival of a call's INVITE.
    fn arrived(&self, call_id: &str) {
        self.arrivals
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(call_id.to_string(), Instant::now());
    }

    /// The INVITE got its final answer (`status` 0: none, a silent drop): counts the
    /// outcome and the setup latency, once per INVITE.
    pub(crate) fn final_answer(&self, call_id: &str, reason: &str, status: u16) {
        let arrived = self
            .arrivals
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(call_id);
        if let Some(t) = arrived {
            self.metrics.invite(reason, status);
            self.metrics.setup_latency(t.elapsed());
        }
    }

    /// Calls in progress by rule, for the metrics gauge.
    pub fn live_by_rule(&self) -> std::collections::BTreeMap<String, u64> {
        let mut m = std::collections::BTreeMap::new();
        for r in self.live.list() {
            *m.entry(r.rule_id.unwrap_or_default()).or_default() += 1;
        }
        m
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
