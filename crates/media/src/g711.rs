//! G.711 companding (ITU-T Recommendation G.711): µ-law (PCMU, RTP payload type 0) and
//! A-law (PCMA, payload type 8), between 16-bit linear PCM and 8-bit codes.
//!
//! Encoding is computed (a few shifts and a leading-zero count); decoding is a lookup in a
//! 256-entry table built at compile time by a `const fn`. The slice helpers write into
//! caller-provided buffers and never allocate.
//!
//! The arithmetic follows the classic public-domain implementations. µ-law is the 16-bit
//! sign-magnitude encoder (bias 132, magnitudes above 32635 clip), so it is exactly
//! symmetric: `ulaw_encode(-x) == ulaw_encode(x) ^ 0x80` for `x != 0`. A-law is Sun
//! Microsystems' `g711.c` on the top 13 bits (one's complement for negatives). Checked
//! against CPython's
//! `audioop` for all 65536 samples and 256 codes: both decode tables and the A-law encoder
//! are identical; the µ-law encoder differs only for 381 negative samples at the lower edge
//! of a quantization interval, where `audioop` first floors to 14 bits (an arithmetic shift)
//! and picks the adjacent code, never a closer one. Each code decodes to the middle of its
//! quantization interval, so every code survives `encode(decode(code))` (except the µ-law
//! "negative zero", see [`ulaw_encode`]).

/// µ-law code for silence (linear 0).
pub const SILENCE_ULAW: u8 = 0xFF;
/// A-law code for silence (the smallest positive level, linear 8).
pub const SILENCE_ALAW: u8 = 0xD5;

/// µ-law bias added to the magnitude before finding the segment.
const ULAW_BIAS: i32 = 0x84;
/// Largest magnitude µ-law can represent once biased (32635 + 132 = 32767).
const ULAW_CLIP: i32 = 32635;

/// Encodes one linear sample to µ-law.
///
/// Magnitudes above 32635 clip to the largest code (`0x80` positive, `0x00` negative).
/// Small negative samples (-1 to -3) encode to `0x7F`, the µ-law "negative zero", which
/// decodes to 0 like `0xFF`; 0 itself encodes to `0xFF` ([`SILENCE_ULAW`]).
#[inline]
pub fn ulaw_encode(sample: i16) -> u8 {
    let mut magnitude = i32::from(sample);
    let sign: u8 = if magnitude < 0 {
        magnitude = -magnitude;
        0x80
    } else {
        0
    };
    let biased = magnitude.min(ULAW_CLIP) + ULAW_BIAS; // 132..=32767
    // Segment (exponent) = position of the highest set bit above bit 7; biased >> 7 >= 1.
    let exponent = 31 - ((biased >> 7) as u32).leading_zeros();
    let mantissa = ((biased >> (exponent + 3)) & 0x0F) as u8;
    !(sign | ((exponent as u8) << 4) | mantissa)
}

/// Decodes one µ-law code to a linear sample (range -32124..=32124).
#[inline]
pub fn ulaw_decode(code: u8) -> i16 {
    ULAW_DECODE[code as usize]
}

/// Encodes one linear sample to A-law.
///
/// A-law works on the top 13 bits, so the whole `i16` range is representable without
/// clipping; 0 encodes to `0xD5` ([`SILENCE_ALAW`]).
#[inline]
pub fn alaw_encode(sample: i16) -> u8 {
    let value = i32::from(sample) >> 3; // -4096..=4095
    let (mask, magnitude) = if value >= 0 {
        (0xD5u8, value)
    } else {
        // One's complement: -1..=-4096 map onto 0..=4095.
        (0x55u8, -value - 1)
    };
    let code = if magnitude < 32 {
        // Segment 0: linear, step 2 in 13-bit units.
        (magnitude >> 1) as u8
    } else {
        // Segments 1..=7: highest set bit is bit (segment + 4).
        let segment = 31 - (magnitude as u32).leading_zeros() - 4;
        ((segment as u8) << 4) | ((magnitude >> segment) & 0x0F) as u8
    };
    code ^ mask
}

/// Decodes one A-law code to a linear sample (range -32256..=32256).
#[inline]
pub fn alaw_decode(code: u8) -> i16 {
    ALAW_DECODE[code as usize]
}

/// Encodes `pcm` into `out` as µ-law, converting `min(pcm.len(), out.len())` samples;
/// returns how many were written.
pub fn encode_ulaw(pcm: &[i16], out: &mut [u8]) -> usize {
    let n = pcm.len().min(out.len());
    for (o, &s) in out[..n].iter_mut().zip(&pcm[..n]) {
        *o = ulaw_encode(s);
    }
    n
}

/// Decodes µ-law `codes` into `out`, converting `min(codes.len(), out.len())` samples;
/// returns how many were written.
pub fn decode_ulaw(codes: &[u8], out: &mut [i16]) -> usize {
    let n = codes.len().min(out.len());
    for (o, &c) in out[..n].iter_mut().zip(&codes[..n]) {
        *o = ulaw_decode(c);
    }
    n
}

