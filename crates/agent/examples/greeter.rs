//! A greeter: reads SIPHON's `{"agent_config": {...}}` from the job metadata, greets the
//! caller with a pre-recorded prompt, then echoes the caller (or stays silent) and hangs up
//! when the caller presses `#`.
//!
//! The job metadata is the dispatch rule's agent `metadata`, e.g. as set by
//!
//! ```text
//! switchboard serve --dev
//! cargo run -p switchboard-agent --example greeter
//! switchboard dispatch agent --name greeter --number +15550300 --allowed-address 127.0.0.1 \
//!     --agent greeter --greeting goodbye
//! switchboard call --to +15550300 --record greeting.wav --dtmf '#' --dtmf-delay 4
//! ```
//!
//! The call hears "Goodbye." (in `greeting.wav`), then its own voice, and the greeter hangs up
//! on the `#`.
//!
//! `agent_config` keys (all optional):
//! * `greeting`: one of switchboard's built-in prompts, `enter_pin` (the default),
//!   `invalid_pin` or `goodbye` (see `crates/media/prompts`), by name or by its text
//!   ("Goodbye."); other text has no recording, so the default prompt is played;
//! * `greeting_file`: a raw prompt file to play instead (8 kHz mono signed 16-bit
//!   little-endian PCM, no header, like the files in `crates/media/prompts`);
//! * `echo`: after the greeting, play the caller's audio back (default `true`).
//!
//! Flags: `--url` (default `http://127.0.0.1:7880`), `--api-key`/`--api-secret` (default
//! `LIVEKIT_API_KEY`/`LIVEKIT_API_SECRET`, then the `serve --dev` pair), `--agent-name`
//! (default `greeter`).

use serde_json::Value;
use switchboard_agent::{CallStatus, JobOffer, MediaEvent, Worker, WorkerOptions};
use switchboard_media::Prompt;

/// The built-in prompts' rate; the worker registers with it so nothing is resampled.
pub const RATE: u32 = 8000;
/// The mark sent after the greeting: its echo means the greeting has been played.
const GREETED: &str = "greeted";

/// What the job metadata asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Greeting {
    /// What is played, for the logs: the prompt name or the file.
    pub name: String,
    pub samples: Vec<i16>,
    pub echo: bool,
}

/// Reads `{"agent_config": {...}}`; missing or empty metadata gives the defaults. Errors say
/// what is wrong with the configuration.
pub fn greeting(metadata: &str) -> Result<Greeting, String> {
    let config = if metadata.trim().is_empty() {
        Value::Null
    } else {
        let v: Value = serde_json::from_str(metadata)
            .map_err(|e| format!("the job metadata is not JSON ({e}): {metadata:?}"))?;
        v.get("agent_config").cloned().unwrap_or(Value::Null)
    };
    let echo = match config.get("echo") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(format!(
                "agent_config.echo must be true or false, not {other}"
            ));
        }
    };
    if let Some(path) = config.get("greeting_file").and_then(Value::as_str) {
        let bytes =
            std::fs::read(path).map_err(|e| format!("agent_config.greeting_file {path:?}: {e}"))?;
        if bytes.is_empty() || bytes.len() % 2 != 0 {
            return Err(format!(
                "agent_config.greeting_file {path:?}: expected raw 8 kHz 16-bit PCM (an even, non-zero number of bytes)"
            ));
        }
        let samples = bytes
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect();
        return Ok(Greeting {
            name: path.to_owned(),
            samples,
            echo,
        });
    }
    let name = match config.get("greeting") {
        None | Some(Value::Null) => "enter_pin",
        Some(Value::String(s)) => s.as_str(),
        Some(other) => {
            return Err(format!(
                "agent_config.greeting must be a string, not {other}"
            ));
        }
    };
    let by_text = Prompt::ALL
        .into_iter()
        .find(|p| p.text().eq_ignore_ascii_case(name.trim()));
    let prompt = match (name, by_text) {
        ("enter_pin", _) => Prompt::EnterPin,
        ("invalid_pin", _) => Prompt::InvalidPin,
        ("goodbye", _) => Prompt::Goodbye,
        (_, Some(p)) => p,
        (other, None) => {
            return Err(format!(
                "agent_config.greeting {other:?} is not a built-in prompt: use enter_pin, invalid_pin or goodbye, or give greeting_file"
            ));
        }
    };
    Ok(Greeting {
        name: name.to_owned(),
        samples: prompt.samples().to_vec(),
        echo,
    })
}

