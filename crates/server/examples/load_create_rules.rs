//! Load tool: creates N dispatch rules through the Twirp API with C concurrent clients and
//! reports the rate. Bounded in count; targets the given URL (use loopback).
//!
//! usage: load_create_rules URL API_KEY API_SECRET [COUNT=10000] [CONCURRENCY=16] [FIRST=0]
//!
//! Rule i filters on the called number +1999 followed by i in 7 digits, starting at FIRST.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use livekit_token::{AccessToken, SIPGrants};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: load_create_rules URL API_KEY API_SECRET [COUNT] [CONCURRENCY]");
        std::process::exit(2);
    }
    let url = format!(
        "{}/twirp/livekit.SIP/CreateSIPDispatchRule",
        args[1].trim_end_matches('/')
    );
    let count: usize = args.get(4).map_or(Ok(10_000), |s| s.parse())?;
    let concurrency: usize = args.get(5).map_or(Ok(16), |s| s.parse())?;
    let first: usize = args.get(6).map_or(Ok(0), |s| s.parse())?;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let token = AccessToken::with_api_key(&args[2], &args[3])
        .with_ttl(Duration::from_secs(3600))
        .with_sip_grants(SIPGrants {
            admin: true,
            call: false,
        })
        .to_jwt()?;
    let client = reqwest::Client::builder().build()?;
    let next = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, url, token, next, failures) = (
            client.clone(),
            url.clone(),
            token.clone(),
            next.clone(),
            failures.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= count {
                    break;
                }
                let i = first + n;
                // Distinct called-number filters keep every rule conflict-free.
                let body = serde_json::json!({"dispatch_rule": {
                    "name": format!("load-{i}"),
                    "numbers": [format!("+1999{i:07}")],
                    "rule": {"dispatchRuleIndividual": {"roomPrefix": "load"}},
                }});
                let t = Instant::now();
                let ok = client
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&body)
                    .send()
                    .await
                    .map(|r| r.status().is_success())
                    .unwrap_or(false);
                latencies.push(t.elapsed());
                if !ok {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await?);
    }
    let elapsed = started.elapsed();
    all.sort();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    println!(
        "created {} rules in {:.2} s: {:.0} rules/s, {} failed; latency p50 {:?} p99 {:?} max {:?} (concurrency {concurrency})",
        count - failures.load(Ordering::Relaxed),
        elapsed.as_secs_f64(),
        count as f64 / elapsed.as_secs_f64(),
        failures.load(Ordering::Relaxed),
        pct(0.5),
        pct(0.99),
        all.last().copied().unwrap_or_default(),
    );
    Ok(())
}
