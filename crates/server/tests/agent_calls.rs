//! A real call answered by a real agent worker (the `switchboard-agent` client) against the
//! built binary: the offer carries the rule's metadata verbatim, the caller rings until the
//! agent says ready, audio flows both ways through the resampler (16 kHz worker, G.711
//! caller), DTMF reaches the agent, and the agent's hang-up ends the call with BYE.

mod support;

use std::net::UdpSocket;
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::sip::*;
use switchboard_agent::{MediaEvent, Worker};

const NUMBER: &str = "+15550100";
const METADATA: &str = r#"{"agent_config": {"greeting": "Hello", "llm": "x"}}"#;

/// What the worker saw, reported to the test thread.
#[derive(Debug)]
enum Seen {
    Offer {
        metadata: String,
        agent_name: String,
    },
    Start {
        call_id: String,
        sample_rate: u32,
    },
    /// Caller audio: frames received and the loudest sample.
    Audio {
        frames: usize,
        peak: i16,
    },
    Dtmf(String),
}

/// µ-law of a 1 kHz tone, 20 ms per packet, as RTP (PT 0).
fn rtp_tone(seq: u16, ts: u32) -> Vec<u8> {
    let mut p = vec![0x80, 0x00];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&0x1234_5678u32.to_be_bytes());
    for n in 0..160u32 {
        let x = (2.0 * std::f64::consts::PI * 1000.0 * f64::from(ts + n) / 8000.0).sin();
        p.push(switchboard_media::g711::ulaw_encode((x * 12000.0) as i16));
    }
    p
}

/// The worker: accepts the job, reports what it sees, says ready, speaks a 16 kHz tone,
/// and hangs up when the caller presses `#`.
fn run_worker(url: String, tx: std_mpsc::Sender<Seen>, registered: std_mpsc::Sender<()>) {
    let rt = support::worker::runtime();
    rt.block_on(async move {
        let worker = Worker::connect(support::worker::options(&url, "support", 16000))
            .await
            .expect("the worker registers");
        let _ = registered.send(());
        let offer = tokio::time::timeout(Duration::from_secs(20), worker.next_offer())
            .await
            .expect("an offer within 20 s")
            .expect("an offer");
        let _ = tx.send(Seen::Offer {
            metadata: offer.metadata.clone(),
            agent_name: offer.agent_name.clone(),
        });
        let mut session = offer.accept().await.expect("the job is assigned");
        let mut frames = 0usize;
        let mut peak = 0i16;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let ev = tokio::select! {
                ev = session.next_event() => ev,
                _ = tokio::time::sleep_until(deadline) => None,
            };
            let Some(ev) = ev else { break };
            match ev {
                MediaEvent::Start(s) => {
                    let _ = tx.send(Seen::Start {
                        call_id: s.call_id.clone(),
                        sample_rate: s.sample_rate,
                    });
                    session.ready().await.expect("ready");
                    // 1 s of 440 Hz at 16 kHz, sent at once (faster than real time).
                    let tone: Vec<i16> = (0..16000)
                        .map(|n| {
                            ((2.0 * std::f64::consts::PI * 440.0 * f64::from(n) / 16000.0).sin()
                                * 10000.0) as i16
                        })
                        .collect();
                    session.send_audio(&tone).await.expect("audio");
                }
                MediaEvent::Audio(pcm) => {
                    frames += 1;
                    peak = peak.max(pcm.iter().map(|s| s.saturating_abs()).max().unwrap_or(0));
                    if frames.is_multiple_of(25) {
                        let _ = tx.send(Seen::Audio { frames, peak });
                    }
                }
                MediaEvent::Dtmf { digit, .. } => {
                    let _ = tx.send(Seen::Dtmf(digit.clone()));
                    if digit == "#" {
                        session.hangup().await.expect("hangup");
                    }
                }
                MediaEvent::Hangup(_) | MediaEvent::Ended(_) => break,
                _ => {}
            }
        }
    });
}

