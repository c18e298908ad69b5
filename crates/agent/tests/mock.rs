//! The whole worker flow against an in-process mock of the server side: register,
//! keepalive, load, offer → accept → assignment → media channel (audio and commands both
//! ways), job_ended, decline on drop, and a refused accept. (The end-to-end test against the
//! real binary, `tests/worker.rs`, cannot create offers: they need real calls.)

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use livekit_token::TokenVerifier;
use serde_json::{Value, json};
use switchboard_agent::{
    CallStatus, DtmfSource, Error, ErrorCode, JobEndReason, MediaEvent, Worker, WorkerOptions,
};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::{Message, http};

type Ws = WebSocketStream<TcpStream>;

const KEY: &str = "devkey";
const SECRET: &str = "secret";

#[allow(clippy::result_large_err)] // tungstenite's ErrorResponse
/// Accepts one WebSocket, checking `Authorization: Bearer` with `check`; returns the path.
async fn accept(
    listener: &TcpListener,
    check: impl Fn(&str) -> Result<(), (u16, String)> + Send + Sync + Unpin + 'static,
) -> Option<(Ws, String)> {
    let (tcp, _) = listener.accept().await.unwrap();
    let path = Arc::new(Mutex::new(String::new()));
    let p = path.clone();
    let callback = move |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
        *p.lock().unwrap() = req.uri().path().to_string();
        let token = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        match check(token) {
            Ok(()) => Ok(resp),
            Err((status, msg)) => {
                let body = json!({"code": "permission_denied", "msg": msg}).to_string();
                let mut r = http::Response::new(Some(body));
                *r.status_mut() = http::StatusCode::from_u16(status).unwrap();
                Err(r)
            }
        }
    };
    let ws = tokio_tungstenite::accept_hdr_async(tcp, callback)
        .await
        .ok()?;
    let path = path.lock().unwrap().clone();
    Some((ws, path))
}

fn check_agent_token(token: &str) -> Result<(), (u16, String)> {
    let claims = TokenVerifier::with_api_key(KEY, SECRET)
        .verify(token)
        .map_err(|e| (401, e.to_string()))?;
    if !claims.video.agent {
        return Err((403, "the token lacks the agent grant".into()));
    }
    Ok(())
}

async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::text(v.to_string())).await.unwrap();
}

/// The next JSON message of type `ty`, skipping the worker's pings (counted in `pings`).
async fn expect(ws: &mut Ws, ty: &str, pings: &mut u32) -> Value {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .unwrap_or_else(|_| panic!("no {ty:?} within 5 s"))
            .expect("connection open")
            .unwrap();
        if let Message::Text(t) = m {
            let v: Value = serde_json::from_str(&t).unwrap();
            if v["type"] == "ping" && ty != "ping" {
                *pings += 1;
                continue;
            }
            assert_eq!(v["type"], ty, "{v}");
            return v;
        }
    }
}

