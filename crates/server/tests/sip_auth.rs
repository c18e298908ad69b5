//! End-to-end digest authentication of INVITEs (SPEC §3): the challenge, SIPp's
//! authenticated retry, wrong passwords, RFC 2069 answers without qop, nonces replayed from
//! another call, stale nonces, and SHA-256 challenges next to MD5.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::sip::*;

const NUMBER: &str = "+15550100";
const USER: &str = "alice";
const PASS: &str = "s3cret-pass";

/// A server with a trunk that requires digest credentials and an open rule.
fn auth_route(config: &[&str]) -> (support::Server, Api, String) {
    let server = sip_server(config);
    let api = Api::new(&server);
    let trunk = api.trunk(json!({
        "name": "carrier", "numbers": [NUMBER],
        "auth_username": USER, "auth_password": PASS
    }));
    api.rule(json!({
        "trunk_ids": [trunk],
        "rule": {"dispatch_rule_direct": {"room_name": "authed-room"}}
    }));
    (server, api, trunk)
}

/// Sends INVITE `cseq` (with `authz` when given) and returns the final answer; non-2xx
/// finals are ACKed.
fn invite(raw: &RawSip, call_id: &str, cseq: u32, authz: Option<&str>) -> String {
    let branch = RawSip::branch();
    let sdp = PCMU_SDP_TEMPLATE.replace("{port}", "30002");
    let extra: Vec<String> = authz
        .map(|a| format!("Authorization: {a}"))
        .into_iter()
        .collect();
    raw.send(&raw.invite(
        call_id,
        "+15551239001",
        NUMBER,
        "ftag",
        cseq,
        &branch,
        &extra,
        &sdp,
    ));
    let fin = raw
        .recv_final("INVITE", Duration::from_secs(5))
        .unwrap_or_else(|| {
            panic!(
                "no final answer to INVITE {call_id}/{cseq}:\n{}",
                raw.dump()
            )
        });
    if status_of(&fin) != Some(200) {
        raw.send(&raw.ack_non2xx(&fin, NUMBER, &branch));
    }
    fin
}

/// ACKs the 200, checks that the call's one record is live and active while the call is
/// up (the challenged first INVITE must not leave it ended), and hangs up with BYE.
fn ack_and_bye(api: &Api, raw: &RawSip, ok: &str, cseq: u32) {
    raw.send(&raw.in_dialog(ok, "ACK", cseq, ""));
    std::thread::sleep(Duration::from_millis(300));
    let call_id = header(ok, "Call-ID").expect("a Call-ID");
    let mine: Vec<Value> = api
        .calls("limit=1000")
        .into_iter()
        .filter(|c| c["sip_call_id"] == call_id.as_str())
        .collect();
    assert_eq!(mine.len(), 1, "one record per Call-ID: {mine:#?}");
    assert_record(
        &mine[0],
        &[("state", json!("active")), ("status", json!("live"))],
    );
    let (status, one) = api.get(&format!(
        "/api/v1/calls/{}",
        mine[0]["id"].as_str().unwrap_or("")
    ));
    assert_eq!(status, 200, "{one}");
    assert_record(
        &one,
        &[("state", json!("active")), ("status", json!("live"))],
    );
    std::thread::sleep(Duration::from_millis(200));
    raw.send(&raw.in_dialog(ok, "BYE", cseq + 1, ""));
    let r = raw
        .recv_final("BYE", Duration::from_secs(5))
        .unwrap_or_else(|| panic!("no answer to BYE:\n{}", raw.dump()));
    assert_eq!(status_of(&r), Some(200), "{}", raw.dump());
}

fn r_uri(raw: &RawSip) -> String {
    format!("sip:{NUMBER}@{}", raw.server)
}

/// The `WWW-Authenticate` values of a 401.
fn challenges(resp: &str) -> Vec<String> {
    headers(resp, "WWW-Authenticate")
}

#[test]
fn digest_challenge_then_sipp_authenticates_and_the_call_completes() {
    let (server, api, trunk) = auth_route(&[]);
    let dir = Scratch::new("auth-ok");
    let run = Sipp::new(dir.path(), "auth_ok", "uac_call.xml", &server.sip_udp)
        .service(NUMBER)
        .set("from_user", "+15551239002")
        .auth(USER, PASS)
        .run();
    run.assert_ok();
    let c401 = run.responses(401);
    assert!(!c401.is_empty(), "no 401 challenge:\n{}", run.dump());
    let ch = challenges(&c401[0]);
    assert_eq!(ch.len(), 1, "one MD5 challenge by default: {ch:?}");
    let ch = &ch[0];
    assert!(ch.starts_with("Digest "), "{ch}");
    assert_eq!(digest_param(ch, "qop").as_deref(), Some("auth"), "{ch}");
    assert_eq!(
        digest_param(ch, "algorithm").as_deref(),
        Some("MD5"),
        "{ch}"
    );
    assert_eq!(
        digest_param(ch, "realm").as_deref(),
        Some("switchboard"),
        "{ch}"
    );
    assert!(
        digest_param(ch, "nonce").is_some_and(|n| n.len() >= 16),
        "{ch}"
    );
    // The challenged INVITE and its authenticated retry are one call record (waiting for
    // its final status: see `ack_and_bye` on the 401's record closing late).
    let rec = api.call_where(&run.call_id(), "completed", |c| c["status"] == "completed");
    assert_record(
        &rec,
        &[
            ("status", json!("completed")),
            ("reason", json!("caller_bye")),
            ("sip_status", json!(200)),
            ("trunk_id", json!(trunk)),
            ("room_name", json!("authed-room")),
        ],
    );
}

