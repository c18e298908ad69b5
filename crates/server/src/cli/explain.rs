//! `switchboard explain`: "why would this call be routed (or rejected)?" — asks the server's
//! `POST /api/v1/explain` and prints the decision, the agents, the caller's identity and the
//! trace of every trunk and rule considered.

use clap::Args;
use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

use super::client::Client;
use super::connection::ConnectionArgs;
use super::output;

#[derive(Debug, Args)]
pub struct ExplainArgs {
    #[command(flatten)]
    pub conn: ConnectionArgs,
    /// Called number (the To header's user part).
    #[arg(long)]
    pub to: String,
    /// Caller (the From header's user part).
    #[arg(long, default_value = "")]
    pub from: String,
    /// Source IP address of the INVITE.
    #[arg(long, visible_alias = "source-ip", value_name = "ADDR")]
    pub ip: Option<String>,
    /// Host of the From URI.
    #[arg(long, visible_alias = "from-host", default_value = "")]
    pub host: String,
    /// Digits entered at the PIN prompt.
    #[arg(long, conflicts_with = "no_pin")]
    pub pin: Option<String>,
    /// The caller pressed # without a PIN (open rules only).
    #[arg(long)]
    pub no_pin: bool,
    /// Evaluate schedules at this RFC 3339 instant (default: now), e.g. 2026-06-10T16:00:00Z.
    #[arg(long, value_name = "RFC3339")]
    pub at: Option<String>,
    /// Print the API's raw JSON answer.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Agent {
    agent_name: String,
    metadata: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Step {
    stage: String,
    id: String,
    name: String,
    result: String,
    reason: String,
    detail: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Answer {
    decision: String,
    sip_status: Option<u16>,
    reason: String,
    detail: String,
    trunk_id: Option<String>,
    rule_id: Option<String>,
    routed_from_rule_id: Option<String>,
    room_name: Option<String>,
    participant_identity: Option<String>,
    participant_name: Option<String>,
    attributes: Option<std::collections::BTreeMap<String, String>>,
    metadata: Option<String>,
    agents: Vec<Agent>,
    trace: Vec<Step>,
}

pub fn run(a: ExplainArgs) -> Result<(), String> {
    super::runtime()?.block_on(async move {
        let body = json!({
            "from": a.from,
            "to": a.to,
            "source_ip": a.ip,
            "from_host": a.host,
            "pin": a.pin,
            "no_pin": a.no_pin,
            "at": a.at,
        });
        let client = Client::connect(&a.conn)?;
        let answer = client.native(Method::POST, "api/v1/explain", &[], Some(&body)).await?;
        if a.json {
            println!("{}", output::pretty_raw(&answer));
            return Ok(());
        }
        let parsed: Answer = serde_json::from_str(&answer).map_err(|e| {
            format!("the server's answer is not what this CLI expects ({e}); are the CLI and the server the same version?")
        })?;
        print!("{}", render(&parsed));
        Ok(())
    })
}

/// ` "name"` when the trace knows a name for `id`.
fn named(a: &Answer, id: &str) -> String {
    a.trace
        .iter()
        .find(|s| s.id == id && !s.name.is_empty())
        .map(|s| format!(" {:?}", s.name))
        .unwrap_or_default()
}

fn route(a: &Answer) -> String {
    let mut parts = Vec::new();
    if let Some(r) = &a.rule_id {
        parts.push(format!("rule {r}{}", named(a, r)));
    }
    match &a.trunk_id {
        Some(t) => parts.push(format!("trunk {t}{}", named(a, t))),
        None => parts.push("no trunk".to_string()),
    }
    parts.join(", ")
}

fn symbol(result: &str) -> &'static str {
    match result {
        "selected" => "✓",
        "kept" => "·",
        "dropped" => "✗",
        _ => "•",
    }
}

fn render(a: &Answer) -> String {
    let mut out = String::new();
    let head = match a.decision.as_str() {
        "accept" => format!(
            "ACCEPT → room {} ({})",
            a.room_name.as_deref().unwrap_or("?"),
            route(a)
        ),
        "request_pin" => format!("REQUEST_PIN ({}): {}", route(a), a.detail),
        "reject" => format!(
            "REJECT {} {}: {}",
            a.sip_status.map_or("BYE".to_string(), |s| s.to_string()),
            a.reason,
            a.detail
        ),
        other => format!("{} {}: {}", other.to_uppercase(), a.reason, a.detail),
    };
    out.push_str(&head);
    out.push('\n');
    if let Some(from) = &a.routed_from_rule_id {
        out.push_str(&format!(
            "  routed here by the route policy of rule {from}{}\n",
            named(a, from)
        ));
    }
    if a.decision == "accept" {
        if a.agents.is_empty() {
            out.push_str(
                "  agents:   none listed (workers registered without an agent name get the room)\n",
            );
        } else {
            let list: Vec<String> = a
                .agents
                .iter()
                .map(|g| {
                    if g.metadata.is_empty() {
                        g.agent_name.clone()
                    } else {
                        format!(
                            "{} (job metadata {:?})",
                            g.agent_name,
                            output::cell(&g.metadata, 80)
                        )
                    }
                })
                .collect();
            out.push_str(&format!("  agents:   {}\n", list.join("; ")));
        }
        if let Some(id) = &a.participant_identity {
            let name = a.participant_name.as_deref().unwrap_or_default();
            out.push_str(&format!("  identity: {id} {name:?}\n"));
        }
        if let Some(m) = a.metadata.as_deref().filter(|m| !m.is_empty()) {
            out.push_str(&format!("  metadata: {}\n", output::cell(m, 100)));
        }
        if let Some(attrs) = a.attributes.as_ref().filter(|m| !m.is_empty()) {
            let list: Vec<String> = attrs.iter().map(|(k, v)| format!("{k}={v}")).collect();
            out.push_str(&format!(
                "  attributes: {}\n",
                output::cell(&list.join(", "), 160)
            ));
        }
    }
    if !a.trace.is_empty() {
        out.push_str("trace:\n");
    }
    for s in &a.trace {
        let mut line = format!("  {} {}", symbol(&s.result), s.stage);
        if !s.id.is_empty() {
            line.push(' ');
            line.push_str(&s.id);
        }
        if !s.name.is_empty() {
            line.push_str(&format!(" {:?}", s.name));
        }
        line.push_str(": ");
        match s.result.as_str() {
            "info" => line.push_str(&s.reason),
            "selected" => line.push_str("selected"),
            other => line.push_str(&format!("{other} ({})", s.reason)),
        }
        if !s.detail.is_empty() {
            line.push_str(" — ");
            line.push_str(&s.detail);
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_and_reject_render() {
        let a: Answer = serde_json::from_value(json!({
            "decision": "accept", "sip_status": null, "reason": "matched", "detail": "",
            "trunk_id": "ST_t", "rule_id": "SDR_r", "room_name": "call-_+1555_abc",
            "participant_identity": "sip_+1555", "participant_name": "Phone +1555",
            "agents": [{"agent_name": "bot", "metadata": "m"}],
            "trace": [
                {"stage": "trunk", "id": "ST_t", "name": "carrier", "result": "selected", "reason": "most_specific", "detail": "lists +1555 exactly"},
                {"stage": "rule", "id": "SDR_r", "name": "main", "result": "selected", "reason": "highest_priority", "detail": "individual rule"},
                {"stage": "rule", "id": "SDR_p", "name": "", "result": "dropped", "reason": "pin_mismatch", "detail": "x"}
            ]
        }))
        .unwrap();
        let text = render(&a);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "ACCEPT → room call-_+1555_abc (rule SDR_r \"main\", trunk ST_t \"carrier\")"
        );
        assert_eq!(lines[1], "  agents:   bot (job metadata \"m\")");
        assert_eq!(lines[2], "  identity: sip_+1555 \"Phone +1555\"");
        assert_eq!(lines[3], "trace:");
        assert_eq!(
            lines[4],
            "  ✓ trunk ST_t \"carrier\": selected — lists +1555 exactly"
        );
        assert_eq!(lines[6], "  ✗ rule SDR_p: dropped (pin_mismatch) — x");
        let r: Answer = serde_json::from_value(json!({
            "decision": "reject", "sip_status": 404, "reason": "no_trunk", "detail": "no trunk serves +1",
            "trace": [{"stage": "trunk", "id": "", "name": "", "result": "info", "reason": "no_trunk", "detail": "d"}]
        }))
        .unwrap();
        let text = render(&r);
        assert!(
            text.starts_with(
                "REJECT 404 no_trunk: no trunk serves +1\ntrace:\n  • trunk: no_trunk — d\n"
            ),
            "{text}"
        );
    }
}