#[test]
fn an_agent_answers_the_call_and_audio_flows_both_ways() {
    let server = sip_server(&[]);
    let api = Api::new(&server);
    let trunk = api.trunk(json!({"name": "carrier", "numbers": [NUMBER]}));
    let rule = api.rule(json!({
        "trunk_ids": [trunk],
        "rule": {"dispatch_rule_individual": {"room_prefix": "agent"}},
        "room_config": {"agents": [{"agent_name": "support", "metadata": METADATA}]}
    }));

    let (tx, seen) = std_mpsc::channel();
    let (reg_tx, reg_rx) = std_mpsc::channel();
    let url = server.url.clone();
    let worker = std::thread::spawn(move || run_worker(url, tx, reg_tx));
    reg_rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the worker registered");

    // The caller: SIP on one socket, RTP on another.
    let media = UdpSocket::bind("127.0.0.1:0").expect("a media socket");
    media.set_nonblocking(true).expect("non-blocking");
    let media_port = media.local_addr().expect("addr").port();
    let raw = RawSip::new(&server.sip_udp);
    let branch = RawSip::branch();
    let sdp = PCMU_SDP_TEMPLATE.replace("{port}", &media_port.to_string());
    raw.send(&raw.invite(
        "agent-call-1",
        "+15551234567",
        NUMBER,
        "ftag1",
        1,
        &branch,
        &[],
        &sdp,
    ));

    // The offer carries the entry's metadata verbatim; the caller rings meanwhile.
    match seen.recv_timeout(Duration::from_secs(15)) {
        Ok(Seen::Offer {
            metadata,
            agent_name,
        }) => {
            assert_eq!(metadata, METADATA);
            assert_eq!(agent_name, "support");
        }
        other => panic!("expected the offer, got {other:?}\n{}", raw.dump()),
    }
    let ok = wait_msg(&raw, Duration::from_secs(15), |m| {
        status_of(m).is_some_and(|c| c >= 200)
    })
    .unwrap_or_else(|| panic!("no final answer:\n{}", raw.dump()));
    assert_eq!(status_of(&ok), Some(200), "{}", raw.dump());
    let call_id = match seen.recv_timeout(Duration::from_secs(5)) {
        Ok(Seen::Start {
            call_id,
            sample_rate,
        }) => {
            assert_eq!(sample_rate, 16000);
            call_id
        }
        other => panic!("expected start, got {other:?}"),
    };
    raw.send(&raw.in_dialog(&ok, "ACK", 1, ""));

    // The room has the caller and the agent.
    let (status, room) = api.get("/api/v1/rooms");
    assert_eq!(status, 200);
    let kinds: Vec<Value> = room["rooms"][0]["participants"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|p| p["kind"].clone())
        .collect();
    assert!(kinds.contains(&json!("agent")), "{room:#}");
    assert!(kinds.contains(&json!("sip")), "{room:#}");

    // Caller → agent: 1 s of a 1 kHz tone to the server's RTP port.
    let rtp_port: u16 = ok
        .lines()
        .find_map(|l| l.strip_prefix("m=audio "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .expect("an m=audio port in the 200");
    let server_rtp = format!("127.0.0.1:{rtp_port}");
    let mut loud_packets = 0;
    for i in 0..50u16 {
        media
            .send_to(&rtp_tone(i, u32::from(i) * 160), &server_rtp)
            .expect("send RTP");
        std::thread::sleep(Duration::from_millis(20));
        let mut buf = [0u8; 2048];
        while let Ok(n) = media.recv(&mut buf) {
            // Agent → caller: the worker's tone, not µ-law silence (0xFF / 0x7F).
            if n > 12
                && buf[12..n]
                    .iter()
                    .filter(|&&b| b != 0xFF && b != 0x7F)
                    .count()
                    > 80
            {
                loud_packets += 1;
            }
        }
    }
    assert!(
        loud_packets >= 10,
        "the agent's audio did not reach the caller ({loud_packets} loud packets)"
    );
    let mut heard = (0, 0i16);
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline && heard.0 < 25 {
        if let Ok(Seen::Audio { frames, peak }) = seen.recv_timeout(Duration::from_millis(500)) {
            heard = (frames, peak);
        }
    }
    assert!(heard.0 >= 25, "the agent got {} caller frames", heard.0);
    assert!(
        heard.1 > 3000,
        "caller audio reached the agent silent: peak {}",
        heard.1
    );

    // DTMF by INFO reaches the agent; `#` makes it hang up: the caller gets BYE.
    let info = "Signal=#\r\nDuration=160\r\n";
    let mut msg = raw.in_dialog(&ok, "INFO", 3, "Content-Type: application/dtmf-relay\r\n");
    msg = msg.replace(
        "Content-Length: 0\r\n\r\n",
        &format!("Content-Length: {}\r\n\r\n{info}", info.len()),
    );
    raw.send(&msg);
    let digit = loop {
        match seen.recv_timeout(Duration::from_secs(5)) {
            Ok(Seen::Dtmf(d)) => break d,
            Ok(_) => continue,
            Err(e) => panic!("no DTMF at the agent: {e}"),
        }
    };
    assert_eq!(digit, "#");
    let bye = wait_msg(&raw, Duration::from_secs(10), |m| m.starts_with("BYE "))
        .unwrap_or_else(|| panic!("no BYE after the agent hung up:\n{}", raw.dump()));
    raw.send(&response_to(&bye, 200, "OK"));
    worker.join().expect("the worker thread");

    let rec = api.call_where("agent-call-1", "completed", |c| c["status"] == "completed");
    assert_record(
        &rec,
        &[
            ("id", json!(call_id)),
            ("reason", json!("agent_hangup")),
            ("hangup_by", json!("agent")),
            ("rule_id", json!(rule)),
            ("sip_status", json!(200)),
        ],
    );
}

/// What the second worker saw.
#[derive(Debug)]
enum Step {
    Ready,
    MarkPlayed(String, Duration),
    Cleared,
    DtmfSent,
}

/// A worker that speaks 0.5 s then a mark, then a long burst it clears, then sends DTMF `7`
/// to the caller and hangs up.
fn run_marking_worker(url: String, tx: std_mpsc::Sender<Step>, registered: std_mpsc::Sender<()>) {
    let rt = support::worker::runtime();
    rt.block_on(async move {
        let worker = Worker::connect(support::worker::options(&url, "marker", 8000))
            .await
            .expect("the worker registers");
        let _ = registered.send(());
        let offer = tokio::time::timeout(Duration::from_secs(20), worker.next_offer())
            .await
            .expect("an offer")
            .expect("an offer");
        let mut session = offer.accept().await.expect("assigned");
        let tone = |secs: f64| -> Vec<i16> {
            (0..(8000.0 * secs) as usize)
                .map(|n| ((n as f64 * 0.3).sin() * 12000.0) as i16)
                .collect()
        };
        let mut sent_mark = Instant::now();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let ev = tokio::select! {
                ev = session.next_event() => ev,
                _ = tokio::time::sleep_until(deadline) => None,
            };
            let Some(ev) = ev else { break };
            match ev {
                MediaEvent::Start(_) => {
                    session.ready().await.expect("ready");
                    let _ = tx.send(Step::Ready);
                    session.send_audio(&tone(0.5)).await.expect("audio");
                    session.mark("m1").await.expect("mark");
                    sent_mark = Instant::now();
                }
                MediaEvent::Mark(name) => {
                    let _ = tx.send(Step::MarkPlayed(name, sent_mark.elapsed()));
                    // A long answer, interrupted (barge-in) 300 ms later.
                    session.send_audio(&tone(10.0)).await.expect("audio");
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    session.clear().await.expect("clear");
                    let _ = tx.send(Step::Cleared);
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    session.send_dtmf("7").await.expect("dtmf");
                    let _ = tx.send(Step::DtmfSent);
                    tokio::time::sleep(Duration::from_millis(800)).await;
                    session.hangup().await.expect("hangup");
                }
                MediaEvent::Hangup(_) | MediaEvent::Ended(_) => break,
                _ => {}
            }
        }
    });
}

/// Whether an RTP packet carries audio that is not µ-law silence.
fn loud(p: &[u8]) -> bool {
    p.len() > 12
        && p[1] & 0x7f == 0
        && p[12..].iter().filter(|&&b| b != 0xFF && b != 0x7F).count() > 80
}

#[test]
fn marks_are_reported_after_playout_clear_stops_the_agent_and_dtmf_reaches_the_caller() {
    let server = sip_server(&[]);
    let api = Api::new(&server);
    let trunk = api.trunk(json!({"name": "carrier", "numbers": [NUMBER]}));
    api.rule(json!({
        "trunk_ids": [trunk],
        "rule": {"dispatch_rule_direct": {"room_name": "marks"}},
        "room_config": {"agents": [{"agent_name": "marker"}]}
    }));
    let (tx, steps) = std_mpsc::channel();
    let (reg_tx, reg_rx) = std_mpsc::channel();
    let url = server.url.clone();
    let worker = std::thread::spawn(move || run_marking_worker(url, tx, reg_tx));
    reg_rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the worker registered");

    let media = UdpSocket::bind("127.0.0.1:0").expect("a media socket");
    media
        .set_read_timeout(Some(Duration::from_millis(50)))
        .expect("timeout");
    let raw = RawSip::new(&server.sip_udp);
    let sdp = PCMU_SDP_TEMPLATE.replace(
        "{port}",
        &media.local_addr().expect("addr").port().to_string(),
    );
    raw.send(&raw.invite(
        "marks-1",
        "+15551234568",
        NUMBER,
        "ft2",
        1,
        &RawSip::branch(),
        &[],
        &sdp,
    ));
    let ok = wait_msg(&raw, Duration::from_secs(15), |m| {
        status_of(m).is_some_and(|c| c >= 200)
    })
    .unwrap_or_else(|| panic!("no final answer:\n{}", raw.dump()));
    assert_eq!(status_of(&ok), Some(200), "{}", raw.dump());
    raw.send(&raw.in_dialog(&ok, "ACK", 1, ""));
    assert!(matches!(
        steps.recv_timeout(Duration::from_secs(5)),
        Ok(Step::Ready)
    ));

    // Collect what the caller receives until the BYE, with arrival times.
    let start = Instant::now();
    let mut packets: Vec<(Duration, Vec<u8>)> = Vec::new();
    let mut marks = Vec::new();
    let mut cleared_at = None;
    let mut dtmf_at = None;
    let mut bye = None;
    while start.elapsed() < Duration::from_secs(15) && bye.is_none() {
        let mut buf = [0u8; 2048];
        if let Ok(n) = media.recv(&mut buf) {
            packets.push((start.elapsed(), buf[..n].to_vec()));
        }
        while let Ok(s) = steps.try_recv() {
            match s {
                Step::MarkPlayed(name, after) => marks.push((name, after)),
                Step::Cleared => cleared_at = Some(start.elapsed()),
                Step::DtmfSent => dtmf_at = Some(start.elapsed()),
                Step::Ready => {}
            }
        }
        if let Some(m) = raw.recv(Duration::from_millis(1))
            && m.starts_with("BYE ")
        {
            raw.send(&response_to(&m, 200, "OK"));
            bye = Some(m);
        }
    }
    assert!(
        bye.is_some(),
        "no BYE from the agent's hang-up:\n{}",
        raw.dump()
    );
    worker.join().expect("the worker thread");

    // The mark came back after its 0.5 s of audio had been played, not before.
    assert_eq!(marks.len(), 1, "{marks:?}");
    assert_eq!(marks[0].0, "m1");
    assert!(
        marks[0].1 >= Duration::from_millis(400) && marks[0].1 < Duration::from_secs(3),
        "mark reported after {:?}",
        marks[0].1
    );
    // After `clear`, the 10 s burst stops: no loud audio from 200 ms after the clear on.
    let cleared = cleared_at.expect("the worker cleared");
    let loud_after: usize = packets
        .iter()
        .filter(|(t, p)| *t > cleared + Duration::from_millis(200) && loud(p))
        .count();
    assert_eq!(loud_after, 0, "agent audio kept playing after clear");
    let loud_before = packets
        .iter()
        .filter(|(t, p)| *t < cleared && loud(p))
        .count();
    assert!(
        loud_before >= 20,
        "too little agent audio before the clear: {loud_before}"
    );
    // The agent's DTMF reached the caller as RFC 4733 events (PT 101) for digit 7.
    let sent = dtmf_at.expect("the worker sent DTMF");
    let events: Vec<&Vec<u8>> = packets
        .iter()
        .filter(|(t, p)| *t >= sent && p.len() >= 16 && p[1] & 0x7f == 101)
        .map(|(_, p)| p)
        .collect();
    assert!(
        !events.is_empty(),
        "no telephone-event packets after send_dtmf"
    );
    assert!(
        events.iter().all(|p| p[12] == 7),
        "event codes: {:?}",
        events.iter().map(|p| p[12]).collect::<Vec<_>>()
    );
    assert!(events.iter().any(|p| p[13] & 0x80 != 0), "no end packet");

    let rec = api.call_where("marks-1", "completed", |c| c["status"] == "completed");
    assert_record(
        &rec,
        &[
            ("reason", json!("agent_hangup")),
            ("hangup_by", json!("agent")),
        ],
    );
}
