//! RTP packets (RFC 3550 §5.1): parsing into a borrowed view and writing into a caller
//! buffer. No allocation.
//!
//! [`RtpPacket::parse`] checks the version (2), the CSRC list, the header extension
//! (skipped; RFC 3550 §5.3.1) and the padding (removed from the payload), so the payload it
//! returns is exactly the media bytes. [`looks_like_rtcp`] tells RTCP apart when both share
//! one port (RFC 5761 §4).

use std::fmt;

/// Size of the fixed RTP header (no CSRC, no extension).
pub const HEADER_LEN: usize = 12;

/// Why a datagram is not an RTP packet we accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RtpError {
    /// Shorter than the headers it announces.
    TooShort,
    /// Version field is not 2.
    BadVersion(u8),
    /// Padding count is zero or larger than the payload.
    BadPadding,
    /// The output buffer cannot hold the packet.
    BufferTooSmall,
}

impl fmt::Display for RtpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RtpError::TooShort => write!(f, "RTP packet too short"),
            RtpError::BadVersion(v) => write!(f, "RTP version {v}, expected 2"),
            RtpError::BadPadding => write!(f, "bad RTP padding"),
            RtpError::BufferTooSmall => write!(f, "buffer too small for RTP packet"),
        }
    }
}

impl std::error::Error for RtpError {}

/// The header fields switchboard reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RtpHeader {
    /// The marker bit (start of a talkspurt / of a DTMF event).
    pub marker: bool,
    /// Payload type, 0-127.
    pub payload_type: u8,
    /// Sequence number.
    pub sequence: u16,
    /// Media timestamp.
    pub timestamp: u32,
    /// Synchronization source.
    pub ssrc: u32,
}

/// A parsed RTP packet borrowing its payload from the datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    /// The fixed header fields.
    pub header: RtpHeader,
    /// Number of CSRC identifiers present (their values are not needed).
    pub csrc_count: u8,
    /// Whether a header extension was present (it is skipped).
    pub has_extension: bool,
    /// The payload, padding removed.
    pub payload: &'a [u8],
}

