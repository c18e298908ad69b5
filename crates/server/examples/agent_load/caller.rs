//! The SIP callers: one task, one SIP socket and one RTP socket per call. INVITE with a
//! PCMU offer, 100/180/200, ACK, 20 ms µ-law packets both ways, BYE.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use switchboard_media::g711::{ulaw_decode, ulaw_encode};
use tokio::net::UdpSocket;
use tokio::time::{Instant, MissedTickBehavior, sleep_until};

use crate::stats::{cpu_ticks, rss_kib, summary, threads};
use crate::{Flags, LOUD, wall_us};

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Calls at a rate, each held a while: setup latency.
    Setup,
    /// Calls held together: CPU and memory per call.
    Load,
}

/// Packets per burst period (2 s); the burst is packet `BURST_PHASE` of each period.
const BURST_EVERY: u64 = 100;
const BURST_PHASE: u64 = 25;
/// An echo belongs to a burst if it comes back within this long (less than the period).
const MATCH_WINDOW_US: i64 = 1_900_000;

struct Config {
    server: SocketAddr,
    number: String,
    caller_base: u64,
    quiet: [u8; 160],
    burst: [u8; 160],
}

enum Hold {
    For(Duration),
    Until(Instant),
}

#[derive(Default)]
struct CallResult {
    /// Caller number digits (the room identity ends with them).
    caller: String,
    t100: Option<i64>,
    t180: Option<i64>,
    t200: Option<i64>,
    status: Option<u16>,
    error: Option<String>,
    /// Wall-clock µs at which each burst packet was sent.
    bursts: Vec<i64>,
    /// Wall-clock µs at which each loud packet following a quiet one arrived.
    echoes: Vec<i64>,
    rtp_sent: u64,
    rtp_received: u64,
    bye_ok: bool,
    ended_by_server: bool,
}

fn header<'a>(msg: &'a str, name: &str, short: &str) -> Option<&'a str> {
    msg.split("\r\n\r\n").next()?.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        let k = k.trim();
        (k.eq_ignore_ascii_case(name) || k.eq_ignore_ascii_case(short)).then(|| v.trim())
    })
}

fn status_of(msg: &str) -> Option<u16> {
    msg.strip_prefix("SIP/2.0 ")?.get(..3)?.parse().ok()
}

fn cseq_method(msg: &str) -> &str {
    header(msg, "CSeq", "CSeq")
        .and_then(|c| c.split_whitespace().nth(1))
        .unwrap_or("")
}

/// The remote RTP address from an SDP answer.
fn sdp_target(msg: &str) -> Option<SocketAddr> {
    let body = msg.split_once("\r\n\r\n")?.1;
    let mut ip = None;
    let mut port = None;
    for l in body.lines() {
        if let Some(c) = l.strip_prefix("c=IN IP4 ") {
            ip = Some(c.trim().to_string());
        } else if let Some(m) = l.strip_prefix("m=audio ") {
            port = m
                .split_whitespace()
                .next()
                .and_then(|p| p.parse::<u16>().ok());
        }
    }
    format!("{}:{}", ip?, port?).parse().ok()
}

fn contact_uri(msg: &str, fallback: SocketAddr) -> String {
    header(msg, "Contact", "m")
        .map(|c| {
            let s = c.find('<').map(|i| i + 1).unwrap_or(0);
            let e = c[s..].find('>').map(|i| s + i).unwrap_or(c.len());
            c[s..e].to_string()
        })
        .unwrap_or_else(|| format!("sip:{fallback}"))
}

/// The peak of a µ-law RTP packet's audio, if it is one.
fn rtp_peak(p: &[u8]) -> Option<i16> {
    if p.len() < 12 || p[0] >> 6 != 2 || p[1] & 0x7f != 0 {
        return None;
    }
    let mut off = 12 + 4 * usize::from(p[0] & 0x0f);
    if p[0] & 0x10 != 0 {
        let words = usize::from(u16::from_be_bytes([*p.get(off + 2)?, *p.get(off + 3)?]));
        off += 4 + 4 * words;
    }
    Some(
        p.get(off..)?
            .iter()
            .map(|&c| ulaw_decode(c).saturating_abs())
            .max()
            .unwrap_or(0),
    )
}

