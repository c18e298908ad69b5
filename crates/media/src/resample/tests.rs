use super::*;
use proptest::prelude::*;

const AMPLITUDE: f64 = 10000.0;

/// A sine with a 0.5 rad phase (so a tone aliasing onto 4 kHz is not sampled at its zeros).
fn sine(freq: f64, rate: u32, len: usize) -> Vec<i16> {
    (0..len)
        .map(|i| {
            (AMPLITUDE * (2.0 * PI * freq * i as f64 / f64::from(rate) + 0.5).sin()).round() as i16
        })
        .collect()
}

fn run(from: u32, to: u32, input: &[i16]) -> Vec<i16> {
    let mut r = Resampler::new(from, to).unwrap();
    let mut out = Vec::new();
    r.process(input, &mut out);
    out
}

/// Samples skipped at the start of an output (filter warm-up: 4 × the group delay).
fn warm_up(rate: u32, low_rate: u32) -> usize {
    (4 * DELAY_LOW_RATE_SAMPLES) * (rate / low_rate) as usize
}

fn rms(samples: &[i16]) -> f64 {
    (samples.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / samples.len() as f64).sqrt()
}

/// Amplitude of the `freq` component (Goertzel); exact for a whole number of cycles.
fn goertzel_amplitude(samples: &[i16], freq: f64, rate: u32) -> f64 {
    let w = 2.0 * PI * freq / f64::from(rate);
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in samples {
        let s0 = f64::from(x) + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    2.0 * power.max(0.0).sqrt() / samples.len() as f64
}

fn db(ratio: f64) -> f64 {
    20.0 * ratio.log10()
}

/// Gain (dB) of a sine through `from → 8000`, measured by RMS after warm-up.
fn down_gain_db(from: u32, freq: f64) -> f64 {
    let out = run(from, 8000, &sine(freq, from, from as usize)); // 1 s
    let steady = &out[warm_up(8000, 8000)..];
    db(rms(steady) / (AMPLITUDE / 2f64.sqrt()))
}

#[test]
fn downsampling_passes_speech_band() {
    for from in [16000, 24000, 48000] {
        let g1 = down_gain_db(from, 1000.0);
        let g3 = down_gain_db(from, 3000.0);
        let g34 = down_gain_db(from, 3400.0);
        println!("{from} -> 8000: 1 kHz {g1:+.3} dB, 3 kHz {g3:+.3} dB, 3.4 kHz {g34:+.3} dB");
        assert!(g1.abs() <= 1.0, "{from}: 1 kHz gain {g1} dB");
        assert!(g3.abs() <= 3.0, "{from}: 3 kHz gain {g3} dB");
    }
}

#[test]
fn downsampling_rejects_above_nyquist() {
    let cases: &[(u32, &[f64])] = &[
        (16000, &[4600.0, 5000.0, 6000.0, 7000.0, 7900.0]),
        (24000, &[4600.0, 5000.0, 7000.0, 11000.0, 11900.0]),
        (48000, &[4600.0, 5000.0, 7000.0, 12000.0, 20000.0, 23900.0]),
        (48000, &[4000.0, 4200.0, 4400.0]), // transition band, printed only
    ];
    for &(from, freqs) in cases {
        for &freq in freqs {
            let g = down_gain_db(from, freq);
            println!("{from} -> 8000: {freq} Hz {g:+.1} dB");
            if freq >= 4600.0 {
                assert!(g <= -40.0, "{from}: {freq} Hz only {g} dB down");
            }
        }
    }
}

#[test]
fn upsampling_passes_1khz_and_rejects_images() {
    for to in [16000, 24000, 48000] {
        let out = run(8000, to, &sine(1000.0, 8000, 8000 + 400));
        assert_eq!(out.len(), (8000 + 400) * (to / 8000) as usize);
        // Exactly 1 s after warm-up: every tone below is a whole number of cycles.
        let steady = &out[warm_up(to, 8000)..][..to as usize];
        let fundamental = goertzel_amplitude(steady, 1000.0, to);
        let gain = db(fundamental / AMPLITUDE);
        // Frequency check: 1000 cycles ⇒ 2000 sign changes.
        let crossings = steady
            .windows(2)
            .filter(|w| (w[0] < 0) != (w[1] < 0))
            .count();
        println!("8000 -> {to}: 1 kHz {gain:+.3} dB, {crossings} zero crossings in 1 s");
        assert!(gain.abs() <= 1.0, "{to}: 1 kHz gain {gain} dB");
        assert!(
            (1998..=2002).contains(&crossings),
            "{to}: {crossings} crossings"
        );
        let mut image = 8000.0;
        while image - 1000.0 < f64::from(to) / 2.0 {
            for f in [image - 1000.0, image + 1000.0] {
                if f < f64::from(to) / 2.0 {
                    let level = db(goertzel_amplitude(steady, f, to) / fundamental);
                    println!("8000 -> {to}: image {f} Hz {level:+.1} dB");
                    assert!(level <= -40.0, "{to}: image at {f} Hz only {level} dB down");
                }
            }
            image += 8000.0;
        }
    }
}

#[test]
fn upsampling_3khz_and_3400hz_in_band() {
    for to in [16000, 24000, 48000] {
        for (freq, tolerance) in [(3000.0, 3.0), (3400.0, 3.0)] {
            let out = run(8000, to, &sine(freq, 8000, 8000 + 400));
            let steady = &out[warm_up(to, 8000)..][..to as usize];
            let gain = db(goertzel_amplitude(steady, freq, to) / AMPLITUDE);
            let image = db(goertzel_amplitude(steady, 8000.0 - freq, to) / AMPLITUDE);
            println!("8000 -> {to}: {freq} Hz {gain:+.3} dB, image {image:+.1} dB");
            assert!(gain.abs() <= tolerance, "{to}: {freq} Hz gain {gain} dB");
        }
    }
}

#[test]
fn round_trip_8k_48k_8k_keeps_1khz() {
    let input = sine(1000.0, 8000, 8000);
    let mut up = Resampler::new(8000, 48000).unwrap();
    let mut down = Resampler::new(48000, 8000).unwrap();
    let (mut mid, mut out) = (Vec::new(), Vec::new());
    for frame in input.chunks(160) {
        mid.clear();
        up.process(frame, &mut mid);
        down.process(&mid, &mut out);
    }
    assert_eq!(out.len(), input.len());
    let delay = 2 * DELAY_LOW_RATE_SAMPLES;
    let a = &input[100..input.len() - delay];
    let b = &out[100 + delay..];
    let dotp: f64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| f64::from(x) * f64::from(y))
        .sum();
    let na: f64 = a.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt();
    let corr = dotp / (na * nb);
    let err: Vec<i16> = a.iter().zip(b).map(|(&x, &y)| x - y).collect();
    let snr = db(rms(a) / rms(&err));
    println!("round trip: correlation {corr:.6}, SNR {snr:.1} dB");
    assert!(corr > 0.99, "correlation {corr}");
    assert!(snr > 30.0, "SNR {snr} dB");
}

