//! Audio helpers of the end-to-end tests: tones, µ-law RTP packets, and a Goertzel filter
//! to tell which frequencies a recording holds.

use switchboard_media::g711;

/// `n` samples of a `hz` sine at `rate`, starting at sample `start`, amplitude `amp`.
pub fn tone(hz: f64, rate: u32, start: usize, n: usize, amp: f64) -> Vec<i16> {
    (start..start + n)
        .map(|i| {
            (amp * (2.0 * std::f64::consts::PI * hz * i as f64 / f64::from(rate)).sin()) as i16
        })
        .collect()
}

/// An RTP packet (PT 0, PCMU) carrying `pcm` (8 kHz).
pub fn pcmu_packet(seq: u16, ts: u32, ssrc: u32, pcm: &[i16]) -> Vec<u8> {
    let mut p = vec![0x80, 0x00];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend(pcm.iter().map(|&s| g711::ulaw_encode(s)));
    p
}

/// The 8 kHz PCM of a PCMU RTP packet (empty for anything else, e.g. DTMF events).
pub fn pcmu_payload(packet: &[u8]) -> Vec<i16> {
    if packet.len() <= 12 || packet[1] & 0x7f != 0 {
        return Vec::new();
    }
    packet[12..].iter().map(|&b| g711::ulaw_decode(b)).collect()
}

/// The power of `hz` in `pcm` (Goertzel), normalised by length so windows compare.
pub fn power(pcm: &[i16], rate: u32, hz: f64) -> f64 {
    if pcm.is_empty() {
        return 0.0;
    }
    let k = 2.0 * (2.0 * std::f64::consts::PI * hz / f64::from(rate)).cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in pcm {
        let s0 = f64::from(x) + k * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    (s1 * s1 + s2 * s2 - k * s1 * s2) / (pcm.len() as f64 * pcm.len() as f64)
}

/// The strongest of `candidates` in `pcm`, and how many times stronger it is than the
/// runner-up.
pub fn dominant(pcm: &[i16], rate: u32, candidates: &[f64]) -> (f64, f64) {
    let mut p: Vec<(f64, f64)> = candidates
        .iter()
        .map(|&hz| (hz, power(pcm, rate, hz)))
        .collect();
    p.sort_by(|a, b| b.1.total_cmp(&a.1));
    let ratio = if p.len() > 1 && p[1].1 > 0.0 {
        p[0].1 / p[1].1
    } else {
        f64::INFINITY
    };
    (p[0].0, ratio)
}

/// Reads the samples of a 16-bit PCM WAV file (any chunk layout) and its sample rate.
pub fn read_wav(bytes: &[u8]) -> Option<(u32, Vec<i16>)> {
    if bytes.len() < 12 || &bytes[..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return None;
    }
    let mut at = 12;
    let mut rate = None;
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().ok()?) as usize;
        let body = bytes.get(at + 8..(at + 8 + len).min(bytes.len()))?;
        if id == b"fmt " && body.len() >= 16 {
            rate = Some(u32::from_le_bytes(body[4..8].try_into().ok()?));
        } else if id == b"data" {
            let pcm = body
                .chunks_exact(2)
                .map(|c| i16::from_le_bytes([c[0], c[1]]))
                .collect();
            return Some((rate?, pcm));
        }
        at += 8 + len + (len & 1);
    }
    None
}

/// A mono 16-bit PCM WAV of `pcm` at `rate`.
pub fn wav(rate: u32, pcm: &[i16]) -> Vec<u8> {
    let data: Vec<u8> = pcm.iter().flat_map(|s| s.to_le_bytes()).collect();
    let mut w = Vec::with_capacity(44 + data.len());
    w.extend_from_slice(b"RIFF");
    w.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    w.extend_from_slice(b"WAVEfmt ");
    w.extend_from_slice(&16u32.to_le_bytes());
    w.extend_from_slice(&1u16.to_le_bytes());
    w.extend_from_slice(&1u16.to_le_bytes());
    w.extend_from_slice(&rate.to_le_bytes());
    w.extend_from_slice(&(rate * 2).to_le_bytes());
    w.extend_from_slice(&2u16.to_le_bytes());
    w.extend_from_slice(&16u16.to_le_bytes());
    w.extend_from_slice(b"data");
    w.extend_from_slice(&(data.len() as u32).to_le_bytes());
    w.extend_from_slice(&data);
    w
}
