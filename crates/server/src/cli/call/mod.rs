//! `switchboard call`: a test caller. Places one SIP call over UDP to a switchboard (or any
//! SIP server), sends a WAV file as G.711 RTP paced at 20 ms and DTMF digits as RFC 4733
//! events, records what it hears into a WAV file, hangs up after `--duration` (or when the
//! far end does) and prints a summary.
//!
//! * [`dialog`]: the sans-I/O UAC (INVITE with Timers A/B, digest retries, ACK, CANCEL, BYE);
//! * [`media`]: the SDP offer/answer, the RTP sender and receiver, a frequency estimator;
//! * [`wav`]: WAV files;
//! * this file: the command (arguments, sockets, the event loop, the summary).
//!
//! Every message goes to the `--sip` address (no DNS SRV, no routing on Contact/Route
//! hosts): it is a caller for testing a known server, not a general user agent.

pub mod dialog;
pub mod media;
pub mod wav;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use switchboard_media::Resampler;
use tokio::net::UdpSocket;
use tokio::time::{Instant, MissedTickBehavior};

use dialog::{Action, Dialog, DialogConfig, Event};

/// `switchboard call …`.
#[derive(Debug, Args)]
pub struct CallArgs {
    /// The number to call (Request-URI and To user part), e.g. +15550100.
    #[arg(long, value_name = "NUMBER")]
    pub to: String,
    /// The caller's number (From user part).
    #[arg(long, value_name = "NUMBER", default_value = "+15550001111")]
    pub from: String,
    /// The SIP server, host:port (UDP).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:5060")]
    pub sip: String,
    /// Audio to send once answered: a mono 16-bit PCM WAV at 8, 16, 24 or 48 kHz (sent as
    /// G.711 at 8 kHz); silence after it, or throughout without it.
    #[arg(long, value_name = "FILE")]
    pub wav: Option<PathBuf>,
    /// DTMF digits to send as RFC 4733 events (0-9, *, #, A-D), 100 ms each.
    #[arg(long, value_name = "DIGITS")]
    pub dtmf: Option<String>,
    /// Seconds after the answer before the DTMF digits are sent.
    #[arg(long, value_name = "SECS", default_value_t = 1.0)]
    pub dtmf_delay: f64,
    /// Write what the far end sends to this file (8 kHz mono PCM16 WAV).
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
    /// Seconds to stay on the call after the answer, then BYE. Default: long enough for the
    /// WAV and the digits plus 2 s (5 s without either).
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// Digest username, for servers (trunks) that challenge with 401/407.
    #[arg(long, requires = "password")]
    pub username: Option<String>,
    /// Digest password.
    #[arg(long, requires = "username")]
    pub password: Option<String>,
    /// Seconds to wait for the answer once the far end rings; then CANCEL.
    #[arg(long, value_name = "SECS", default_value_t = 60.0)]
    pub answer_timeout: f64,
    /// Print only the summary (no progress lines).
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// Checked arguments.
struct Plan {
    audio: Vec<i16>,
    digits: String,
    dtmf_delay: Duration,
    duration: Duration,
    answer_timeout: Duration,
}

pub fn run(args: CallArgs) -> Result<(), String> {
    let plan = plan(&args)?;
    super::runtime()?.block_on(call(args, plan))
}

fn seconds(flag: &str, v: f64) -> Result<Duration, String> {
    if !v.is_finite() || !(0.0..=86_400.0).contains(&v) {
        return Err(format!(
            "{flag} {v}: give a number of seconds between 0 and 86400"
        ));
    }
    Ok(Duration::from_secs_f64(v))
}

fn check_number(flag: &str, v: &str) -> Result<(), String> {
    let ok = !v.is_empty()
        && v.len() <= 64
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-_.*".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{flag} {v:?}: a number or SIP user name may only contain letters, digits and + - _ . *, e.g. +15550100"
        ))
    }
}