#[test]
fn group_delay_is_twelve_low_rate_samples() {
    // An impulse at 8 kHz sample 20 peaks at 48 kHz sample (20 + 12) × 6.
    let mut input = vec![0i16; 80];
    input[20] = 20000;
    let out = run(8000, 48000, &input);
    let peak = (0..out.len()).max_by_key(|&i| out[i]).unwrap();
    assert_eq!(peak, (20 + DELAY_LOW_RATE_SAMPLES) * 6);
    // And back down: 48 kHz impulse at 6 × 20 peaks at 8 kHz sample 20 + 12.
    let mut input = vec![0i16; 480];
    input[120] = 20000;
    let out = run(48000, 8000, &input);
    let peak = (0..out.len()).max_by_key(|&i| out[i]).unwrap();
    assert_eq!(peak, 20 + DELAY_LOW_RATE_SAMPLES);
}

#[test]
fn dc_passes_unchanged_in_steady_state() {
    for (from, to) in [
        (8000, 16000),
        (8000, 24000),
        (8000, 48000),
        (48000, 8000),
        (16000, 48000),
    ] {
        let out = run(from, to, &vec![12345i16; 2000]);
        let skip = 2 * TAPS_PER_PHASE * 6;
        for &s in &out[skip..] {
            assert!((s - 12345).abs() <= 1, "{from} -> {to}: {s}");
        }
    }
}

