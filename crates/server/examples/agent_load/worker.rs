//! The echo workers: accept every job at once, say ready, send each caller frame straight
//! back, and note when each burst arrived and when its echo was handed to the SDK.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use switchboard_agent::{JobOffer, MediaEvent, Worker, WorkerOptions};

use crate::{AGENT_NAME, Flags, LOUD, peak, wall_us};

type Log = Arc<Mutex<BufWriter<File>>>;

pub async fn run(flags: &Flags) -> Result<(), String> {
    let url = flags.need("url")?.to_string();
    let connections: usize = flags.num("connections", 1)?;
    let max_jobs: u32 = flags.num("max-jobs", 1000)?;
    let rate: u32 = flags.num("rate", 16000)?;
    let seconds: u64 = flags.num("seconds", 900)?;
    let out = flags.need("out")?;
    if !(1..=16).contains(&connections) || seconds > 3600 {
        return Err("--connections must be 1-16 and --seconds at most 3600".into());
    }
    let log: Log = Arc::new(Mutex::new(BufWriter::new(
        File::create(out).map_err(|e| format!("{out}: {e}"))?,
    )));
    let mut workers = Vec::new();
    for i in 0..connections {
        let worker = Worker::connect(WorkerOptions {
            url: url.clone(),
            api_key: std::env::var("LIVEKIT_API_KEY").unwrap_or_else(|_| "devkey".into()),
            api_secret: std::env::var("LIVEKIT_API_SECRET").unwrap_or_else(|_| "secret".into()),
            identity: format!("bench-echo-{}-{i}", std::process::id()),
            agent_name: AGENT_NAME.into(),
            max_jobs,
            sample_rate: rate,
            version: "bench".into(),
            ..WorkerOptions::default()
        })
        .await
        .map_err(|e| e.to_string())?;
        let log = log.clone();
        workers.push(tokio::spawn(async move {
            while let Some(offer) = worker.next_offer().await {
                let log = log.clone();
                tokio::spawn(async move {
                    let job = offer.job_id.clone();
                    if let Err(e) = echo(offer, log).await {
                        eprintln!("[{job}] {e}");
                    }
                });
            }
            eprintln!("worker {i}: control connection closed");
        }));
    }
    println!("registered {connections} echo workers ({max_jobs} jobs each, {rate} Hz)");
    // Bounded in time: the script stops us, or this does.
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    Ok(())
}

async fn echo(offer: JobOffer, log: Log) -> Result<(), switchboard_agent::Error> {
    let identity = offer.participant.identity.clone();
    let session = offer.accept().await?;
    session.ready().await?;
    let (mut events, sender) = session.split();
    let mut loud_before = false;
    let mut frames = 0u64;
    // (burst frame received, its echo handed to the SDK), wall-clock µs.
    let mut onsets: Vec<(i64, i64)> = Vec::new();
    while let Some(event) = events.recv().await {
        match event {
            MediaEvent::Audio(samples) => {
                let received = wall_us();
                frames += 1;
                let loud = peak(&samples) > LOUD;
                sender.send_audio(&samples).await?;
                if loud && !loud_before {
                    onsets.push((received, wall_us()));
                }
                loud_before = loud;
            }
            MediaEvent::Hangup(_) | MediaEvent::Ended(_) => break,
            _ => {}
        }
    }
    let _ = sender.close().await;
    let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
    let _ = writeln!(log, "job {identity} {frames}");
    for (received, sent) in onsets {
        let _ = writeln!(log, "onset {identity} {received} {sent}");
    }
    let _ = log.flush();
    Ok(())
}
