//! Live audio of several sources, mixed at one 20 ms pace: the other callers of a room
//! heard by one caller (mixed into that caller's outgoing RTP on top of the agent's
//! audio), or every caller of a room mixed for the agent.
//!
//! Each source pushes whole frames when its own RTP arrives, on its own clock; the reader
//! takes one frame per tick on another. A small jitter FIFO per source absorbs the
//! difference: a source is read only once two frames are buffered (40 ms of cushion
//! against arrival jitter), is re-primed when it runs dry, and never holds more than
//! [`MAX_BUFFERED`] samples (a faster clock drops its oldest audio instead of adding
//! delay). Sources that go quiet for a second are forgotten.

use std::collections::VecDeque;

/// Samples per 20 ms frame at 8 kHz.
pub const FRAME: usize = 160;

/// A source is read once this much is buffered (and again after it runs dry).
pub const PRIME: usize = 2 * FRAME;

/// Most samples held per source (80 ms); older ones are dropped first.
pub const MAX_BUFFERED: usize = 4 * FRAME;

/// Ticks without a push after which an empty source is forgotten (1 s).
const IDLE_TICKS: u32 = 50;

/// Most sources mixed at once; pushes from more are ignored (a room of 32 callers is far
/// beyond any voice-agent use).
pub const MAX_SOURCES: usize = 32;

#[derive(Debug)]
struct Source {
    id: u64,
    fifo: VecDeque<i16>,
    primed: bool,
    idle_ticks: u32,
}

/// Per-source jitter FIFOs mixed one frame at a time. See the [module docs](self).
#[derive(Debug, Default)]
pub struct LiveMix {
    sources: Vec<Source>,
    /// Samples dropped because a source was too far ahead.
    dropped: u64,
}

impl LiveMix {
    pub fn new() -> LiveMix {
        LiveMix::default()
    }

    /// Appends audio of `source` (any length; normally one frame).
    pub fn push(&mut self, source: u64, pcm: &[i16]) {
        let i = match self.sources.iter().position(|s| s.id == source) {
            Some(i) => i,
            None if self.sources.len() < MAX_SOURCES => {
                self.sources.push(Source {
                    id: source,
                    fifo: VecDeque::with_capacity(MAX_BUFFERED),
                    primed: false,
                    idle_ticks: 0,
                });
                self.sources.len() - 1
            }
            None => return,
        };
        let s = &mut self.sources[i];
        s.idle_ticks = 0;
        s.fifo.extend(pcm);
        if s.fifo.len() > MAX_BUFFERED {
            let excess = s.fifo.len() - MAX_BUFFERED;
            s.fifo.drain(..excess);
            self.dropped += excess as u64;
        }
        if s.fifo.len() >= PRIME {
            s.primed = true;
        }
    }

    /// Forgets a source and what it buffered.
    pub fn remove(&mut self, source: u64) {
        self.sources.retain(|s| s.id != source);
    }

    /// Adds the next frame of every primed source to `frame` (saturating) and returns
    /// whether any source contributed. `frame` keeps its content where nothing is added,
    /// so it can carry other audio (the agent's) underneath.
    pub fn mix_into(&mut self, frame: &mut [i16]) -> bool {
        let mut acc = [0i32; FRAME];
        let n = frame.len().min(FRAME);
        let mut any = false;
        for s in &mut self.sources {
            s.idle_ticks = s.idle_ticks.saturating_add(1);
            if !s.primed {
                continue;
            }
            let take = n.min(s.fifo.len());
            for (a, v) in acc.iter_mut().zip(s.fifo.drain(..take)) {
                *a += i32::from(v);
            }
            any |= take > 0;
            if s.fifo.is_empty() {
                s.primed = false;
            }
        }
        // A source that stopped pushing a second ago (hold, a dead call) is forgotten with
        // any residue, so stale audio never plays when it comes back.
        self.sources.retain(|s| s.idle_ticks < IDLE_TICKS);
        if any {
            for (out, a) in frame[..n].iter_mut().zip(acc) {
                *out = (i32::from(*out) + a).clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16;
            }
        }
        any
    }

    /// Drops one frame of every primed source without mixing it (the tick carried
    /// something else, e.g. a DTMF event), so the FIFOs keep their pace.
    pub fn skip_frame(&mut self) {
        let mut scratch = [0i16; FRAME];
        self.mix_into(&mut scratch);
    }