fn plan(args: &CallArgs) -> Result<Plan, String> {
    check_number("--to", &args.to)?;
    check_number("--from", &args.from)?;
    let digits = args.dtmf.clone().unwrap_or_default();
    if let Some(bad) = digits
        .chars()
        .find(|&c| switchboard_media::dtmf::digit_to_event(c).is_none())
    {
        return Err(format!(
            "--dtmf {digits:?}: {bad:?} is not a DTMF digit (use 0-9, *, #, A-D)"
        ));
    }
    let audio = match &args.wav {
        None => Vec::new(),
        Some(path) => {
            let w = wav::read(path)?;
            if w.sample_rate == 8000 {
                w.samples
            } else {
                let mut r = Resampler::new(w.sample_rate, 8000).map_err(|_| {
                    format!(
                        "{}: the sample rate is {} Hz; use 8000, 16000, 24000 or 48000 Hz (e.g. `sox in.wav -r 8000 out.wav`)",
                        path.display(),
                        w.sample_rate
                    )
                })?;
                let mut out =
                    Vec::with_capacity(w.samples.len() * 8000 / w.sample_rate as usize + 1);
                r.process(&w.samples, &mut out);
                out
            }
        }
    };
    let dtmf_delay = seconds("--dtmf-delay", args.dtmf_delay)?;
    let answer_timeout = seconds("--answer-timeout", args.answer_timeout)?;
    let duration = match args.duration {
        Some(d) => seconds("--duration", d)?,
        None => {
            let wav_len = Duration::from_secs_f64(audio.len() as f64 / 8000.0);
            let dtmf_len = if digits.is_empty() {
                Duration::ZERO
            } else {
                dtmf_delay + Duration::from_millis(240 * digits.len() as u64)
            };
            let busy = wav_len.max(dtmf_len);
            if busy.is_zero() {
                Duration::from_secs(5)
            } else {
                busy + Duration::from_secs(2)
            }
        }
    };
    Ok(Plan {
        audio,
        digits,
        dtmf_delay,
        duration,
        answer_timeout,
    })
}

/// How the call went, for the summary.
#[derive(Default)]
struct Outcome {
    answered_at: Option<Instant>,
    ended_at: Option<Instant>,
    status: Option<(u16, String)>,
    ended_by: &'static str,
    codec: Option<media::Answer>,
}