impl<'a> RtpPacket<'a> {
    /// Parses a datagram.
    pub fn parse(data: &'a [u8]) -> Result<RtpPacket<'a>, RtpError> {
        if data.len() < HEADER_LEN {
            return Err(RtpError::TooShort);
        }
        let version = data[0] >> 6;
        if version != 2 {
            return Err(RtpError::BadVersion(version));
        }
        let padding = data[0] & 0x20 != 0;
        let has_extension = data[0] & 0x10 != 0;
        let csrc_count = data[0] & 0x0F;
        let header = RtpHeader {
            marker: data[1] & 0x80 != 0,
            payload_type: data[1] & 0x7F,
            sequence: u16::from_be_bytes([data[2], data[3]]),
            timestamp: u32::from_be_bytes([data[4], data[5], data[6], data[7]]),
            ssrc: u32::from_be_bytes([data[8], data[9], data[10], data[11]]),
        };
        let mut offset = HEADER_LEN + 4 * usize::from(csrc_count);
        if has_extension {
            let ext = data.get(offset..offset + 4).ok_or(RtpError::TooShort)?;
            let words = usize::from(u16::from_be_bytes([ext[2], ext[3]]));
            offset += 4 + 4 * words;
        }
        if offset > data.len() {
            return Err(RtpError::TooShort);
        }
        let mut end = data.len();
        if padding {
            let count = usize::from(data[end - 1]);
            if count == 0 || count > end - offset {
                return Err(RtpError::BadPadding);
            }
            end -= count;
        }
        Ok(RtpPacket {
            header,
            csrc_count,
            has_extension,
            payload: &data[offset..end],
        })
    }
}

/// Writes a packet (no CSRC, no extension, no padding) into `out`; returns its length.
pub fn write_packet(header: &RtpHeader, payload: &[u8], out: &mut [u8]) -> Result<usize, RtpError> {
    let len = HEADER_LEN + payload.len();
    let out = out.get_mut(..len).ok_or(RtpError::BufferTooSmall)?;
    write_header(header, out)?;
    out[HEADER_LEN..].copy_from_slice(payload);
    Ok(len)
}

/// Writes the 12-byte fixed header at the start of `out` (the caller writes the payload
/// after it, e.g. encoding audio in place).
pub fn write_header(header: &RtpHeader, out: &mut [u8]) -> Result<(), RtpError> {
    let out = out.get_mut(..HEADER_LEN).ok_or(RtpError::BufferTooSmall)?;
    out[0] = 0x80;
    out[1] = (u8::from(header.marker) << 7) | (header.payload_type & 0x7F);
    out[2..4].copy_from_slice(&header.sequence.to_be_bytes());
    out[4..8].copy_from_slice(&header.timestamp.to_be_bytes());
    out[8..12].copy_from_slice(&header.ssrc.to_be_bytes());
    Ok(())
}

/// Whether a datagram on an RTP port is RTCP (RFC 5761 §4: second byte 192-223, i.e. RTCP
/// packet types 200-206 and neighbours, which RTP payload types with the marker bit set
/// cannot collide with for the payload types we negotiate).
pub fn looks_like_rtcp(data: &[u8]) -> bool {
    data.len() >= 8 && data[0] >> 6 == 2 && (192..=223).contains(&data[1])
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn round_trip() {
        let header = RtpHeader {
            marker: true,
            payload_type: 101,
            sequence: 0xFFFF,
            timestamp: 0xDEAD_BEEF,
            ssrc: 0x0102_0304,
        };
        let mut buf = [0u8; 64];
        let len = write_packet(&header, &[1, 2, 3, 4], &mut buf).unwrap();
        assert_eq!(len, 16);
        assert_eq!(
            &buf[..12],
            &[0x80, 0xE5, 0xFF, 0xFF, 0xDE, 0xAD, 0xBE, 0xEF, 1, 2, 3, 4]
        );
        let packet = RtpPacket::parse(&buf[..len]).unwrap();
        assert_eq!(packet.header, header);
        assert_eq!(packet.payload, &[1, 2, 3, 4]);
        assert_eq!(
            write_packet(&header, &[0; 60], &mut buf),
            Err(RtpError::BufferTooSmall)
        );
    }

    #[test]
    fn csrc_extension_and_padding() {
        // V=2, P=1, X=1, CC=2.
        let mut data = vec![0xB2, 0x00, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3];
        data.extend_from_slice(&[0xAA; 8]); // two CSRCs
        data.extend_from_slice(&[0xBE, 0xDE, 0, 1, 9, 9, 9, 9]); // one-word extension
        data.extend_from_slice(&[7, 7, 7]); // payload
        data.extend_from_slice(&[0, 0, 3]); // padding, count 3
        let packet = RtpPacket::parse(&data).unwrap();
        assert_eq!(packet.csrc_count, 2);
        assert!(packet.has_extension);
        assert_eq!(packet.payload, &[7, 7, 7]);
        assert_eq!(packet.header.sequence, 1);
        assert_eq!(packet.header.ssrc, 3);
    }

    #[test]
    fn rejects_malformed() {
        assert_eq!(RtpPacket::parse(&[0x80; 11]), Err(RtpError::TooShort));
        assert_eq!(RtpPacket::parse(&[0x40; 12]), Err(RtpError::BadVersion(1)));
        // CSRC count beyond the data.
        assert_eq!(RtpPacket::parse(&[0x8F; 20]), Err(RtpError::TooShort));
        // Extension header missing / extension length beyond the data.
        let mut ext = vec![0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(RtpPacket::parse(&ext), Err(RtpError::TooShort));
        ext.extend_from_slice(&[0, 0, 0xFF, 0xFF]);
        assert_eq!(RtpPacket::parse(&ext), Err(RtpError::TooShort));
        // Padding of zero, or longer than the payload.
        let mut pad = vec![0xA0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0];
        assert_eq!(RtpPacket::parse(&pad), Err(RtpError::BadPadding));
        *pad.last_mut().unwrap() = 3;
        assert_eq!(RtpPacket::parse(&pad), Err(RtpError::BadPadding));
        *pad.last_mut().unwrap() = 2;
        assert_eq!(RtpPacket::parse(&pad).unwrap().payload, &[] as &[u8]);
    }

    #[test]
    fn rtcp_demux() {
        assert!(looks_like_rtcp(&[0x80, 200, 0, 6, 0, 0, 0, 1]));
        assert!(looks_like_rtcp(&[0x81, 201, 0, 7, 0, 0, 0, 1]));
        assert!(!looks_like_rtcp(&[0x80, 0, 0, 6, 0, 0, 0, 1]));
        assert!(!looks_like_rtcp(&[0x80, 0x80 | 101, 0, 6, 0, 0, 0, 1]));
        assert!(!looks_like_rtcp(&[0x80, 200]));
    }

    proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(p) = RtpPacket::parse(&data) {
                prop_assert!(p.payload.len() + HEADER_LEN <= data.len());
            }
        }
    }
}
