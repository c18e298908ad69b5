//! Structured logs against the built binary (`--log-format json`): one JSON line per call
//! state change carrying the call id, and no secret (trunk password, digest credentials,
//! Authorization header, DTMF digits) ever in the output.

mod support;

use serde_json::{Value, json};
use support::sip::*;

/// The JSON log lines of the server's output.
fn json_lines(log: &str) -> Vec<Value> {
    log.lines()
        .filter_map(|l| l.find('{').map(|i| &l[i..]))
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// The `state` of every line about call `id`, in order.
fn states(lines: &[Value], id: &str) -> Vec<String> {
    lines
        .iter()
        .filter(|l| l["fields"]["call_id"] == id)
        .filter_map(|l| l["fields"]["state"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn json_logs_have_one_line_per_call_state_change_and_no_secrets() {
    const PASSWORD: &str = "pw-that-must-not-leak";
    let server = support::Server::start_with(
        |dir| dir.join("switchboard.db").to_string_lossy().into_owned(),
        None,
        &["--log-format", "json"],
        &[],
    );
    let api = Api::new(&server);
    let trunk = api.trunk(json!({
        "name": "carrier", "numbers": ["+15550100"],
        "auth_username": "alice", "auth_password": PASSWORD
    }));
    api.rule(json!({
        "trunk_ids": [trunk],
        "rule": {"dispatch_rule_direct": {"room_name": "logs-room"}}
    }));
    let pin_trunk = api.trunk(json!({"name": "pins", "numbers": ["+15550200"]}));
    api.rule(json!({
        "trunk_ids": [pin_trunk],
        "rule": {"dispatch_rule_direct": {"room_name": "pin-room", "pin": "1234"}}
    }));
    let dir = Scratch::new("logs");

    // An authenticated call: challenged, retried, answered, hung up.
    let run = Sipp::new(dir.path(), "auth", "uac_call.xml", &server.sip_udp)
        .service("+15550100")
        .set("from_user", "+15551230200")
        .auth("alice", PASSWORD)
        .run();
    run.assert_ok();
    let rec = api.call_where(&run.call_id(), "completed", |c| c["status"] == "completed");
    let auth_id = rec["id"].as_str().unwrap_or_default().to_string();

    // A PIN call (digits by INFO).
    let sipp = Sipp::new(dir.path(), "pin", "uac_pin_info.xml", &server.sip_udp)
        .service("+15550200")
        .set("from_user", "+15551230201")
        .hold_ms(1500)
        .spawn();
    let run = sipp.wait();
    run.assert_ok();
    let rec = api.call_where(&run.call_id(), "completed", |c| c["status"] == "completed");
    let pin_id = rec["id"].as_str().unwrap_or_default().to_string();

    let log = server.log_text();
    let lines = json_lines(&log);
    assert!(!lines.is_empty(), "no JSON log lines:\n{log}");
    let auth_states = states(&lines, &auth_id);
    assert_eq!(
        auth_states,
        [
            "incoming", "ended", "incoming", "ringing", "active", "ended"
        ],
        "the challenged INVITE ends (401), its retry runs the call:\n{log}"
    );
    let pin_states = states(&lines, &pin_id);
    assert_eq!(pin_states, ["incoming", "pin", "active", "ended"], "{log}");
    let ended = lines
        .iter()
        .rfind(|l| l["fields"]["call_id"] == pin_id.as_str() && l["fields"]["state"] == "ended")
        .expect("an ended line");
    assert_eq!(ended["fields"]["final_status"], "completed", "{ended}");
    assert_eq!(ended["fields"]["sip_status"], 200, "{ended}");
    assert_eq!(ended["fields"]["reason"], "caller_bye", "{ended}");
    for secret in [PASSWORD, "response=", "Authorization", "Digest ", "cnonce"] {
        assert!(
            !log.contains(secret),
            "{secret:?} appears in the logs:\n{log}"
        );
    }
    assert!(
        lines.iter().all(|l| l["fields"].get("digit").is_none()),
        "DTMF digits appear in the logs"
    );
}
