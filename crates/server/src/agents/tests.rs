//! Dispatch and media logic without HTTP: fake workers drive `worker::run` and the job tasks
//! through channels, on Tokio's paused clock.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::timeout;

use super::job::Outbox;
use super::*;

const WAIT: Duration = Duration::from_secs(60);

fn agents() -> Arc<Agents> {
    Agents::new("ws://fallback:7880")
}

fn request(agent_name: &str) -> JobRequest {
    JobRequest {
        call_id: "SCL_test".into(),
        agent_name: agent_name.into(),
        metadata: r#"{"agent_config":{"voice":"x"}}"#.into(),
        attributes: BTreeMap::from([("k".into(), "v".into())]),
        room_name: "call-_+15551234567_abc".into(),
        room_sid: "RM_test".into(),
        participant: ParticipantInfo {
            identity: "sip_+15551234567".into(),
            name: "Phone +15551234567".into(),
            kind: "sip".into(),
            metadata: String::new(),
            attributes: BTreeMap::from([("sip.callID".into(), "SCL_test".into())]),
        },
        output: None,
    }
}

/// One end of a fake WebSocket.
struct Peer {
    tx: mpsc::Sender<WsIn>,
    rx: mpsc::Receiver<WsOut>,
}

impl Peer {
    async fn send(&self, v: Value) {
        self.tx.send(WsIn::Text(v.to_string())).await.unwrap();
    }

    async fn send_raw(&self, m: WsIn) {
        self.tx.send(m).await.unwrap();
    }

    /// The next frame, answering and skipping server pings.
    async fn next(&mut self) -> WsOut {
        loop {
            let m = timeout(WAIT, self.rx.recv())
                .await
                .expect("a frame within the wait")
                .expect("the connection is open");
            if let WsOut::Text(t) = &m {
                let v: Value = serde_json::from_str(t).unwrap();
                if v["type"] == "ping" {
                    let _ = self.tx.try_send(WsIn::Text(
                        json!({"type": "pong", "ts": v["ts"]}).to_string(),
                    ));
                    continue;
                }
            }
            return m;
        }
    }

    /// The next text message as JSON.
    async fn json(&mut self) -> Value {
        match self.next().await {
            WsOut::Text(t) => serde_json::from_str(&t).unwrap(),
            other => panic!("expected a text message, got {other:?}"),
        }
    }

    /// Nothing but pings arrives for `d`.
    async fn quiet_for(&mut self, d: Duration) {
        let end = tokio::time::Instant::now() + d;
        loop {
            match tokio::time::timeout_at(end, self.rx.recv()).await {
                Err(_) => return,
                Ok(Some(WsOut::Text(t))) if t.contains("\"ping\"") => {
                    let v: Value = serde_json::from_str(&t).unwrap();
                    let _ = self.tx.try_send(WsIn::Text(
                        json!({"type": "pong", "ts": v["ts"]}).to_string(),
                    ));
                }
                Ok(other) => panic!("expected nothing, got {other:?}"),
            }
        }
    }
}

fn connect_raw(agents: &Arc<Agents>) -> Peer {
    let (in_tx, in_rx) = mpsc::channel(64);
    let (out_tx, out_rx) = mpsc::channel(OUT_QUEUE);
    tokio::spawn(worker::run(
        agents.clone(),
        Some("ws://test:1".into()),
        in_rx,
        out_tx,
    ));
    Peer {
        tx: in_tx,
        rx: out_rx,
    }
}

struct FakeWorker {
    id: String,
    peer: Peer,
}

async fn worker(agents: &Arc<Agents>, name: &str, max_jobs: u32, rate: u32) -> FakeWorker {
    let mut peer = connect_raw(agents);
    peer.send(
        json!({"type": "register", "agent_name": name, "version": "t",
        "max_jobs": max_jobs, "audio": {"sample_rate": rate}}),
    )
    .await;
    let r = peer.json().await;
    assert_eq!(r["type"], "registered", "{r}");
    assert_eq!(r["ping_interval_ms"], 10000);
    FakeWorker {
        id: r["worker_id"].as_str().unwrap().to_string(),
        peer,
    }
}

