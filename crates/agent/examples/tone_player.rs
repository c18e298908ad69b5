//! A tone / WAV player that also reports what it hears: registers (8 kHz), accepts every job,
//! says ready and plays a sine tone (440 Hz by default) or a WAV file in a loop to the
//! caller, paced at 20 ms. Every second it prints the dominant frequency of the caller's
//! audio (a Goertzel scan), and it prints the DTMF digits it receives.
//!
//! ```text
//! switchboard serve --dev
//! cargo run -p switchboard-agent --example tone_player -- --agent-name tone --tone 440
//! switchboard dispatch agent --name tone --number +15550200 --allowed-address 127.0.0.1 \
//!     --agent tone
//! python3 -c "import math, struct, wave; w = wave.open('tone-1k.wav', 'wb'); \
//!     w.setnchannels(1); w.setsampwidth(2); w.setframerate(8000); \
//!     w.writeframes(b''.join(struct.pack('<h', int(8000 * math.sin(2 * math.pi * 1000 * n / 8000))) for n in range(24000)))"
//! switchboard call --to +15550200 --wav tone-1k.wav --record heard.wav
//! ```
//!
//! The player prints `heard 1000 Hz` lines while the call sends its 3 s of 1 kHz, and
//! `switchboard call` reports a dominant frequency of 440 Hz in what it recorded.
//!
//! Flags: `--url` (default `http://127.0.0.1:7880`), `--api-key`/`--api-secret` (default
//! `LIVEKIT_API_KEY`/`LIVEKIT_API_SECRET`, then the `serve --dev` pair), `--agent-name`
//! (default `tone`), `--tone HZ`, `--wav FILE` (mono 16-bit PCM at 8, 16, 24 or 48 kHz).

use std::time::Duration;

use switchboard_agent::{JobOffer, MediaEvent, Worker, WorkerOptions};
use switchboard_media::Resampler;

/// The rate this worker registers with (the caller's own rate: no resampling needed).
pub const RATE: u32 = 8000;
/// Samples in 20 ms.
const FRAME: usize = RATE as usize / 50;

/// What to play.
#[derive(Clone, Debug)]
pub struct Settings {
    /// One period (or more) of audio, played in a loop.
    pub audio: Vec<i16>,
    /// What it is, for the logs.
    pub label: String,
}

impl Settings {
    /// A sine tone of `hz` at about -12 dBFS, one second long (an integer number of periods
    /// for any whole-Hz frequency, so the loop has no click).
    pub fn tone(hz: f64) -> Settings {
        let audio = (0..RATE as usize)
            .map(|n| {
                ((2.0 * std::f64::consts::PI * hz * n as f64 / f64::from(RATE)).sin() * 8000.0)
                    as i16
            })
            .collect();
        Settings {
            audio,
            label: format!("a {hz} Hz tone"),
        }
    }

    /// A WAV file, resampled to 8 kHz.
    pub fn wav(path: &str) -> Result<Settings, String> {
        let data = std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))?;
        let (rate, samples) = parse_wav(&data).map_err(|e| format!("{path}: {e}"))?;
        let audio = if rate == RATE {
            samples
        } else {
            let mut r = Resampler::new(rate, RATE).map_err(|_| {
                format!("{path}: {rate} Hz is not supported; use 8000, 16000, 24000 or 48000 Hz")
            })?;
            let mut out = Vec::new();
            r.process(&samples, &mut out);
            out
        };
        if audio.is_empty() {
            return Err(format!("{path}: no audio"));
        }
        Ok(Settings {
            audio,
            label: path.to_owned(),
        })
    }
}

/// What the player noticed during a job.
#[derive(Clone, Debug, PartialEq)]
pub enum Report {
    /// The job started (call id).
    Started(String),
    /// One second of caller audio: its dominant frequency, `None` when silent.
    Heard(Option<f64>),
    Dtmf(String),
    /// The job ended.
    Ended,
}

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("tone_player: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), String> {
    let mut options = WorkerOptions {
        api_key: std::env::var("LIVEKIT_API_KEY").unwrap_or_else(|_| "devkey".into()),
        api_secret: std::env::var("LIVEKIT_API_SECRET").unwrap_or_else(|_| "secret".into()),
        agent_name: "tone".into(),
        max_jobs: 4,
        sample_rate: RATE,
        version: env!("CARGO_PKG_VERSION").into(),
        ..WorkerOptions::default()
    };
    let mut settings = Settings::tone(440.0);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--url" => options.url = value()?,
            "--api-key" => options.api_key = value()?,
            "--api-secret" => options.api_secret = value()?,
            "--agent-name" => options.agent_name = value()?,
            "--tone" => {
                let hz: f64 = value()?.parse().map_err(|e| format!("--tone: {e}"))?;
                if !(20.0..=3900.0).contains(&hz) {
                    return Err("--tone: give a frequency between 20 and 3900 Hz".into());
                }
                settings = Settings::tone(hz);
            }
            "--wav" => settings = Settings::wav(&value()?)?,
            "-h" | "--help" => {
                println!(
                    "usage: tone_player [--url URL] [--api-key KEY] [--api-secret SECRET] [--agent-name NAME] [--tone HZ | --wav FILE]"
                );
                return Ok(());
            }
            other => return Err(format!("unknown argument {other:?}; see --help")),
        }
    }
    serve(options, settings, |job, report| match report {
        Report::Started(call) => println!("[{job}] playing to call {call}"),
        Report::Heard(Some(hz)) => println!("[{job}] heard {hz:.0} Hz"),
        Report::Heard(None) => println!("[{job}] heard silence"),
        Report::Dtmf(d) => println!("[{job}] DTMF {d}"),
        Report::Ended => println!("[{job}] done"),
    })
    .await
}

