//! [`answer`]: the SDP answer for a [`Negotiated`] offer.
//!
//! One usable audio m-line with the chosen codec, the telephone-event payload type if the
//! offer had one (`a=fmtp:<pt> 0-16`), `a=ptime:20` and our direction; every other m-line of
//! the offer is rejected with port 0 in its position (RFC 3264 §6). Lines end with CRLF.

use std::fmt::Write as _;
use std::net::IpAddr;

use super::Negotiated;

/// Writes the answer. `local_ip`/`local_port` are where we receive RTP (the advertised
/// address, which may differ from the bound one behind NAT); `session_id` and `version` go
/// in the `o=` line (increment `version` for every new description in a dialog).
pub fn answer(
    negotiated: &Negotiated,
    local_ip: IpAddr,
    local_port: u16,
    session_id: u64,
    version: u64,
) -> String {
    let addrtype = if local_ip.is_ipv6() { "IP6" } else { "IP4" };
    let mut sdp = String::with_capacity(320);
    // Writing to a String cannot fail.
    let _ = write!(
        sdp,
        "v=0\r\no=switchboard {session_id} {version} IN {addrtype} {local_ip}\r\n\
         s=switchboard\r\nc=IN {addrtype} {local_ip}\r\nt=0 0\r\n"
    );
    let media_count = negotiated.other_media.len() + 1;
    let mut others = negotiated.other_media.iter().peekable();
    for index in 0..media_count {
        if index != negotiated.media_index
            && let Some(other) = others.next()
        {
            let kind = non_empty(&other.kind, "audio");
            let proto = non_empty(&other.proto, "RTP/AVP");
            let format = non_empty(&other.format, "0");
            let _ = write!(sdp, "m={kind} 0 {proto} {format}\r\n");
            continue;
        }
        write_audio(&mut sdp, negotiated, local_port);
    }
    sdp
}

fn write_audio(sdp: &mut String, negotiated: &Negotiated, local_port: u16) {
    let proto = if negotiated.avpf {
        "RTP/AVPF"
    } else {
        "RTP/AVP"
    };
    let pt = negotiated.payload_type;
    let _ = write!(sdp, "m=audio {local_port} {proto} {pt}");
    if let Some(dtmf) = negotiated.dtmf_payload_type {
        let _ = write!(sdp, " {dtmf}");
    }
    let _ = write!(
        sdp,
        "\r\na=rtpmap:{pt} {}/8000\r\n",
        negotiated.codec.encoding_name()
    );
    if let Some(dtmf) = negotiated.dtmf_payload_type {
        let _ = write!(
            sdp,
            "a=rtpmap:{dtmf} telephone-event/8000\r\na=fmtp:{dtmf} 0-16\r\n"
        );
    }
    let _ = write!(
        sdp,
        "a=ptime:20\r\na={}\r\n",
        negotiated.local_direction().as_str()
    );
}

fn non_empty<'a>(s: &'a str, default: &'a str) -> &'a str {
    if s.is_empty() { default } else { s }
}