impl FakeWorker {
    async fn expect_offer(&mut self) -> String {
        let m = self.peer.json().await;
        assert_eq!(m["type"], "offer", "{m}");
        m["job_id"].as_str().unwrap().to_string()
    }

    async fn accept(&mut self, job_id: &str) -> Value {
        self.peer
            .send(json!({"type": "accept", "job_id": job_id}))
            .await;
        let a = self.peer.json().await;
        assert_eq!(a["type"], "assignment", "{a}");
        assert_eq!(a["job_id"], job_id);
        a
    }

    async fn decline(&self, job_id: &str) {
        self.peer
            .send(json!({"type": "decline", "job_id": job_id, "reason": "busy"}))
            .await;
    }
}

async fn event(job: &mut Job) -> JobEvent {
    timeout(WAIT, job.events.recv())
        .await
        .expect("an event within the wait")
        .expect("the job is alive")
}

/// Opens the media channel of an assignment.
fn open_media(agents: &Agents, assignment: &Value) -> Peer {
    let job_id = assignment["job_id"].as_str().unwrap();
    let token = assignment["media_token"].as_str().unwrap();
    let claim = agents
        .claim_media(job_id, token)
        .expect("the token is good");
    let (in_tx, in_rx) = mpsc::channel(64);
    let (out_tx, out_rx) = mpsc::channel(OUT_QUEUE);
    claim.attach(MediaLink::Channels {
        rx: in_rx,
        tx: out_tx,
    });
    Peer {
        tx: in_tx,
        rx: out_rx,
    }
}