#[test]
fn full_scale_saturates_instead_of_wrapping() {
    // A full-scale square wave overshoots (Gibbs): the output must clamp, never wrap.
    let input: Vec<i16> = (0..4000)
        .map(|i| if (i / 20) % 2 == 0 { 32767 } else { -32768 })
        .collect();
    for (from, to) in [(8000, 48000), (8000, 16000)] {
        let out = run(from, to, &input);
        assert_eq!(out.iter().max(), Some(&i16::MAX));
        assert_eq!(out.iter().min(), Some(&i16::MIN));
        // A wrap would show as a jump of ~65536 between neighbours; the band-limited signal
        // moves far less than that per sample.
        let jump = out
            .windows(2)
            .map(|w| (i32::from(w[1]) - i32::from(w[0])).abs())
            .max()
            .unwrap();
        assert!(jump < 50000, "{from} -> {to}: jump {jump}");
    }
}

#[test]
fn output_lengths() {
    for to in [8000, 16000, 24000, 48000] {
        let ratio = (to / 8000) as usize;
        let mut r = Resampler::new(8000, to).unwrap();
        let mut out = Vec::new();
        for n in [160, 1, 7, 0, 320] {
            out.clear();
            r.process(&vec![1; n], &mut out);
            assert_eq!(out.len(), n * ratio, "8000 -> {to}");
        }
        let mut d = Resampler::new(to, 8000).unwrap();
        for frames in 1..4 {
            out.clear();
            d.process(&vec![1; 160 * ratio * frames], &mut out);
            assert_eq!(out.len(), 160 * frames, "{to} -> 8000");
        }
    }
    // Down with ragged chunks: the running total is ⌈total_in / M⌉.
    let mut d = Resampler::new(48000, 8000).unwrap();
    let mut out = Vec::new();
    let mut total = 0;
    for n in [1, 5, 6, 7, 11, 100] {
        d.process(&vec![0; n], &mut out);
        total += n;
        assert_eq!(out.len(), total.div_ceil(6));
    }
}

#[test]
fn supported_and_unsupported_rates() {
    for (from, to) in [
        (8000, 8000),
        (8000, 16000),
        (8000, 24000),
        (8000, 48000),
        (16000, 8000),
        (24000, 8000),
        (48000, 8000),
        (16000, 48000),
        (48000, 16000),
        (24000, 48000),
        (48000, 48000),
    ] {
        let r = Resampler::new(from, to).unwrap();
        assert_eq!((r.from_hz(), r.to_hz()), (from, to));
    }
    for (from, to) in [
        (16000, 24000),
        (8000, 44100),
        (44100, 8000),
        (0, 8000),
        (8000, 32000),
    ] {
        let err = Resampler::new(from, to).unwrap_err();
        assert_eq!(
            err,
            UnsupportedRate {
                from_hz: from,
                to_hz: to
            }
        );
        assert!(err.to_string().contains(&from.to_string()));
        let _: &dyn Error = &err;
    }
}

#[test]
fn same_rate_is_a_copy() {
    let input = sine(440.0, 8000, 500);
    assert_eq!(run(8000, 8000, &input), input);
}

#[test]
fn reset_restarts_from_silence() {
    for (from, to) in [(8000, 48000), (48000, 8000), (24000, 8000)] {
        let input = sine(700.0, from, 1000);
        let mut r = Resampler::new(from, to).unwrap();
        let mut first = Vec::new();
        r.process(&input, &mut first);
        r.process(&input[..13], &mut Vec::new());
        r.reset();
        let mut second = Vec::new();
        r.process(&input, &mut second);
        assert_eq!(first, second);
    }
}

#[test]
fn process_appends() {
    let mut r = Resampler::new(8000, 16000).unwrap();
    let mut out = vec![7, 7, 7];
    r.process(&[0; 10], &mut out);
    assert_eq!(out.len(), 23);
    assert_eq!(&out[..3], &[7, 7, 7]);
}