async fn call(args: CallArgs, plan: Plan) -> Result<(), String> {
    let progress = !args.quiet;
    let server = resolve(&args.sip).await?;
    let bind: SocketAddr = if server.is_ipv6() {
        "[::]:0".parse().map_err(|e| format!("{e}"))?
    } else {
        "0.0.0.0:0".parse().map_err(|e| format!("{e}"))?
    };
    let sip = UdpSocket::bind(bind)
        .await
        .map_err(|e| format!("cannot open a UDP socket for SIP: {e}"))?;
    sip.connect(server)
        .await
        .map_err(|e| format!("cannot reach {server} over UDP: {e}"))?;
    let local = sip
        .local_addr()
        .map_err(|e| format!("the SIP socket has no address: {e}"))?;
    let rtp = UdpSocket::bind(SocketAddr::new(local.ip(), 0))
        .await
        .map_err(|e| format!("cannot open a UDP socket for RTP on {}: {e}", local.ip()))?;
    let rtp_local = rtp
        .local_addr()
        .map_err(|e| format!("the RTP socket has no address: {e}"))?;

    let seed = format!("{:016x}", rand::random::<u64>());
    let cfg = DialogConfig {
        from_user: args.from.clone(),
        to_user: args.to.clone(),
        target: args.sip.clone(),
        local,
        sdp: media::offer(local.ip(), rtp_local.port(), rand::random::<u32>().into()),
        credentials: args.username.clone().zip(args.password.clone()),
        call_id: format!("{seed}@switchboard-call"),
        from_tag: seed[..10].to_owned(),
        seed: seed[10..].to_owned(),
        user_agent: format!("switchboard-call/{}", env!("CARGO_PKG_VERSION")),
        answer_timeout: plan.answer_timeout,
    };
    let started = Instant::now();
    let (mut dialog, actions) = Dialog::start(cfg, started.into_std());
    if progress {
        println!(
            "calling {} from {} via {server} (SIP from {local}, RTP on {rtp_local})",
            args.to, args.from
        );
    }

    let mut outcome = Outcome::default();
    let mut sender: Option<media::Sender> = None;
    let mut receiver: Option<media::Receiver> = None;
    let mut pending_events = std::collections::VecDeque::new();
    apply(&sip, actions, &mut pending_events).await?;

    let mut ticker = tokio::time::interval(Duration::from_millis(20));
    ticker.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let far = Instant::now() + Duration::from_secs(86_400 * 365);
    let mut hangup_at = far;
    let mut dtmf_at = far;
    let mut hung_up = false;
    let mut interrupted = false;
    let mut sip_buf = vec![0u8; 65_535];
    let mut rtp_buf = vec![0u8; 2048];
    let mut packet = [0u8; 512];
    let mut failure: Option<String> = None;

    loop {
        while let Some(event) = pending_events.pop_front() {
            let now = Instant::now();
            match event {
                Event::Provisional { status, reason } => {
                    if progress {
                        println!("  {status} {reason}");
                    }
                }
                Event::Challenged { status } => {
                    if progress {
                        println!("  {status}: sending the INVITE again with credentials");
                    }
                }
                Event::Answered {
                    status,
                    reason,
                    sdp,
                } => {
                    outcome.answered_at = Some(now);
                    outcome.status = Some((status, reason.clone()));
                    match media::read_answer(&sdp) {
                        Ok(answer) => {
                            if progress {
                                println!(
                                    "  {status} {reason}: answered after {:.2} s; {} to {}",
                                    (now - started).as_secs_f64(),
                                    answer.codec.encoding_name(),
                                    answer.remote
                                );
                            }
                            outcome.codec = Some(answer);
                            let s = media::Sender::new(
                                answer,
                                plan.audio.clone(),
                                rand::random(),
                                rand::random(),
                                rand::random(),
                            );
                            if !plan.digits.is_empty() {
                                if !s.can_send_dtmf() {
                                    println!(
                                        "warning: the answer has no telephone-event: the DTMF digits are not sent"
                                    );
                                }
                                dtmf_at = now + plan.dtmf_delay;
                            }
                            sender = Some(s);
                            receiver = Some(media::Receiver::new(answer));
                            hangup_at = now + plan.duration;
                            ticker.reset_immediately();
                        }
                        Err(e) => {
                            failure = Some(format!("{e}; hanging up"));
                            hangup_at = now;
                        }
                    }
                }
                Event::Rejected {
                    status,
                    reason,
                    challenge,
                } => {
                    outcome.status = Some((status, reason.clone()));
                    failure = Some(rejected(&args, status, &reason, challenge));
                }
                Event::Cancelled => {
                    outcome.ended_by = "cancelled";
                    if failure.is_none() && !interrupted {
                        failure = Some(format!(
                            "no answer within {} s of ringing (--answer-timeout); the call was cancelled",
                            plan.answer_timeout.as_secs_f64()
                        ));
                    }
                }
                Event::NoAnswer => {
                    failure = Some(format!(
                        "no final answer from {server} within {} s; is switchboard running there \
                         (`switchboard serve --dev`) and is --sip its SIP address?",
                        dialog::TRANSACTION_TIMEOUT.as_secs()
                    ));
                }
                Event::RemoteHangup => {
                    outcome.ended_at = Some(now);
                    outcome.ended_by = "the far end (BYE)";
                    if progress {
                        println!("  the far end hung up");
                    }
                }
                Event::ByeAnswered(status) => {
                    outcome.ended_at.get_or_insert(now);
                    outcome.ended_by = match status {
                        Some(s) if (200..300).contains(&s) => "us (BYE answered)",
                        Some(_) => "us (BYE refused)",
                        None => "us (BYE unanswered)",
                    };
                }
                Event::InfoDtmf(d) => {
                    if let Some(r) = &mut receiver {
                        r.digits.push(d);
                    }
                }
            }
        }
        if dialog.state() == dialog::State::Done {
            break;
        }

        let timer = dialog.next_timer().map_or(far, Instant::from_std);
        let media_on = sender.is_some() && dialog.state() == dialog::State::Confirmed;
        tokio::select! {
            r = sip.recv(&mut sip_buf) => match r {
                Ok(n) => {
                    let actions = dialog.on_datagram(&sip_buf[..n], Instant::now().into_std());
                    apply(&sip, actions, &mut pending_events).await?;
                }
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                    return Err(format!(
                        "nothing listens for SIP on UDP at {server} (connection refused): start \
                         switchboard (`switchboard serve --dev`) or give its SIP address with --sip host:port"
                    ));
                }
                Err(e) => return Err(format!("receiving SIP from {server}: {e}")),
            },
            r = rtp.recv_from(&mut rtp_buf) => {
                // Only from the address the answer gave (its port may differ).
                if let (Ok((n, from)), Some(rx), Some(a)) = (r, receiver.as_mut(), outcome.codec)
                    && from.ip() == a.remote.ip()
                    && dialog.state() == dialog::State::Confirmed
                {
                    rx.on_datagram(&rtp_buf[..n]);
                }
            },
            _ = ticker.tick(), if media_on => {
                if let (Some(tx), Some(a)) = (sender.as_mut(), outcome.codec) {
                    let len = tx.next_packet(&mut packet);
                    // A lost RTP packet is not worth ending the call for.
                    let _ = rtp.send_to(&packet[..len], a.remote).await;
                }
            },
            _ = tokio::time::sleep_until(timer) => {
                let actions = dialog.on_timer(Instant::now().into_std());
                apply(&sip, actions, &mut pending_events).await?;
            },
            _ = tokio::time::sleep_until(dtmf_at) => {
                dtmf_at = far;
                if let Some(tx) = sender.as_mut() {
                    tx.queue_dtmf(&plan.digits);
                    if progress {
                        println!("  sending DTMF {:?}", plan.digits);
                    }
                }
            },
            _ = tokio::time::sleep_until(hangup_at), if !hung_up => {
                hung_up = true;
                outcome.ended_at.get_or_insert(Instant::now());
                let actions = dialog.hangup(Instant::now().into_std());
                apply(&sip, actions, &mut pending_events).await?;
            },
            _ = tokio::signal::ctrl_c() => {
                if interrupted {
                    return Err("interrupted twice: gave up without waiting for the far end".into());
                }
                interrupted = true;
                hung_up = true;
                if progress {
                    println!("  interrupted: hanging up");
                }
                outcome.ended_at.get_or_insert(Instant::now());
                let actions = dialog.hangup(Instant::now().into_std());
                apply(&sip, actions, &mut pending_events).await?;
            },
        }
    }

    if outcome.answered_at.is_none()
        && let Some(e) = failure
    {
        return Err(e);
    }
    summary(
        &args,
        &plan,
        &outcome,
        started,
        sender.as_ref(),
        receiver.as_ref(),
        &dialog,
    )?;
    match failure {
        Some(e) => Err(e),
        None if interrupted => Err("interrupted".into()),
        None => Ok(()),
    }
}

