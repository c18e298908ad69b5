//! `switchboard call` (the built binary) against `switchboard serve` (the built binary) with
//! agent workers running in this process: the echo agent sends back the 1 kHz WAV the call
//! sends (checked in the recording), DTMF reaches the agent, rejected calls exit non-zero
//! with the status, and the SDK examples `tone_player` and `greeter` (compiled into this
//! test from `crates/agent/examples`) answer real calls through switchboard.

mod support;

#[allow(dead_code)]
#[path = "../../agent/examples/tone_player.rs"]
mod tone_player;

#[allow(dead_code)]
#[path = "../../agent/examples/greeter.rs"]
mod greeter;

use std::path::Path;
use std::process::Command;
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use serde_json::json;
use support::sip::*;
use switchboard_agent::{MediaEvent, Worker};

const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs `f` on a runtime of its own in a background thread (the worker lives until the
/// server goes away).
fn in_thread<F: std::future::Future<Output = ()> + Send + 'static>(f: F) {
    std::thread::spawn(move || support::worker::runtime().block_on(f));
}

/// An echo worker (16 kHz, so the audio goes through the resampler both ways) that reports
/// the DTMF digits it receives.
fn echo_worker(url: &str, digits: std_mpsc::Sender<String>) {
    let (ready_tx, ready_rx) = std_mpsc::channel();
    let options = support::worker::options(url, "echo", 16000);
    in_thread(async move {
        let worker = Worker::connect(options)
            .await
            .expect("the echo worker registers");
        let _ = ready_tx.send(());
        while let Some(offer) = worker.next_offer().await {
            let digits = digits.clone();
            tokio::spawn(async move {
                let Ok(mut session) = offer.accept().await else {
                    return;
                };
                let _ = session.ready().await;
                while let Some(ev) = session.next_event().await {
                    match ev {
                        MediaEvent::Audio(pcm) => {
                            let _ = session.send_audio(&pcm).await;
                        }
                        MediaEvent::Dtmf { digit, .. } => {
                            let _ = digits.send(digit);
                        }
                        MediaEvent::Hangup(_) | MediaEvent::Ended(_) => break,
                        _ => {}
                    }
                }
            });
        }
    });
    ready_rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the echo worker registered");
}

/// A trunk for `number` and an individual rule dispatching `agent` with `metadata`.
fn route(api: &Api, number: &str, agent: &str, metadata: &str, trunk_extra: serde_json::Value) {
    let mut trunk = json!({"name": format!("carrier {number}"), "numbers": [number]});
    if let (Some(t), Some(extra)) = (trunk.as_object_mut(), trunk_extra.as_object()) {
        t.extend(extra.clone());
    }
    let trunk = api.trunk(trunk);
    api.rule(json!({
        "trunk_ids": [trunk],
        "rule": {"dispatch_rule_individual": {"room_prefix": "call"}},
        "room_config": {"agents": [{"agent_name": agent, "metadata": metadata}]}
    }));
}

/// Writes `secs` of a `hz` tone at `rate` as a mono PCM16 WAV.
fn write_tone(path: &Path, hz: f64, rate: u32, secs: f64) {
    let n = (f64::from(rate) * secs) as usize;
    let samples: Vec<i16> = (0..n)
        .map(|i| {
            ((2.0 * std::f64::consts::PI * hz * i as f64 / f64::from(rate)).sin() * 10_000.0) as i16
        })
        .collect();
    write_wav(path, rate, &samples);
}

/// Writes a mono PCM16 WAV.
fn write_wav(path: &Path, rate: u32, samples: &[i16]) {
    let n = samples.len() as u32;
    let mut out = Vec::new();
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + 2 * n).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * 2).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(2 * n).to_le_bytes());
    for s in samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
    std::fs::write(path, out).expect("the WAV is written");
}

/// Reads a recording made by `switchboard call`: 8 kHz mono PCM16.
fn read_recording(path: &Path) -> Vec<i16> {
    let data = std::fs::read(path)
        .unwrap_or_else(|e| panic!("the recording {} exists: {e}", path.display()));
    let (rate, samples) = tone_player::parse_wav(&data).expect("the recording is a mono PCM16 WAV");
    assert_eq!(rate, 8000, "the recording is 8 kHz");
    samples
}