async fn call(cfg: Arc<Config>, idx: u64, hold: Hold, active: Arc<AtomicUsize>) -> CallResult {
    let mut r = CallResult {
        caller: format!("1666{:07}", cfg.caller_base + idx),
        ..Default::default()
    };
    if let Err(e) = call_inner(&cfg, idx, hold, &active, &mut r).await {
        r.error = Some(e);
    }
    r
}

async fn call_inner(
    cfg: &Config,
    idx: u64,
    hold: Hold,
    active: &AtomicUsize,
    r: &mut CallResult,
) -> Result<(), String> {
    let sip = UdpSocket::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("bind: {e}"))?;
    let rtp = UdpSocket::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("bind: {e}"))?;
    let local = sip.local_addr().map_err(|e| e.to_string())?;
    let rtp_port = rtp.local_addr().map_err(|e| e.to_string())?.port();
    let server = cfg.server;
    let pid = std::process::id();
    let caller = format!("+{}", r.caller);
    let number = &cfg.number;
    let call_id = format!("al-{pid}-{idx}@127.0.0.1");
    let from = format!("<sip:{caller}@{local}>;tag=f{idx}");
    let sdp = format!(
        "v=0\r\no=- {idx} 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {rtp_port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=sendrecv\r\n"
    );
    let invite = format!(
        "INVITE sip:{number}@{server} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK-al-{pid}-{idx}-1;rport\r\nMax-Forwards: 70\r\nFrom: {from}\r\nTo: <sip:{number}@{server}>\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:{caller}@{local}>\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    );
    let send = |msg: String| {
        let sip = &sip;
        async move { sip.send_to(msg.as_bytes(), server).await.map(|_| ()) }
    };
    let mut buf = vec![0u8; 8192];

    // INVITE until the final answer (retransmitted until something comes back, like Timer A).
    let t0 = Instant::now();
    send(invite.clone()).await.map_err(|e| e.to_string())?;
    let deadline = t0 + Duration::from_secs(20);
    let mut retransmit = t0 + Duration::from_millis(500);
    let mut retransmissions = 0;
    let mut heard = false;
    let ok = loop {
        tokio::select! {
            got = sip.recv_from(&mut buf) => {
                let (n, _) = got.map_err(|e| e.to_string())?;
                let us = t0.elapsed().as_micros() as i64;
                let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
                let Some(code) = status_of(&msg) else { continue };
                if cseq_method(&msg) != "INVITE" {
                    continue;
                }
                heard = true;
                match code {
                    100 => { r.t100.get_or_insert(us); }
                    180 | 183 => { r.t180.get_or_insert(us); }
                    101..=199 => {}
                    200..=299 => {
                        r.t200 = Some(us);
                        r.status = Some(code);
                        break msg;
                    }
                    _ => {
                        r.status = Some(code);
                        let via = header(&msg, "Via", "v").unwrap_or("");
                        let to = header(&msg, "To", "t").unwrap_or("");
                        let _ = send(format!(
                            "ACK sip:{number}@{server} SIP/2.0\r\nVia: {via}\r\nMax-Forwards: 70\r\nFrom: {from}\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n"
                        )).await;
                        return Err(format!("INVITE answered {code}"));
                    }
                }
            }
            _ = sleep_until(retransmit.min(deadline)) => {
                if Instant::now() >= deadline {
                    return Err("no final answer within 20 s".into());
                }
                if !heard && retransmissions < 4 {
                    send(invite.clone()).await.map_err(|e| e.to_string())?;
                    retransmissions += 1;
                    retransmit += Duration::from_millis(500 << retransmissions);
                } else {
                    retransmit = deadline;
                }
            }
        }
    };
    let to = header(&ok, "To", "t").unwrap_or("").to_string();
    let target = contact_uri(&ok, server);
    let remote_rtp = sdp_target(&ok).ok_or("no usable SDP in the 200")?;
    let in_dialog = |method: &str, cseq: u32, n: u32| {
        format!(
            "{method} {target} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK-al-{pid}-{idx}-{method}{n};rport\r\nMax-Forwards: 70\r\nFrom: {from}\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} {method}\r\nContent-Length: 0\r\n\r\n"
        )
    };
    let ack = in_dialog("ACK", 1, 0);
    send(ack.clone()).await.map_err(|e| e.to_string())?;
    active.fetch_add(1, Ordering::Relaxed);

    // Media: one packet per 20 ms, bursts once a second; watch for the echoed bursts.
    let answered = Instant::now();
    let hangup_at = match hold {
        Hold::For(d) => answered + d,
        Hold::Until(t) => t,
    };
    let mut tick = tokio::time::interval_at(answered, Duration::from_millis(20));
    tick.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let ssrc = 0x5000_0000u32 ^ idx as u32;
    let mut packet = [0u8; 172];
    let mut n: u64 = 0;
    let mut rbuf = vec![0u8; 2048];
    let mut loud_before = false;
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if Instant::now() >= hangup_at {
                    break;
                }
                let burst = n % BURST_EVERY == BURST_PHASE;
                packet[0] = 0x80;
                packet[1] = if n == 0 { 0x80 } else { 0 };
                packet[2..4].copy_from_slice(&(n as u16).to_be_bytes());
                packet[4..8].copy_from_slice(&((n as u32).wrapping_mul(160)).to_be_bytes());
                packet[8..12].copy_from_slice(&ssrc.to_be_bytes());
                packet[12..].copy_from_slice(if burst { &cfg.burst } else { &cfg.quiet });
                if burst {
                    r.bursts.push(wall_us());
                }
                if rtp.send_to(&packet, remote_rtp).await.is_ok() {
                    r.rtp_sent += 1;
                }
                n += 1;
            }
            got = rtp.recv_from(&mut rbuf) => {
                let Ok((len, _)) = got else { continue };
                let at = wall_us();
                let Some(p) = rtp_peak(&rbuf[..len]) else { continue };
                r.rtp_received += 1;
                let loud = p > LOUD;
                if loud && !loud_before {
                    r.echoes.push(at);
                }
                loud_before = loud;
            }
            got = sip.recv_from(&mut buf) => {
                let Ok((len, _)) = got else { continue };
                let msg = String::from_utf8_lossy(&buf[..len]).into_owned();
                if status_of(&msg).is_some_and(|c| (200..300).contains(&c)) && cseq_method(&msg) == "INVITE" {
                    let _ = send(ack.clone()).await; // a retransmitted 200
                } else if msg.starts_with("BYE ") {
                    let mut resp = String::from("SIP/2.0 200 OK\r\n");
                    for l in msg.split("\r\n\r\n").next().unwrap_or("").lines().skip(1) {
                        let k = l.split(':').next().unwrap_or("").trim();
                        if ["via", "v", "from", "f", "to", "t", "call-id", "i", "cseq"].iter().any(|h| k.eq_ignore_ascii_case(h)) {
                            resp.push_str(l);
                            resp.push_str("\r\n");
                        }
                    }
                    resp.push_str("Content-Length: 0\r\n\r\n");
                    let _ = send(resp).await;
                    r.ended_by_server = true;
                    break;
                }
            }
        }
    }
    active.fetch_sub(1, Ordering::Relaxed);
    if r.ended_by_server {
        return Err("the server hung up".into());
    }

    // BYE, retransmitted until its 200 (at most 4 s).
    let bye_deadline = Instant::now() + Duration::from_secs(4);
    let mut attempt = 0;
    while Instant::now() < bye_deadline && !r.bye_ok {
        send(in_dialog("BYE", 2, attempt))
            .await
            .map_err(|e| e.to_string())?;
        attempt += 1;
        let wait = (Instant::now() + Duration::from_millis(500)).min(bye_deadline);
        while let Ok(Ok((len, _))) = tokio::time::timeout_at(wait, sip.recv_from(&mut buf)).await {
            let msg = String::from_utf8_lossy(&buf[..len]);
            if status_of(&msg).is_some_and(|c| c >= 200) && cseq_method(&msg) == "BYE" {
                r.bye_ok = true;
                break;
            }
        }
    }
    if !r.bye_ok {
        return Err("no answer to BYE".into());
    }
    Ok(())
}