proptest! {
    #[test]
    fn chunking_is_bit_identical(
        pair in prop::sample::select(vec![
            (8000u32, 16000u32), (8000, 24000), (8000, 48000),
            (16000, 8000), (24000, 8000), (48000, 8000),
            (16000, 48000), (48000, 24000), (8000, 8000),
        ]),
        input in prop::collection::vec(any::<i16>(), 0..2000),
        cuts in prop::collection::vec(0usize..400, 0..20),
    ) {
        let whole = run(pair.0, pair.1, &input);
        let mut r = Resampler::new(pair.0, pair.1).unwrap();
        let mut chunked = Vec::new();
        let mut rest = &input[..];
        for cut in cuts {
            let (head, tail) = rest.split_at(cut.min(rest.len()));
            r.process(head, &mut chunked);
            rest = tail;
        }
        r.process(rest, &mut chunked);
        prop_assert_eq!(whole, chunked);
    }
}

/// The straightforward formulation the block implementation replaced: one dot product per
/// output over a "double ring" history (newest first), in 8 lanes, then a scalar rounding.
struct Reference {
    ratio: usize,
    up: bool,
    history: Vec<f32>,
    pos: usize,
    phase: usize,
}

impl Reference {
    fn new(from: u32, to: u32) -> Reference {
        let ratio = (from.max(to) / from.min(to)) as usize;
        let len = if to > from {
            TAPS_PER_PHASE
        } else {
            TAPS_PER_PHASE * ratio
        };
        Reference {
            ratio,
            up: to > from,
            history: vec![0.0; 2 * len],
            pos: 0,
            phase: 0,
        }
    }

    fn process(&mut self, input: &[i16], output: &mut Vec<i16>) {
        let filter = filter(self.ratio).unwrap();
        let len = self.history.len() / 2;
        for &sample in input {
            self.pos = if self.pos == 0 { len - 1 } else { self.pos - 1 };
            self.history[self.pos] = f32::from(sample);
            self.history[self.pos + len] = f32::from(sample);
            let window = &self.history[self.pos..self.pos + len];
            if self.up {
                for branch in filter.branches.chunks_exact(TAPS_PER_PHASE) {
                    output.push(to_i16(reference_dot(branch, window)));
                }
            } else {
                if self.phase == 0 {
                    output.push(to_i16(reference_dot(&filter.taps, window)));
                    self.phase = self.ratio;
                }
                self.phase -= 1;
            }
        }
    }
}

