//! UDP sockets: binding (with a large receive buffer) and the receive loop, which drains
//! up to [`BATCH`] datagrams per readiness wake-up and hands them to the driver in one
//! channel message.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use super::driver::{Datagram, NetMsg};

/// Datagrams per batch.
const BATCH: usize = 64;

pub(crate) async fn bind(addr: SocketAddr, recv_buffer: Option<usize>) -> io::Result<UdpSocket> {
    let sock = UdpSocket::bind(addr).await?;
    if let Some(size) = recv_buffer {
        let s = socket2::SockRef::from(&sock);
        // Best effort: the kernel caps it at net.core.rmem_max.
        let _ = s.set_recv_buffer_size(size);
        let _ = s.set_send_buffer_size(size);
    }
    Ok(sock)
}

pub(crate) async fn recv_loop(sock: Arc<UdpSocket>, local: SocketAddr, tx: mpsc::Sender<NetMsg>) {
    let mut buf = vec![0u8; 65536];
    loop {
        if sock.readable().await.is_err() {
            return;
        }
        let mut batch = Vec::new();
        while batch.len() < BATCH {
            match sock.try_recv_from(&mut buf) {
                Ok((n, remote)) => {
                    let data = Bytes::copy_from_slice(buf.get(..n).unwrap_or(&[]));
                    batch.push(Datagram {
                        local,
                        remote,
                        data,
                    });
                }
                // WouldBlock ends the batch; other errors (ICMP port unreachable reported
                // on a later recv) are ignored.
                Err(_) => break,
            }
        }
        if !batch.is_empty() && tx.send(NetMsg::Udp(batch)).await.is_err() {
            return;
        }
    }
}
