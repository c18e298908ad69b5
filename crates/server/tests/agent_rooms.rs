//! Rooms with agents against the built binary, with real workers (the `switchboard-agent`
//! client) and real callers:
//!
//! * two callers in one Direct room share one agent job: each hears the agent and the
//!   other caller but not themselves, the agent hears both; the second caller's identity
//!   gets `_2`; callers leaving are announced, and the last one's BYE ends the job;
//! * a worker that dies mid-call: the job goes to a second worker and the call survives;
//! * baresip sends 1 kHz and records: the agent hears ~1 kHz, plays 440 Hz, and baresip's
//!   recording is ~440 Hz.

mod support;

use std::net::UdpSocket;
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::audio::{dominant, pcmu_packet, pcmu_payload, power, tone};
use support::baresip::{Baresip, BaresipAudio};
use support::sip::*;
use switchboard_agent::{MediaEvent, Worker};

const NUMBER: &str = "+15550100";
const CALLER: &str = "+15551234567";

/// What a test worker saw, reported to the test thread.
#[derive(Debug)]
enum Seen {
    Offer,
    Start {
        worker: &'static str,
        identity: String,
    },
    Joined(String),
    Left(String),
    /// 0.5 s of caller audio as the agent heard it (16 kHz).
    Heard(Vec<i16>),
    Hangup(String),
}

/// What a test worker does with its jobs.
#[derive(Clone, Copy)]
enum Behaviour {
    /// Plays 440 Hz for 10 s and reports what it hears.
    Tone,
    /// Sends back what it hears.
    Echo,
}

/// Runs a worker until `stop` fires (or 60 s pass), then drops its runtime: its
/// connections close at once, without a goodbye — as when a worker process dies.
fn run_worker(
    url: String,
    name: &'static str,
    label: &'static str,
    behaviour: Behaviour,
    tx: std_mpsc::Sender<Seen>,
    registered: std_mpsc::Sender<()>,
    stop: tokio::sync::oneshot::Receiver<()>,
) {
    let rt = support::worker::runtime();
    rt.block_on(async move {
        let worker = Worker::connect(support::worker::options(&url, name, 16000))
            .await
            .expect("the worker registers");
        let _ = registered.send(());
        let work = async {
            while let Some(offer) = worker.next_offer().await {
                let _ = tx.send(Seen::Offer);
                let Ok(session) = offer.accept().await else {
                    continue;
                };
                tokio::spawn(run_job(session, label, behaviour, tx.clone()));
            }
        };
        tokio::select! {
            _ = work => {}
            _ = stop => {}
            _ = tokio::time::sleep(Duration::from_secs(60)) => {}
        }
    });
    rt.shutdown_background();
}

async fn run_job(
    mut session: switchboard_agent::JobSession,
    label: &'static str,
    behaviour: Behaviour,
    tx: std_mpsc::Sender<Seen>,
) {
    let mut heard = Vec::new();
    while let Some(ev) = session.next_event().await {
        match ev {
            MediaEvent::Start(s) => {
                let _ = tx.send(Seen::Start {
                    worker: label,
                    identity: s.participant.identity.clone(),
                });
                session.ready().await.expect("ready");
                if let Behaviour::Tone = behaviour {
                    let t = tone(440.0, 16000, 0, 16000 * 10, 6000.0);
                    session.send_audio(&t).await.expect("audio");
                }
            }
            MediaEvent::Audio(pcm) => {
                if let Behaviour::Echo = behaviour {
                    let _ = session.send_audio(&pcm).await;
                }
                heard.extend_from_slice(&pcm);
                if heard.len() >= 8000 {
                    let _ = tx.send(Seen::Heard(std::mem::take(&mut heard)));
                }
            }
            MediaEvent::ParticipantJoined(p) => {
                let _ = tx.send(Seen::Joined(p.identity.clone()));
            }
            MediaEvent::ParticipantLeft { identity } => {
                let _ = tx.send(Seen::Left(identity));
            }
            MediaEvent::Hangup(reason) => {
                let _ = tx.send(Seen::Hangup(format!("{reason:?}")));
                break;
            }
            // `job_ended` on the control connection may overtake the media channel's
            // `hangup`: either one tells the agent why.
            MediaEvent::Ended(reason) => {
                let _ = tx.send(Seen::Hangup(format!("{reason:?}")));
                break;
            }
            _ => {}
        }
    }
}