/// One cycle of a tone as µ-law for a 160-sample packet (`hz` divides 8000/160 evenly).
fn tone(hz: f64, amplitude: f64) -> [u8; 160] {
    let mut out = [0u8; 160];
    for (i, o) in out.iter_mut().enumerate() {
        let x = (2.0 * std::f64::consts::PI * hz * i as f64 / 8000.0).sin();
        *o = ulaw_encode((x * amplitude) as i16);
    }
    out
}

struct ProcReading {
    server_ticks: u64,
    worker_ticks: Option<u64>,
    own_ticks: Option<u64>,
    at: Instant,
}

fn read_proc(server: u32, worker: Option<u32>) -> Result<ProcReading, String> {
    Ok(ProcReading {
        server_ticks: cpu_ticks(server).ok_or(format!("cannot read /proc/{server}/stat"))?,
        worker_ticks: worker.and_then(cpu_ticks),
        own_ticks: cpu_ticks(std::process::id()),
        at: Instant::now(),
    })
}

pub async fn run(flags: &Flags, mode: Mode) -> Result<(), String> {
    let server: SocketAddr = flags
        .need("sip")?
        .parse()
        .map_err(|e| format!("--sip: {e}"))?;
    let calls: u64 = flags.num("calls", 100)?;
    let cps: f64 = flags.num("cps", 50.0)?;
    let hold_s: f64 = flags.num("hold", 1.0)?;
    let settle_s: f64 = flags.num("settle", 10.0)?;
    let window_s: f64 = flags.num("window", 30.0)?;
    let clk_tck: f64 = flags.num("clk-tck", 100.0)?;
    let worker_log = flags.need("worker-log")?.to_string();
    if !(1..=10_000).contains(&calls)
        || !(0.1..=1000.0).contains(&cps)
        || !(0.0..=600.0).contains(&hold_s)
        || !(0.0..=600.0).contains(&settle_s)
        || !(1.0..=600.0).contains(&window_s)
    {
        return Err(
            "bounds: --calls 1-10000, --cps 0.1-1000, --hold/--settle ≤ 600 s, --window 1-600 s"
                .into(),
        );
    }
    let server_pid: Option<u32> = flags
        .str("server-pid")
        .map(str::parse)
        .transpose()
        .map_err(|e| format!("--server-pid: {e}"))?;
    let worker_pid: Option<u32> = flags
        .str("worker-pid")
        .map(str::parse)
        .transpose()
        .map_err(|e| format!("--worker-pid: {e}"))?;
    if mode == Mode::Load && server_pid.is_none() {
        return Err("load needs --server-pid".into());
    }
    let cfg = Arc::new(Config {
        server,
        number: flags.str("number").unwrap_or("+15550100000").to_string(),
        caller_base: flags.num("caller-base", 0)?,
        quiet: tone(500.0, 300.0),
        burst: tone(1000.0, 12000.0),
    });
    let active = Arc::new(AtomicUsize::new(0));

    // The idle server: RSS, and CPU over 2 s with no calls.
    let mut idle_rss = None;
    if let Some(pid) = server_pid {
        let a = read_proc(pid, None)?;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let b = read_proc(pid, None)?;
        idle_rss = rss_kib(pid);
        println!(
            "server idle: RSS {} KiB, {} threads, CPU {:.2} % of one core (2 s)",
            idle_rss.unwrap_or(0),
            threads(pid).unwrap_or(0),
            (b.server_ticks - a.server_ticks) as f64 / clk_tck / (b.at - a.at).as_secs_f64()
                * 100.0
        );
    }

    let start = Instant::now() + Duration::from_millis(100);
    let interval = Duration::from_secs_f64(1.0 / cps);
    let ramp = interval * calls as u32;
    let window_start = start + ramp + Duration::from_secs_f64(settle_s);
    let window_end = window_start + Duration::from_secs_f64(window_s);
    let hangup_all = window_end + Duration::from_millis(500);
    let spawner = {
        let cfg = cfg.clone();
        let active = active.clone();
        tokio::spawn(async move {
            let mut handles = Vec::with_capacity(calls as usize);
            for i in 0..calls {
                sleep_until(start + interval * i as u32).await;
                let hold = match mode {
                    Mode::Setup => Hold::For(Duration::from_secs_f64(hold_s)),
                    Mode::Load => Hold::Until(hangup_all),
                };
                handles.push(tokio::spawn(call(cfg.clone(), i, hold, active.clone())));
            }
            handles
        })
    };

    // The steady window (load): CPU at both ends, RSS every second.
    let mut window = None;
    if let (Mode::Load, Some(pid)) = (mode, server_pid) {
        sleep_until(window_start).await;
        let active_start = active.load(Ordering::Relaxed);
        let wall_start = wall_us();
        let a = read_proc(pid, worker_pid)?;
        let mut rss = vec![rss_kib(pid).unwrap_or(0)];
        let mut next = window_start + Duration::from_secs(1);
        while next < window_end {
            sleep_until(next).await;
            rss.push(rss_kib(pid).unwrap_or(0));
            next += Duration::from_secs(1);
        }
        sleep_until(window_end).await;
        let b = read_proc(pid, worker_pid)?;
        rss.push(rss_kib(pid).unwrap_or(0));
        let active_end = active.load(Ordering::Relaxed);
        window = Some((a, b, rss, active_start, active_end, wall_start, wall_us()));
    }

    let handles = spawner.await.map_err(|e| e.to_string())?;
    let mut results = Vec::with_capacity(handles.len());
    for h in handles {
        results.push(h.await.map_err(|e| e.to_string())?);
    }
    // Let the workers write their notes of the jobs that just ended.
    tokio::time::sleep(Duration::from_secs(2)).await;

    // Calls and setup latency.
    let mut statuses: BTreeMap<u16, u64> = BTreeMap::new();
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    let (mut t100, mut t180, mut t200) = (Vec::new(), Vec::new(), Vec::new());
    for r in &results {
        if let Some(s) = r.status {
            *statuses.entry(s).or_default() += 1;
        }
        if let Some(e) = &r.error {
            *errors.entry(e.clone()).or_default() += 1;
        }
        t100.extend(r.t100);
        t180.extend(r.t180);
        t200.extend(r.t200);
    }
    let failed: u64 = errors.values().sum();
    println!(
        "calls: {} placed at {cps}/s, {} answered 200, {failed} failed; statuses {statuses:?}",
        results.len(),
        statuses.get(&200).copied().unwrap_or(0)
    );
    for (e, n) in &errors {
        println!("  error ×{n}: {e}");
    }
    println!("INVITE -> 100 Trying:  {}", summary(&mut t100));
    println!("INVITE -> 180 Ringing: {}", summary(&mut t180));
    println!("INVITE -> 200 OK:      {}", summary(&mut t200));

    // Audio and latency.
    let notes = std::fs::read_to_string(&worker_log).map_err(|e| format!("{worker_log}: {e}"))?;
    let mut onsets: HashMap<String, Vec<(i64, i64)>> = HashMap::new();
    let mut jobs = 0;
    let mut worker_frames = 0u64;
    for line in notes.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let digits = |id: &str| {
            id.trim_start_matches(|c: char| !c.is_ascii_digit())
                .to_string()
        };
        match f.as_slice() {
            ["job", _, frames] => {
                jobs += 1;
                worker_frames += frames.parse::<u64>().unwrap_or(0);
            }
            ["onset", id, w, x] => {
                if let (Ok(w), Ok(x)) = (w.parse(), x.parse()) {
                    onsets.entry(digits(id)).or_default().push((w, x));
                }
            }
            _ => {}
        }
    }
    let (wall_from, wall_to) = window
        .as_ref()
        .map(|w| (w.5, w.6))
        .unwrap_or((i64::MIN, i64::MAX));
    let (mut added, mut rtt, mut in_leg, mut out_leg, mut agent) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut bursts, mut lost_in, mut lost_out) = (0, 0, 0);
    let (mut sent, mut received) = (0, 0);
    let empty = Vec::new();
    for r in &results {
        sent += r.rtp_sent;
        received += r.rtp_received;
        let notes = onsets.get(&r.caller).unwrap_or(&empty);
        for &s in r.bursts.iter().filter(|&&s| s >= wall_from && s <= wall_to) {
            bursts += 1;
            let Some(&(w, x)) = notes
                .iter()
                .find(|&&(w, _)| w >= s && w < s + MATCH_WINDOW_US)
            else {
                lost_in += 1;
                continue;
            };
            let Some(&back) = r
                .echoes
                .iter()
                .find(|&&e| e >= x && e < x + MATCH_WINDOW_US)
            else {
                lost_out += 1;
                continue;
            };
            added.push((back - s) - (x - w));
            rtt.push(back - s);
            in_leg.push(w - s);
            out_leg.push(back - x);
            agent.push(x - w);
        }
    }
    println!(
        "audio: caller RTP sent {sent}, received {received}; worker jobs noted {jobs}, frames received {worker_frames}"
    );
    println!(
        "bursts{}: {bursts} sent, {} echoed back, {lost_in} not seen by the worker within 1.9 s, {lost_out} not heard back within 1.9 s of the echo",
        if window.is_some() {
            " in the window"
        } else {
            ""
        },
        added.len()
    );
    println!(
        "added latency (round trip - agent's time): {}",
        summary(&mut added)
    );
    println!("  caller round trip:              {}", summary(&mut rtt));
    println!(
        "  caller -> worker (RTP in -> PCM frame): {}",
        summary(&mut in_leg)
    );
    println!(
        "  worker -> caller (PCM frame -> RTP out): {}",
        summary(&mut out_leg)
    );
    println!(
        "  agent's own time (frame in -> echo handed to the SDK): {}",
        summary(&mut agent)
    );

    // CPU and memory.
    if let (Some((a, b, rss, active_start, active_end, _, _)), Some(idle)) = (window, idle_rss) {
        let secs = (b.at - a.at).as_secs_f64();
        let core = |t0: u64, t1: u64| (t1 - t0) as f64 / clk_tck / secs * 100.0;
        let server_pct = core(a.server_ticks, b.server_ticks);
        let n = active_start.min(active_end).max(1) as f64;
        let rss_end = *rss.last().unwrap_or(&0);
        let rss_max = rss.iter().copied().max().unwrap_or(0);
        let rss_min = rss.iter().copied().min().unwrap_or(0);
        println!(
            "window: {secs:.1} s; calls up at its start {active_start}, at its end {active_end}"
        );
        println!(
            "server CPU: {server_pct:.1} % of one core = {:.3} % per call ({} threads)",
            server_pct / n,
            server_pid.and_then(threads).unwrap_or(0)
        );
        println!(
            "server RSS: idle {idle} KiB; in the window min {rss_min}, max {rss_max}, end {rss_end} KiB; (end - idle) / calls = {:.1} KiB per call (max: {:.1})",
            (rss_end as f64 - idle as f64) / n,
            (rss_max as f64 - idle as f64) / n
        );
        if let (Some(w0), Some(w1)) = (a.worker_ticks, b.worker_ticks) {
            println!("echo worker process CPU: {:.1} % of one core", core(w0, w1));
        }
        if let (Some(o0), Some(o1)) = (a.own_ticks, b.own_ticks) {
            println!("load generator CPU: {:.1} % of one core", core(o0, o1));
        }
    }
    if failed > 0 {
        std::process::exit(1);
    }
    Ok(())
}
