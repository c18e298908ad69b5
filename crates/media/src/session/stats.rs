//! [`MediaStats`]: counters of one media session, for metrics and call records.

use std::time::Instant;

/// A snapshot of one session's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MediaStats {
    /// RTP packets accepted (from the latched source, with a negotiated or unknown type).
    pub packets_in: u64,
    /// Their bytes (UDP payload).
    pub bytes_in: u64,
    /// RTP packets sent.
    pub packets_out: u64,
    /// Their bytes.
    pub bytes_out: u64,
    /// Packets lost on the audio stream, from sequence-number gaps (wrap-around handled).
    pub lost: u64,
    /// Interarrival jitter of the audio stream, in 8 kHz timestamp units.
    pub jitter: u32,
    /// Packets with a payload type that was not negotiated (ignored).
    pub unknown_payload_type: u64,
    /// Packets from a source other than the latched one (ignored).
    pub wrong_source: u64,
    /// Datagrams that are not valid RTP.
    pub malformed: u64,
    /// Audio packets not played because they were duplicates or arrived late.
    pub late: u64,
    /// RTCP packets received / sent.
    pub rtcp_in: u64,
    /// RTCP packets sent.
    pub rtcp_out: u64,
    /// DTMF digits received (RFC 4733).
    pub dtmf_in: u64,
    /// DTMF digits sent.
    pub dtmf_out: u64,
    /// Outbound samples refused because the playout queue was full.
    pub dropped_samples: u64,
    /// Media timeouts raised.
    pub timeouts: u64,
    /// When the first RTP packet was accepted.
    pub first_packet_at: Option<Instant>,
    /// When the last RTP packet was accepted.
    pub last_packet_at: Option<Instant>,
}
