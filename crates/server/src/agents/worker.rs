//! One worker's control connection (§1), over channels: register within
//! [`REGISTER_TIMEOUT`], keepalive, load reports, answers to offers. Offers, assignments and
//! `job_ended` are written to the same outgoing queue by the job tasks.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::time::{Instant, interval_at, sleep_until};

use super::protocol::{FromWorker, ProtoError, parse_control, pong};
use super::{Agents, MAX_CONSECUTIVE_ERRORS, PING_INTERVAL, REGISTER_TIMEOUT, WsIn, WsOut};

/// Close code for protocol violations.
pub const CLOSE_POLICY: u16 = 1008;
/// Close code when a worker went silent.
pub const CLOSE_GOING_AWAY: u16 = 1001;

/// Counts consecutive errors and reports them on `out`.
pub(super) struct Errors {
    count: u32,
}

impl Errors {
    pub fn new() -> Errors {
        Errors { count: 0 }
    }

    pub fn ok(&mut self) {
        self.count = 0;
    }

    /// Sends the error through `send`; true when the connection must close now.
    pub fn report(&mut self, mut send: impl FnMut(WsOut), e: &ProtoError) -> bool {
        self.count += 1;
        send(WsOut::Text(e.to_json()));
        if self.count >= MAX_CONSECUTIVE_ERRORS {
            send(WsOut::Close(
                CLOSE_POLICY,
                format!("{MAX_CONSECUTIVE_ERRORS} protocol errors in a row"),
            ));
            return true;
        }
        false
    }
}

/// Queues a frame on `out` without waiting (dropped when the queue is full).
fn try_send(out: &mpsc::Sender<WsOut>) -> impl FnMut(WsOut) + '_ {
    move |frame| {
        let _ = out.try_send(frame);
    }
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// Runs one control connection until it closes; `media_base` (`ws://host:port`, from the
/// upgrade request) prefixes this worker's media URLs.
pub async fn run(
    agents: Arc<Agents>,
    media_base: Option<String>,
    mut inc: mpsc::Receiver<WsIn>,
    out: mpsc::Sender<WsOut>,
) {
    let mut errors = Errors::new();
    let deadline = Instant::now() + REGISTER_TIMEOUT;
    let reg = loop {
        let msg = tokio::select! {
            m = inc.recv() => m,
            _ = sleep_until(deadline) => {
                let e = ProtoError::new("not_registered", format!(
                    "no register message within {} s of connecting; send {{\"type\": \"register\", …}} first",
                    REGISTER_TIMEOUT.as_secs()));
                let _ = out.try_send(WsOut::Text(e.to_json()));
                let _ = out.try_send(WsOut::Close(CLOSE_POLICY, "register timeout".into()));
                return;
            }
        };
        let Some(msg) = msg else { return };
        let parsed = match msg {
            WsIn::Text(t) => parse_control(&t),
            WsIn::Binary(_) => Err(ProtoError::bad(
                "binary frames are not used on the control connection; send JSON text",
            )),
        };
        let err = match parsed {
            Ok(FromWorker::Register(r)) => match r.validate() {
                Ok(reg) => break reg,
                Err(e) => {
                    let _ = out.try_send(WsOut::Text(e.to_json()));
                    let _ = out.try_send(WsOut::Close(CLOSE_POLICY, "invalid register".into()));
                    return;
                }
            },
            Ok(FromWorker::Ping(ts)) => {
                errors.ok();
                let _ = out.try_send(WsOut::Text(pong(&ts)));
                continue;
            }
            Ok(FromWorker::Pong) => {
                errors.ok();
                continue;
            }
            Ok(_) => ProtoError::new(
                "not_registered",
                "register first: {\"type\": \"register\", \"agent_name\": …}",
            ),
            Err(e) => e,
        };
        if errors.report(try_send(&out), &err) {
            return;
        }
    };

    let (agent_name, max_jobs, rate) = (reg.agent_name.clone(), reg.max_jobs, reg.sample_rate);
    let id = agents.register_worker(reg, media_base, out.clone());
    tracing::info!(worker_id = %id, agent_name = %agent_name, max_jobs, sample_rate = rate, "agent worker registered");
    let registered = serde_json::json!({
        "type": "registered",
        "worker_id": id,
        "ping_interval_ms": PING_INTERVAL.as_millis() as u64,
        "server_version": env!("CARGO_PKG_VERSION"),
    });
    if out.try_send(WsOut::Text(registered.to_string())).is_err() {
        agents.remove_worker(&id);
        return;
    }

    let mut ping = interval_at(Instant::now() + PING_INTERVAL, PING_INTERVAL);
    let mut last_heard = Instant::now();
    loop {
        tokio::select! {
            m = inc.recv() => {
                let Some(m) = m else { break };
                last_heard = Instant::now();
                if let Err(e) = handle(&agents, &id, m, &out) {
                    if errors.report(try_send(&out), &e) {
                        break;
                    }
                } else {
                    errors.ok();
                }
            }
            _ = ping.tick() => {
                if last_heard.elapsed() >= PING_INTERVAL * 3 {
                    let _ = out.try_send(WsOut::Close(CLOSE_GOING_AWAY, "no message for 3 ping intervals".into()));
                    break;
                }
                let _ = out.try_send(WsOut::Text(serde_json::json!({"type": "ping", "ts": now_ms()}).to_string()));
            }
        }
    }
    tracing::info!(worker_id = %id, "agent worker disconnected");
    agents.remove_worker(&id);
}

fn handle(agents: &Agents, id: &str, m: WsIn, out: &mpsc::Sender<WsOut>) -> Result<(), ProtoError> {
    let text = match m {
        WsIn::Text(t) => t,
        WsIn::Binary(_) => {
            return Err(ProtoError::bad(
                "binary frames are not used on the control connection; send JSON text",
            ));
        }
    };
    match parse_control(&text)? {
        FromWorker::Register(_) => Err(ProtoError::bad(
            "this connection is already registered; open a new connection to register again",
        )),
        FromWorker::Ping(ts) => {
            let _ = out.try_send(WsOut::Text(pong(&ts)));
            Ok(())
        }
        FromWorker::Pong => Ok(()),
        FromWorker::Load(l) => {
            agents.set_load(id, l);
            Ok(())
        }
        FromWorker::Accept(job_id) => agents
            .answer(id, &job_id, true)
            .map_err(|()| not_your_job(&job_id)),
        FromWorker::Decline { job_id, reason } => {
            agents
                .answer(id, &job_id, false)
                .map_err(|()| not_your_job(&job_id))?;
            tracing::debug!(worker_id = %id, job_id = %job_id, reason = %reason, "offer declined");
            Ok(())
        }
    }
}

fn not_your_job(job_id: &str) -> ProtoError {
    ProtoError::new(
        "not_your_job",
        format!(
            "job {job_id:?} is not offered to this worker (never, or its deadline passed, or it was answered already)"
        ),
    )
}