#[tokio::test(start_paused = true)]
async fn offers_go_least_loaded_first_and_to_the_next_on_decline() {
    let a = agents();
    let mut busy = worker(&a, "support", 4, 16000).await;
    busy.peer.send(json!({"type": "load", "load": 0.5})).await;
    let mut light = worker(&a, "support", 4, 16000).await;
    light.peer.send(json!({"type": "load", "load": 0.1})).await;
    let mut idle = worker(&a, "support", 4, 16000).await;
    let _other = worker(&a, "sales", 4, 16000).await;
    tokio::time::sleep(Duration::from_millis(10)).await;

    let mut job = a.dispatch(request("support"));
    let offer = idle.peer.json().await;
    assert_eq!(offer["type"], "offer");
    assert_eq!(offer["job_id"], job.id.as_str());
    assert_eq!(offer["agent_name"], "support");
    assert_eq!(offer["metadata"], r#"{"agent_config":{"voice":"x"}}"#);
    assert_eq!(offer["attributes"]["k"], "v");
    assert_eq!(offer["room"]["sid"], "RM_test");
    assert_eq!(offer["participant"]["kind"], "sip");
    assert_eq!(offer["deadline_ms"], 10000);
    idle.decline(&job.id).await;
    assert_eq!(light.expect_offer().await, job.id);
    light.decline(&job.id).await;
    assert_eq!(busy.expect_offer().await, job.id);
    let assignment = busy.accept(&job.id).await;
    assert_eq!(
        assignment["media_url"],
        format!("ws://test:1/agent/jobs/{}/media", job.id)
    );
    assert_eq!(assignment["media_token"].as_str().unwrap().len(), 32);
    assert_eq!(
        event(&mut job).await,
        JobEvent::Assigned {
            worker_id: busy.id.clone()
        }
    );
    let views = a.workers();
    let v = views.iter().find(|w| w.worker_id == busy.id).unwrap();
    assert_eq!(v.jobs.len(), 1);
    assert_eq!(v.jobs[0].call_id, "SCL_test");
    assert_eq!(v.load, 0.5);
}

#[tokio::test(start_paused = true)]
async fn an_unanswered_offer_moves_on_after_10_s_and_a_late_accept_is_not_your_job() {
    let a = agents();
    let mut w1 = worker(&a, "x", 1, 16000).await;
    let mut w2 = worker(&a, "x", 1, 16000).await;
    let mut job = a.dispatch(request("x"));
    let start = tokio::time::Instant::now();
    // Whoever gets it first stays silent.
    let (first, second) = tokio::select! {
        m = w1.peer.json() => { assert_eq!(m["type"], "offer"); (&mut w1, &mut w2) }
        m = w2.peer.json() => { assert_eq!(m["type"], "offer"); (&mut w2, &mut w1) }
    };
    assert_eq!(second.expect_offer().await, job.id);
    let waited = start.elapsed();
    assert!(
        waited >= OFFER_TIMEOUT && waited < OFFER_TIMEOUT + Duration::from_secs(1),
        "{waited:?}"
    );
    first
        .peer
        .send(json!({"type": "accept", "job_id": job.id}))
        .await;
    let e = first.peer.json().await;
    assert_eq!(e["type"], "error");
    assert_eq!(e["code"], "not_your_job");
    second.accept(&job.id).await;
    assert!(
        matches!(event(&mut job).await, JobEvent::Assigned { worker_id } if worker_id == second.id)
    );
}

#[tokio::test(start_paused = true)]
async fn nobody_registered_is_unavailable_then_a_later_worker_gets_the_job() {
    let a = agents();
    let mut job = a.dispatch(request("late"));
    assert_eq!(event(&mut job).await, JobEvent::Unavailable);
    tokio::time::sleep(Duration::from_secs(5)).await;
    let mut w = worker(&a, "late", 1, 8000).await;
    let t = tokio::time::Instant::now();
    assert_eq!(w.expect_offer().await, job.id);
    assert!(t.elapsed() <= RETRY_EVERY);
    w.accept(&job.id).await;
    assert!(matches!(event(&mut job).await, JobEvent::Assigned { .. }));
    // Unavailable was sent once, not every second.
    assert!(job.events.try_recv().is_err());
}

#[tokio::test(start_paused = true)]
async fn automatic_dispatch_goes_to_unnamed_workers_only() {
    let a = agents();
    let mut named = worker(&a, "named", 4, 16000).await;
    let mut unnamed = worker(&a, "", 4, 16000).await;
    let auto = a.dispatch(request(""));
    assert_eq!(unnamed.expect_offer().await, auto.id);
    let by_name = a.dispatch(request("named"));
    assert_eq!(named.expect_offer().await, by_name.id);
    unnamed.peer.quiet_for(Duration::from_secs(2)).await;
    // Declined by the only unnamed worker: the named one never sees it.
    unnamed.decline(&auto.id).await;
    named.peer.quiet_for(Duration::from_secs(3)).await;
}

#[tokio::test(start_paused = true)]
async fn max_jobs_is_respected_and_a_freed_slot_is_used() {
    let a = agents();
    let mut w = worker(&a, "x", 1, 16000).await;
    let mut j1 = a.dispatch(request("x"));
    assert_eq!(w.expect_offer().await, j1.id);
    // While the first is offered (the slot is reserved) the second finds nobody.
    let mut j2 = a.dispatch(request("x"));
    assert_eq!(event(&mut j2).await, JobEvent::Unavailable);
    w.accept(&j1.id).await;
    assert!(matches!(event(&mut j1).await, JobEvent::Assigned { .. }));
    w.peer.quiet_for(Duration::from_secs(5)).await;
    let id1 = j1.id.clone();
    drop(j1);
    let ended = w.peer.json().await;
    assert_eq!(ended["type"], "job_ended");
    assert_eq!(ended["job_id"], id1.as_str());
    assert_eq!(ended["reason"], "room_closed");
    assert_eq!(w.expect_offer().await, j2.id);
}

#[tokio::test(start_paused = true)]
async fn a_worker_cannot_answer_for_someone_elses_job() {
    let a = agents();
    let mut w1 = worker(&a, "x", 1, 16000).await;
    let mut w2 = worker(&a, "y", 1, 16000).await;
    let job = a.dispatch(request("x"));
    assert_eq!(w1.expect_offer().await, job.id);
    for m in [
        json!({"type": "accept", "job_id": job.id}),
        json!({"type": "decline", "job_id": job.id}),
        json!({"type": "accept", "job_id": "AJ_nothing"}),
    ] {
        w2.peer.send(m).await;
        let e = w2.peer.json().await;
        assert_eq!(e["code"], "not_your_job", "{e}");
    }
    // The rightful worker still can.
    w1.accept(&job.id).await;
    // And its second accept is not valid anymore.
    w1.peer
        .send(json!({"type": "accept", "job_id": job.id}))
        .await;
    assert_eq!(w1.peer.json().await["code"], "not_your_job");
}

#[tokio::test(start_paused = true)]
async fn a_lost_worker_makes_the_job_be_offered_again() {
    let a = agents();
    let mut w1 = worker(&a, "x", 1, 16000).await;
    let mut job = a.dispatch(request("x"));
    assert_eq!(w1.expect_offer().await, job.id);
    let asg = w1.accept(&job.id).await;
    assert!(matches!(event(&mut job).await, JobEvent::Assigned { .. }));
    let mut media = open_media(&a, &asg);
    assert_eq!(media.json().await["type"], "start");
    media.send(json!({"type": "ready"})).await;
    assert_eq!(event(&mut job).await, JobEvent::Ready);
    let mut w2 = worker(&a, "x", 1, 16000).await;
    // w1's connection drops.
    drop(w1);
    assert_eq!(event(&mut job).await, JobEvent::Lost);
    assert!(matches!(media.next().await, WsOut::Close(..)));
    assert_eq!(w2.expect_offer().await, job.id);
    let asg2 = w2.accept(&job.id).await;
    assert!(
        matches!(event(&mut job).await, JobEvent::Assigned { worker_id } if worker_id == w2.id)
    );
    // The old token is dead; the new one works once.
    assert!(
        a.claim_media(&job.id, asg["media_token"].as_str().unwrap())
            .is_none()
    );
    let mut media2 = open_media(&a, &asg2);
    assert_eq!(media2.json().await["type"], "start");
    assert!(
        a.claim_media(&job.id, asg2["media_token"].as_str().unwrap())
            .is_none()
    );
    // Closing the media channel loses the job too (and tells the worker).
    drop(media2);
    assert_eq!(event(&mut job).await, JobEvent::Lost);
    let ended = w2.peer.json().await;
    assert_eq!(ended["type"], "job_ended");
    assert_eq!(ended["reason"], "media_closed");
}

#[tokio::test(start_paused = true)]
async fn media_not_opened_within_30_s_is_a_lost_job() {
    let a = agents();
    let mut w = worker(&a, "x", 1, 16000).await;
    let mut job = a.dispatch(request("x"));
    w.expect_offer().await;
    let asg = w.accept(&job.id).await;
    assert!(matches!(event(&mut job).await, JobEvent::Assigned { .. }));
    let t = tokio::time::Instant::now();
    assert_eq!(event(&mut job).await, JobEvent::Lost);
    assert!(t.elapsed() >= MEDIA_CONNECT_TIMEOUT);
    let ended = w.peer.json().await;
    assert_eq!(
        (ended["type"].as_str(), ended["reason"].as_str()),
        (Some("job_ended"), Some("media_closed"))
    );
    assert!(
        a.claim_media(&job.id, asg["media_token"].as_str().unwrap())
            .is_none()
    );
}

#[tokio::test(start_paused = true)]
async fn media_tokens_are_bound_to_their_job() {
    let a = agents();
    let mut w = worker(&a, "x", 2, 16000).await;
    let j1 = a.dispatch(request("x"));
    w.expect_offer().await;
    let asg1 = w.accept(&j1.id).await;
    let j2 = a.dispatch(request("x"));
    w.expect_offer().await;
    let asg2 = w.accept(&j2.id).await;
    let t1 = asg1["media_token"].as_str().unwrap();
    let t2 = asg2["media_token"].as_str().unwrap();
    assert!(a.claim_media(&j1.id, t2).is_none());
    assert!(a.claim_media(&j1.id, "00").is_none());
    assert!(a.claim_media(&j1.id, &"0".repeat(32)).is_none());
    assert!(a.claim_media("AJ_none", t1).is_none());
    assert!(a.claim_media(&j1.id, t1).is_some());
    assert!(a.claim_media(&j1.id, t1).is_none());
}

fn pcm(samples: &[i16]) -> Vec<u8> {
    samples.iter().flat_map(|s| s.to_le_bytes()).collect()
}

#[tokio::test(start_paused = true)]
async fn media_round_trip() {
    let a = agents();
    let mut w = worker(&a, "x", 1, 16000).await;
    let mut job = a.dispatch(request("x"));
    w.expect_offer().await;
    let asg = w.accept(&job.id).await;
    assert!(matches!(event(&mut job).await, JobEvent::Assigned { .. }));
    job.control.call_status("ringing");
    job.control.participant_joined(&ParticipantInfo {
        identity: "sip_2".into(),
        kind: "sip".into(),
        ..Default::default()
    });
    tokio::task::yield_now().await;
    let mut m = open_media(&a, &asg);
    let start = m.json().await;
    assert_eq!(start["type"], "start");
    assert_eq!(start["job_id"], job.id.as_str());
    assert_eq!(start["sample_rate"], 16000);
    assert_eq!(start["call_id"], "SCL_test");
    assert_eq!(start["room"]["name"], "call-_+15551234567_abc");
    assert_eq!(start["participant"]["identity"], "sip_+15551234567");
    assert_eq!(start["metadata"], r#"{"agent_config":{"voice":"x"}}"#);
    // State from before the channel opened is replayed.
    assert_eq!(
        m.json().await,
        json!({"type": "call_status", "status": "ringing"})
    );
    let joined = m.json().await;
    assert_eq!(joined["type"], "participant_joined");
    assert_eq!(joined["participant"]["identity"], "sip_2");

    // Caller audio: 20 ms at 8 kHz → 20 ms at 16 kHz (320 samples, 640 bytes).
    for _ in 0..3 {
        job.control.caller_audio(&[1000; 160]);
        match m.next().await {
            WsOut::Binary(b) => assert_eq!(b.len(), 640),
            other => panic!("{other:?}"),
        }
    }

    // Agent audio: 16 kHz → 8 kHz, half the samples.
    m.send_raw(WsIn::Binary(pcm(&[500; 320]))).await;
    match event(&mut job).await {
        JobEvent::Audio(s) => assert_eq!(s.len(), 160),
        other => panic!("{other:?}"),
    }
    m.send_raw(WsIn::Binary(pcm(&[500; 321]))).await;
    match event(&mut job).await {
        JobEvent::Audio(s) => assert!((160..=161).contains(&s.len()), "{}", s.len()),
        other => panic!("{other:?}"),
    }

    // Commands → events, in order.
    for c in [
        json!({"type": "ready"}),
        json!({"type": "ready"}),
        json!({"type": "mark", "name": "greeting-done"}),
        json!({"type": "clear"}),
        json!({"type": "send_dtmf", "digits": "12#"}),
        json!({"type": "set_attributes", "attributes": {"agent.state": "listening"}}),
        json!({"type": "hangup"}),
    ] {
        m.send(c).await;
    }
    assert_eq!(event(&mut job).await, JobEvent::Ready);
    assert_eq!(
        event(&mut job).await,
        JobEvent::Mark("greeting-done".into())
    );
    assert_eq!(event(&mut job).await, JobEvent::Clear);
    assert_eq!(event(&mut job).await, JobEvent::SendDtmf("12#".into()));
    assert_eq!(
        event(&mut job).await,
        JobEvent::SetAttributes(BTreeMap::from([("agent.state".into(), "listening".into())]))
    );
    assert_eq!(event(&mut job).await, JobEvent::Hangup);

    // Events → JSON.
    job.control.dtmf('5', "rfc4733", "sip_1");
    job.control.mark_played("greeting-done");
    job.control.call_status("active");
    job.control.participant_left("sip_2");
    assert_eq!(
        m.json().await,
        json!({"type": "dtmf", "digit": "5", "source": "rfc4733", "participant": "sip_1"})
    );
    assert_eq!(
        m.json().await,
        json!({"type": "mark", "name": "greeting-done"})
    );
    assert_eq!(
        m.json().await,
        json!({"type": "call_status", "status": "active"})
    );
    assert_eq!(
        m.json().await,
        json!({"type": "participant_left", "identity": "sip_2"})
    );
    m.send(json!({"type": "ping", "ts": 42})).await;
    assert_eq!(m.json().await, json!({"type": "pong", "ts": 42}));

    // Bad input on the media channel: errors, and the third in a row closes it.
    m.send_raw(WsIn::Binary(vec![1, 2, 3])).await;
    assert_eq!(m.json().await["code"], "bad_message");
    m.send_raw(WsIn::Text("{\"type\":\"dance\"}".into())).await;
    assert_eq!(m.json().await["code"], "unknown_type");
    m.send_raw(WsIn::Binary(vec![0; MAX_MESSAGE_BYTES + 2]))
        .await;
    assert_eq!(m.json().await["code"], "too_large");
    assert!(matches!(m.next().await, WsOut::Close(1008, _)));
    assert_eq!(event(&mut job).await, JobEvent::Lost);
}

#[tokio::test(start_paused = true)]
async fn hangup_and_drop_end_the_job() {
    let a = agents();
    let mut w = worker(&a, "x", 2, 48000).await;
    let mut job = a.dispatch(request("x"));
    w.expect_offer().await;
    let asg = w.accept(&job.id).await;
    assert!(matches!(event(&mut job).await, JobEvent::Assigned { .. }));
    let mut m = open_media(&a, &asg);
    assert_eq!(m.json().await["sample_rate"], 48000);
    job.control.caller_audio(&[0; 160]);
    match m.next().await {
        WsOut::Binary(b) => assert_eq!(b.len(), 960 * 2),
        other => panic!("{other:?}"),
    }
    job.control.hangup("caller_hangup");
    assert_eq!(
        m.json().await,
        json!({"type": "hangup", "reason": "caller_hangup"})
    );
    assert!(matches!(m.next().await, WsOut::Close(..)));
    let ended = w.peer.json().await;
    assert_eq!(
        ended,
        json!({"type": "job_ended", "job_id": job.id, "reason": "caller_hangup"})
    );
    assert!(timeout(WAIT, job.events.recv()).await.unwrap().is_none());
    // No-ops afterwards.
    job.control.dtmf('1', "info", "sip_1");
    job.control.caller_audio(&[0; 160]);
    assert_eq!(a.live_jobs(), 0);
    assert!(a.workers()[0].jobs.is_empty());

    // An agent hangup, then the call drops the job.
    let mut job = a.dispatch(request("x"));
    w.expect_offer().await;
    let asg = w.accept(&job.id).await;
    let mut m = open_media(&a, &asg);
    m.json().await;
    m.send(json!({"type": "hangup"})).await;
    assert!(matches!(event(&mut job).await, JobEvent::Assigned { .. }));
    assert_eq!(event(&mut job).await, JobEvent::Hangup);
    drop(job);
    let ended = w.peer.json().await;
    assert_eq!(ended["reason"], "agent_hangup");
}

#[tokio::test(start_paused = true)]
async fn control_errors_and_register_rules() {
    let a = agents();
    // Garbage, binary, unknown type: three errors in a row close the connection.
    let mut p = connect_raw(&a);
    p.send_raw(WsIn::Text("garbage".into())).await;
    assert_eq!(p.json().await["code"], "bad_message");
    p.send_raw(WsIn::Binary(vec![1])).await;
    assert_eq!(p.json().await["code"], "bad_message");
    p.send(json!({"type": "accept", "job_id": "AJ_x"})).await;
    assert_eq!(p.json().await["code"], "not_registered");
    assert!(matches!(p.next().await, WsOut::Close(1008, _)));

    // A valid message in between resets the count.
    let mut p = connect_raw(&a);
    for _ in 0..3 {
        p.send(json!({"type": "dance"})).await;
        assert_eq!(p.json().await["code"], "unknown_type");
        p.send(json!({"type": "ping", "ts": 7})).await;
        assert_eq!(p.json().await, json!({"type": "pong", "ts": 7}));
    }

    // Invalid register: error and close.
    let mut p = connect_raw(&a);
    p.send(json!({"type": "register", "audio": {"sample_rate": 11025}}))
        .await;
    assert_eq!(p.json().await["code"], "invalid_register");
    assert!(matches!(p.next().await, WsOut::Close(1008, _)));

    // No register within 10 s.
    let mut p = connect_raw(&a);
    let t = tokio::time::Instant::now();
    let e = p.json().await;
    assert_eq!(e["code"], "not_registered");
    assert!(t.elapsed() >= REGISTER_TIMEOUT);
    assert!(matches!(p.next().await, WsOut::Close(1008, _)));

    // Registered: register again is an error; load out of range too.
    let mut w = worker(&a, "x", 1, 16000).await;
    w.peer.send(json!({"type": "register"})).await;
    assert_eq!(w.peer.json().await["code"], "bad_message");
    w.peer.send(json!({"type": "load", "load": 3})).await;
    assert_eq!(w.peer.json().await["code"], "bad_message");
    w.peer.send(json!({"type": "load", "load": 0.25})).await;
    w.peer.send(json!({"type": "ping", "ts": 1})).await;
    assert_eq!(w.peer.json().await["type"], "pong");
    assert_eq!(
        a.workers()
            .iter()
            .find(|v| v.worker_id == w.id)
            .unwrap()
            .load,
        0.25
    );
}

#[tokio::test(start_paused = true)]
async fn a_silent_worker_is_disconnected_after_three_ping_intervals() {
    let a = agents();
    let mut w = worker(&a, "x", 1, 16000).await;
    // Read without answering pings.
    let mut pings = 0;
    loop {
        match timeout(WAIT, w.peer.rx.recv()).await.unwrap() {
            Some(WsOut::Text(t)) if t.contains("\"ping\"") => pings += 1,
            Some(WsOut::Close(code, _)) => {
                assert_eq!(code, 1001);
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    assert!((2..=3).contains(&pings), "{pings}");
    tokio::task::yield_now().await;
    assert!(a.workers().is_empty());
}

#[test]
fn queued_agent_audio_is_bounded_to_60_s_dropping_the_oldest() {
    let mut o = Outbox::default();
    o.push(JobEvent::Ready);
    for i in 0..70 {
        o.push(JobEvent::Audio(vec![i as i16; 8000]));
    }
    o.push(JobEvent::Mark("m".into()));
    assert_eq!(o.audio_samples(), MAX_QUEUED_AUDIO_SAMPLES);
    assert_eq!(o.pop(), Some(JobEvent::Ready));
    match o.pop() {
        Some(JobEvent::Audio(s)) => assert_eq!(s[0], 10),
        other => panic!("{other:?}"),
    }
    o.push(JobEvent::Audio(vec![0; 100]));
    o.clear_audio();
    assert_eq!(o.audio_samples(), 0);
    assert_eq!(o.pop(), Some(JobEvent::Mark("m".into())));
    assert!(o.is_empty());
    for _ in 0..super::job::MAX_QUEUED_EVENTS {
        assert!(o.has_room());
        o.push(JobEvent::Clear);
    }
    assert!(!o.has_room());
    o.pop();
    assert!(o.has_room());
}
