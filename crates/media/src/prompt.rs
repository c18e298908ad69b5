//! Spoken prompts shipped with switchboard (SPEC §4's PIN stage).
//!
//! The audio is 8 kHz mono PCM16LE generated with espeak-ng by `scripts/make-prompts.sh`
//! (see `crates/media/prompts/README.md`) and embedded with `include_bytes!`. Each prompt
//! is decoded to `i16` once, on first use, into a process-wide static, so
//! [`Prompt::samples`] hands out a `&'static [i16]` with no per-call copy.

use std::sync::OnceLock;

/// A prompt switchboard can play.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Prompt {
    /// "Please enter the room PIN, then press hash."
    EnterPin,
    /// "That PIN is not valid."
    InvalidPin,
    /// "Goodbye."
    Goodbye,
}

static ENTER_PIN: OnceLock<Box<[i16]>> = OnceLock::new();
static INVALID_PIN: OnceLock<Box<[i16]>> = OnceLock::new();
static GOODBYE: OnceLock<Box<[i16]>> = OnceLock::new();

impl Prompt {
    /// Every prompt.
    pub const ALL: [Prompt; 3] = [Prompt::EnterPin, Prompt::InvalidPin, Prompt::Goodbye];

    /// The words spoken.
    pub fn text(self) -> &'static str {
        match self {
            Prompt::EnterPin => "Please enter the room PIN, then press hash.",
            Prompt::InvalidPin => "That PIN is not valid.",
            Prompt::Goodbye => "Goodbye.",
        }
    }

    /// The audio: 8 kHz mono PCM16 samples.
    pub fn samples(self) -> &'static [i16] {
        let (cell, bytes): (&OnceLock<Box<[i16]>>, &[u8]) = match self {
            Prompt::EnterPin => (&ENTER_PIN, include_bytes!("../prompts/enter_pin.s16")),
            Prompt::InvalidPin => (&INVALID_PIN, include_bytes!("../prompts/invalid_pin.s16")),
            Prompt::Goodbye => (&GOODBYE, include_bytes!("../prompts/goodbye.s16")),
        };
        cell.get_or_init(|| {
            bytes
                .chunks_exact(2)
                .map(|b| i16::from_le_bytes([b[0], b[1]]))
                .collect()
        })
    }

    /// How long the prompt plays.
    pub fn duration(self) -> std::time::Duration {
        std::time::Duration::from_micros(self.samples().len() as u64 * 125)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompts_are_real_speech_of_plausible_length() {
        for prompt in Prompt::ALL {
            let samples = prompt.samples();
            let secs = prompt.duration().as_secs_f64();
            assert!((0.8..6.0).contains(&secs), "{prompt:?}: {secs} s");
            // Not silence: a speech-like RMS and peak, and no clipping.
            let rms = (samples.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>()
                / samples.len() as f64)
                .sqrt();
            let peak = samples.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
            assert!(rms > 500.0, "{prompt:?}: rms {rms}");
            assert!((10_000..32_000).contains(&peak), "{prompt:?}: peak {peak}");
            // Decoded once: the same static slice every time.
            assert!(std::ptr::eq(samples, prompt.samples()));
        }
        assert!(Prompt::EnterPin.duration() > Prompt::InvalidPin.duration());
        assert!(Prompt::EnterPin.text().contains("PIN"));
    }
}
