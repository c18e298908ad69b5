//! A tiny UAS to exercise the stack with SIPp:
//!
//! ```text
//! cargo run --release -p switchboard-sip --example uas -- --udp 127.0.0.1:5060 --tcp 127.0.0.1:5060
//! cargo run --release -p switchboard-sip --example uas -- --udp 127.0.0.1:5060 --reject 404
//! ```
//!
//! Default: every INVITE gets 180 then 200 with a fixed SDP; the call ends when the caller
//! sends BYE (or we BYE after an ACK timeout). `--reject CODE` answers every INVITE with
//! CODE instead; `--ring-ms MS` waits MS between 180 and 200 (to test CANCEL). Prints the endpoint counters every 5 s.

use std::net::SocketAddr;
use std::time::Duration;

use switchboard_sip::endpoint::Reply;
use switchboard_sip::transport::{CallEvent, IncomingCall, TransportConfig, start};

const SDP: &str = "v=0\r\no=switchboard 1 1 IN IP4 127.0.0.1\r\ns=switchboard\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 20000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

fn reason(code: u16) -> &'static str {
    match code {
        404 => "Not Found",
        480 => "Temporarily Unavailable",
        486 => "Busy Here",
        503 => "Service Unavailable",
        _ => "Rejected",
    }
}

async fn answer(mut call: IncomingCall, ring: Duration) {
    call.handle.respond(Reply::new(180, "Ringing"));
    if !ring.is_zero() {
        tokio::select! {
            () = tokio::time::sleep(ring) => {}
            ev = call.events.recv() => {
                // CANCEL during ringing: the endpoint already sent 200 + 487.
                if matches!(ev, Some(CallEvent::Cancelled) | None) {
                    return;
                }
            }
        }
    }
    call.handle
        .respond(Reply::new(200, "OK").with_body("application/sdp", SDP));
    while let Some(ev) = call.events.recv().await {
        match ev {
            CallEvent::AckTimeout => call.handle.bye(Vec::new()),
            CallEvent::ReInvite { req, .. } => {
                call.handle.respond_in_dialog(
                    req,
                    Reply::new(200, "OK").with_body("application/sdp", SDP),
                );
            }
            CallEvent::Bye
            | CallEvent::ByeCompleted { .. }
            | CallEvent::Cancelled
            | CallEvent::Terminated => break,
            _ => {}
        }
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut cfg = TransportConfig::default();
    let mut reject: Option<u16> = None;
    let mut ring = Duration::ZERO;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let v = args.next().unwrap_or_default();
        match a.as_str() {
            "--udp" => cfg
                .udp
                .push(v.parse::<SocketAddr>().map_err(std::io::Error::other)?),
            "--tcp" => cfg
                .tcp
                .push(v.parse::<SocketAddr>().map_err(std::io::Error::other)?),
            "--reject" => reject = v.parse().ok(),
            "--ring-ms" => ring = Duration::from_millis(v.parse().unwrap_or(0)),
            _ => {
                eprintln!(
                    "usage: uas [--udp ADDR]... [--tcp ADDR]... [--reject CODE] [--ring-ms MS]"
                );
                std::process::exit(2);
            }
        }
    }
    if cfg.udp.is_empty() && cfg.tcp.is_empty() {
        cfg.udp.push(SocketAddr::from(([127, 0, 0, 1], 5060)));
    }
    let (sip, mut incoming) = start(cfg).await?;
    println!(
        "listening udp={:?} tcp={:?}",
        sip.local_udp(),
        sip.local_tcp()
    );
    let stats_handle = sip.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(5)).await;
            println!("{:?}", stats_handle.stats());
        }
    });
    while let Some(call) = incoming.recv().await {
        match reject {
            // Dropping the call right after the final response: the endpoint keeps the
            // transaction until the ACK, then forgets it.
            Some(code) => call.handle.respond(Reply::new(code, reason(code))),
            None => {
                tokio::spawn(answer(call, ring));
            }
        }
    }
    Ok(())
}
