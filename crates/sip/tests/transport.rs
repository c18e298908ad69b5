//! The tokio shell end to end over loopback UDP and TCP (ports chosen by the OS).

use std::time::Duration;

use bytes::Bytes;
use switchboard_sip::endpoint::Reply;
use switchboard_sip::message::{Frame, Framer, parse};
use switchboard_sip::transport::{CallEvent, TransportConfig, TransportKind, start};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::timeout;

fn invite(transport: &str, port: u16, branch: &str, call_id: &str) -> String {
    format!(
        "INVITE sip:service@127.0.0.1 SIP/2.0\r\n\
Via: SIP/2.0/{transport} 127.0.0.1:{port};branch={branch};rport\r\n\
From: <sip:caller@127.0.0.1>;tag=abc\r\nTo: <sip:service@127.0.0.1>\r\n\
Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:caller@127.0.0.1:{port}>\r\n\
Content-Length: 0\r\n\r\n"
    )
}

async fn recv_status(sock: &UdpSocket) -> (u16, String) {
    let mut buf = vec![0u8; 65536];
    let (n, _) = timeout(Duration::from_secs(2), sock.recv_from(&mut buf))
        .await
        .expect("response in time")
        .expect("recv");
    let m = parse(Bytes::copy_from_slice(&buf[..n])).expect("parse");
    (
        m.status().expect("response"),
        m.to().and_then(|t| t.tag).unwrap_or("").to_string(),
    )
}

#[tokio::test]
async fn udp_reject_and_release() {
    let cfg = TransportConfig {
        udp: vec!["127.0.0.1:0".parse().expect("addr")],
        ..TransportConfig::default()
    };
    let (sip, mut incoming) = start(cfg).await.expect("start");
    let server = *sip.local_udp().first().expect("bound");
    let client = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let port = client.local_addr().expect("addr").port();

    client
        .send_to(invite("UDP", port, "z9hG4bK1", "u1").as_bytes(), server)
        .await
        .expect("send");
    assert_eq!(recv_status(&client).await.0, 100);
    let call = timeout(Duration::from_secs(2), incoming.recv())
        .await
        .expect("call")
        .expect("open");
    assert_eq!(call.transport, TransportKind::Udp);
    assert_eq!(call.request.call_id(), Some("u1"));
    call.handle.respond(Reply::new(404, "Not Found"));
    drop(call);
    let (status, tag) = recv_status(&client).await;
    assert_eq!(status, 404);
    let ack = invite("UDP", port, "z9hG4bK1", "u1")
        .replace("INVITE sip", "ACK sip")
        .replace("CSeq: 1 INVITE", "CSeq: 1 ACK")
        .replace(
            "To: <sip:service@127.0.0.1>",
            &format!("To: <sip:service@127.0.0.1>;tag={tag}"),
        );
    client.send_to(ack.as_bytes(), server).await.expect("ack");

    // Dropping an unanswered call answers 500.
    client
        .send_to(invite("UDP", port, "z9hG4bK2", "u2").as_bytes(), server)
        .await
        .expect("send");
    assert_eq!(recv_status(&client).await.0, 100);
    let call = incoming.recv().await.expect("call");
    drop(call);
    assert_eq!(recv_status(&client).await.0, 500);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let s = sip.stats();
    assert_eq!(s.invites, 2);
    sip.shutdown();
}

#[tokio::test]
async fn tcp_answer_and_bye() {
    let cfg = TransportConfig {
        tcp: vec!["127.0.0.1:0".parse().expect("addr")],
        ..TransportConfig::default()
    };
    let (sip, mut incoming) = start(cfg).await.expect("start");
    let server = *sip.local_tcp().first().expect("bound");
    let mut stream = TcpStream::connect(server).await.expect("connect");
    let port = stream.local_addr().expect("addr").port();
    let mut framer = Framer::new();
    async fn next(
        stream: &mut TcpStream,
        framer: &mut Framer,
    ) -> switchboard_sip::message::Message {
        loop {
            if let Ok(Some(Frame::Message(b))) = framer.next_frame() {
                return parse(b).expect("parse");
            }
            let n = timeout(Duration::from_secs(2), stream.read_buf(framer.buffer_mut()))
                .await
                .expect("in time")
                .expect("read");
            assert!(n > 0, "connection closed");
        }
    }
    // Split the INVITE over two writes, after a keep-alive.
    let inv = invite("TCP", port, "z9hG4bKt", "t1");
    stream.write_all(b"\r\n\r\n").await.expect("ping");
    let (a, b) = inv.as_bytes().split_at(40);
    stream.write_all(a).await.expect("w");
    stream.write_all(b).await.expect("w");
    let mut call = incoming.recv().await.expect("call");
    assert_eq!(call.transport, TransportKind::Tcp);
    call.handle
        .respond(Reply::new(200, "OK").with_body("application/sdp", "v=0\r\n"));
    // Pong, 100, 200 (the framer skips the CRLF pong).
    assert_eq!(next(&mut stream, &mut framer).await.status(), Some(100));
    let ok = next(&mut stream, &mut framer).await;
    assert_eq!(ok.status(), Some(200));
    let tag = ok.to().and_then(|t| t.tag).expect("tag").to_string();
    let bye = format!(
        "BYE sip:service@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:{port};branch=z9hG4bKb\r\n\
From: <sip:caller@127.0.0.1>;tag=abc\r\nTo: <sip:service@127.0.0.1>;tag={tag}\r\nCall-ID: t1\r\n\
CSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n"
    );
    stream.write_all(bye.as_bytes()).await.expect("bye");
    assert_eq!(next(&mut stream, &mut framer).await.status(), Some(200));
    let ev = timeout(Duration::from_secs(2), call.events.recv())
        .await
        .expect("event");
    assert!(matches!(ev, Some(CallEvent::Bye)), "{ev:?}");
    sip.shutdown();
}