/// The dominant frequency of the audible part of a recording (1 s blocks).
fn dominant(pcm: &[i16]) -> Vec<f64> {
    pcm.chunks_exact(8000)
        .filter_map(tone_player::dominant_frequency)
        .collect()
}

/// Runs `switchboard call` with `args`; returns (success, output).
fn call(server: &support::Server, args: &[&str]) -> (bool, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_switchboard"));
    cmd.arg("call").args(["--sip", &server.sip_udp]).args(args);
    let done = support::run(cmd, "call", CALL_TIMEOUT);
    let output = done.output.join("\n");
    let status = done
        .status
        .unwrap_or_else(|| panic!("switchboard call ran out of time:\n{output}"));
    (status.success(), output)
}

#[test]
fn the_echo_agent_sends_back_the_wav_and_receives_the_dtmf() {
    let server = sip_server(&[]);
    let api = Api::new(&server);
    route(&api, "+15550100", "echo", "{}", json!({}));
    let (digits_tx, digits) = std_mpsc::channel();
    echo_worker(&server.url, digits_tx);

    let dir = Scratch::new("call-echo");
    let wav = dir.path().join("tone-1k.wav");
    let out = dir.path().join("out.wav");
    // 16 kHz: the caller resamples it to 8 kHz.
    write_tone(&wav, 1000.0, 16000, 2.0);
    let (ok, output) = call(
        &server,
        &[
            "--from",
            "+15551234567",
            "--to",
            "+15550100",
            "--wav",
            wav.to_str().unwrap(),
            "--record",
            out.to_str().unwrap(),
            "--dtmf",
            "159",
            "--dtmf-delay",
            "2.5",
            "--duration",
            "4",
        ],
    );
    assert!(ok, "the call failed:\n{output}");
    assert!(output.contains("200 OK"), "{output}");
    assert!(output.contains("DTMF \"159\""), "{output}");
    assert!(output.contains("dominant frequency: 1000 Hz"), "{output}");

    let pcm = read_recording(&out);
    assert!(
        pcm.len() >= 8000 * 2,
        "at least the 2 s sent came back, got {} samples\n{output}",
        pcm.len()
    );
    let heard = dominant(&pcm);
    assert!(!heard.is_empty(), "the recording is silent\n{output}");
    assert!(
        (heard[0] - 1000.0).abs() <= 20.0,
        "the echo is ~1 kHz: {heard:?}\n{output}"
    );

    let mut got = String::new();
    while got.len() < 3 {
        match digits.recv_timeout(Duration::from_secs(5)) {
            Ok(d) => got.push_str(&d),
            Err(_) => break,
        }
    }
    assert_eq!(got, "159", "the agent received the caller's DTMF\n{output}");
}

#[test]
fn rejected_calls_exit_non_zero_with_the_status() {
    let server = sip_server(&[]);
    let api = Api::new(&server);
    route(
        &api,
        "+15550101",
        "nobody-registered",
        "{}",
        json!({"ringing_timeout": "2s"}),
    );

    let (ok, output) = call(&server, &["--to", "+15559999", "--quiet"]);
    assert!(!ok, "a call to an unrouted number must fail:\n{output}");
    assert!(
        output.contains("error: the call was rejected: 404"),
        "{output}"
    );

    let (ok, output) = call(&server, &["--to", "+15550101"]);
    assert!(!ok, "a call nobody answers must fail:\n{output}");
    assert!(output.contains("180"), "it rang first:\n{output}");
    assert!(
        output.contains("error: the call was rejected: 480"),
        "{output}"
    );
    assert!(output.contains("agents list"), "with a hint:\n{output}");

    // Nothing listening: said so, quickly.
    let closed = std::net::UdpSocket::bind("127.0.0.1:0").expect("a socket");
    let addr = closed.local_addr().expect("an address").to_string();
    drop(closed);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_switchboard"));
    cmd.args(["call", "--sip", &addr, "--to", "+15550100"]);
    let done = support::run(cmd, "call", Duration::from_secs(20));
    let output = done.output.join("\n");
    assert!(done.status.is_some_and(|s| !s.success()), "{output}");
    assert!(output.contains("nothing listens for SIP"), "{output}");

    // Bad arguments are explained.
    let (ok, output) = call(&server, &["--to", "+1555\r\nX: y"]);
    assert!(!ok && output.contains("--to"), "{output}");
    let (ok, output) = call(&server, &["--to", "+15550100", "--dtmf", "12x"]);
    assert!(!ok && output.contains("not a DTMF digit"), "{output}");
}

