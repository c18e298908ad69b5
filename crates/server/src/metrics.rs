//! Prometheus metrics (text exposition format 0.0.4), hand-rolled: a few counter families
//! keyed by label values, fixed-bucket histograms, and gauges computed when scraped.
//!
//! Recording is a short mutex section per event (calls, not packets: media counters are
//! added once per call from the session's own counters), so no metrics crate is needed and
//! the output is exactly what `docs/operations.md` lists.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds (seconds) of the latency histograms' buckets.
const LATENCY_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0, 30.0,
];

#[derive(Clone, Debug, Default)]
struct Histogram {
    counts: [u64; LATENCY_BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, secs: f64) {
        for (i, le) in LATENCY_BUCKETS.iter().enumerate() {
            if secs <= *le {
                self.counts[i] += 1;
            }
        }
        self.count += 1;
        self.sum += secs;
    }

    fn render(&self, out: &mut String, name: &str) {
        for (i, le) in LATENCY_BUCKETS.iter().enumerate() {
            let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {}", self.counts[i]);
        }
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum {}", self.sum);
        let _ = writeln!(out, "{name}_count {}", self.count);
    }
}

/// Media counters of one finished call.
#[derive(Clone, Copy, Debug, Default)]
pub struct MediaTotals {
    pub packets_in: u64,
    pub bytes_in: u64,
    pub packets_out: u64,
    pub bytes_out: u64,
    pub lost: u64,
}

#[derive(Debug, Default)]
struct State {
    /// (reason, SIP status) → INVITEs.
    invites: BTreeMap<(String, u16), u64>,
    /// rule id → completed calls.
    completed: BTreeMap<String, u64>,
    setup: Histogram,
    dispatch: Histogram,
    /// "accepted" | "invalid" → PIN attempts.
    pin_attempts: BTreeMap<&'static str, u64>,
    media: MediaTotals,
    media_timeouts: u64,
    /// (method, HTTP status) → API requests.
    api: BTreeMap<(String, u16), u64>,
}

/// Values read at scrape time from the live registries.
#[derive(Debug, Default)]
pub struct Live {
    /// rule id ("" for calls without one yet) → calls in progress.
    pub calls_by_rule: BTreeMap<String, u64>,
    /// agent name → connected workers.
    pub workers_by_agent: BTreeMap<String, u64>,
    pub sip: Option<switchboard_sip::endpoint::Stats>,
}

/// The process's metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    state: Mutex<State>,
}

