//! Reading and writing mono PCM16 WAV files (RIFF/WAVE, format 1), which is all
//! `switchboard call` sends and records.

use std::path::Path;

/// A decoded WAV file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wav {
    pub sample_rate: u32,
    pub samples: Vec<i16>,
}

/// Longest WAV read (one hour at 48 kHz).
const MAX_SAMPLES: usize = 48_000 * 3600;

/// Reads a WAV file; errors say what is wrong and how to convert the file.
pub fn read(path: &Path) -> Result<Wav, String> {
    let data = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    parse(&data).map_err(|e| {
        format!(
            "{}: {e}; convert it with e.g. `sox in.wav -r 8000 -c 1 -b 16 -e signed-integer out.wav`",
            path.display()
        )
    })
}

/// Parses a WAV file: mono, 16-bit PCM (extensible format with the PCM sub-format too).
pub fn parse(data: &[u8]) -> Result<Wav, String> {
    if data.len() < 12 || &data[0..4] != b"RIFF" || &data[8..12] != b"WAVE" {
        return Err("not a WAV file (no RIFF/WAVE header)".into());
    }
    let mut at = 12;
    let mut format: Option<(u16, u16, u32, u16)> = None;
    while at + 8 <= data.len() {
        let id = &data[at..at + 4];
        let size = u32::from_le_bytes([data[at + 4], data[at + 5], data[at + 6], data[at + 7]]);
        let body_start = at + 8;
        let body_end = body_start.saturating_add(size as usize).min(data.len());
        let body = &data[body_start..body_end];
        match id {
            b"fmt " => {
                if body.len() < 16 {
                    return Err("the fmt chunk is too short".into());
                }
                let mut tag = u16::from_le_bytes([body[0], body[1]]);
                let channels = u16::from_le_bytes([body[2], body[3]]);
                let rate = u32::from_le_bytes([body[4], body[5], body[6], body[7]]);
                let bits = u16::from_le_bytes([body[14], body[15]]);
                if tag == 0xFFFE && body.len() >= 26 {
                    // WAVE_FORMAT_EXTENSIBLE: the sub-format GUID starts with the tag.
                    tag = u16::from_le_bytes([body[24], body[25]]);
                }
                format = Some((tag, channels, rate, bits));
            }
            b"data" => {
                let Some((tag, channels, rate, bits)) = format else {
                    return Err("the data chunk comes before the fmt chunk".into());
                };
                if tag != 1 || bits != 16 {
                    return Err(format!(
                        "the audio is not 16-bit PCM (format {tag}, {bits} bits)"
                    ));
                }
                if channels != 1 {
                    return Err(format!("the audio has {channels} channels, not 1 (mono)"));
                }
                if rate == 0 {
                    return Err("the sample rate is 0".into());
                }
                let samples: Vec<i16> = body
                    .chunks_exact(2)
                    .take(MAX_SAMPLES)
                    .map(|b| i16::from_le_bytes([b[0], b[1]]))
                    .collect();
                return Ok(Wav {
                    sample_rate: rate,
                    samples,
                });
            }
            _ => {}
        }
        // Chunks are padded to an even size.
        at = body_start
            .saturating_add(size as usize)
            .saturating_add(size as usize & 1);
    }
    Err("no audio (data chunk) found".into())
}

/// The bytes of a mono PCM16 WAV file.
pub fn encode(sample_rate: u32, samples: &[i16]) -> Vec<u8> {
    let data_len = (samples.len() * 2) as u32;
    let mut out = Vec::with_capacity(44 + samples.len() * 2);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&sample_rate.to_le_bytes());
    out.extend_from_slice(&(sample_rate * 2).to_le_bytes()); // byte rate
    out.extend_from_slice(&2u16.to_le_bytes()); // block align
    out.extend_from_slice(&16u16.to_le_bytes()); // bits
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
    out
}

/// Writes a mono PCM16 WAV file.
pub fn write(path: &Path, sample_rate: u32, samples: &[i16]) -> Result<(), String> {
    std::fs::write(path, encode(sample_rate, samples))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let samples: Vec<i16> = (0..1000).map(|i| (i * 31 - 15000) as i16).collect();
        let bytes = encode(8000, &samples);
        assert_eq!(bytes.len(), 44 + 2000);
        assert_eq!(
            parse(&bytes).unwrap(),
            Wav {
                sample_rate: 8000,
                samples
            }
        );
    }

    #[test]
    fn skips_other_chunks_and_refuses_what_it_cannot_play() {
        let mut bytes = encode(16000, &[1, 2, 3]);
        // A LIST chunk (odd size, padded) between fmt and data.
        let list = [b'L', b'I', b'S', b'T', 3, 0, 0, 0, b'a', b'b', b'c', 0];
        bytes.splice(36..36, list);
        assert_eq!(parse(&bytes).unwrap().samples, vec![1, 2, 3]);

        let mut stereo = encode(8000, &[0; 4]);
        stereo[22] = 2;
        assert!(parse(&stereo).unwrap_err().contains("channels"));
        let mut eight_bit = encode(8000, &[0; 4]);
        eight_bit[34] = 8;
        assert!(parse(&eight_bit).unwrap_err().contains("16-bit"));
        assert!(parse(b"RIFF").is_err());
        assert!(parse(b"RIFF\0\0\0\0WAVE").is_err());
        assert!(parse(b"RIFF\0\0\0\0WAVEfmt \xff\xff\xff\xff").is_err());
        // A data chunk claiming more than there is: what is there is read.
        let mut short = encode(8000, &[5, 6]);
        short[40..44].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(parse(&short).unwrap().samples, vec![5, 6]);
    }
}