fn reference_dot(taps: &[f32], window: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let taps_chunks = taps.chunks_exact(8);
    let window_chunks = window.chunks_exact(8);
    let tail: f32 = taps_chunks
        .remainder()
        .iter()
        .zip(window_chunks.remainder())
        .map(|(t, w)| t * w)
        .sum();
    for (t, w) in taps_chunks.zip(window_chunks) {
        for lane in 0..8 {
            acc[lane] += t[lane] * w[lane];
        }
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

fn to_i16(value: f32) -> i16 {
    (value + 0.5f32.copysign(value)) as i16
}

#[test]
fn rounding_matches_scalar_to_i16() {
    use rand::{Rng, SeedableRng, rngs::StdRng};
    let mut values = vec![
        0.0,
        -0.0,
        f32::MIN_POSITIVE,
        -f32::MIN_POSITIVE,
        1e-40,
        -1e-40,
        0.49999997, // + 0.5 rounds to 1.0 in f32
        -0.49999997,
        0.5,
        -0.5,
        1.5,
        -1.5,
        2.5,
        -2.5,
        32766.5,
        32767.0,
        32767.49,
        32767.5,
        32768.0,
        -32767.5,
        -32768.0,
        -32768.49,
        -32768.5,
        -32769.0,
        1e6,
        -1e6,
        f32::MAX,
        f32::MIN,
        f32::INFINITY,
        f32::NEG_INFINITY,
    ];
    // Every tie and its neighbours across the whole range.
    for k in -32770..=32770 {
        let tie = k as f32 + 0.5;
        values.extend([tie, tie.next_down(), tie.next_up(), k as f32]);
    }
    let mut rng = StdRng::seed_from_u64(7);
    values.extend((0..100_000).map(|_| rng.random_range(-40000.0f32..40000.0)));
    values.extend((0..100_000).map(|_| rng.random_range(-2.0f32..2.0)));
    values.extend(
        (0..200_000)
            .map(|_| f32::from_bits(rng.random()))
            .filter(|v| !v.is_nan()),
    );
    for chunk in values.chunks(GROUP) {
        let mut lanes = [0.0; GROUP];
        lanes[..chunk.len()].copy_from_slice(chunk);
        let got = to_i16_lanes(lanes);
        for (&value, &got) in chunk.iter().zip(&got) {
            assert_eq!(got, to_i16(value), "{value:?}");
        }
    }
}

/// A resampler whose kernels run with `isa` instead of the detected one.
fn with_isa(from: u32, to: u32, isa: Isa) -> Resampler {
    let mut r = Resampler::new(from, to).unwrap();
    match &mut r.kind {
        Kind::Copy => {}
        Kind::Up(up) => up.isa = isa,
        Kind::Down(down) => down.isa = isa,
    }
    r
}

#[test]
fn matches_reference_and_is_chunking_invariant() {
    use rand::{Rng, SeedableRng, rngs::StdRng};
    let mut rng = StdRng::seed_from_u64(0x5eed);
    let mut isas = vec![Isa::Baseline];
    if !matches!(Isa::detect(), Isa::Baseline) {
        isas.push(Isa::detect());
    }
    for (from, to) in [
        (8000u32, 16000u32),
        (8000, 24000),
        (8000, 48000),
        (16000, 8000),
        (24000, 8000),
        (48000, 8000),
        (16000, 48000),
        (48000, 16000),
        (24000, 48000),
        (48000, 24000),
    ] {
        for round in 0..8 {
            let len = rng.random_range(0..6000);
            // Full-scale noise (which also saturates), then quieter noise and a tone.
            let input: Vec<i16> = (0..len)
                .map(|i| match round % 3 {
                    0 => rng.random(),
                    1 => rng.random_range(-3000..=3000),
                    _ => {
                        let tone = 12000.0 * (i as f32 * 0.3).sin();
                        tone as i16 + rng.random_range(-100..=100)
                    }
                })
                .collect();
            let mut reference = Reference::new(from, to);
            let mut expected = Vec::new();
            reference.process(&input, &mut expected);

            let whole = run(from, to, &input);
            for &isa in &isas {
                let mut whole = Vec::new();
                with_isa(from, to, isa).process(&input, &mut whole);
                assert_eq!(whole.len(), expected.len(), "{from} -> {to}");
                let mut differing = 0;
                for (i, (&got, &want)) in whole.iter().zip(&expected).enumerate() {
                    let diff = (i32::from(got) - i32::from(want)).abs();
                    assert!(diff <= 1, "{from} -> {to}, {isa:?}: {i}: {got} vs {want}");
                    differing += usize::from(diff != 0);
                }
                // The blocks reproduce the reference's summation order: not even 1 LSB.
                assert_eq!(differing, 0, "{from} -> {to}, {isa:?}: {differing} differ");
            }

            // Random chunk sizes, small ones included, and a reset in between.
            let isa = isas[round % isas.len()];
            let mut r = with_isa(from, to, isa);
            r.process(&input[..len / 3], &mut Vec::new());
            r.reset();
            let mut chunked = Vec::new();
            let mut rest = &input[..];
            while !rest.is_empty() {
                let n = match rng.random_range(0..4) {
                    0 => rng.random_range(0..8),
                    1 => rng.random_range(0..100),
                    2 => 160 * (from / 8000) as usize,
                    _ => rng.random_range(0..1200),
                }
                .min(rest.len());
                let (head, tail) = rest.split_at(n);
                let before = chunked.len();
                r.process(head, &mut chunked);
                if to > from {
                    assert_eq!(chunked.len() - before, n * (to / from) as usize);
                }
                rest = tail;
            }
            assert_eq!(chunked, whole, "{from} -> {to}, {isa:?}: chunked differs");
        }
    }
}