/// A worker thread and the handle that kills it.
struct TestWorker {
    thread: Option<std::thread::JoinHandle<()>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl TestWorker {
    fn start(
        server: &support::Server,
        name: &'static str,
        label: &'static str,
        behaviour: Behaviour,
        tx: &std_mpsc::Sender<Seen>,
    ) -> TestWorker {
        let (reg_tx, reg_rx) = std_mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
        let url = server.url.clone();
        let tx = tx.clone();
        let thread = std::thread::spawn(move || {
            run_worker(url, name, label, behaviour, tx, reg_tx, stop_rx)
        });
        reg_rx
            .recv_timeout(Duration::from_secs(20))
            .expect("the worker registered");
        TestWorker {
            thread: Some(thread),
            stop: Some(stop_tx),
        }
    }

    /// Drops the worker's connections abruptly and waits for its thread.
    fn kill(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for TestWorker {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A SIP caller with its own RTP socket.
struct Caller {
    raw: RawSip,
    media: UdpSocket,
    ok: String,
    server_rtp: String,
    ssrc: u32,
    seq: u16,
    ts: u32,
    cseq: u32,
}

impl Caller {
    /// Calls `NUMBER` and waits for the `200 OK` (then ACKs it).
    fn call(server: &support::Server, call_id: &str, from: &str) -> Caller {
        let media = UdpSocket::bind("127.0.0.1:0").expect("a media socket");
        media
            .set_read_timeout(Some(Duration::from_millis(5)))
            .expect("timeout");
        let port = media.local_addr().expect("addr").port();
        let raw = RawSip::new(&server.sip_udp);
        let sdp = PCMU_SDP_TEMPLATE.replace("{port}", &port.to_string());
        raw.send(&raw.invite(
            call_id,
            from,
            NUMBER,
            &format!("tag-{call_id}"),
            1,
            &RawSip::branch(),
            &[],
            &sdp,
        ));
        let ok = wait_msg(&raw, Duration::from_secs(20), |m| {
            status_of(m).is_some_and(|c| c >= 200)
        })
        .unwrap_or_else(|| panic!("no final answer for {call_id}:\n{}", raw.dump()));
        assert_eq!(status_of(&ok), Some(200), "{}", raw.dump());
        raw.send(&raw.in_dialog(&ok, "ACK", 1, ""));
        let rtp_port: u16 = ok
            .lines()
            .find_map(|l| l.strip_prefix("m=audio "))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|p| p.parse().ok())
            .expect("an m=audio port in the 200");
        Caller {
            raw,
            media,
            ok,
            server_rtp: format!("127.0.0.1:{rtp_port}"),
            ssrc: u32::from(port) * 7919,
            seq: 1,
            ts: 0,
            cseq: 1,
        }
    }

    /// Hangs up and waits for the 200 to the BYE.
    fn bye(&mut self) {
        self.cseq += 1;
        self.raw
            .send(&self.raw.in_dialog(&self.ok, "BYE", self.cseq, ""));
        let cseq = format!("{} BYE", self.cseq);
        let answer = wait_msg(&self.raw, Duration::from_secs(10), |m| {
            status_of(m).is_some() && header(m, "CSeq").is_some_and(|c| c == cseq)
        });
        assert_eq!(
            answer.as_deref().and_then(status_of),
            Some(200),
            "{}",
            self.raw.dump()
        );
    }

    /// The RTP side, movable to another thread.
    fn rtp(&mut self) -> RtpLeg<'_> {
        RtpLeg {
            media: &self.media,
            to: &self.server_rtp,
            ssrc: self.ssrc,
            seq: &mut self.seq,
            ts: &mut self.ts,
        }
    }
}

struct RtpLeg<'a> {
    media: &'a UdpSocket,
    to: &'a str,
    ssrc: u32,
    seq: &'a mut u16,
    ts: &'a mut u32,
}

impl RtpLeg<'_> {
    /// Sends `hz` (silence for 0) for `d` at the real 20 ms pace and returns what was
    /// received meanwhile (8 kHz).
    fn stream(self, hz: f64, d: Duration) -> Vec<i16> {
        let start = Instant::now();
        let mut heard = Vec::new();
        let mut next = start;
        let mut buf = [0u8; 2048];
        while start.elapsed() < d {
            if Instant::now() >= next {
                let pcm = if hz > 0.0 {
                    tone(hz, 8000, *self.ts as usize, 160, 6000.0)
                } else {
                    vec![0; 160]
                };
                let p = pcmu_packet(*self.seq, *self.ts, self.ssrc, &pcm);
                self.media.send_to(&p, self.to).expect("send RTP");
                *self.seq = self.seq.wrapping_add(1);
                *self.ts = self.ts.wrapping_add(160);
                next += Duration::from_millis(20);
            }
            if let Ok(n) = self.media.recv(&mut buf) {
                heard.extend(pcmu_payload(&buf[..n]));
            }
        }
        heard
    }
}