/// Escapes a label value (backslash, quote, newline).
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.state.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// An INVITE got its final outcome (`status` 0 when no final answer was sent).
    pub fn invite(&self, reason: &str, status: u16) {
        self.with(|s| *s.invites.entry((reason.to_string(), status)).or_default() += 1);
    }

    pub fn completed(&self, rule_id: &str) {
        self.with(|s| *s.completed.entry(rule_id.to_string()).or_default() += 1);
    }

    /// INVITE → final answer (the 200 OK, or the rejection).
    pub fn setup_latency(&self, d: Duration) {
        self.with(|s| s.setup.observe(d.as_secs_f64()));
    }

    /// Job created → an agent ready.
    pub fn dispatch_latency(&self, d: Duration) {
        self.with(|s| s.dispatch.observe(d.as_secs_f64()));
    }

    pub fn pin_attempt(&self, accepted: bool) {
        let k = if accepted { "accepted" } else { "invalid" };
        self.with(|s| *s.pin_attempts.entry(k).or_default() += 1);
    }

    /// Adds a finished RTP session's counters.
    pub fn media(&self, m: MediaTotals, timed_out: bool) {
        self.with(|s| {
            s.media.packets_in += m.packets_in;
            s.media.bytes_in += m.bytes_in;
            s.media.packets_out += m.packets_out;
            s.media.bytes_out += m.bytes_out;
            s.media.lost += m.lost;
            s.media_timeouts += u64::from(timed_out);
        });
    }

    pub fn api_request(&self, method: &str, status: u16) {
        self.with(|s| *s.api.entry((method.to_string(), status)).or_default() += 1);
    }

    /// The exposition text.
    pub fn render(&self, live: &Live) -> String {
        let s = self.with(|s| {
            (
                s.invites.clone(),
                s.completed.clone(),
                s.setup.clone(),
                s.dispatch.clone(),
                s.pin_attempts.clone(),
                s.media,
                s.media_timeouts,
                s.api.clone(),
            )
        });
        let (invites, completed, setup, dispatch, pins, media, timeouts, api) = s;
        let mut out = String::with_capacity(4096);
        let family = |out: &mut String, name: &str, kind: &str, help: &str| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
        };
        family(
            &mut out,
            "switchboard_invites_total",
            "counter",
            "INVITEs by outcome reason and final SIP status (0: no final answer).",
        );
        for ((reason, status), n) in &invites {
            let _ = writeln!(
                out,
                "switchboard_invites_total{{reason=\"{}\",status=\"{status}\"}} {n}",
                label(reason)
            );
        }
        family(
            &mut out,
            "switchboard_calls_active",
            "gauge",
            "Calls in progress on this node, by dispatch rule.",
        );
        for (rule, n) in &live.calls_by_rule {
            let _ = writeln!(
                out,
                "switchboard_calls_active{{rule=\"{}\"}} {n}",
                label(rule)
            );
        }
        family(
            &mut out,
            "switchboard_calls_completed_total",
            "counter",
            "Answered calls that ended normally, by dispatch rule.",
        );
        for (rule, n) in &completed {
            let _ = writeln!(
                out,
                "switchboard_calls_completed_total{{rule=\"{}\"}} {n}",
                label(rule)
            );
        }
        family(
            &mut out,
            "switchboard_call_setup_seconds",
            "histogram",
            "INVITE to final answer (200 OK or rejection).",
        );
        setup.render(&mut out, "switchboard_call_setup_seconds");
        family(
            &mut out,
            "switchboard_agent_dispatch_seconds",
            "histogram",
            "Agent job created to the agent's ready.",
        );
        dispatch.render(&mut out, "switchboard_agent_dispatch_seconds");
        family(
            &mut out,
            "switchboard_pin_attempts_total",
            "counter",
            "PIN attempts by result.",
        );
        for result in ["accepted", "invalid"] {
            let n = pins.get(result).copied().unwrap_or(0);
            let _ = writeln!(
                out,
                "switchboard_pin_attempts_total{{result=\"{result}\"}} {n}"
            );
        }
        family(
            &mut out,
            "switchboard_rtp_packets_total",
            "counter",
            "RTP packets of finished calls, by direction.",
        );
        let _ = writeln!(
            out,
            "switchboard_rtp_packets_total{{direction=\"in\"}} {}",
            media.packets_in
        );
        let _ = writeln!(
            out,
            "switchboard_rtp_packets_total{{direction=\"out\"}} {}",
            media.packets_out
        );
        family(
            &mut out,
            "switchboard_rtp_bytes_total",
            "counter",
            "RTP payload bytes of finished calls, by direction.",
        );
        let _ = writeln!(
            out,
            "switchboard_rtp_bytes_total{{direction=\"in\"}} {}",
            media.bytes_in
        );
        let _ = writeln!(
            out,
            "switchboard_rtp_bytes_total{{direction=\"out\"}} {}",
            media.bytes_out
        );
        family(
            &mut out,
            "switchboard_rtp_packets_lost_total",
            "counter",
            "Caller RTP packets lost (sequence gaps) in finished calls.",
        );
        let _ = writeln!(out, "switchboard_rtp_packets_lost_total {}", media.lost);
        family(
            &mut out,
            "switchboard_media_timeouts_total",
            "counter",
            "Calls ended because no RTP arrived.",
        );
        let _ = writeln!(out, "switchboard_media_timeouts_total {timeouts}");
        family(
            &mut out,
            "switchboard_agent_workers",
            "gauge",
            "Connected agent workers by agent name (\"\" = automatic dispatch).",
        );
        for (name, n) in &live.workers_by_agent {
            let _ = writeln!(
                out,
                "switchboard_agent_workers{{agent_name=\"{}\"}} {n}",
                label(name)
            );
        }
        family(
            &mut out,
            "switchboard_api_requests_total",
            "counter",
            "HTTP API requests by method and status.",
        );
        for ((method, status), n) in &api {
            let _ = writeln!(
                out,
                "switchboard_api_requests_total{{method=\"{}\",code=\"{status}\"}} {n}",
                label(method)
            );
        }
        if let Some(sip) = &live.sip {
            family(
                &mut out,
                "switchboard_sip_messages_total",
                "counter",
                "SIP messages by kind (received, dropped unparsable, 400 sent, retransmissions absorbed and sent).",
            );
            for (kind, n) in [
                ("received", sip.messages_received),
                ("parse_error_dropped", sip.parse_errors_dropped),
                ("bad_request_sent", sip.bad_requests_sent),
                ("retransmission_absorbed", sip.retransmissions_absorbed),
                ("retransmission_sent", sip.retransmissions_sent),
                ("stray_response", sip.stray_responses),
            ] {
                let _ = writeln!(out, "switchboard_sip_messages_total{{kind=\"{kind}\"}} {n}");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_histograms_and_live_gauges() {
        let m = Metrics::default();
        m.invite("no_trunk", 404);
        m.invite("no_trunk", 404);
        m.invite("matched", 200);
        m.completed("SDR_a");
        m.setup_latency(Duration::from_micros(800));
        m.pin_attempt(false);
        m.media(
            MediaTotals {
                packets_in: 10,
                bytes_in: 1720,
                packets_out: 12,
                bytes_out: 2064,
                lost: 1,
            },
            true,
        );
        m.api_request("GET", 200);
        let mut live = Live::default();
        live.calls_by_rule.insert("SDR_\"x".into(), 2);
        live.workers_by_agent.insert("support".into(), 1);
        let text = m.render(&live);
        for line in [
            "switchboard_invites_total{reason=\"no_trunk\",status=\"404\"} 2",
            "switchboard_invites_total{reason=\"matched\",status=\"200\"} 1",
            "switchboard_calls_completed_total{rule=\"SDR_a\"} 1",
            "switchboard_calls_active{rule=\"SDR_\\\"x\"} 2",
            "switchboard_call_setup_seconds_bucket{le=\"0.0005\"} 0",
            "switchboard_call_setup_seconds_bucket{le=\"0.001\"} 1",
            "switchboard_call_setup_seconds_bucket{le=\"+Inf\"} 1",
            "switchboard_call_setup_seconds_count 1",
            "switchboard_pin_attempts_total{result=\"invalid\"} 1",
            "switchboard_pin_attempts_total{result=\"accepted\"} 0",
            "switchboard_rtp_packets_total{direction=\"in\"} 10",
            "switchboard_rtp_bytes_total{direction=\"out\"} 2064",
            "switchboard_rtp_packets_lost_total 1",
            "switchboard_media_timeouts_total 1",
            "switchboard_agent_workers{agent_name=\"support\"} 1",
            "switchboard_api_requests_total{method=\"GET\",code=\"200\"} 1",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in:\n{text}"
            );
        }
        // Every sample line belongs to a declared family.
        let declared: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        for l in text.lines().filter(|l| !l.starts_with('#')) {
            let name = l.split(['{', ' ']).next().unwrap_or("");
            assert!(
                declared.iter().any(|d| name.starts_with(d)),
                "{name} undeclared"
            );
        }
    }
}
