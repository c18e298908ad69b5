//! Configuration of the call path: SIP listeners and behaviour, RTP media, and the node.
//!
//! ```toml
//! [sip]
//! udp = ["127.0.0.1:5060"]          # listen addresses; [] disables the transport
//! tcp = ["127.0.0.1:5060"]
//! sha256 = false                    # also challenge with SHA-256 (RFC 8760), MD5 listed first
//! on_unmatched = "answer"           # or "drop": LiveKit's silent drop for unmatched INVITEs
//! ringing_interval_ms = 1000        # 180 Ringing refresh
//! max_calls_in_setup = 2000         # beyond this, new INVITEs get 503 + Retry-After
//! invites_per_source_per_sec = 500  # INVITE flood throttle per source IP; 0 = off (--dev: 0)
//! auth_failures_per_source_per_min = 20   # digest brute-force throttle; 0 = off
//! nonce_secret = "…"                # default: derived from the first API secret
//!
//! [media]
//! ip = "127.0.0.1"                  # address RTP binds to and advertises in SDP
//! advertise_ip = "203.0.113.7"      # optional, when behind NAT
//! rtp_ports = "10000-20000"
//! timeout_secs = 15                 # no RTP for this long after media started ends the call
//! initial_timeout_secs = 30         # no RTP at all this long after answer ends the call
//!
//! [node]
//! id = "node-a"                     # default: the host name
//! ```

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde::Deserialize;

pub const DEFAULT_SIP_LISTEN: &str = "127.0.0.1:5060";

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SipConfig {
    pub udp: Option<Vec<String>>,
    pub tcp: Option<Vec<String>>,
    pub sha256: bool,
    pub on_unmatched: Option<String>,
    pub ringing_interval_ms: Option<u64>,
    pub max_calls_in_setup: Option<usize>,
    pub invites_per_source_per_sec: Option<u32>,
    pub auth_failures_per_source_per_min: Option<u32>,
    pub nonce_secret: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MediaSection {
    pub ip: Option<String>,
    pub advertise_ip: Option<String>,
    pub rtp_ports: Option<String>,
    pub timeout_secs: Option<u64>,
    pub initial_timeout_secs: Option<u64>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NodeConfig {
    pub id: Option<String>,
}

/// The resolved call-path settings.
#[derive(Clone, Debug)]
pub struct CallPathSettings {
    pub sip_udp: Vec<SocketAddr>,
    pub sip_tcp: Vec<SocketAddr>,
    pub sha256: bool,
    /// `on_unmatched = "drop"`: unmatched INVITEs get no final answer.
    pub drop_unmatched: bool,
    pub ringing_interval: Duration,
    pub max_calls_in_setup: usize,
    pub invites_per_source_per_sec: u32,
    pub auth_failures_per_source_per_min: u32,
    pub nonce_secret: Option<String>,
    pub media_ip: IpAddr,
    pub advertise_ip: IpAddr,
    pub rtp_ports: (u16, u16),
    pub media_timeout: Duration,
    pub media_initial_timeout: Duration,
    pub node_id: String,
}

fn addrs(list: &[String], what: &str) -> Result<Vec<SocketAddr>, String> {
    list.iter()
        .map(|a| {
            a.parse::<SocketAddr>().map_err(|_| {
                format!("[sip] {what} entry {a:?} is not an IP:port address, e.g. 0.0.0.0:5060")
            })
        })
        .collect()
}

/// Parses `10000-20000`.
pub fn parse_port_range(s: &str) -> Result<(u16, u16), String> {
    let err = || {
        format!(
            "RTP port range {s:?} is not MIN-MAX with 1024 <= MIN < MAX <= 65535, e.g. 10000-20000"
        )
    };
    let (a, b) = s.split_once('-').ok_or_else(err)?;
    let a: u16 = a.trim().parse().map_err(|_| err())?;
    let b: u16 = b.trim().parse().map_err(|_| err())?;
    if a < 1024 || a >= b {
        return Err(err());
    }
    Ok((a, b))
}

fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_string())
                .filter(|h| !h.is_empty())
        })
        .unwrap_or_else(|| "switchboard".to_string())
}

/// Command-line overrides for the call path.
#[derive(Clone, Debug, Default)]
pub struct CallPathOverrides {
    /// `serve --dev`: development defaults (no per-source INVITE throttle: on loopback
    /// every test client and load generator is one source).
    pub dev: bool,
    /// `--sip ADDR`: UDP and TCP both listen there.
    pub sip: Option<String>,
    /// `--rtp-ports MIN-MAX`.
    pub rtp_ports: Option<String>,
}