/// Waits for the first report `pick` accepts.
fn expect<T>(
    seen: &std_mpsc::Receiver<Seen>,
    what: &str,
    timeout: Duration,
    mut pick: impl FnMut(Seen) -> Option<T>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match seen.recv_timeout(left) {
            Ok(s) => {
                if let Some(t) = pick(s) {
                    return t;
                }
            }
            Err(_) => panic!("no {what} within {timeout:?}"),
        }
    }
}

/// The agent's audio from the last reports, after `from` (drains the channel).
fn agent_heard(seen: &std_mpsc::Receiver<Seen>, others: &mut Vec<Seen>) -> Vec<i16> {
    let mut pcm = Vec::new();
    while let Ok(s) = seen.try_recv() {
        match s {
            Seen::Heard(p) => pcm.extend(p),
            other => others.push(other),
        }
    }
    pcm
}

fn direct_room(api: &Api, room: &str, agent: &str) -> String {
    let trunk = api.trunk(json!({"name": "carrier", "numbers": [NUMBER]}));
    api.rule(json!({
        "trunk_ids": [trunk],
        "rule": {"dispatch_rule_direct": {"room_name": room}},
        "room_config": {"agents": [{"agent_name": agent, "metadata": "{\"agent_config\":{}}"}]}
    }))
}