/// Registers and plays to every call until the connection to switchboard closes;
/// `report(job id, what)` is told what each job hears.
pub async fn serve(
    options: WorkerOptions,
    settings: Settings,
    report: impl Fn(&str, Report) + Clone + Send + Sync + 'static,
) -> Result<(), String> {
    let url = options.url.clone();
    let worker = Worker::connect(options).await.map_err(|e| e.to_string())?;
    println!(
        "registered as {} at {url}; playing {} to every call",
        worker.worker_id(),
        settings.label
    );
    while let Some(offer) = worker.next_offer().await {
        let settings = settings.clone();
        let report = report.clone();
        tokio::spawn(async move {
            let job = offer.job_id.clone();
            if let Err(e) = play(offer, &settings, |r| report(&job, r)).await {
                eprintln!("[{job}] {e}");
            }
        });
    }
    Err(match worker.close_reason() {
        Some(e) => e.to_string(),
        None => "the control connection closed".into(),
    })
}

/// One job: play `settings.audio` in a loop, report what the caller sends.
pub async fn play(
    offer: JobOffer,
    settings: &Settings,
    report: impl Fn(Report),
) -> Result<(), switchboard_agent::Error> {
    let session = offer.accept().await?;
    session.ready().await?;
    let (mut events, sender) = session.split();
    let mut ticker = tokio::time::interval(Duration::from_millis(20));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut position = 0;
    let mut heard: Vec<i16> = Vec::with_capacity(RATE as usize);
    let mut frame = vec![0i16; FRAME];
    loop {
        tokio::select! {
            _ = ticker.tick() => {
                for s in frame.iter_mut() {
                    *s = settings.audio[position];
                    position = (position + 1) % settings.audio.len();
                }
                if sender.send_audio(&frame).await.is_err() {
                    break;
                }
            }
            event = events.recv() => match event {
                Some(MediaEvent::Start(s)) => report(Report::Started(s.call_id)),
                Some(MediaEvent::Audio(samples)) => {
                    heard.extend_from_slice(&samples);
                    if heard.len() >= RATE as usize {
                        report(Report::Heard(dominant_frequency(&heard)));
                        heard.clear();
                    }
                }
                Some(MediaEvent::Dtmf { digit, .. }) => report(Report::Dtmf(digit)),
                Some(MediaEvent::Hangup(_) | MediaEvent::Ended(_)) | None => break,
                Some(_) => {}
            },
        }
    }
    let _ = sender.close().await;
    report(Report::Ended);
    Ok(())
}

/// The strongest frequency of `pcm` (8 kHz) in 10 Hz steps from 100 Hz to 3.9 kHz, or
/// `None` when it is too quiet to tell (RMS below about -50 dBFS).
pub fn dominant_frequency(pcm: &[i16]) -> Option<f64> {
    let rms =
        (pcm.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / pcm.len().max(1) as f64).sqrt();
    if rms < 100.0 {
        return None;
    }
    // A Hann window keeps a strong tone from leaking into its neighbours.
    let n = pcm.len() as f64;
    let x: Vec<f64> = pcm
        .iter()
        .enumerate()
        .map(|(i, &s)| {
            f64::from(s) * (0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n).cos())
        })
        .collect();
    (10..=390)
        .map(|k| f64::from(k) * 10.0)
        .map(|f| (f, goertzel(&x, f)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(f, _)| f)
}

/// Power of `x` at `freq` Hz (8 kHz sampling).
fn goertzel(x: &[f64], freq: f64) -> f64 {
    let coeff = 2.0 * (2.0 * std::f64::consts::PI * freq / f64::from(RATE)).cos();
    let (mut s1, mut s2) = (0.0, 0.0);
    for &v in x {
        let s = v + coeff * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    s1 * s1 + s2 * s2 - coeff * s1 * s2
}

/// `(sample rate, samples)` of a mono 16-bit PCM WAV file.
pub fn parse_wav(data: &[u8]) -> Result<(u32, Vec<i16>), String> {
    if data.len() < 12 || &data[0..4] != b"RIFF" || &data[8..12] != b"WAVE" {
        return Err("not a WAV file".into());
    }
    let mut at = 12;
    let mut rate = None;
    while at + 8 <= data.len() {
        let size =
            u32::from_le_bytes([data[at + 4], data[at + 5], data[at + 6], data[at + 7]]) as usize;
        let body = &data[at + 8..(at + 8).saturating_add(size).min(data.len())];
        match &data[at..at + 4] {
            b"fmt " if body.len() >= 16 => {
                let format = u16::from_le_bytes([body[0], body[1]]);
                let channels = u16::from_le_bytes([body[2], body[3]]);
                let bits = u16::from_le_bytes([body[14], body[15]]);
                if (format != 1 && format != 0xFFFE) || channels != 1 || bits != 16 {
                    return Err("not mono 16-bit PCM".into());
                }
                rate = Some(u32::from_le_bytes([body[4], body[5], body[6], body[7]]));
            }
            b"data" => {
                let rate = rate.ok_or("no fmt chunk before the data")?;
                let samples = body
                    .chunks_exact(2)
                    .map(|b| i16::from_le_bytes([b[0], b[1]]))
                    .collect();
                return Ok((rate, samples));
            }
            _ => {}
        }
        at = (at + 8).saturating_add(size).saturating_add(size & 1);
    }
    Err("no data chunk".into())
}