    /// Sources known.
    pub fn sources(&self) -> usize {
        self.sources.len()
    }

    /// Samples dropped because a source ran ahead of the reader.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn frame(v: i16) -> [i16; FRAME] {
        [v; FRAME]
    }

    #[test]
    fn a_source_is_heard_once_primed_and_re_primed_when_dry() {
        let mut m = LiveMix::new();
        let mut out = frame(0);
        m.push(1, &frame(100));
        assert!(!m.mix_into(&mut out), "one frame is not enough cushion");
        m.push(1, &frame(200));
        assert!(m.mix_into(&mut out));
        assert_eq!(out[0], 100);
        let mut out = frame(0);
        assert!(m.mix_into(&mut out));
        assert_eq!(out[FRAME - 1], 200);
        // Dry: waits for two frames again.
        m.push(1, &frame(300));
        let mut out = frame(0);
        assert!(!m.mix_into(&mut out));
        assert_eq!(out, frame(0));
    }

    #[test]
    fn sources_are_summed_on_top_of_the_frame_and_saturate() {
        let mut m = LiveMix::new();
        for _ in 0..2 {
            m.push(1, &frame(1000));
            m.push(2, &frame(-300));
        }
        let mut out = frame(5);
        assert!(m.mix_into(&mut out));
        assert_eq!(out, frame(705));
        let mut m = LiveMix::new();
        for _ in 0..2 {
            m.push(1, &frame(30_000));
            m.push(2, &frame(30_000));
        }
        let mut out = frame(0);
        m.mix_into(&mut out);
        assert_eq!(out, frame(i16::MAX));
    }

    #[test]
    fn a_fast_source_is_bounded_and_a_removed_one_is_gone() {
        let mut m = LiveMix::new();
        for i in 0..10 {
            m.push(7, &frame(i));
        }
        assert_eq!(m.dropped(), 6 * FRAME as u64);
        let mut out = frame(0);
        m.mix_into(&mut out);
        assert_eq!(out[0], 6, "the oldest frames were dropped");
        m.remove(7);
        assert_eq!(m.sources(), 0);
        let mut out = frame(0);
        assert!(!m.mix_into(&mut out));
    }

    #[test]
    fn quiet_sources_are_forgotten_and_the_source_count_is_bounded() {
        let mut m = LiveMix::new();
        m.push(1, &frame(1));
        let mut out = frame(0);
        for _ in 0..IDLE_TICKS {
            m.mix_into(&mut out);
        }
        // Idle for a second: forgotten with its lone unplayed frame.
        assert_eq!(m.sources(), 0);
        for id in 0..(MAX_SOURCES as u64 + 5) {
            m.push(id, &frame(1));
        }
        assert_eq!(m.sources(), MAX_SOURCES);
    }

    #[test]
    fn skip_keeps_the_pace() {
        let mut m = LiveMix::new();
        m.push(1, &frame(1));
        m.push(1, &frame(2));
        m.skip_frame();
        let mut out = frame(0);
        assert!(m.mix_into(&mut out));
        assert_eq!(out[0], 2);
    }

    proptest! {
        /// Whatever is pushed, in whatever sizes, a source's audio comes out in order,
        /// never more than was pushed, and the buffer stays bounded.
        #[test]
        fn order_kept_and_bounded(chunks in proptest::collection::vec(1usize..400, 1..40)) {
            let mut m = LiveMix::new();
            let mut next: i16 = 1;
            let mut last_out: i16 = 0;
            for n in chunks {
                let pcm: Vec<i16> = (0..n).map(|_| { let v = next; next = next.wrapping_add(1).max(1); v }).collect();
                m.push(1, &pcm);
                let total: usize = m.sources.iter().map(|s| s.fifo.len()).sum();
                prop_assert!(total <= MAX_BUFFERED);
                let mut out = [0i16; FRAME];
                if m.mix_into(&mut out) {
                    for &v in out.iter().filter(|&&v| v != 0) {
                        prop_assert!(v > last_out || v == 1, "out of order: {v} after {last_out}");
                        last_out = v;
                    }
                }
            }
        }
    }
}
