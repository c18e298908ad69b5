//! Load probe: sends INVITEs over UDP at a fixed rate and measures, per INVITE, the time to
//! the first response and to the final response with microsecond resolution (SIPp's own
//! response times have 1 ms resolution, too coarse on loopback). Every final response is
//! ACKed so the server's transaction ends normally. Bounded in count; use loopback.
//!
//! usage: sip_latency TARGET(ip:port) [RATE=1000] [SECONDS=20] [CALLED=15550000000]
//!
//! Prints p50/p90/p99/p99.9/max of both latencies and the count of final statuses.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;

struct Pending {
    sent: Instant,
    first: Option<Duration>,
}

#[derive(Default)]
struct Results {
    pending: HashMap<String, Pending>,
    first: Vec<Duration>,
    final_: Vec<Duration>,
    statuses: BTreeMap<u16, u64>,
}

fn header<'a>(msg: &'a str, name: &str) -> Option<&'a str> {
    msg.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn pct(v: &mut [Duration], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let Some(target) = args.get(1) else {
        eprintln!("usage: sip_latency TARGET(ip:port) [RATE=1000] [SECONDS=20] [CALLED]");
        std::process::exit(2);
    };
    let target: SocketAddr = target.parse()?;
    let rate: u64 = args.get(2).map_or(Ok(1000), |s| s.parse())?;
    let seconds: u64 = args.get(3).map_or(Ok(20), |s| s.parse())?;
    let called = args.get(4).cloned().unwrap_or_else(|| "15550000000".into());
    let total = rate * seconds;
    let socket = Arc::new(UdpSocket::bind("127.0.0.1:0").await?);
    let local = socket.local_addr()?;
    let results = Arc::new(Mutex::new(Results::default()));

    let rx_socket = socket.clone();
    let rx_results = results.clone();
    let rx_called = called.clone();
    let receiver = tokio::spawn(async move {
        let mut buf = vec![0u8; 65536];
        loop {
            let Ok(Ok(n)) =
                tokio::time::timeout(Duration::from_secs(3), rx_socket.recv(&mut buf)).await
            else {
                return;
            };
            let now = Instant::now();
            let Ok(msg) = std::str::from_utf8(&buf[..n]) else {
                continue;
            };
            let Some(status) = msg
                .strip_prefix("SIP/2.0 ")
                .and_then(|r| r.get(..3))
                .and_then(|s| s.parse::<u16>().ok())
            else {
                continue;
            };
            let Some(call_id) = header(msg, "Call-ID").or_else(|| header(msg, "i")) else {
                continue;
            };
            let ack = {
                let mut r = rx_results.lock().unwrap_or_else(|e| e.into_inner());
                let Some(p) = r.pending.get_mut(call_id) else {
                    continue;
                };
                let elapsed = now - p.sent;
                if p.first.is_none() {
                    p.first = Some(elapsed);
                }
                if status < 200 {
                    continue;
                }
                let first = p.first.unwrap_or(elapsed);
                r.pending.remove(call_id);
                r.first.push(first);
                r.final_.push(elapsed);
                *r.statuses.entry(status).or_default() += 1;
                // ACK the final response (same branch as the INVITE: non-2xx ACK).
                let via = header(msg, "Via")
                    .or_else(|| header(msg, "v"))
                    .unwrap_or("");
                let from = header(msg, "From")
                    .or_else(|| header(msg, "f"))
                    .unwrap_or("");
                let to = header(msg, "To").or_else(|| header(msg, "t")).unwrap_or("");
                format!(
                    "ACK sip:{rx_called}@{target} SIP/2.0\r\nVia: {via}\r\nFrom: {from}\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: 1 ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
                )
            };
            let _ = rx_socket.send_to(ack.as_bytes(), target).await;
        }
    });

    let sdp = format!(
        "v=0\r\no=probe 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n",
        ip = local.ip()
    );
    let interval = Duration::from_nanos(1_000_000_000 / rate.max(1));
    let start = Instant::now();
    for i in 0..total {
        let due = start + interval * i as u32;
        let now = Instant::now();
        if due > now {
            tokio::time::sleep(due - now).await;
        }
        let call_id = format!("probe-{i}-{}@{local}", std::process::id());
        let invite = format!(
            "INVITE sip:{called}@{target} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK-probe-{i};rport\r\nFrom: <sip:15551112222@{ip}>;tag=p{i}\r\nTo: <sip:{called}@{target}>\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:probe@{local}>\r\nMax-Forwards: 70\r\nContent-Type: application/sdp\r\nContent-Length: {len}\r\n\r\n{sdp}",
            ip = local.ip(),
            len = sdp.len()
        );
        results
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pending
            .insert(
                call_id,
                Pending {
                    sent: Instant::now(),
                    first: None,
                },
            );
        socket.send_to(invite.as_bytes(), target).await?;
    }
    let sent_for = start.elapsed();
    receiver.await?;
    let mut guard = results.lock().unwrap_or_else(|e| e.into_inner());
    let r = &mut *guard;
    let unanswered = r.pending.len();
    println!(
        "sent {total} INVITEs in {:.1} s ({:.0}/s); final answers {}; unanswered {unanswered}; statuses {:?}",
        sent_for.as_secs_f64(),
        total as f64 / sent_for.as_secs_f64(),
        r.final_.len(),
        r.statuses
    );
    for (name, v) in [
        ("first response", &mut r.first),
        ("final response", &mut r.final_),
    ] {
        let p50 = pct(v, 0.50);
        let p90 = pct(v, 0.90);
        let p99 = pct(v, 0.99);
        let p999 = pct(v, 0.999);
        let max = pct(v, 1.0);
        println!(
            "INVITE -> {name}: p50 {p50:.3} ms  p90 {p90:.3} ms  p99 {p99:.3} ms  p99.9 {p999:.3} ms  max {max:.3} ms"
        );
    }
    if unanswered > 0 {
        std::process::exit(1);
    }
    Ok(())
}
