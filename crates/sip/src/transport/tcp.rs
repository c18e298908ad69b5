//! TCP: the accept loop, and per connection a reader task (framing with
//! [`crate::message::Framer`], answering CRLF keep-alives) and a writer task fed by an
//! unbounded channel from the driver.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;

use super::driver::NetMsg;
use crate::message::{Frame, Framer};

pub(crate) async fn accept_loop(
    listener: TcpListener,
    local: SocketAddr,
    ids: Arc<AtomicU64>,
    tx: mpsc::Sender<NetMsg>,
) {
    loop {
        let (stream, remote) = match listener.accept().await {
            Ok(s) => s,
            Err(_) => {
                // EMFILE and friends: back off instead of spinning.
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let id = ids.fetch_add(1, Ordering::Relaxed);
        let (r, w) = stream.into_split();
        let (wtx, wrx) = mpsc::unbounded_channel::<Bytes>();
        if tx
            .send(NetMsg::TcpOpen {
                id,
                writer: wtx.clone(),
            })
            .await
            .is_err()
        {
            return;
        }
        tokio::spawn(writer(w, wrx));
        tokio::spawn(reader(r, id, local, remote, tx.clone(), wtx));
    }
}

async fn writer(mut w: OwnedWriteHalf, mut rx: mpsc::UnboundedReceiver<Bytes>) {
    while let Some(b) = rx.recv().await {
        if w.write_all(&b).await.is_err() {
            break;
        }
    }
    let _ = w.shutdown().await;
}

async fn reader(
    mut r: OwnedReadHalf,
    id: u64,
    local: SocketAddr,
    remote: SocketAddr,
    tx: mpsc::Sender<NetMsg>,
    pong: mpsc::UnboundedSender<Bytes>,
) {
    let mut framer = Framer::new();
    'conn: loop {
        let buf = framer.buffer_mut();
        if buf.capacity() - buf.len() < 4096 {
            buf.reserve(8192);
        }
        match r.read_buf(buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        loop {
            match framer.next_frame() {
                Ok(Some(Frame::Message(data))) => {
                    if tx
                        .send(NetMsg::TcpData {
                            id,
                            local,
                            remote,
                            data,
                        })
                        .await
                        .is_err()
                    {
                        break 'conn;
                    }
                }
                Ok(Some(Frame::KeepAlive)) => {
                    let _ = pong.send(Bytes::from_static(b"\r\n"));
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::debug!(%remote, error = %e, "closing SIP TCP connection");
                    break 'conn;
                }
            }
        }
    }
    let _ = tx.send(NetMsg::TcpClosed { id }).await;
}