#[tokio::test]
async fn offer_accept_media_and_end() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let mut pings = 0;
        let (mut c, path) = accept(&listener, check_agent_token).await.unwrap();
        assert_eq!(path, "/agent");
        let reg = expect(&mut c, "register", &mut pings).await;
        assert_eq!(
            reg,
            json!({"type": "register", "agent_name": "mock-agent", "version": "9",
                   "max_jobs": 2, "audio": {"sample_rate": 8000}})
        );
        send(
            &mut c,
            json!({"type": "registered", "worker_id": "AW_mock", "ping_interval_ms": 150,
                   "server_version": "0.0.0-mock"}),
        )
        .await;

        // Load (sent right after registering) and keepalive.
        assert_eq!(
            expect(&mut c, "load", &mut pings).await,
            json!({"type": "load", "load": 0.35})
        );
        send(&mut c, json!({"type": "ping", "ts": 42})).await;
        assert_eq!(
            expect(&mut c, "pong", &mut pings).await,
            json!({"type": "pong", "ts": 42})
        );

        // Offer → accept → assignment.
        send(
            &mut c,
            json!({"type": "offer", "job_id": "AJ_1", "agent_name": "mock-agent",
                   "room": {"name": "call-1", "sid": "RM_1"},
                   "participant": {"identity": "sip_+1555", "kind": "sip",
                                   "attributes": {"sip.callID": "SCL_1"}},
                   "metadata": "{\"agent_config\": {}}", "attributes": {"x": "y"},
                   "deadline_ms": 10000, "unknown_field": 1}),
        )
        .await;
        expect(&mut c, "accept", &mut pings).await;
        send(
            &mut c,
            json!({"type": "assignment", "job_id": "AJ_1",
                   "media_url": format!("ws://{addr}/agent/jobs/AJ_1/media"),
                   "media_token": "media-secret"}),
        )
        .await;

        // The media channel.
        let (mut m, path) = accept(&listener, |t| {
            if t == "media-secret" {
                Ok(())
            } else {
                Err((403, "bad media token".into()))
            }
        })
        .await
        .unwrap();
        assert_eq!(path, "/agent/jobs/AJ_1/media");
        send(
            &mut m,
            json!({"type": "start", "job_id": "AJ_1", "sample_rate": 8000, "call_id": "SCL_1",
                   "room": {"name": "call-1", "sid": "RM_1"}, "participant": {"identity": "sip_+1555"},
                   "metadata": "", "attributes": {}}),
        )
        .await;
        let mut ignored = 0;
        assert_eq!(
            expect(&mut m, "ready", &mut ignored).await,
            json!({"type": "ready"})
        );
        send(&mut m, json!({"type": "call_status", "status": "active"})).await;
        send(&mut m, json!({"type": "some_future_event"})).await;
        m.send(Message::binary(vec![1u8, 0, 2, 0, 0xff, 0xff]))
            .await
            .unwrap();
        // The worker echoes the audio as PCM16 LE.
        let echoed = match m.next().await.unwrap().unwrap() {
            Message::Binary(b) => b,
            other => panic!("expected audio, got {other:?}"),
        };
        assert_eq!(&echoed[..], &[1u8, 0, 2, 0, 0xff, 0xff]);
        send(
            &mut m,
            json!({"type": "dtmf", "digit": "#", "source": "info"}),
        )
        .await;
        assert_eq!(
            expect(&mut m, "mark", &mut ignored).await,
            json!({"type": "mark", "name": "bye"})
        );
        assert_eq!(
            expect(&mut m, "send_dtmf", &mut ignored).await,
            json!({"type": "send_dtmf", "digits": "1#"})
        );
        assert_eq!(
            expect(&mut m, "set_attributes", &mut ignored).await,
            json!({"type": "set_attributes", "attributes": {"agent.state": "done"}})
        );
        expect(&mut m, "clear", &mut ignored).await;
        expect(&mut m, "hangup", &mut ignored).await;
        send(&mut m, json!({"type": "hangup", "reason": "caller_hangup"})).await;
        send(
            &mut c,
            json!({"type": "job_ended", "job_id": "AJ_1", "reason": "agent_hangup"}),
        )
        .await;

        // A second offer the worker drops: declined.
        send(
            &mut c,
            json!({"type": "offer", "job_id": "AJ_2", "deadline_ms": 10000}),
        )
        .await;
        let d = expect(&mut c, "decline", &mut pings).await;
        assert_eq!(d["job_id"], "AJ_2");

        // A third one whose accept the server refuses.
        send(
            &mut c,
            json!({"type": "offer", "job_id": "AJ_3", "deadline_ms": 10000}),
        )
        .await;
        expect(&mut c, "accept", &mut pings).await;
        send(
            &mut c,
            json!({"type": "error", "code": "not_your_job", "message": "the deadline passed"}),
        )
        .await;

        // The worker keeps pinging every 150 ms (and the server too, or the worker gives
        // up on it after 3 silent intervals).
        for ts in 0..6 {
            send(&mut c, json!({"type": "ping", "ts": ts})).await;
            let until = tokio::time::Instant::now() + Duration::from_millis(100);
            while let Ok(Some(Ok(msg))) = tokio::time::timeout_at(until, c.next()).await {
                if matches!(&msg, Message::Text(t) if t.contains("\"ping\"")) {
                    pings += 1;
                }
            }
        }
        assert!(pings >= 2, "the worker pinged {pings} times");
        // Closing the control connection ends the worker.
        c.close(None).await.unwrap();
        while let Some(Ok(_)) = c.next().await {}
        drop(m);
    });

    let worker = Worker::connect(WorkerOptions {
        agent_name: "mock-agent".into(),
        max_jobs: 2,
        sample_rate: 8000,
        version: "9".into(),
        ..WorkerOptions::new(&format!("http://{addr}"), KEY, SECRET)
    })
    .await
    .expect("register");
    assert_eq!(worker.worker_id(), "AW_mock");
    assert_eq!(worker.server_version(), "0.0.0-mock");
    assert_eq!(worker.ping_interval(), Duration::from_millis(150));
    worker.set_load(0.35).unwrap();
    assert!(worker.set_load(1.5).is_err());

    let offer = worker.next_offer().await.expect("an offer");
    assert_eq!(offer.job_id, "AJ_1");
    assert_eq!(offer.participant.attributes["sip.callID"], "SCL_1");
    assert_eq!(offer.metadata, r#"{"agent_config": {}}"#);
    let mut session = offer.accept().await.expect("accept");
    assert_eq!(session.sample_rate(), 8000);
    session.ready().await.unwrap();
    let MediaEvent::Start(start) = session.next_event().await.unwrap() else {
        panic!("start first")
    };
    assert_eq!(start.call_id, "SCL_1");
    assert_eq!(
        session.next_event().await,
        Some(MediaEvent::CallStatus(CallStatus::Active))
    );
    let Some(MediaEvent::Audio(samples)) = session.next_event().await else {
        panic!("audio")
    };
    assert_eq!(samples, [1, 2, -1]);
    session.send_audio(&samples).await.unwrap();
    assert_eq!(
        session.next_event().await,
        Some(MediaEvent::Dtmf {
            digit: "#".into(),
            source: Some(DtmfSource::Info),
            participant: None,
        })
    );
    let sender = session.sender();
    sender.mark("bye").await.unwrap();
    session.send_dtmf("1#").await.unwrap();
    session
        .set_attributes([("agent.state".into(), "done".into())].into())
        .await
        .unwrap();
    session.clear().await.unwrap();
    session.hangup().await.unwrap();
    assert!(matches!(
        session.next_event().await,
        Some(MediaEvent::Hangup(Some(_)))
    ));
    assert_eq!(
        session.next_event().await,
        Some(MediaEvent::Ended(JobEndReason::AgentHangup))
    );
    drop(sender);
    drop(session);

    let dropped = worker.next_offer().await.expect("second offer");
    assert_eq!(dropped.job_id, "AJ_2");
    drop(dropped);

    let refused = worker.next_offer().await.expect("third offer");
    match refused.accept().await {
        Err(Error::Server {
            code: ErrorCode::NotYourJob,
            message,
        }) => assert!(message.contains("AJ_3"), "{message}"),
        other => panic!("expected not_your_job, got {other:?}"),
    }

    // The server closes: offers end and the reason is kept.
    assert!(worker.next_offer().await.is_none());
    let reason = worker.close_reason().expect("a close reason");
    assert!(reason.to_string().contains("closed"), "{reason}");
    server.await.unwrap();
}