#[test]
fn wrong_password_gets_403_auth_failed() {
    let (server, api, _) = auth_route(&[]);
    let dir = Scratch::new("auth-wrong");
    let run = Sipp::new(
        dir.path(),
        "auth_wrong",
        "uac_auth_fail.xml",
        &server.sip_udp,
    )
    .service(NUMBER)
    .set("from_user", "+15551239003")
    .auth(USER, "not-the-password")
    .run();
    run.assert_ok();
    let mut finals = run.invite_finals();
    finals.sort();
    assert_eq!(finals, vec![401, 403], "{}", run.dump());
    let rec = api.call_where(&run.call_id(), "auth_failed", |c| {
        c["reason"] == "auth_failed"
    });
    assert_record(
        &rec,
        &[
            ("status", json!("rejected")),
            ("reason", json!("auth_failed")),
            ("sip_status", json!(403)),
            ("room_name", Value::Null),
            ("answered_at", Value::Null),
        ],
    );
}

#[test]
fn rfc2069_credentials_without_qop_are_accepted() {
    let (server, api, _) = auth_route(&[]);
    let raw = RawSip::new(&server.sip_udp);
    let call_id = format!("rfc2069-{}", std::process::id());
    let c = invite(&raw, &call_id, 1, None);
    assert_eq!(status_of(&c), Some(401), "{}", raw.dump());
    let ch = &challenges(&c)[0];
    let nonce = digest_param(ch, "nonce").expect("a nonce");
    let realm = digest_param(ch, "realm").expect("a realm");
    // RFC 2069: response = MD5(HA1:nonce:HA2), no qop / nc / cnonce, uri = the R-URI.
    let authz = digest_authorization(USER, &realm, PASS, &nonce, &r_uri(&raw), None);
    let ok = invite(&raw, &call_id, 2, Some(&authz));
    assert_eq!(status_of(&ok), Some(200), "{}", raw.dump());
    ack_and_bye(&api, &raw, &ok, 2);
    let rec = api.call_where(&call_id, "completed", |c| c["status"] == "completed");
    assert_record(&rec, &[("reason", json!("caller_bye"))]);
}

#[test]
fn nonce_replayed_from_another_call_is_refused_with_403() {
    let (server, api, _) = auth_route(&[]);
    let raw = RawSip::new(&server.sip_udp);
    let first = format!("replay-a-{}", std::process::id());
    let c = invite(&raw, &first, 1, None);
    assert_eq!(status_of(&c), Some(401), "{}", raw.dump());
    let ch = &challenges(&c)[0];
    let nonce = digest_param(ch, "nonce").expect("a nonce");
    let realm = digest_param(ch, "realm").expect("a realm");
    // Correct password, but the nonce belongs to the first Call-ID.
    let second = format!("replay-b-{}", std::process::id());
    let authz = digest_authorization(USER, &realm, PASS, &nonce, &r_uri(&raw), Some("0a4f113b"));
    let r = invite(&raw, &second, 1, Some(&authz));
    assert_eq!(status_of(&r), Some(403), "{}", raw.dump());
    let rec = api.ended_call(&second);
    assert_record(
        &rec,
        &[
            ("status", json!("rejected")),
            ("reason", json!("auth_failed")),
            ("sip_status", json!(403)),
        ],
    );
}

#[test]
fn stale_nonce_gets_a_new_challenge_with_stale_true() {
    let secret = "e2e-nonce-secret-0123456789abcdef";
    let line = format!("nonce_secret = \"{secret}\"");
    let (server, api, _) = auth_route(&["[sip]", &line]);
    let raw = RawSip::new(&server.sip_udp);
    let call_id = format!("stale-{}", std::process::id());
    // A nonce the server issued (same secret, same Call-ID) 20 minutes ago.
    let old = nonce_for(secret, unix_now() - 1200, &call_id);
    let authz = digest_authorization(
        USER,
        "switchboard",
        PASS,
        &old,
        &r_uri(&raw),
        Some("c0ffee01"),
    );
    let r = invite(&raw, &call_id, 1, Some(&authz));
    assert_eq!(status_of(&r), Some(401), "{}", raw.dump());
    let ch = &challenges(&r)[0];
    assert_eq!(
        digest_param(ch, "stale")
            .map(|s| s.to_ascii_lowercase())
            .as_deref(),
        Some("true"),
        "{ch}"
    );
    let fresh = digest_param(ch, "nonce").expect("a nonce");
    assert_ne!(fresh, old);
    // The fresh nonce works.
    let authz = digest_authorization(
        USER,
        "switchboard",
        PASS,
        &fresh,
        &r_uri(&raw),
        Some("c0ffee02"),
    );
    let ok = invite(&raw, &call_id, 2, Some(&authz));
    assert_eq!(status_of(&ok), Some(200), "{}", raw.dump());
    ack_and_bye(&api, &raw, &ok, 2);
    let rec = api.call_where(&call_id, "completed", |c| c["status"] == "completed");
    assert_record(&rec, &[("reason", json!("caller_bye"))]);
}