/// Sends what the dialog asks to send and queues its events.
async fn apply(
    sip: &UdpSocket,
    actions: Vec<Action>,
    events: &mut std::collections::VecDeque<Event>,
) -> Result<(), String> {
    for a in actions {
        match a {
            Action::Send(bytes) => match sip.send(&bytes).await {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                    // Reported by the next receive; UDP retransmissions go on meanwhile.
                }
                Err(e) => return Err(format!("cannot send SIP: {e}")),
            },
            Action::Event(e) => events.push_back(e),
        }
    }
    Ok(())
}

async fn resolve(addr: &str) -> Result<SocketAddr, String> {
    let hint = "give --sip as host:port, e.g. 127.0.0.1:5060";
    if !addr.contains(':') {
        return Err(format!("--sip {addr:?} has no port; {hint}"));
    }
    let mut addrs = tokio::net::lookup_host(addr)
        .await
        .map_err(|e| format!("--sip {addr:?}: cannot resolve it ({e}); {hint}"))?;
    addrs
        .next()
        .ok_or_else(|| format!("--sip {addr:?} resolves to no address; {hint}"))
}

/// The error for a rejected call, with what to do about it.
fn rejected(args: &CallArgs, status: u16, reason: &str, challenge: bool) -> String {
    let hint = match status {
        401 | 407 if challenge && args.username.is_none() => {
            " — the trunk asks for digest authentication: pass --username and --password".to_owned()
        }
        401 | 407 if challenge => {
            " — the credentials were not accepted: check --username and --password".to_owned()
        }
        403 => " — the server refused the call (a trunk restricting source addresses or numbers, or wrong credentials)".to_owned(),
        404 => format!(
            " — no trunk or dispatch rule routes {}: create one (e.g. `switchboard dispatch agent --name test --number {} --allowed-address <this machine's address> --agent <agent name>`) or ask `switchboard explain --to {}`",
            args.to, args.to, args.to
        ),
        480 => " — no agent answered: is a worker registered for the rule's agent name (`switchboard agents list`)?".to_owned(),
        486 | 503 | 600 | 603 => " — the route is busy, closed or over capacity; `switchboard explain` tells why".to_owned(),
        _ => String::new(),
    };
    format!("the call was rejected: {status} {reason}{hint}")
}

