//! Receive-side sequence and jitter bookkeeping for one RTP source (RFC 3550 A.1, A.3, A.8):
//! extended highest sequence number with wrap-around, packets lost, interarrival jitter,
//! and the numbers a receiver report carries.

use crate::rtcp::ReportBlock;

/// A jump of at least this many sequence numbers ahead is suspicious (RFC 3550 A.1).
const MAX_DROPOUT: u16 = 3000;
/// Packets at most this far behind are taken as reordered (RFC 3550 A.1).
const MAX_MISORDER: u16 = 100;

/// What a sequence number meant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqUpdate {
    /// The next packet, possibly after a gap.
    InOrder,
    /// A duplicate or a late (reordered) packet.
    Old,
    /// A large jump, ignored until confirmed by the next packet.
    Jump,
    /// The stream restarted (a confirmed jump).
    Restart,
}

/// Sequence tracking for one SSRC.
#[derive(Debug, Clone, Default)]
pub struct SeqTracker {
    started: bool,
    base: u64,
    max_seq: u16,
    cycles: u64,
    received: u64,
    bad_seq: Option<u16>,
    /// Losses of earlier streams (restarts, SSRC changes).
    lost_before: u64,
    expected_prior: u64,
    received_prior: u64,
    /// Jitter in timestamp units, scaled by 16 (RFC 3550 A.8).
    jitter16: u64,
    transit: Option<u32>,
}

impl SeqTracker {
    /// Starts a new stream at `seq`, keeping the losses counted so far.
    pub fn restart(&mut self, seq: u16) {
        self.lost_before += self.lost_in_stream();
        self.started = true;
        self.base = u64::from(seq);
        self.max_seq = seq;
        self.cycles = 0;
        self.received = 1;
        self.bad_seq = None;
        self.expected_prior = 0;
        self.received_prior = 0;
        self.transit = None;
    }

    /// Records a packet.
    pub fn update(&mut self, seq: u16) -> SeqUpdate {
        if !self.started {
            self.restart(seq);
            return SeqUpdate::InOrder;
        }
        let delta = seq.wrapping_sub(self.max_seq);
        if delta == 0 {
            SeqUpdate::Old
        } else if delta < MAX_DROPOUT {
            if seq < self.max_seq {
                self.cycles += 1 << 16;
            }
            self.max_seq = seq;
            self.received += 1;
            self.bad_seq = None;
            SeqUpdate::InOrder
        } else if delta <= u16::MAX - MAX_MISORDER {
            if self.bad_seq == Some(seq) {
                self.restart(seq);
                SeqUpdate::Restart
            } else {
                self.bad_seq = Some(seq.wrapping_add(1));
                SeqUpdate::Jump
            }
        } else {
            self.received += 1;
            SeqUpdate::Old
        }
    }

    /// Updates the interarrival jitter with a packet's RTP timestamp and its arrival time in
    /// the same units.
    pub fn update_jitter(&mut self, rtp_timestamp: u32, arrival: u32) {
        let transit = arrival.wrapping_sub(rtp_timestamp);
        if let Some(previous) = self.transit {
            let d = u64::from((transit.wrapping_sub(previous) as i32).unsigned_abs()).min(1 << 24);
            // J += (|D| - J) / 16, kept scaled by 16 (RFC 3550 A.8).
            self.jitter16 = self.jitter16 + d - ((self.jitter16 + 8) >> 4);
        }
        self.transit = Some(transit);
    }

    fn extended_max(&self) -> u64 {
        self.cycles + u64::from(self.max_seq)
    }

    fn expected(&self) -> u64 {
        if self.started {
            self.extended_max() + 1 - self.base
        } else {
            0
        }
    }

    fn lost_in_stream(&self) -> u64 {
        self.expected().saturating_sub(self.received)
    }

    /// Packets lost in all streams so far.
    pub fn lost(&self) -> u64 {
        self.lost_before + self.lost_in_stream()
    }

    /// Jitter in timestamp units.
    pub fn jitter(&self) -> u32 {
        (self.jitter16 / 16).min(u64::from(u32::MAX)) as u32
    }

    /// A report block for `ssrc`; starts a new interval for the fraction lost.
    pub fn report(&mut self, ssrc: u32) -> ReportBlock {
        let expected = self.expected();
        let expected_interval = expected - self.expected_prior.min(expected);
        let received_interval = self.received - self.received_prior.min(self.received);
        self.expected_prior = expected;
        self.received_prior = self.received;
        let lost_interval = expected_interval.saturating_sub(received_interval);
        let fraction_lost = (lost_interval << 8)
            .checked_div(expected_interval)
            .map_or(0, |f| f.min(255) as u8);
        ReportBlock {
            ssrc,
            fraction_lost,
            cumulative_lost: self.lost().min(0x7F_FFFF) as i32,
            extended_highest_seq: self.extended_max() as u32,
            jitter: self.jitter(),
            last_sr: 0,
            delay_since_last_sr: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loss_with_wrap_around() {
        let mut t = SeqTracker::default();
        let mut seq = 65530u16;
        for _ in 0..10 {
            assert_eq!(t.update(seq), SeqUpdate::InOrder);
            seq = seq.wrapping_add(1);
        }
        // seq is now 4 (wrapped); skip 3 packets.
        seq = seq.wrapping_add(3);
        assert_eq!(t.update(seq), SeqUpdate::InOrder);
        assert_eq!(t.lost(), 3);
        let report = t.report(1);
        assert_eq!(report.extended_highest_seq, 65536 + 7);
        assert_eq!(report.cumulative_lost, 3);
        assert_eq!(report.fraction_lost, (3 * 256 / 14) as u8);
        // A late packet fills a hole; a duplicate changes nothing.
        assert_eq!(t.update(5), SeqUpdate::Old);
        assert_eq!(t.update(7), SeqUpdate::Old);
        assert_eq!(t.lost(), 2);
        assert_eq!(t.report(1).fraction_lost, 0);
    }

    #[test]
    fn jump_then_restart_keeps_earlier_losses() {
        let mut t = SeqTracker::default();
        t.update(100);
        t.update(102); // one lost
        assert_eq!(t.update(30000), SeqUpdate::Jump);
        assert_eq!(t.update(30001), SeqUpdate::Restart);
        t.update(30002);
        assert_eq!(t.lost(), 1);
    }

    #[test]
    fn jitter_is_zero_for_a_steady_stream_and_grows_with_variation() {
        let mut t = SeqTracker::default();
        for i in 0..50u32 {
            t.update_jitter(i * 160, 1000 + i * 160);
        }
        assert_eq!(t.jitter(), 0);
        for i in 50..100u32 {
            let wobble = if i % 2 == 0 { 80 } else { 0 };
            t.update_jitter(i * 160, 1000 + i * 160 + wobble);
        }
        assert!((60..=80).contains(&t.jitter()), "{}", t.jitter());
    }
}