#[test]
fn the_tone_player_example_plays_440_hz_and_hears_1_khz() {
    let server = sip_server(&[]);
    let api = Api::new(&server);
    route(&api, "+15550200", "tone", "{}", json!({}));
    let (reports_tx, reports) = std_mpsc::channel();
    let options = support::worker::options(&server.url, "tone", tone_player::RATE);
    let tx = std::sync::Mutex::new(reports_tx);
    let report = std::sync::Arc::new(move |_job: &str, r: tone_player::Report| {
        let _ = tx.lock().unwrap_or_else(|e| e.into_inner()).send(r);
    });
    in_thread(async move {
        let report = report.clone();
        let _ = tone_player::serve(options, tone_player::Settings::tone(440.0), move |j, r| {
            report(j, r)
        })
        .await;
    });
    // Registered once the worker shows up in the API.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while api.get("/api/v1/agents").1["workers"]
        .as_array()
        .is_none_or(|w| w.is_empty())
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the tone player registers"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    let dir = Scratch::new("call-tone");
    let wav = dir.path().join("tone-1k.wav");
    let out = dir.path().join("heard.wav");
    write_tone(&wav, 1000.0, 8000, 3.0);
    let (ok, output) = call(
        &server,
        &[
            "--to",
            "+15550200",
            "--wav",
            wav.to_str().unwrap(),
            "--record",
            out.to_str().unwrap(),
            "--dtmf",
            "7",
            "--dtmf-delay",
            "3.2",
        ],
    );
    assert!(ok, "the call failed:\n{output}");
    assert!(output.contains("dominant frequency: 440 Hz"), "{output}");
    let heard = dominant(&read_recording(&out));
    assert!(
        heard.len() >= 2 && heard.iter().all(|f| (f - 440.0).abs() <= 10.0),
        "the caller hears 440 Hz: {heard:?}"
    );

    let mut seen = Vec::new();
    while let Ok(r) = reports.recv_timeout(Duration::from_secs(5)) {
        let end = r == tone_player::Report::Ended;
        seen.push(r);
        if end {
            break;
        }
    }
    let khz = seen
        .iter()
        .filter(|r| matches!(r, tone_player::Report::Heard(Some(f)) if (f - 1000.0).abs() <= 20.0))
        .count();
    assert!(
        khz >= 2,
        "the player heard ~1 kHz for 2 s or more: {seen:?}"
    );
    assert!(
        seen.contains(&tone_player::Report::Dtmf("7".into())),
        "{seen:?}"
    );
    assert!(
        matches!(seen[0], tone_player::Report::Started(_)),
        "{seen:?}"
    );
}