fn summary(
    args: &CallArgs,
    plan: &Plan,
    outcome: &Outcome,
    started: Instant,
    sender: Option<&media::Sender>,
    receiver: Option<&media::Receiver>,
    dialog: &Dialog,
) -> Result<(), String> {
    let (status, reason) = outcome.status.clone().unwrap_or((0, "no answer".into()));
    println!("call summary");
    match outcome.answered_at {
        Some(at) => {
            let connected = outcome
                .ended_at
                .unwrap_or_else(Instant::now)
                .saturating_duration_since(at);
            println!(
                "  status:     {status} {reason}, answered after {:.2} s",
                (at - started).as_secs_f64()
            );
            println!(
                "  duration:   {:.2} s connected, ended by {}",
                connected.as_secs_f64(),
                if outcome.ended_by.is_empty() {
                    "us"
                } else {
                    outcome.ended_by
                }
            );
        }
        None => println!("  status:     {status} {reason}"),
    }
    println!("  call-id:    {}", dialog.call_id());
    if let Some(a) = outcome.codec {
        println!("  media:      {} to {}", a.codec.encoding_name(), a.remote);
    }
    if let Some(tx) = sender {
        let what = match &args.wav {
            Some(p) => format!(
                "{} ({:.2} s)",
                p.display(),
                plan.audio.len() as f64 / 8000.0
            ),
            None => "silence".into(),
        };
        let dtmf = if tx.digits_sent.is_empty() {
            String::new()
        } else {
            format!(", DTMF {:?}", tx.digits_sent)
        };
        let cut = if tx.finished() {
            ""
        } else {
            " (the call ended before all of it was sent)"
        };
        println!(
            "  sent:       {} RTP packets: {what}{dtmf}{cut}",
            tx.packets
        );
    }
    if let Some(rx) = receiver {
        let dtmf = if rx.digits.is_empty() {
            String::new()
        } else {
            format!(", DTMF {:?}", rx.digits)
        };
        let invalid = if rx.invalid > 0 {
            format!(" ({} not usable)", rx.invalid)
        } else {
            String::new()
        };
        println!("  received:   {} RTP packets{invalid}{dtmf}", rx.packets);
        let secs = rx.recording.len() as f64 / 8000.0;
        match &args.record {
            Some(path) => {
                wav::write(path, 8000, &rx.recording)?;
                println!(
                    "  recorded:   {} ({secs:.2} s, 8 kHz mono PCM16)",
                    path.display()
                );
            }
            None => println!("  heard:      {secs:.2} s of audio (--record FILE keeps it)"),
        }
        match media::dominant_frequency(&rx.recording) {
            Some(f) => println!("  dominant frequency: {f:.0} Hz"),
            None => println!("  dominant frequency: none (silence)"),
        }
    }
    if dialog.ignored > 0 {
        println!(
            "  ignored:    {} SIP datagrams not for this call",
            dialog.ignored
        );
    }
    Ok(())
}