/// What happened during a job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Report {
    /// The greeting chosen from the metadata (its name).
    Greeting(String),
    /// The metadata could not be used; the default greeting is played.
    BadConfig(String),
    /// The greeting has been played entirely.
    Greeted,
    Dtmf(String),
    /// `#` was pressed: hanging up.
    HangingUp,
    Ended,
}

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("greeter: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), String> {
    let mut options = WorkerOptions {
        api_key: std::env::var("LIVEKIT_API_KEY").unwrap_or_else(|_| "devkey".into()),
        api_secret: std::env::var("LIVEKIT_API_SECRET").unwrap_or_else(|_| "secret".into()),
        agent_name: "greeter".into(),
        max_jobs: 4,
        sample_rate: RATE,
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
            "-h" | "--help" => {
                println!(
                    "usage: greeter [--url URL] [--api-key KEY] [--api-secret SECRET] [--agent-name NAME]"
                );
                return Ok(());
            }
            other => return Err(format!("unknown argument {other:?}; see --help")),
        }
    }
    serve(options, |job, report| println!("[{job}] {report:?}")).await
}

/// Registers and greets every call until the connection to switchboard closes.
pub async fn serve(
    options: WorkerOptions,
    report: impl Fn(&str, Report) + Clone + Send + Sync + 'static,
) -> Result<(), String> {
    let url = options.url.clone();
    let name = options.agent_name.clone();
    let worker = Worker::connect(options).await.map_err(|e| e.to_string())?;
    println!(
        "registered as {} for agent {name:?} at {url}; waiting for calls",
        worker.worker_id()
    );
    while let Some(offer) = worker.next_offer().await {
        let report = report.clone();
        tokio::spawn(async move {
            let job = offer.job_id.clone();
            if let Err(e) = greet(offer, |r| report(&job, r)).await {
                eprintln!("[{job}] {e}");
            }
        });
    }
    Err(match worker.close_reason() {
        Some(e) => e.to_string(),
        None => "the control connection closed".into(),
    })
}

/// One job: greet, then echo (if configured) until `#` or the caller hangs up.
pub async fn greet(
    offer: JobOffer,
    report: impl Fn(Report),
) -> Result<(), switchboard_agent::Error> {
    let greeting = match greeting(&offer.metadata) {
        Ok(g) => g,
        Err(e) => {
            report(Report::BadConfig(e));
            greeting("").map_err(switchboard_agent::Error::Protocol)?
        }
    };
    report(Report::Greeting(greeting.name.clone()));
    let mut session = offer.accept().await?;
    session.ready().await?;
    let mut started = false;
    let mut greeted = false;
    while let Some(event) = session.next_event().await {
        // The call is answered once `ready` is sent; the greeting starts when it is active.
        // (Audio sent earlier would be held and played at the answer too; waiting keeps the
        // mark's timing about the caller's ear.)
        let active = matches!(
            event,
            MediaEvent::CallStatus(CallStatus::Active) | MediaEvent::Audio(_)
        );
        if active && !started {
            started = true;
            // Sent at once: switchboard buffers it and paces it out at 20 ms.
            session.send_audio(&greeting.samples).await?;
            session.mark(GREETED).await?;
        }
        match event {
            MediaEvent::Mark(name) if name == GREETED => {
                greeted = true;
                report(Report::Greeted);
            }
            MediaEvent::Audio(samples) if greeted && greeting.echo => {
                session.send_audio(&samples).await?;
            }
            MediaEvent::Dtmf { digit, .. } => {
                report(Report::Dtmf(digit.clone()));
                if digit == "#" {
                    report(Report::HangingUp);
                    session.hangup().await?;
                }
            }
            MediaEvent::Hangup(_) | MediaEvent::Ended(_) => break,
            _ => {}
        }
    }
    let _ = session.close().await;
    report(Report::Ended);
    Ok(())
}
