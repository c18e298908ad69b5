//! What the call path needs from an INVITE, copied out of the SIP layer's message once,
//! so that routing, records and the call task work with plain strings.

use std::net::SocketAddr;

use sha2::{Digest, Sha256};
use switchboard_sip::transport::{IncomingCall, TransportKind};

/// The routing facts and identifiers of one INVITE.
#[derive(Clone, Debug)]
pub struct InviteFacts {
    pub sip_call_id: String,
    pub from_tag: String,
    /// From user, raw.
    pub caller: String,
    pub from_host: String,
    /// To user, raw.
    pub called: String,
    pub source: SocketAddr,
    /// "udp" | "tcp".
    pub transport: &'static str,
    /// Every header, in arrival order.
    pub headers: Vec<(String, String)>,
    /// `Authorization` and `Proxy-Authorization` values.
    pub credentials: Vec<String>,
    /// The SDP offer, when the INVITE carries one.
    pub sdp: Option<String>,
}

impl InviteFacts {
    pub fn of(call: &IncomingCall) -> InviteFacts {
        let r = &call.request;
        let mut headers = Vec::new();
        let mut credentials = Vec::new();
        for (name, value) in r.headers() {
            if name.eq_ignore_ascii_case("authorization")
                || name.eq_ignore_ascii_case("proxy-authorization")
            {
                credentials.push(value.to_string());
                // Credentials never become attributes or logs.
                continue;
            }
            headers.push((name.to_string(), value.to_string()));
        }
        let sdp = r
            .content_type()
            .filter(|ct| {
                ct.split(';')
                    .next()
                    .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/sdp"))
            })
            .and_then(|_| std::str::from_utf8(r.body()).ok())
            .filter(|b| !b.trim().is_empty())
            .map(str::to_string);
        let from = r.from();
        let to = r.to();
        InviteFacts {
            sip_call_id: r.call_id().unwrap_or_default().to_string(),
            from_tag: from
                .as_ref()
                .and_then(|f| f.tag)
                .unwrap_or_default()
                .to_string(),
            caller: from
                .as_ref()
                .and_then(|f| f.uri.user)
                .unwrap_or_default()
                .to_string(),
            from_host: from
                .as_ref()
                .map(|f| f.uri.host)
                .unwrap_or_default()
                .to_string(),
            called: to
                .as_ref()
                .and_then(|t| t.uri.user)
                .unwrap_or_default()
                .to_string(),
            source: call.remote,
            transport: match call.transport {
                TransportKind::Udp => "udp",
                TransportKind::Tcp => "tcp",
            },
            headers,
            credentials,
            sdp,
        }
    }

    /// switchboard's id for this call: derived from the SIP Call-ID, From tag and source,
    /// so the authenticated retry of a challenged INVITE (same Call-ID and tag) continues
    /// the same call record instead of starting a second one.
    pub fn call_id(&self) -> String {
        let mut h = Sha256::new();
        h.update(self.sip_call_id.as_bytes());
        h.update([0]);
        h.update(self.from_tag.as_bytes());
        h.update([0]);
        h.update(self.source.ip().to_string().as_bytes());
        let d = h.finalize();
        let mut n = [0u8; 16];
        n.copy_from_slice(&d[..16]);
        switchboard_dispatch::ids::new_id("SCL_", u128::from_be_bytes(n))
    }
}
