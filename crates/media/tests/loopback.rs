//! The media task against a real UDP peer on loopback: a plain tokio socket plays the
//! caller, sending PCMU and RFC 4733 DTMF for "1234#" (baresip style: same SSRC, PT 101,
//! three end packets), and checks the events and the outbound stream (50 packets/s,
//! continuous sequence numbers and timestamps).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use switchboard_media::dtmf::{DtmfSender, digit_to_event};
use switchboard_media::rtp::{RtpHeader, RtpPacket, write_packet};
use switchboard_media::sdp::{Codec, Negotiated};
use switchboard_media::session::Timeouts;
use switchboard_media::socket::{MediaConfig, MediaEvent, PortPool, start};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout};

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn pool() -> PortPool {
    // A range unlikely to collide; busy ports are skipped anyway.
    PortPool::new(31_000, 31_199).unwrap()
}

fn packet(pt: u8, seq: u16, ts: u32, marker: bool, payload: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; 12 + payload.len()];
    let header = RtpHeader {
        marker,
        payload_type: pt,
        sequence: seq,
        timestamp: ts,
        ssrc: 0xCA11_0000,
    };
    write_packet(&header, payload, &mut buf).unwrap();
    buf
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_call() {
    // The SDP names a decoy address; the caller sends from another socket (as behind a
    // NAT), so the task must latch and send there.
    let decoy = UdpSocket::bind((LOCALHOST, 0)).await.unwrap();
    let peer = std::sync::Arc::new(UdpSocket::bind((LOCALHOST, 0)).await.unwrap());
    let pool = pool();
    let config = MediaConfig {
        bind_ip: LOCALHOST,
        advertise_ip: LOCALHOST,
        timeouts: Timeouts::default(),
    };
    let negotiated = Negotiated::simple(Codec::Pcmu, Some(decoy.local_addr().unwrap()));
    let (handle, mut events) = start(config, &pool, negotiated, 42).await.unwrap();
    assert_eq!(handle.local_port() % 2, 0);
    assert_eq!(
        handle.advertise_addr(),
        SocketAddr::new(LOCALHOST, handle.local_port())
    );
    assert_eq!(pool.in_use(), 1);
    let media = SocketAddr::new(LOCALHOST, handle.local_port());
    let (audio_tx, mut audio_rx) = mpsc::channel(256);
    handle.set_audio_sink(Some(audio_tx));

    // The caller: 20 ms packets for 1.6 s; DTMF "1234#" replaces audio in the middle.
    let socket = std::sync::Arc::clone(&peer);
    let sender = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        let (mut seq, mut ts) = (100u16, 8000u32);
        let mut dtmf: Vec<(Vec<u8>, bool)> = Vec::new();
        for digit in "1234#".chars() {
            assert!(digit_to_event(digit).is_some());
            let train = DtmfSender::new(digit, 0, 160, 800).unwrap();
            dtmf.extend(train.map(|(p, m)| (p.to_vec(), m)));
            dtmf.extend(std::iter::repeat_n((Vec::new(), false), 3)); // audio between digits
        }
        let mut event_ts = None;
        for i in 0..80usize {
            tick.tick().await;
            let data = match dtmf.get(i.wrapping_sub(10)).filter(|_| i >= 10) {
                Some((payload, marker)) if !payload.is_empty() => {
                    let start = *event_ts.get_or_insert(ts);
                    packet(101, seq, start, *marker, payload)
                }
                _ => {
                    event_ts = None;
                    packet(0, seq, ts, i == 0, &[0xFF; 160])
                }
            };
            socket.send_to(&data, media).await.unwrap();
            seq = seq.wrapping_add(1);
            ts = ts.wrapping_add(160);
        }
    });

    // Receive what the task sends us for 1.5 s.
    let mut received = Vec::new();
    let deadline = Instant::now() + Duration::from_millis(1500);
    let mut buf = [0u8; 1500];
    while let Ok(Ok((len, from))) = timeout(
        deadline.saturating_duration_since(Instant::now()),
        peer.recv_from(&mut buf),
    )
    .await
    {
        assert_eq!(from, media);
        let p = RtpPacket::parse(&buf[..len]).unwrap();
        received.push((Instant::now(), p.header));
    }
    sender.await.unwrap();
    // Before the first caller packet the stream went to the SDP address; at most a few.
    let mut decoy_packets = 0;
    while decoy.try_recv_from(&mut buf).is_ok() {
        decoy_packets += 1;
    }
    assert!(decoy_packets <= 3, "{decoy_packets}");

    // 50 packets per second, continuous sequence numbers and timestamps.
    let first = received[0].0;
    let in_window = received
        .iter()
        .filter(|(at, _)| {
            *at >= first + Duration::from_millis(200) && *at < first + Duration::from_millis(1200)
        })
        .count();
    assert!((48..=52).contains(&in_window), "{in_window} packets in 1 s");
    for pair in received.windows(2) {
        assert_eq!(pair[1].1.sequence, pair[0].1.sequence.wrapping_add(1));
        assert_eq!(pair[1].1.timestamp, pair[0].1.timestamp.wrapping_add(160));
        assert_eq!(pair[1].1.ssrc, pair[0].1.ssrc);
        assert_eq!(pair[1].1.payload_type, 0);
    }

    // Events: first packet, then the five digits in order.
    let mut seen = Vec::new();
    while let Ok(Some(event)) = timeout(Duration::from_millis(200), events.recv()).await {
        seen.push(event);
    }
    let digits: String = seen
        .iter()
        .filter_map(|e| match e {
            MediaEvent::Dtmf(d) => Some(*d),
            _ => None,
        })
        .collect();
    assert_eq!(seen.first(), Some(&MediaEvent::FirstPacket));
    assert_eq!(digits, "1234#");

    // Decoded caller audio reached the sink: one frame per audio packet.
    let mut frames = 0;
    while let Ok(frame) = audio_rx.try_recv() {
        assert_eq!(frame, [0i16; 160]);
        frames += 1;
    }
    assert_eq!(frames, 80 - 5 * 7);

    let stats = handle.stats();
    assert_eq!(stats.packets_in, 80);
    assert_eq!(stats.lost, 0);
    assert_eq!(stats.dtmf_in, 5);
    assert!(stats.packets_out >= received.len() as u64);

    // Sending DTMF: the latched caller socket gets PT 101 events.
    handle.send_dtmf('9');
    let mut dtmf_packets = 0;
    let mut buf = [0u8; 1500];
    while let Ok(Ok((len, _))) = timeout(Duration::from_millis(400), peer.recv_from(&mut buf)).await
    {
        if RtpPacket::parse(&buf[..len]).unwrap().header.payload_type == 101 {
            dtmf_packets += 1;
        }
        if dtmf_packets == 12 {
            break;
        }
    }
    assert_eq!(dtmf_packets, 12);

    // Dropping the last handle stops the task and frees the ports.
    let clone = handle.clone();
    drop(handle);
    assert!(!clone.is_stopped());
    drop(clone);
    for _ in 0..50 {
        if pool.in_use() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(pool.in_use(), 0);
    assert!(events.recv().await.is_none(), "the task is gone");
}

#[tokio::test]
async fn timeout_event_and_stop() {
    let pool = pool();
    let config = MediaConfig {
        bind_ip: LOCALHOST,
        advertise_ip: LOCALHOST,
        timeouts: Timeouts {
            media: Duration::from_millis(100),
            initial: Duration::from_millis(150),
        },
    };
    let negotiated = Negotiated::simple(Codec::Pcma, Some("127.0.0.1:9".parse().unwrap()));
    let (handle, mut events) = start(config, &pool, negotiated, 1).await.unwrap();
    let event = timeout(Duration::from_secs(2), events.recv())
        .await
        .unwrap();
    assert_eq!(event, Some(MediaEvent::Timeout));
    assert_eq!(handle.stats().timeouts, 1);
    handle.stop();
    assert!(handle.is_stopped());
    assert!(
        timeout(Duration::from_secs(1), events.recv())
            .await
            .unwrap()
            .is_none()
    );
}
