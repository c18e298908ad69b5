//! The call path's use of the media crate: negotiate the caller's SDP offer, start the
//! RTP session on a port of the configured range, and write our answers.
//!
//! An INVITE without an SDP offer (a "late offer", where the answer would come in the ACK)
//! is refused with `488`: trunks that call voice agents send offers, and a late-offer
//! exchange is not implemented.

use std::sync::atomic::{AtomicU64, Ordering};

use switchboard_media::sdp::{self, Codec, Negotiated, SdpError, SessionDescription};
use switchboard_media::{MediaEvent, MediaHandle};
use tokio::sync::mpsc;

use switchboard_sip::endpoint::{Reply, RequestKey};
use switchboard_sip::transport::IncomingCall;
use switchboard_store::{CallRecord, FinalStatus};

use super::CallPath;
use super::flow::{reject, reply};

/// Our codec preference (SPEC: answer by our preference, not the offer's order).
pub const PREFERENCE: [Codec; 2] = [Codec::Pcmu, Codec::Pcma];

/// The result of looking at an offer.
enum Negotiation {
    Ok(Negotiated),
    /// Answer the INVITE with `status`; `reason` goes on the call record.
    Refuse {
        status: u16,
        reason: &'static str,
    },
}

fn negotiate(_path: &CallPath, offer: Option<&str>) -> Negotiation {
    let Some(offer) = offer else {
        return Negotiation::Refuse {
            status: 488,
            reason: "no_sdp_offer",
        };
    };
    let parsed = match SessionDescription::parse(offer.as_bytes()) {
        Ok(p) => p,
        Err(_) => {
            return Negotiation::Refuse {
                status: 400,
                reason: "malformed_sdp",
            };
        }
    };
    match sdp::negotiate(&parsed, &PREFERENCE) {
        Ok(n) => Negotiation::Ok(n),
        Err(SdpError::NoCommonCodec) => Negotiation::Refuse {
            status: 488,
            reason: "no_common_codec",
        },
        Err(_) => Negotiation::Refuse {
            status: 488,
            reason: "no_usable_audio",
        },
    }
}

/// Negotiates the INVITE's offer, or answers the INVITE with the refusal and closes the
/// record (`None`).
pub(super) fn negotiate_or_reject(
    path: &CallPath,
    call: &IncomingCall,
    rec: &mut CallRecord,
    offer: Option<&str>,
) -> Option<Negotiated> {
    match negotiate(path, offer) {
        Negotiation::Ok(n) => Some(n),
        Negotiation::Refuse { status, reason } => {
            reject(
                path,
                call,
                rec,
                refusal(status),
                FinalStatus::Rejected,
                reason,
            );
            None
        }
    }
}

fn refusal(status: u16) -> Reply {
    reply(
        status,
        if status == 488 {
            "Not Acceptable Here"
        } else {
            "Bad Request"
        },
    )
}

/// Starts the RTP session, or answers `503` (no port free) and closes the record (`None`).
pub(super) async fn start_or_reject(
    path: &CallPath,
    call: &IncomingCall,
    rec: &mut CallRecord,
    negotiated: &Negotiated,
) -> Option<Session> {
    match start(path, negotiated, &rec.id).await {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::error!(call_id = %rec.id, error = %e, "cannot start media");
            let r = reply(503, "Service Unavailable").with_header("Retry-After", "5");
            reject(path, call, rec, r, FinalStatus::Failed, "no_media_port");
            None
        }
    }
}

/// Answers a re-INVITE (hold, resume, a new address) on the running session.
pub(super) fn answer_reinvite(
    path: &CallPath,
    call: &IncomingCall,
    session: &Session,
    req: RequestKey,
    offer: &[u8],
) {
    match negotiate(path, std::str::from_utf8(offer).ok()) {
        Negotiation::Ok(n) => {
            session.handle.set_remote(n.clone());
            let answer = answer_sdp(path, &n, session);
            call.handle
                .respond_in_dialog(req, reply(200, "OK").with_body("application/sdp", answer));
        }
        Negotiation::Refuse { status, .. } => {
            call.handle.respond_in_dialog(req, refusal(status));
        }
    }
}

/// A running RTP session and the SDP answer that describes it.
pub(super) struct Session {
    pub handle: MediaHandle,
    pub events: mpsc::Receiver<MediaEvent>,
    pub answer_sdp: String,
    session_id: u64,
    version: AtomicU64,
}

async fn start(
    path: &CallPath,
    negotiated: &Negotiated,
    call_id: &str,
) -> std::io::Result<Session> {
    let config = switchboard_media::MediaConfig {
        bind_ip: path.settings.media_ip,
        advertise_ip: path.settings.advertise_ip,
        timeouts: switchboard_media::Timeouts {
            media: path.settings.media_timeout,
            initial: path.settings.media_initial_timeout,
        },
    };
    let (handle, events) =
        switchboard_media::start(config, &path.ports, negotiated.clone(), rand::random()).await?;
    let session_id = rand::random::<u32>() as u64;
    let answer_sdp = sdp::answer(
        negotiated,
        path.settings.advertise_ip,
        handle.local_port(),
        session_id,
        1,
    );
    tracing::debug!(call_id, port = handle.local_port(), codec = ?negotiated.codec, "media started");
    Ok(Session {
        handle,
        events,
        answer_sdp,
        session_id,
        version: AtomicU64::new(1),
    })
}

/// Stops the RTP session and adds its counters to the metrics.
pub(super) fn finish(path: &CallPath, session: &Session, timed_out: bool) {
    session.handle.stop();
    let st = session.handle.stats();
    path.metrics.media(
        crate::metrics::MediaTotals {
            packets_in: st.packets_in,
            bytes_in: st.bytes_in,
            packets_out: st.packets_out,
            bytes_out: st.bytes_out,
            lost: st.lost,
        },
        timed_out,
    );
}

/// A new answer (re-INVITE) on the same port, with the `o=` version incremented.
fn answer_sdp(path: &CallPath, negotiated: &Negotiated, session: &Session) -> String {
    let version = session.version.fetch_add(1, Ordering::Relaxed) + 1;
    sdp::answer(
        negotiated,
        path.settings.advertise_ip,
        session.handle.local_port(),
        session.session_id,
        version,
    )
}

/// A DTMF digit from a SIP INFO body, if it carries one.
pub(super) fn info_digit(content_type: &str, body: &[u8]) -> Option<char> {
    let body = std::str::from_utf8(body).ok()?;
    switchboard_media::dtmf::parse_info_body(content_type, body)
}