#[tokio::test]
async fn refusals_are_explained() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        for _ in 0..2 {
            assert!(accept(&listener, check_agent_token).await.is_none());
        }
        // A registration the server refuses.
        let (mut c, _) = accept(&listener, check_agent_token).await.unwrap();
        let mut pings = 0;
        expect(&mut c, "register", &mut pings).await;
        send(
            &mut c,
            json!({"type": "error", "code": "invalid_register", "message": "bad agent_name"}),
        )
        .await;
        let _ = c.close(None).await;
    });
    let url = format!("http://{addr}");

    let no_grant = livekit_token::AccessToken::with_api_key(KEY, SECRET)
        .with_identity("x")
        .to_jwt()
        .unwrap();
    let err = Worker::connect(WorkerOptions {
        token: Some(no_grant),
        ..WorkerOptions::new(&url, KEY, SECRET)
    })
    .await
    .unwrap_err();
    assert!(matches!(err, Error::Refused { status: 403, .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("it needs the agent grant (video.agent)"),
        "{err}"
    );
    assert!(err.to_string().contains("lacks the agent grant"), "{err}");

    let err = Worker::connect(WorkerOptions::new(&url, KEY, "wrong"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Refused { status: 401, .. }), "{err:?}");

    let err = Worker::connect(WorkerOptions::new(&url, KEY, SECRET))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Registration { code: ErrorCode::InvalidRegister, message } if message == "bad agent_name"),
        "{err:?}"
    );
    server.await.unwrap();

    // Nothing listening.
    let err = Worker::connect(WorkerOptions::new(&url, KEY, SECRET))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("is switchboard running"), "{err}");
}
