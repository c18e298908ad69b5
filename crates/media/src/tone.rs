//! Generated tones: the beep played before hanging up after too many wrong PINs (SPEC §4).
//!
//! [`generate`] writes a sine with short raised-cosine fades (no clicks) into a caller
//! buffer; [`Tone::samples`] returns a process-wide static copy of each named tone.

use std::f64::consts::PI;
use std::sync::OnceLock;

/// Sample rate of every tone.
pub const SAMPLE_RATE: u32 = 8000;

/// A named tone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tone {
    /// 425 Hz for 500 ms at -12 dBFS (the ITU-T E.180 "European" signalling frequency).
    Beep,
}

static BEEP: OnceLock<Box<[i16]>> = OnceLock::new();

impl Tone {
    /// The tone as 8 kHz mono PCM16 samples.
    pub fn samples(self) -> &'static [i16] {
        match self {
            Tone::Beep => BEEP.get_or_init(|| {
                let mut samples = vec![0i16; 4000].into_boxed_slice();
                generate(425.0, 8192, &mut samples);
                samples
            }),
        }
    }
}

/// Fills `out` with a sine of `frequency` Hz and `amplitude` (peak, ≤ 32767) at 8 kHz, with
/// 10 ms fade-in and fade-out.
pub fn generate(frequency: f64, amplitude: i16, out: &mut [i16]) {
    let fade = (SAMPLE_RATE as usize / 100).min(out.len() / 2).max(1);
    let len = out.len();
    for (i, sample) in out.iter_mut().enumerate() {
        let t = i as f64 / f64::from(SAMPLE_RATE);
        let edge = i.min(len - 1 - i);
        let envelope = if edge < fade {
            0.5 - 0.5 * (PI * edge as f64 / fade as f64).cos()
        } else {
            1.0
        };
        *sample = (f64::from(amplitude) * envelope * (2.0 * PI * frequency * t).sin()) as i16;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beep_is_half_a_second_of_425_hz() {
        let beep = Tone::Beep.samples();
        assert_eq!(beep.len(), 4000);
        assert_eq!(beep[0], 0);
        assert!(beep[3999].abs() < 100);
        let peak = beep.iter().map(|s| s.unsigned_abs()).max().unwrap();
        assert!((8000..=8192).contains(&peak), "{peak}");
        // 425 Hz over 0.5 s: about 425 zero crossings (2 per cycle × 212.5 cycles).
        let crossings = beep.windows(2).filter(|w| (w[0] < 0) != (w[1] < 0)).count();
        assert!((420..=430).contains(&crossings), "{crossings}");
        assert!(std::ptr::eq(beep, Tone::Beep.samples()));
    }

    #[test]
    fn tiny_buffers_do_not_panic() {
        for len in 0..4 {
            let mut out = vec![0; len];
            generate(1000.0, 1000, &mut out);
        }
    }
}