/// Encodes `pcm` into `out` as A-law, converting `min(pcm.len(), out.len())` samples;
/// returns how many were written.
pub fn encode_alaw(pcm: &[i16], out: &mut [u8]) -> usize {
    let n = pcm.len().min(out.len());
    for (o, &s) in out[..n].iter_mut().zip(&pcm[..n]) {
        *o = alaw_encode(s);
    }
    n
}

/// Decodes A-law `codes` into `out`, converting `min(codes.len(), out.len())` samples;
/// returns how many were written.
pub fn decode_alaw(codes: &[u8], out: &mut [i16]) -> usize {
    let n = codes.len().min(out.len());
    for (o, &c) in out[..n].iter_mut().zip(&codes[..n]) {
        *o = alaw_decode(c);
    }
    n
}

static ULAW_DECODE: [i16; 256] = build_ulaw_table();
static ALAW_DECODE: [i16; 256] = build_alaw_table();

/// µ-law expansion: codes are transmitted inverted; the value is the middle of the
/// interval `((mantissa << 3) + bias) << exponent`, minus the bias.
const fn build_ulaw_table() -> [i16; 256] {
    let mut table = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        let u = !(i as u8);
        let exponent = (u >> 4) & 0x07;
        let mantissa = (u & 0x0F) as i32;
        let magnitude = (((mantissa << 3) + ULAW_BIAS) << exponent) - ULAW_BIAS;
        table[i] = if u & 0x80 != 0 {
            -magnitude as i16
        } else {
            magnitude as i16
        };
        i += 1;
    }
    table
}