fn room_identities(api: &Api, room: &str) -> Vec<(String, String)> {
    let (status, body) = api.get(&format!("/api/v1/rooms/{room}"));
    assert_eq!(status, 200, "{body:#}");
    body["participants"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|p: &Value| {
            (
                p["kind"].as_str().unwrap_or_default().to_string(),
                p["identity"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[test]
fn two_callers_in_a_direct_room_share_one_agent_and_hear_each_other() {
    let server = sip_server(&[]);
    let api = Api::new(&server);
    let rule = direct_room(&api, "conference", "host");
    let (tx, seen) = std_mpsc::channel();
    let _worker = TestWorker::start(&server, "host", "w1", Behaviour::Tone, &tx);

    // The first caller rings until the agent is ready; the second joins the ready room.
    let mut a = Caller::call(&server, "room-a", CALLER);
    let identity_a = expect(
        &seen,
        "the job's start",
        Duration::from_secs(10),
        |s| match s {
            Seen::Start { identity, .. } => Some(identity),
            _ => None,
        },
    );
    assert_eq!(identity_a, format!("sip_{CALLER}"));
    let mut b = Caller::call(&server, "room-b", CALLER);
    let joined = expect(
        &seen,
        "participant_joined",
        Duration::from_secs(5),
        |s| match s {
            Seen::Joined(id) => Some(id),
            Seen::Offer => panic!("a second job was offered for the same room"),
            _ => None,
        },
    );
    assert_eq!(
        joined,
        format!("sip_{CALLER}_2"),
        "identity collision suffix"
    );
    let mut people = room_identities(&api, "conference");
    people.sort();
    assert_eq!(people.len(), 3, "{people:?}");
    assert_eq!(
        people.iter().filter(|(k, _)| k == "agent").count(),
        1,
        "one agent for the room: {people:?}"
    );
    assert!(people.contains(&("sip".into(), format!("sip_{CALLER}_2"))));

    // A says 1 kHz, B says 2 kHz, both at once for 3 s.
    let (heard_a, heard_b) = std::thread::scope(|s| {
        let ra = a.rtp();
        let rb = b.rtp();
        let ta = s.spawn(move || ra.stream(1000.0, Duration::from_secs(3)));
        let tb = s.spawn(move || rb.stream(2000.0, Duration::from_secs(3)));
        (ta.join().expect("caller a"), tb.join().expect("caller b"))
    });
    let mut others = Vec::new();
    let agent = agent_heard(&seen, &mut others);
    let tail = |v: &[i16]| v[v.len().saturating_sub(8000)..].to_vec();
    let (a_tail, b_tail, agent_tail) = (tail(&heard_a), tail(&heard_b), tail(&agent));
    assert!(a_tail.len() >= 4000 && b_tail.len() >= 4000 && agent_tail.len() >= 8000);
    let hz = [440.0, 1000.0, 2000.0];
    let level = |pcm: &[i16], rate, f| power(pcm, rate, f);
    // Each caller hears the agent and the other caller, far above their own voice.
    for (who, pcm, own, other) in [
        ("A", &a_tail, 1000.0, 2000.0),
        ("B", &b_tail, 2000.0, 1000.0),
    ] {
        let p: Vec<f64> = hz.iter().map(|&f| level(pcm, 8000, f)).collect();
        let own_p = level(pcm, 8000, own);
        let other_p = level(pcm, 8000, other);
        assert!(
            other_p > 50.0 * own_p,
            "caller {who} should hear the other caller ({other} Hz) and not itself ({own} Hz): {p:?}"
        );
        assert!(
            level(pcm, 8000, 440.0) > 50.0 * own_p,
            "caller {who} should hear the agent (440 Hz): {p:?}"
        );
    }
    // The agent hears both callers, not itself.
    let p: Vec<f64> = hz.iter().map(|&f| level(&agent_tail, 16000, f)).collect();
    assert!(
        p[1] > 50.0 * p[0] && p[2] > 50.0 * p[0],
        "the agent should hear 1 kHz and 2 kHz, not its 440 Hz: {p:?}"
    );

    // B leaves: the agent is told, A stays with the agent.
    b.bye();
    let left = others
        .into_iter()
        .find_map(|s| match s {
            Seen::Left(id) => Some(id),
            _ => None,
        })
        .unwrap_or_else(|| {
            expect(
                &seen,
                "participant_left",
                Duration::from_secs(5),
                |s| match s {
                    Seen::Left(id) => Some(id),
                    Seen::Hangup(r) => panic!("the job ended with the first BYE: {r}"),
                    _ => None,
                },
            )
        });
    assert_eq!(left, format!("sip_{CALLER}_2"));
    let heard_a = a.rtp().stream(1000.0, Duration::from_millis(1500));
    let t = tail(&heard_a);
    let (top, _) = dominant(&t, 8000, &hz);
    assert_eq!(top, 440.0, "A still hears the agent after B left");

    // A's BYE, the last caller's, ends the job.
    a.bye();
    let reason = expect(
        &seen,
        "the agent's hangup",
        Duration::from_secs(5),
        |s| match s {
            Seen::Hangup(r) => Some(r),
            _ => None,
        },
    );
    assert!(reason.contains("CallerHangup"), "{reason}");
    for id in ["room-a", "room-b"] {
        let rec = api.call_where(id, "completed", |c| c["status"] == "completed");
        assert_record(
            &rec,
            &[
                ("reason", json!("caller_bye")),
                ("room_name", json!("conference")),
                ("rule_id", json!(rule)),
            ],
        );
    }
}

/// Waits for worker `label` to start the job, then checks that the caller's 1 kHz comes
/// back (`when` says where in the test this is).
fn echoed_by(
    seen: &std_mpsc::Receiver<Seen>,
    caller: &mut Caller,
    label: &str,
    timeout: Duration,
    when: &str,
) {
    let started = expect(
        seen,
        &format!("the {label} worker's start"),
        timeout,
        |s| match s {
            Seen::Start { worker, .. } => Some(worker),
            _ => None,
        },
    );
    assert_eq!(started, label, "the job went to the wrong worker");
    let heard = caller.rtp().stream(1000.0, Duration::from_secs(2));
    let (top, ratio) = dominant(&heard[heard.len() / 2..], 8000, &[440.0, 1000.0, 2000.0]);
    assert!(
        top == 1000.0 && ratio > 10.0,
        "the echo of 1 kHz {when}: {top} Hz ×{ratio}"
    );
}

#[test]
fn a_worker_that_dies_mid_call_hands_the_job_over_and_the_call_survives() {
    let server = sip_server(&[]);
    let api = Api::new(&server);
    let trunk = api.trunk(json!({"name": "carrier", "numbers": [NUMBER]}));
    api.rule(json!({
        "trunk_ids": [trunk],
        "rule": {"dispatch_rule_individual": {"room_prefix": "call"}},
        "room_config": {"agents": [{"agent_name": "echo"}]}
    }));
    let (tx, seen) = std_mpsc::channel();
    let mut first = TestWorker::start(&server, "echo", "first", Behaviour::Echo, &tx);

    let mut caller = Caller::call(&server, "failover-1", CALLER);
    echoed_by(
        &seen,
        &mut caller,
        "first",
        Duration::from_secs(10),
        "before the failover",
    );

    // The first worker dies; a second one registers. The call stays up throughout.
    first.kill();
    let _second = TestWorker::start(&server, "echo", "second", Behaviour::Echo, &tx);
    echoed_by(
        &seen,
        &mut caller,
        "second",
        Duration::from_secs(15),
        "after the failover",
    );
    assert!(
        !caller.raw.dump().contains("BYE sip:"),
        "the caller was hung up on:\n{}",
        caller.raw.dump()
    );
    let (_, agents) = api.get("/api/v1/agents");
    let jobs: Vec<u64> = agents["workers"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|w| w["jobs"].as_array().map_or(0, |j| j.len() as u64))
        .collect();
    assert_eq!(
        jobs,
        [1],
        "only the second worker is left, with the job: {agents:#}"
    );

    caller.bye();
    let rec = api.call_where("failover-1", "completed", |c| c["status"] == "completed");
    assert_record(
        &rec,
        &[("reason", json!("caller_bye")), ("sip_status", json!(200))],
    );
}

#[test]
fn baresip_hears_the_agents_440_hz_and_the_agent_hears_its_1_khz() {
    let server = sip_server(&[]);
    let api = Api::new(&server);
    let trunk = api.trunk(json!({"name": "carrier", "numbers": [NUMBER]}));
    api.rule(json!({
        "trunk_ids": [trunk],
        "rule": {"dispatch_rule_individual": {"room_prefix": "call"}},
        "room_config": {"agents": [{"agent_name": "tone"}]}
    }));
    let (tx, seen) = std_mpsc::channel();
    let _worker = TestWorker::start(&server, "tone", "w", Behaviour::Tone, &tx);

    let dir = Scratch::new("baresip-agent");
    let mut phone = Baresip::start(
        dir.path(),
        "15551237007",
        &BaresipAudio {
            tone_hz: 1000.0,
            secs: 30,
            record: true,
        },
    );
    phone.pump(Duration::from_millis(500));
    phone.command("dial", &format!("sip:{NUMBER}@{}", server.sip_udp));
    assert!(
        phone.wait_event("CALL_ESTABLISHED", Duration::from_secs(15)),
        "baresip's call was not answered; events: {:#?}\nlog:\n{}",
        phone.events,
        phone.log()
    );
    // Three seconds of conversation, then baresip hangs up.
    phone.pump(Duration::from_secs(3));
    phone.command("hangup", "");
    assert!(
        phone.wait_event("CALL_CLOSED", Duration::from_secs(5)),
        "baresip did not close the call: {:#?}",
        phone.events
    );
    let mut others = Vec::new();
    let agent = agent_heard(&seen, &mut others);
    assert!(
        agent.len() >= 16000,
        "the agent heard {} samples",
        agent.len()
    );
    let candidates = [440.0, 1000.0, 2000.0];
    let (top, ratio) = dominant(&agent[agent.len() / 2..], 16000, &candidates);
    assert!(
        top == 1000.0 && ratio > 10.0,
        "the agent should hear baresip's 1 kHz: {top} Hz ×{ratio}"
    );

    // baresip's recording of what it heard: the agent's 440 Hz.
    drop(phone);
    let recording = {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let p = Baresip::recording(dir.path());
            if p.len() >= 8000 || Instant::now() > deadline {
                break p;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    assert!(
        recording.len() >= 8000,
        "baresip recorded {} samples",
        recording.len()
    );
    let (top, ratio) = dominant(&recording[recording.len() / 3..], 8000, &candidates);
    assert!(
        top == 440.0 && ratio > 10.0,
        "baresip should have heard the agent's 440 Hz: {top} Hz ×{ratio}"
    );
    let rec = api.only_call_ended("15551237007");
    assert_record(&rec, &[("reason", json!("caller_bye"))]);
}
