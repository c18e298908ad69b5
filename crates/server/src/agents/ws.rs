//! The thin shell between an axum WebSocket and the protocol logic: a control connection
//! is pumped into channels of [`WsIn`] / [`WsOut`]; a media channel is handed to its job,
//! whose task drives it (see `media_link.rs`).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use tokio::sync::mpsc;

use super::{Agents, MediaClaim, MediaLink, OUT_QUEUE, WsIn, WsOut, worker};

/// Frames queued from a socket to its logic.
const IN_QUEUE: usize = 64;
/// How long a closing socket waits for the peer's close frame.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// Serves one control connection (`GET /agent`).
pub async fn control(agents: Arc<Agents>, socket: WebSocket, media_base: Option<String>) {
    let (in_tx, in_rx) = mpsc::channel(IN_QUEUE);
    let (out_tx, out_rx) = mpsc::channel(OUT_QUEUE);
    tokio::spawn(worker::run(agents, media_base, in_rx, out_tx));
    pump(socket, in_tx, out_rx).await;
}

/// Serves one media channel (`GET /agent/jobs/{job_id}/media`) whose token was accepted:
/// the job's task reads and writes the socket itself.
pub async fn media(claim: MediaClaim, socket: WebSocket) {
    claim.attach(MediaLink::socket(socket));
}

/// Moves frames between the socket and the channels until either side closes.
async fn pump(mut socket: WebSocket, in_tx: mpsc::Sender<WsIn>, mut out_rx: mpsc::Receiver<WsOut>) {
    loop {
        tokio::select! {
            m = socket.recv() => {
                let frame = match m {
                    Some(Ok(Message::Text(t))) => WsIn::Text(t.as_str().to_owned()),
                    Some(Ok(Message::Binary(b))) => WsIn::Binary(b.to_vec()),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                };
                if in_tx.send(frame).await.is_err() {
                    break;
                }
            }
            o = out_rx.recv() => {
                let msg = match o {
                    Some(WsOut::Text(t)) => Message::Text(t.into()),
                    Some(WsOut::Binary(b)) => Message::Binary(b.into()),
                    Some(WsOut::Close(code, reason)) => {
                        let _ = socket
                            .send(Message::Close(Some(CloseFrame { code, reason: reason.into() })))
                            .await;
                        break;
                    }
                    None => {
                        let _ = socket.send(Message::Close(None)).await;
                        break;
                    }
                };
                if socket.send(msg).await.is_err() {
                    return;
                }
            }
        }
    }
    drop(in_tx);
    // We sent a close frame: let the peer answer it so it sees a clean close.
    let _ = tokio::time::timeout(CLOSE_GRACE, async {
        while let Some(Ok(m)) = socket.recv().await {
            if matches!(m, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}