#[test]
fn the_greeter_example_greets_from_the_agent_config_and_hangs_up_on_hash() {
    let server = sip_server(&[]);
    let api = Api::new(&server);
    route(
        &api,
        "+15550300",
        "greeter",
        r#"{"agent_config": {"greeting": "goodbye", "echo": true}}"#,
        json!({}),
    );
    let (reports_tx, reports) = std_mpsc::channel();
    let options = support::worker::options(&server.url, "greeter", greeter::RATE);
    let tx = std::sync::Mutex::new(reports_tx);
    in_thread(async move {
        let tx = std::sync::Arc::new(tx);
        let _ = greeter::serve(options, move |_job, r| {
            let _ = tx.lock().unwrap_or_else(|e| e.into_inner()).send(r);
        })
        .await;
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while api.get("/api/v1/agents").1["workers"]
        .as_array()
        .is_none_or(|w| w.is_empty())
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the greeter registers"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    let dir = Scratch::new("call-greeter");
    let wav = dir.path().join("tone-1k.wav");
    let out = dir.path().join("greeting.wav");
    // The greeting (1.1 s), then 1 kHz from 1.5 s on, echoed; `#` at 3 s.
    let mut tone = vec![0i16; 12_000];
    tone.extend((0..8000).map(|i| {
        ((2.0 * std::f64::consts::PI * 1000.0 * f64::from(i) / 8000.0).sin() * 10_000.0) as i16
    }));
    write_wav(&wav, 8000, &tone);
    let (ok, output) = call(
        &server,
        &[
            "--to",
            "+15550300",
            "--wav",
            wav.to_str().unwrap(),
            "--record",
            out.to_str().unwrap(),
            "--dtmf",
            "#",
            "--dtmf-delay",
            "3",
            "--duration",
            "10",
        ],
    );
    assert!(ok, "the call failed:\n{output}");
    assert!(
        output.contains("ended by the far end"),
        "the greeter hung up on #:\n{output}"
    );

    let pcm = read_recording(&out);
    let prompt = switchboard_media::Prompt::Goodbye.samples();
    let (lag, corr) = best_correlation(&pcm, prompt, 4000);
    assert!(
        corr > 0.9,
        "the recording starts with the goodbye prompt (best correlation {corr:.3} at {lag})\n{output}"
    );
    let after = &pcm[(lag + prompt.len()).min(pcm.len())..];
    assert!(
        dominant(after).iter().any(|f| (f - 1000.0).abs() <= 20.0),
        "then the caller's 1 kHz is echoed: {:?}",
        dominant(after)
    );

    let seen: Vec<greeter::Report> = reports.try_iter().collect();
    assert_eq!(
        seen.first(),
        Some(&greeter::Report::Greeting("goodbye".into())),
        "{seen:?}"
    );
    for want in [
        greeter::Report::Greeted,
        greeter::Report::Dtmf("#".into()),
        greeter::Report::HangingUp,
    ] {
        assert!(seen.contains(&want), "{want:?} in {seen:?}");
    }
}

/// The lag (up to `max_lag`) where `needle` best matches `hay`, and the normalised
/// correlation there.
fn best_correlation(hay: &[i16], needle: &[i16], max_lag: usize) -> (usize, f64) {
    let energy = |s: &[i16]| s.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>();
    let ne = energy(needle);
    let mut best = (0, 0.0);
    for lag in 0..=max_lag {
        let Some(window) = hay.get(lag..lag + needle.len()) else {
            break;
        };
        let dot: f64 = window
            .iter()
            .zip(needle)
            .map(|(&a, &b)| f64::from(a) * f64::from(b))
            .sum();
        let c = dot / (energy(window) * ne).sqrt().max(1.0);
        if c > best.1 {
            best = (lag, c);
        }
    }
    best
}

#[test]
fn digest_challenges_are_answered_with_the_credentials() {
    let server = sip_server(&[]);
    let api = Api::new(&server);
    for (number, metadata) in [
        ("+15550400", "{}"),
        // The trunk's metadata selects 407 + Proxy-Authenticate.
        ("+15550401", "{\"switchboard.auth_challenge\": \"proxy\"}"),
    ] {
        let trunk = api.trunk(json!({
            "name": format!("carrier {number}"), "numbers": [number],
            "auth_username": "alice", "auth_password": "s3cret", "metadata": metadata
        }));
        // A rule without agents is answered at once.
        api.rule(json!({
            "trunk_ids": [trunk],
            "rule": {"dispatch_rule_direct": {"room_name": format!("room {number}")}}
        }));

        let (ok, output) = call(
            &server,
            &[
                "--to",
                number,
                "--username",
                "alice",
                "--password",
                "s3cret",
                "--duration",
                "0.5",
            ],
        );
        assert!(ok, "{number}: the call failed:\n{output}");
        assert!(output.contains("with credentials"), "{output}");
        assert!(output.contains("200 OK"), "{output}");

        let (ok, output) = call(&server, &["--to", number, "--quiet"]);
        assert!(!ok, "{output}");
        assert!(
            output.contains("rejected: 401") || output.contains("rejected: 407"),
            "{output}"
        );
        assert!(
            output.contains("pass --username and --password"),
            "{output}"
        );

        let (ok, output) = call(
            &server,
            &["--to", number, "--username", "alice", "--password", "wrong"],
        );
        assert!(!ok, "{output}");
        assert!(output.contains("the call was rejected"), "{output}");
    }
}