pub fn resolve(
    sip: SipConfig,
    media: MediaSection,
    node: NodeConfig,
    o: &CallPathOverrides,
) -> Result<CallPathSettings, String> {
    let default_listen = || vec![DEFAULT_SIP_LISTEN.to_string()];
    let (udp, tcp) = match &o.sip {
        Some(a) => (vec![a.clone()], vec![a.clone()]),
        None => (
            sip.udp.unwrap_or_else(default_listen),
            sip.tcp.unwrap_or_else(default_listen),
        ),
    };
    let drop_unmatched = match sip.on_unmatched.as_deref() {
        None | Some("answer") => false,
        Some("drop") => true,
        Some(other) => {
            return Err(format!(
                "[sip] on_unmatched = {other:?} is not valid; use \"answer\" (the default) or \"drop\""
            ));
        }
    };
    let ringing_ms = sip.ringing_interval_ms.unwrap_or(1000);
    if !(100..=60_000).contains(&ringing_ms) {
        return Err(format!(
            "[sip] ringing_interval_ms = {ringing_ms} is out of range; use 100 to 60000"
        ));
    }
    let media_ip: IpAddr = match media.ip.as_deref() {
        None => IpAddr::from([127, 0, 0, 1]),
        Some(s) => s.parse().map_err(|_| {
            format!("[media] ip = {s:?} is not an IP address; use e.g. 0.0.0.0 or 192.0.2.10")
        })?,
    };
    let advertise_ip = match media.advertise_ip.as_deref() {
        None if media_ip.is_unspecified() => {
            return Err("[media] ip is a wildcard address; set [media] advertise_ip to the address callers should send RTP to".into());
        }
        None => media_ip,
        Some(s) => s
            .parse()
            .map_err(|_| format!("[media] advertise_ip = {s:?} is not an IP address"))?,
    };
    let rtp_ports = parse_port_range(
        o.rtp_ports
            .as_deref()
            .or(media.rtp_ports.as_deref())
            .unwrap_or("10000-20000"),
    )?;
    let secs = |v: Option<u64>, default: u64, what: &str| -> Result<Duration, String> {
        let v = v.unwrap_or(default);
        if v == 0 || v > 600 {
            return Err(format!(
                "[media] {what} = {v} is out of range; use 1 to 600 seconds"
            ));
        }
        Ok(Duration::from_secs(v))
    };
    Ok(CallPathSettings {
        sip_udp: addrs(&udp, "udp")?,
        sip_tcp: addrs(&tcp, "tcp")?,
        sha256: sip.sha256,
        drop_unmatched,
        ringing_interval: Duration::from_millis(ringing_ms),
        max_calls_in_setup: sip.max_calls_in_setup.unwrap_or(2000).max(1),
        invites_per_source_per_sec: sip.invites_per_source_per_sec.unwrap_or(if o.dev {
            0
        } else {
            500
        }),
        auth_failures_per_source_per_min: sip.auth_failures_per_source_per_min.unwrap_or(20),
        nonce_secret: sip.nonce_secret.filter(|s| !s.is_empty()),
        media_ip,
        advertise_ip,
        rtp_ports,
        media_timeout: secs(media.timeout_secs, 15, "timeout_secs")?,
        media_initial_timeout: secs(media.initial_timeout_secs, 30, "initial_timeout_secs")?,
        node_id: node.id.filter(|s| !s.is_empty()).unwrap_or_else(host_name),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let s = resolve(
            SipConfig::default(),
            MediaSection::default(),
            NodeConfig::default(),
            &CallPathOverrides::default(),
        )
        .unwrap();
        assert_eq!(s.sip_udp, vec!["127.0.0.1:5060".parse().unwrap()]);
        assert_eq!(s.sip_tcp, s.sip_udp);
        assert_eq!(s.rtp_ports, (10000, 20000));
        assert!(!s.drop_unmatched);
        assert!(!s.node_id.is_empty());
    }

    #[test]
    fn flag_overrides_both_transports() {
        let s = resolve(
            SipConfig {
                udp: Some(vec![]),
                ..Default::default()
            },
            MediaSection::default(),
            NodeConfig::default(),
            &CallPathOverrides {
                sip: Some("127.0.0.1:0".into()),
                rtp_ports: Some("30000-30100".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(s.sip_udp.len(), 1);
        assert_eq!(s.sip_tcp.len(), 1);
        assert_eq!(s.rtp_ports, (30000, 30100));
    }

    #[test]
    fn bad_values_are_explained() {
        let r = |sip: SipConfig, media: MediaSection| {
            resolve(
                sip,
                media,
                NodeConfig::default(),
                &CallPathOverrides::default(),
            )
            .unwrap_err()
        };
        let e = r(
            SipConfig {
                udp: Some(vec!["localhost".into()]),
                ..Default::default()
            },
            MediaSection::default(),
        );
        assert!(e.contains("IP:port"), "{e}");
        let e = r(
            SipConfig {
                on_unmatched: Some("ignore".into()),
                ..Default::default()
            },
            MediaSection::default(),
        );
        assert!(e.contains("\"drop\""), "{e}");
        let e = r(
            SipConfig::default(),
            MediaSection {
                ip: Some("0.0.0.0".into()),
                ..Default::default()
            },
        );
        assert!(e.contains("advertise_ip"), "{e}");
        for bad in ["", "10", "20000-10000", "80-90", "1-x", "10000-70000"] {
            assert!(parse_port_range(bad).is_err(), "{bad}");
        }
    }
}