#[test]
fn sha256_enabled_challenges_md5_first_and_sipp_still_authenticates() {
    let (server, api, _) = auth_route(&["[sip]", "sha256 = true"]);
    let dir = Scratch::new("auth-sha");
    let run = Sipp::new(dir.path(), "auth_sha", "uac_call.xml", &server.sip_udp)
        .service(NUMBER)
        .set("from_user", "+15551239004")
        .auth(USER, PASS)
        .run();
    run.assert_ok();
    let c401 = run.responses(401);
    assert!(!c401.is_empty(), "no 401:\n{}", run.dump());
    let ch = challenges(&c401[0]);
    let algs: Vec<String> = ch
        .iter()
        .filter_map(|c| digest_param(c, "algorithm"))
        .map(|a| a.to_ascii_uppercase())
        .collect();
    assert_eq!(algs, vec!["MD5", "SHA-256"], "challenges: {ch:?}");
    let rec = api.call_where(&run.call_id(), "completed", |c| c["status"] == "completed");
    assert_record(&rec, &[("reason", json!("caller_bye"))]);
}

#[test]
fn proxy_challenge_trunk_gets_407_and_sipp_answers_with_proxy_authorization() {
    let server = sip_server(&[]);
    let api = Api::new(&server);
    // LiveKit's trunk has no field for it: the trunk's metadata selects 407.
    let trunk = api.trunk(json!({
        "name": "proxy-carrier", "numbers": [NUMBER],
        "auth_username": USER, "auth_password": PASS,
        "metadata": "{\"switchboard.auth_challenge\": \"proxy\"}"
    }));
    api.rule(json!({
        "trunk_ids": [trunk],
        "rule": {"dispatch_rule_direct": {"room_name": "proxy-room"}}
    }));
    let dir = Scratch::new("auth-407");
    let run = Sipp::new(dir.path(), "auth_407", "uac_call.xml", &server.sip_udp)
        .service(NUMBER)
        .set("from_user", "+15551239005")
        .auth(USER, PASS)
        .run();
    run.assert_ok();
    let c407 = run.responses(407);
    assert!(!c407.is_empty(), "no 407 challenge:\n{}", run.dump());
    assert!(run.responses(401).is_empty(), "{}", run.dump());
    let ch = headers(&c407[0], "Proxy-Authenticate");
    assert_eq!(ch.len(), 1, "{ch:?}");
    assert_eq!(digest_param(&ch[0], "qop").as_deref(), Some("auth"));
    let rec = api.call_where(&run.call_id(), "completed", |c| c["status"] == "completed");
    assert_record(
        &rec,
        &[
            ("reason", json!("caller_bye")),
            ("room_name", json!("proxy-room")),
        ],
    );
}

#[test]
fn repeated_failures_from_one_source_are_throttled_even_with_the_right_password() {
    let (server, api, _) = auth_route(&["[sip]", "auth_failures_per_source_per_min = 2"]);
    let dir = Scratch::new("auth-throttle");
    // Two wrong passwords use up the source's budget…
    for (i, from) in ["+15551239010", "+15551239011"].into_iter().enumerate() {
        let run = Sipp::new(
            dir.path(),
            &format!("wrong{i}"),
            "uac_auth_fail.xml",
            &server.sip_udp,
        )
        .service(NUMBER)
        .set("from_user", from)
        .auth(USER, "guess")
        .run();
        run.assert_ok();
        api.call_where(&run.call_id(), "auth_failed", |c| {
            c["reason"] == "auth_failed"
        });
    }
    // …so the next INVITE is refused at once, without a challenge, right password or not.
    let run = Sipp::new(dir.path(), "right", "uac_reject.xml", &server.sip_udp)
        .service(NUMBER)
        .set("from_user", "+15551239012")
        .run();
    run.assert_ok();
    assert_eq!(run.invite_finals(), vec![403], "{}", run.dump());
    let rec = api.call_where(&run.call_id(), "auth_throttled", |c| {
        c["reason"] == "auth_throttled"
    });
    assert_record(
        &rec,
        &[("status", json!("rejected")), ("sip_status", json!(403))],
    );
}
