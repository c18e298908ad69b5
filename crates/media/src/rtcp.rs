//! RTCP (RFC 3550 §6): just enough to ignore incoming reports safely and to send a minimal
//! receiver report.
//!
//! [`parse_compound`] walks a compound packet and reports each part's type and sender SSRC
//! (and, for a sender report, the "middle 32 bits" of its NTP timestamp, which the next
//! receiver report echoes as LSR). [`write_receiver_report`] builds `RR` + `SDES CNAME`, the
//! smallest compound packet RFC 3550 §6.1 allows.

/// RTCP packet types switchboard recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RtcpKind {
    /// Sender report (200).
    SenderReport,
    /// Receiver report (201).
    ReceiverReport,
    /// Source description (202).
    SourceDescription,
    /// Goodbye (203).
    Bye,
    /// Anything else (APP, feedback, XR, ...), with its packet type.
    Other(u8),
}

/// One packet of a compound RTCP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtcpPart {
    /// Its type.
    pub kind: RtcpKind,
    /// The first SSRC of the packet (sender, or first source for SDES/BYE); 0 if absent.
    pub ssrc: u32,
    /// For a sender report: the middle 32 bits of its NTP timestamp (for LSR).
    pub ntp_middle: Option<u32>,
}

/// Most parts read from one compound packet.
const MAX_PARTS: usize = 16;

/// Parses a compound RTCP packet. Returns the parts read (at most 16) and how many there
/// are, or `None` if the first packet is malformed. Parsing stops quietly at a malformed
/// trailing part.
pub fn parse_compound(data: &[u8]) -> Option<([Option<RtcpPart>; MAX_PARTS], usize)> {
    let mut parts = [None; MAX_PARTS];
    let mut count = 0;
    let mut rest = data;
    while rest.len() >= 4 && count < MAX_PARTS {
        if rest[0] >> 6 != 2 {
            break;
        }
        let len = (usize::from(u16::from_be_bytes([rest[2], rest[3]])) + 1) * 4;
        let Some(packet) = rest.get(..len) else {
            break;
        };
        let kind = match packet[1] {
            200 => RtcpKind::SenderReport,
            201 => RtcpKind::ReceiverReport,
            202 => RtcpKind::SourceDescription,
            203 => RtcpKind::Bye,
            other => RtcpKind::Other(other),
        };
        let ssrc = packet
            .get(4..8)
            .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        let ntp_middle = match kind {
            RtcpKind::SenderReport => packet
                .get(10..14)
                .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]])),
            _ => None,
        };
        parts[count] = Some(RtcpPart {
            kind,
            ssrc,
            ntp_middle,
        });
        count += 1;
        rest = &rest[len..];
    }
    (count > 0).then_some((parts, count))
}

/// One reception report block (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportBlock {
    /// The source reported on.
    pub ssrc: u32,
    /// Fraction of packets lost since the previous report, in 1/256.
    pub fraction_lost: u8,
    /// Cumulative packets lost (24-bit signed; clamped).
    pub cumulative_lost: i32,
    /// Extended highest sequence number received.
    pub extended_highest_seq: u32,
    /// Interarrival jitter in timestamp units.
    pub jitter: u32,
    /// Middle 32 bits of the last SR's NTP timestamp (0 if none).
    pub last_sr: u32,
    /// Delay since that SR, in 1/65536 s (0 if none).
    pub delay_since_last_sr: u32,
}

/// Canonical name sent in SDES.
const CNAME: &[u8] = b"switchboard";

