//! The outbound audio queue: a bounded FIFO of 8 kHz PCM16 samples with marks.
//!
//! Agent audio (TTS) arrives in bursts faster than real time; the pacer takes 160 samples
//! per 20 ms tick. A mark records the position in the stream where it was placed and is
//! reported once every sample queued before it has been taken (or dropped by
//! [`clear`](PcmQueue::clear), Twilio's semantics: a clear reports the pending marks).

use std::collections::VecDeque;

/// Most marks pending at once; a mark beyond this is reported at once.
pub const MAX_MARKS: usize = 1024;

/// Bounded PCM FIFO with marks.
#[derive(Debug)]
pub struct PcmQueue {
    samples: VecDeque<i16>,
    capacity: usize,
    /// Samples ever accepted.
    enqueued: u64,
    /// Samples ever taken or dropped by clear.
    consumed: u64,
    /// (position in `enqueued` terms, id), in order.
    marks: VecDeque<(u64, u64)>,
    /// Samples refused because the queue was full.
    dropped: u64,
}

impl PcmQueue {
    /// A queue holding at most `capacity` samples.
    pub fn new(capacity: usize) -> PcmQueue {
        PcmQueue {
            samples: VecDeque::new(),
            capacity,
            enqueued: 0,
            consumed: 0,
            marks: VecDeque::new(),
            dropped: 0,
        }
    }

    /// Appends samples; what does not fit is dropped (and counted). Returns how many were
    /// accepted.
    pub fn enqueue(&mut self, pcm: &[i16]) -> usize {
        let room = self.capacity.saturating_sub(self.samples.len());
        let take = pcm.len().min(room);
        self.samples.extend(&pcm[..take]);
        self.enqueued += take as u64;
        self.dropped += (pcm.len() - take) as u64;
        take
    }

    /// Takes up to `out.len()` samples into `out`, padding with silence; returns how many
    /// real samples were taken (0 when empty, in which case `out` is untouched).
    pub fn take_frame(&mut self, out: &mut [i16]) -> usize {
        let n = out.len().min(self.samples.len());
        if n == 0 {
            return 0;
        }
        for (slot, sample) in out.iter_mut().zip(self.samples.drain(..n)) {
            *slot = sample;
        }
        out[n..].fill(0);
        self.consumed += n as u64;
        n
    }

    /// Drops everything queued (barge-in); pending marks become due.
    pub fn clear(&mut self) {
        self.samples.clear();
        self.consumed = self.enqueued;
    }

    /// Places a mark after the audio queued so far. Returns `false` (and the caller should
    /// report the mark at once) if [`MAX_MARKS`] are already pending.
    pub fn mark(&mut self, id: u64) -> bool {
        if self.marks.len() >= MAX_MARKS {
            return false;
        }
        self.marks.push_back((self.enqueued, id));
        true
    }

    /// Pops the next mark whose audio has been consumed.
    pub fn pop_due_mark(&mut self) -> Option<u64> {
        match self.marks.front() {
            Some(&(position, id)) if position <= self.consumed => {
                self.marks.pop_front();
                Some(id)
            }
            _ => None,
        }
    }

    /// Samples waiting.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Samples refused because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_marks_and_clear() {
        let mut q = PcmQueue::new(500);
        assert_eq!(q.enqueue(&[1; 200]), 200);
        assert!(q.mark(1));
        assert_eq!(q.enqueue(&[2; 400]), 300); // 100 dropped
        assert_eq!(q.dropped(), 100);
        assert!(q.mark(2));
        let mut frame = [9i16; 160];
        assert_eq!(q.take_frame(&mut frame), 160);
        assert_eq!(q.pop_due_mark(), None);
        assert_eq!(q.take_frame(&mut frame), 160);
        assert_eq!(&frame[..40], &[1; 40]);
        assert_eq!(&frame[40..], &[2; 120]);
        assert_eq!(q.pop_due_mark(), Some(1));
        assert_eq!(q.pop_due_mark(), None);
        q.clear();
        assert!(q.is_empty());
        assert_eq!(q.pop_due_mark(), Some(2));
        assert_eq!(q.take_frame(&mut frame), 0);
        // Partial frame is padded with silence.
        q.enqueue(&[5; 10]);
        assert_eq!(q.take_frame(&mut frame), 10);
        assert_eq!(&frame[..10], &[5; 10]);
        assert_eq!(&frame[10..], &[0; 150]);
        // A mark on an empty queue is due at once.
        assert!(q.mark(3));
        assert_eq!(q.pop_due_mark(), Some(3));
    }

    #[test]
    fn marks_are_bounded() {
        let mut q = PcmQueue::new(10);
        for id in 0..MAX_MARKS as u64 {
            assert!(q.mark(id));
        }
        assert!(!q.mark(9999));
    }
}