/// A-law expansion: even bits are inverted on the wire (XOR 0x55); the sign bit set means
/// positive.
const fn build_alaw_table() -> [i16; 256] {
    let mut table = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        let a = (i as u8) ^ 0x55;
        let segment = ((a >> 4) & 0x07) as i32;
        let mut magnitude = ((a & 0x0F) as i32) << 4;
        magnitude = match segment {
            0 => magnitude + 8,
            1 => magnitude + 0x108,
            _ => (magnitude + 0x108) << (segment - 1),
        };
        table[i] = if a & 0x80 != 0 {
            magnitude as i16
        } else {
            -magnitude as i16
        };
        i += 1;
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Half the quantization step of the µ-law segment a code belongs to.
    fn ulaw_half_step(code: u8) -> i32 {
        4 << ((!code >> 4) & 0x07)
    }

    /// Half the quantization step of the A-law segment a code belongs to.
    fn alaw_half_step(code: u8) -> i32 {
        match ((code ^ 0x55) >> 4) & 0x07 {
            0 | 1 => 8,
            segment => 8 << (segment - 1),
        }
    }

    #[test]
    fn ulaw_reference_values() {
        assert_eq!(ulaw_encode(0), 0xFF);
        assert_eq!(ulaw_decode(0xFF), 0);
        assert_eq!(ulaw_decode(0x7F), 0);
        assert_eq!(ulaw_decode(0x00), -32124);
        assert_eq!(ulaw_decode(0x80), 32124);
        assert_eq!(ulaw_encode(32767), 0x80);
        assert_eq!(ulaw_encode(-32768), 0x00);
        assert_eq!(ulaw_encode(-1), 0x7F);
        // Segment boundaries of the biased magnitude (x + 132): 256, 512, ..., 16384.
        assert_eq!(ulaw_encode(123), 0xF0); // 255: segment 0, mantissa 15
        assert_eq!(ulaw_encode(124), 0xEF); // 256: segment 1, mantissa 0
        assert_eq!(ulaw_decode(0xEF), 132);
        assert_eq!(ulaw_decode(0x6F), -132);
        assert_eq!(SILENCE_ULAW, ulaw_encode(0));
    }

    #[test]
    fn alaw_reference_values() {
        assert_eq!(alaw_decode(0xD5), 8);
        assert_eq!(alaw_decode(0x55), -8);
        assert_eq!(alaw_decode(0xAA), 32256);
        assert_eq!(alaw_decode(0x2A), -32256);
        assert_eq!(alaw_encode(0), 0xD5);
        assert_eq!(alaw_encode(-1), 0x55);
        assert_eq!(alaw_encode(32767), 0xAA);
        assert_eq!(alaw_encode(-32768), 0x2A);
        // Segment 1 starts at 13-bit magnitude 32 (linear 256).
        assert_eq!(alaw_encode(255), 0xD5 ^ 0x0F);
        assert_eq!(alaw_encode(256), 0xD5 ^ 0x10);
        assert_eq!(alaw_decode(0xD5 ^ 0x10), 264);
        assert_eq!(SILENCE_ALAW, alaw_encode(0));
    }

    #[test]
    fn encoders_are_sign_symmetric() {
        // µ-law is sign-magnitude (0 has no negative), A-law one's complement.
        for x in 1..=i16::MAX {
            assert_eq!(ulaw_encode(-x), ulaw_encode(x) ^ 0x80, "ulaw x={x}");
        }
        for x in 0..=i16::MAX {
            assert_eq!(alaw_encode(-x - 1), alaw_encode(x) ^ 0x80, "alaw x={x}");
        }
    }

    #[test]
    fn ulaw_every_code_round_trips_except_negative_zero() {
        for code in 0..=255u8 {
            let again = ulaw_encode(ulaw_decode(code));
            if code == 0x7F {
                // Negative zero decodes to 0, and 0 encodes as positive zero.
                assert_eq!(again, 0xFF);
            } else {
                assert_eq!(again, code, "code {code:#04x}");
            }
        }
    }

    #[test]
    fn alaw_every_code_round_trips() {
        for code in 0..=255u8 {
            assert_eq!(alaw_encode(alaw_decode(code)), code, "code {code:#04x}");
        }
    }

    #[test]
    fn decode_is_strictly_monotonic_within_each_sign() {
        // Magnitude index 0..=127 (smallest to largest) for each sign, per the code layout.
        for positive in [false, true] {
            let sign = if positive { 1 } else { -1 };
            let mut previous_ulaw = -1i32;
            let mut previous_alaw = -1i32;
            for index in 0..=127u8 {
                let ulaw_code = !(index | if positive { 0 } else { 0x80 });
                let alaw_code = (index | if positive { 0x80 } else { 0 }) ^ 0x55;
                let ulaw = i32::from(ulaw_decode(ulaw_code));
                let alaw = i32::from(alaw_decode(alaw_code));
                assert!(ulaw * sign >= 0 && alaw * sign > 0);
                assert!(ulaw.abs() > previous_ulaw, "ulaw {ulaw_code:#04x}");
                assert!(alaw.abs() > previous_alaw, "alaw {alaw_code:#04x}");
                previous_ulaw = ulaw.abs();
                previous_alaw = alaw.abs();
            }
        }
        // Both signs are mirror images.
        for code in 0..=255u8 {
            assert_eq!(ulaw_decode(code), -ulaw_decode(code ^ 0x80));
            assert_eq!(alaw_decode(code), -alaw_decode(code ^ 0x80));
        }
    }

    #[test]
    fn quantization_error_within_half_step_for_every_sample() {
        let mut previous = (i32::MIN, i32::MIN);
        for x in i16::MIN..=i16::MAX {
            let xi = i32::from(x);

            let code = ulaw_encode(x);
            let y = i32::from(ulaw_decode(code));
            if xi.abs() <= ULAW_CLIP {
                assert!((y - xi).abs() <= ulaw_half_step(code), "ulaw x={x} y={y}");
            } else {
                assert_eq!(y, 32124 * xi.signum(), "ulaw clip x={x}");
            }

            let code = alaw_encode(x);
            let z = i32::from(alaw_decode(code));
            assert!((z - xi).abs() <= alaw_half_step(code), "alaw x={x} z={z}");

            // The round trip never reorders samples.
            assert!(y >= previous.0 && z >= previous.1, "monotonic at x={x}");
            previous = (y, z);
        }
    }

    #[test]
    fn slice_helpers_match_scalar_and_respect_buffer_lengths() {
        let pcm: [i16; 6] = [0, 1, -1, 1000, -32768, 32767];
        let mut codes = [0u8; 6];
        let mut back = [0i16; 6];

        assert_eq!(encode_ulaw(&pcm, &mut codes), 6);
        assert!(codes.iter().zip(&pcm).all(|(&c, &s)| c == ulaw_encode(s)));
        assert_eq!(decode_ulaw(&codes, &mut back), 6);
        assert!(back.iter().zip(&codes).all(|(&s, &c)| s == ulaw_decode(c)));

        assert_eq!(encode_alaw(&pcm, &mut codes), 6);
        assert!(codes.iter().zip(&pcm).all(|(&c, &s)| c == alaw_encode(s)));
        assert_eq!(decode_alaw(&codes, &mut back), 6);
        assert!(back.iter().zip(&codes).all(|(&s, &c)| s == alaw_decode(c)));

        // Shorter output: only what fits is written, the rest untouched.
        let mut short = [0xAAu8; 4];
        assert_eq!(encode_ulaw(&pcm[..2], &mut short), 2);
        assert_eq!(short, [0xFF, ulaw_encode(1), 0xAA, 0xAA]);
        let mut small = [7i16; 2];
        assert_eq!(decode_alaw(&[0xD5, 0x55, 0xD5], &mut small), 2);
        assert_eq!(small, [8, -8]);
        assert_eq!(decode_ulaw(&[], &mut small), 0);
        assert_eq!(encode_alaw(&pcm, &mut []), 0);
    }
}