/// Writes `RR` (with zero or one report block) followed by `SDES` with a CNAME into `out`;
/// returns the length, or `None` if `out` is too small (it needs at most 60 bytes).
pub fn write_receiver_report(
    ssrc: u32,
    block: Option<&ReportBlock>,
    out: &mut [u8],
) -> Option<usize> {
    let rr_len = 8 + if block.is_some() { 24 } else { 0 };
    // SDES: header 4 + SSRC 4 + CNAME item (2 + len) + end 1, padded to 4.
    let sdes_len = (4 + 4 + 2 + CNAME.len() + 1).div_ceil(4) * 4;
    let total = rr_len + sdes_len;
    let out = out.get_mut(..total)?;
    out.fill(0);

    let rc = u8::from(block.is_some());
    out[0] = 0x80 | rc;
    out[1] = 201;
    out[2..4].copy_from_slice(&((rr_len / 4 - 1) as u16).to_be_bytes());
    out[4..8].copy_from_slice(&ssrc.to_be_bytes());
    if let Some(b) = block {
        let lost = b.cumulative_lost.clamp(-0x80_0000, 0x7F_FFFF) as u32 & 0x00FF_FFFF;
        out[8..12].copy_from_slice(&b.ssrc.to_be_bytes());
        out[12..16].copy_from_slice(&((u32::from(b.fraction_lost) << 24) | lost).to_be_bytes());
        out[16..20].copy_from_slice(&b.extended_highest_seq.to_be_bytes());
        out[20..24].copy_from_slice(&b.jitter.to_be_bytes());
        out[24..28].copy_from_slice(&b.last_sr.to_be_bytes());
        out[28..32].copy_from_slice(&b.delay_since_last_sr.to_be_bytes());
    }

    let sdes = &mut out[rr_len..];
    sdes[0] = 0x81;
    sdes[1] = 202;
    sdes[2..4].copy_from_slice(&((sdes_len / 4 - 1) as u16).to_be_bytes());
    sdes[4..8].copy_from_slice(&ssrc.to_be_bytes());
    sdes[8] = 1; // CNAME
    sdes[9] = CNAME.len() as u8;
    sdes[10..10 + CNAME.len()].copy_from_slice(CNAME);
    // The rest is already zero: end-of-list item and padding.
    Some(total)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn receiver_report_round_trip() {
        let block = ReportBlock {
            ssrc: 0xCA11_0000,
            fraction_lost: 64,
            cumulative_lost: 5,
            extended_highest_seq: 0x0001_0005,
            jitter: 12,
            last_sr: 0x1234_5678,
            delay_since_last_sr: 65536,
        };
        let mut buf = [0u8; 64];
        let len = write_receiver_report(7, Some(&block), &mut buf).unwrap();
        assert_eq!(len % 4, 0);
        assert_eq!(&buf[..8], &[0x81, 201, 0, 7, 0, 0, 0, 7]);
        assert_eq!(&buf[12..16], &[64, 0, 0, 5]);
        let (parts, n) = parse_compound(&buf[..len]).unwrap();
        assert_eq!(n, 2);
        assert_eq!(parts[0].unwrap().kind, RtcpKind::ReceiverReport);
        assert_eq!(parts[1].unwrap().kind, RtcpKind::SourceDescription);
        assert_eq!(parts[1].unwrap().ssrc, 7);
        // Negative cumulative loss (duplicates) is written as 24-bit two's complement.
        let neg = ReportBlock {
            cumulative_lost: -2,
            ..block
        };
        write_receiver_report(7, Some(&neg), &mut buf).unwrap();
        assert_eq!(&buf[13..16], &[0xFF, 0xFF, 0xFE]);
        // Empty RR.
        let len = write_receiver_report(9, None, &mut buf).unwrap();
        assert_eq!(&buf[..4], &[0x80, 201, 0, 1]);
        assert_eq!(parse_compound(&buf[..len]).unwrap().1, 2);
        assert!(write_receiver_report(9, None, &mut [0u8; 10]).is_none());
    }

    #[test]
    fn sender_report_and_bye() {
        let mut sr = vec![0x80, 200, 0, 6, 0, 0, 0, 42];
        sr.extend_from_slice(&[0x11, 0x22, 0xAA, 0xBB, 0xCC, 0xDD, 0x33, 0x44]); // NTP
        sr.extend_from_slice(&[0; 12]);
        sr.extend_from_slice(&[0x81, 203, 0, 1, 0, 0, 0, 42]); // BYE
        let (parts, n) = parse_compound(&sr).unwrap();
        assert_eq!(n, 2);
        assert_eq!(parts[0].unwrap().ntp_middle, Some(0xAABB_CCDD));
        assert_eq!(parts[0].unwrap().ssrc, 42);
        assert_eq!(parts[1].unwrap().kind, RtcpKind::Bye);
        assert!(parse_compound(&[0x80, 200, 0, 50]).is_none());
        assert!(parse_compound(&[]).is_none());
    }

    proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse_compound(&data);
        }
    }
}
