//! `/metrics` against the built binary: the Prometheus text changes as calls happen, and
//! it is refused without a token.

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::sip::*;

/// The metrics text (with the admin token).
fn scrape(server: &support::Server) -> String {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async {
        let resp = reqwest::Client::new()
            .get(format!("{}/metrics", server.url))
            .bearer_auth(admin_token())
            .send()
            .await
            .expect("the server answers");
        assert_eq!(resp.status().as_u16(), 200);
        let ct = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        assert!(ct.starts_with("text/plain"), "{ct}");
        resp.text().await.expect("a body")
    })
}

/// The value of the sample line `name{labels}` (0 when absent).
fn value(text: &str, sample: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(sample)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

fn wait_value(server: &support::Server, sample: &str, at_least: f64) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text = scrape(server);
        if value(&text, sample) >= at_least {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "{sample} never reached {at_least}:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn metrics_follow_calls_and_need_a_token() {
    let server = sip_server(&[]);
    let api = Api::new(&server);

    // Without a token: refused.
    let (status, _) = {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        rt.block_on(async {
            let r = reqwest::get(format!("{}/metrics", server.url))
                .await
                .expect("the server answers");
            (r.status().as_u16(), r.text().await.unwrap_or_default())
        })
    };
    assert_eq!(status, 401);

    let before = scrape(&server);
    assert_eq!(
        value(
            &before,
            "switchboard_invites_total{reason=\"no_trunk\",status=\"404\"}"
        ),
        0.0
    );
    let trunk = api.trunk(json!({"name": "carrier", "numbers": ["+15550100"]}));
    let rule = api.rule(json!({
        "trunk_ids": [trunk],
        "rule": {"dispatch_rule_direct": {"room_name": "metrics-room"}}
    }));
    let dir = Scratch::new("metrics");
    let run = Sipp::new(dir.path(), "nobody", "uac_reject.xml", &server.sip_udp)
        .service("+15550999")
        .set("from_user", "+15551230100")
        .run();
    run.assert_ok();
    let text = wait_value(
        &server,
        "switchboard_invites_total{reason=\"no_trunk\",status=\"404\"}",
        1.0,
    );
    assert!(
        value(&text, "switchboard_call_setup_seconds_count") >= 1.0,
        "{text}"
    );

    let run = Sipp::new(dir.path(), "answered", "uac_call.xml", &server.sip_udp)
        .service("+15550100")
        .set("from_user", "+15551230101")
        .run();
    run.assert_ok();
    let text = wait_value(
        &server,
        &format!("switchboard_calls_completed_total{{rule=\"{rule}\"}}"),
        1.0,
    );
    assert_eq!(
        value(
            &text,
            "switchboard_invites_total{reason=\"answered\",status=\"200\"}"
        ),
        1.0,
        "{text}"
    );
    // The call's RTP (our 20 ms packets out at least) is counted when it ends.
    assert!(
        value(&text, "switchboard_rtp_packets_total{direction=\"out\"}") > 0.0,
        "{text}"
    );
    assert!(
        value(
            &text,
            "switchboard_api_requests_total{method=\"POST\",code=\"200\"}"
        ) >= 2.0,
        "{text}"
    );
    assert!(
        value(&text, "switchboard_sip_messages_total{kind=\"received\"}") >= 4.0,
        "{text}"
    );
}
