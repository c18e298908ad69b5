//! The tolerant SDP parser behind [`SessionDescription::parse`].
//!
//! Only the lines offer/answer needs are interpreted (`m=`, `c=`, and the attributes
//! `rtpmap`, `fmtp`, `ptime`, `rtcp`, and the four direction attributes); everything else,
//! including lines that are not valid UTF-8 or not of the form `<letter>=<value>`, is
//! skipped. Within the session section and within each media section lines may come in any
//! order. Limits make the work bounded whatever the input.

use std::net::IpAddr;

use super::{
    Direction, MAX_ATTRIBUTES, MAX_FORMATS, MAX_MEDIA, MAX_SDP_LEN, MediaDescription, RtpMap,
    SdpError, SessionDescription,
};

/// Longest `fmtp` parameter string kept (longer ones are truncated at a char boundary).
const MAX_FMTP_LEN: usize = 256;
/// Longest encoding name, media kind or protocol kept.
const MAX_TOKEN_LEN: usize = 32;

impl SessionDescription {
    /// Parses an SDP body. See the [module documentation](super) for what is tolerated.
    pub fn parse(input: &[u8]) -> Result<SessionDescription, SdpError> {
        if input.len() > MAX_SDP_LEN {
            return Err(SdpError::TooLarge(input.len()));
        }
        let mut sd = SessionDescription::default();
        let mut attributes = 0usize;
        for raw in input.split(|&b| b == b'\n') {
            let Ok(line) = std::str::from_utf8(raw) else {
                continue;
            };
            let Some((key, value)) = line.trim().split_once('=') else {
                continue;
            };
            let value = value.trim();
            match key {
                "m" => {
                    if sd.media.len() >= MAX_MEDIA {
                        return Err(SdpError::TooManyMedia);
                    }
                    sd.media.push(parse_media_line(value)?);
                    attributes = 0;
                }
                "c" => {
                    let address = parse_connection(value);
                    match sd.media.last_mut() {
                        Some(media) => media.connection = address.or(media.connection),
                        None => sd.connection = address.or(sd.connection),
                    }
                }
                "a" => {
                    attributes += 1;
                    if attributes > MAX_ATTRIBUTES {
                        continue;
                    }
                    let (name, arg) = match value.split_once(':') {
                        Some((name, arg)) => (name.trim(), Some(arg.trim())),
                        None => (value, None),
                    };
                    match sd.media.last_mut() {
                        Some(media) => apply_media_attribute(media, name, arg),
                        None => {
                            if let Some(direction) = Direction::from_attribute(name) {
                                sd.direction = Some(direction);
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        if sd.media.is_empty() {
            return Err(SdpError::NoMedia);
        }
        Ok(sd)
    }
}

/// `m=<media> <port>[/<count>] <proto> <fmt> ...`. A line that cannot be read gets port 0
/// (a disabled stream) so m-line indexes still line up for the answer.
fn parse_media_line(value: &str) -> Result<MediaDescription, SdpError> {
    let mut tokens = value.split_ascii_whitespace();
    let kind = bounded(tokens.next().unwrap_or(""));
    let port = tokens
        .next()
        .and_then(|p| p.split('/').next())
        .and_then(|p| p.parse::<u16>().ok())
        .unwrap_or(0);
    let proto = bounded(tokens.next().unwrap_or(""));
    let mut media = MediaDescription {
        kind,
        port,
        proto,
        ..MediaDescription::default()
    };
    for (i, token) in tokens.enumerate() {
        if i >= MAX_FORMATS {
            return Err(SdpError::TooManyFormats);
        }
        if i == 0 {
            media.first_format = bounded(token);
        }
        if let Ok(pt @ 0..=127) = token.parse::<u8>()
            && !media.formats.contains(&pt)
        {
            media.formats.push(pt);
        }
    }
    Ok(media)
}

/// `c=IN IP4 <address>[/<ttl>[/<count>]]` or `c=IN IP6 <address>`; `None` when the address
/// is not an IP literal (e.g. a host name, which we do not resolve).
fn parse_connection(value: &str) -> Option<IpAddr> {
    let mut tokens = value.split_ascii_whitespace();
    if !tokens.next()?.eq_ignore_ascii_case("IN") {
        return None;
    }
    let addrtype = tokens.next()?;
    if !addrtype.eq_ignore_ascii_case("IP4") && !addrtype.eq_ignore_ascii_case("IP6") {
        return None;
    }
    let address = tokens.next()?;
    address.split('/').next()?.parse().ok()
}

fn apply_media_attribute(media: &mut MediaDescription, name: &str, arg: Option<&str>) {
    if let Some(direction) = Direction::from_attribute(name) {
        media.direction = Some(direction);
        return;
    }
    let Some(arg) = arg else {
        return;
    };
    match name {
        "rtpmap" => {
            if let Some(map) = parse_rtpmap(arg) {
                media.rtpmaps.push(map);
            }
        }
        "fmtp" => {
            if let Some((pt, params)) = arg.split_once(|c: char| c.is_ascii_whitespace())
                && let Ok(pt @ 0..=127) = pt.parse::<u8>()
            {
                media
                    .fmtps
                    .push((pt, truncate(params.trim(), MAX_FMTP_LEN)));
            }
        }
        "ptime" => {
            // Integer milliseconds; tolerate "20.0".
            if let Some(ms) = arg.split('.').next().and_then(|v| v.parse::<u32>().ok())
                && (1..=1000).contains(&ms)
            {
                media.ptime = Some(ms);
            }
        }
        "rtcp" => {
            if let Some(port) = arg
                .split_ascii_whitespace()
                .next()
                .and_then(|p| p.parse::<u16>().ok())
                && port != 0
            {
                media.rtcp_port = Some(port);
            }
        }
        _ => {}
    }
}

/// `<pt> <encoding>/<rate>[/<channels>]`.
fn parse_rtpmap(arg: &str) -> Option<RtpMap> {
    let (pt, encoding) = arg.split_once(|c: char| c.is_ascii_whitespace())?;
    let payload_type = match pt.parse::<u8>().ok()? {
        pt @ 0..=127 => pt,
        _ => return None,
    };
    let mut parts = encoding.trim().split('/');
    let name = parts.next()?.trim();
    if name.is_empty() {
        return None;
    }
    let clock_rate = parts.next()?.trim().parse::<u32>().ok()?;
    let channels = match parts.next() {
        Some(ch) => Some(ch.trim().parse::<u16>().ok()?),
        None => None,
    };
    Some(RtpMap {
        payload_type,
        encoding: bounded(name),
        clock_rate,
        channels,
    })
}

fn bounded(token: &str) -> String {
    truncate(token, MAX_TOKEN_LEN)
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}
