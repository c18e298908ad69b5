//! An echo agent: registers, accepts every job, says ready and plays the caller's audio back
//! 0.5 s late. Prints the DTMF digits it receives and hangs up on `#`.
//!
//! ```text
//! switchboard serve --dev
//! cargo run -p switchboard-agent --example echo_agent -- \
//!     --url http://127.0.0.1:7880 --api-key devkey --api-secret secret --agent-name echo
//! ```
//!
//! `--api-key`/`--api-secret` default to `LIVEKIT_API_KEY`/`LIVEKIT_API_SECRET`, then to the
//! `serve --dev` pair.

use std::time::Duration;

use switchboard_agent::{JobOffer, MediaEvent, Worker, WorkerOptions};
use tokio::sync::mpsc;
use tokio::time::Instant;

const DELAY: Duration = Duration::from_millis(500);

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("echo_agent: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), String> {
    let mut options = WorkerOptions {
        api_key: std::env::var("LIVEKIT_API_KEY").unwrap_or_else(|_| "devkey".into()),
        api_secret: std::env::var("LIVEKIT_API_SECRET").unwrap_or_else(|_| "secret".into()),
        agent_name: "echo".into(),
        max_jobs: 4,
        version: env!("CARGO_PKG_VERSION").into(),
        ..WorkerOptions::default()
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--url" => options.url = value()?,
            "--api-key" => options.api_key = value()?,
            "--api-secret" => options.api_secret = value()?,
            "--agent-name" => options.agent_name = value()?,
            "--max-jobs" => {
                options.max_jobs = value()?.parse().map_err(|e| format!("--max-jobs: {e}"))?
            }
            "--sample-rate" => {
                options.sample_rate = value()?
                    .parse()
                    .map_err(|e| format!("--sample-rate: {e}"))?
            }
            "-h" | "--help" => {
                println!(
                    "usage: echo_agent [--url URL] [--api-key KEY] [--api-secret SECRET] [--agent-name NAME] [--max-jobs N] [--sample-rate HZ]"
                );
                return Ok(());
            }
            other => return Err(format!("unknown argument {other:?}; see --help")),
        }
    }
    let worker = Worker::connect(options.clone())
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "registered as {} for agent {:?} at {} ({} Hz); waiting for calls",
        worker.worker_id(),
        options.agent_name,
        options.url,
        worker.sample_rate()
    );
    while let Some(offer) = worker.next_offer().await {
        tokio::spawn(async move {
            let job = offer.job_id.clone();
            if let Err(e) = echo(offer).await {
                eprintln!("[{job}] {e}");
            }
        });
    }
    Err(match worker.close_reason() {
        Some(e) => e.to_string(),
        None => "the control connection closed".into(),
    })
}

async fn echo(offer: JobOffer) -> Result<(), switchboard_agent::Error> {
    println!(
        "[{}] offer: caller {:?} in room {:?}, metadata {:?}",
        offer.job_id, offer.participant.identity, offer.room.name, offer.metadata
    );
    let session = offer.accept().await?;
    let job = session.job_id.clone();
    session.ready().await?;
    let (mut events, sender) = session.split();

    // The delay line: each frame is played DELAY after it arrived.
    let (delay_tx, mut delay_rx) = mpsc::unbounded_channel::<(Instant, Vec<i16>)>();
    let out = sender.clone();
    let player = tokio::spawn(async move {
        while let Some((at, samples)) = delay_rx.recv().await {
            tokio::time::sleep_until(at + DELAY).await;
            if out.send_audio(&samples).await.is_err() {
                break;
            }
        }
    });

    while let Some(event) = events.recv().await {
        match event {
            MediaEvent::Audio(samples) => {
                let _ = delay_tx.send((Instant::now(), samples));
            }
            MediaEvent::Start(s) => {
                println!("[{job}] start: call {} at {} Hz", s.call_id, s.sample_rate)
            }
            MediaEvent::Dtmf { digit, .. } => {
                println!("[{job}] DTMF {digit}");
                if digit == "#" {
                    println!("[{job}] # pressed: hanging up");
                    sender.hangup().await?;
                }
            }
            MediaEvent::Hangup(reason) => {
                println!("[{job}] hangup ({reason:?})");
                break;
            }
            MediaEvent::Ended(reason) => {
                println!("[{job}] job ended ({reason})");
                break;
            }
            other => println!("[{job}] {other:?}"),
        }
    }
    drop(delay_tx);
    player.abort();
    let _ = sender.close().await;
    println!("[{job}] done");
    Ok(())
}
