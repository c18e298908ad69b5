//! The explain form: "why would a call from X to Y be routed or rejected?" — the same
//! evaluation as `POST /api/v1/explain`, shown as the decision and the trace.

use std::fmt::Write as _;

use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use switchboard_dispatch as d;

use super::form::Fields;
use super::html::{Nav, csrf_field, esc, notice, opt, page};
use super::session::Session;
use crate::http::App;
use crate::http::explain::{ExplainRequest, explain};

fn form(session: &Session, f: &Fields) -> String {
    let field = |name: &str, label: &str, hint: &str| {
        format!(
            "<label class=\"field\">{label} <input name=\"{name}\" id=\"x-{name}\" value=\"{}\" placeholder=\"{hint}\"></label>",
            esc(&f.raw(name))
        )
    };
    format!(
        "<h1>Explain</h1><p class=\"muted\">Why would a call be routed or rejected? Evaluated against the live configuration, without placing a call (capacity is not counted).</p>\
<form method=\"post\" action=\"/dashboard/explain\" class=\"stack\" id=\"explain-form\">{csrf}\
{to}{from}{source_ip}{from_host}{pin}{at}<button type=\"submit\">Explain</button></form>",
        csrf = csrf_field(session),
        to = field("to", "Called number (To)", "+15550100"),
        from = field("from", "Caller (From)", "+15557654321"),
        source_ip = field("source_ip", "Source IP", "203.0.113.5"),
        from_host = field("from_host", "From host", "sip.carrier.example"),
        pin = field("pin", "PIN entered", "digits, optional"),
        at = field("at", "At (RFC 3339, default now)", "2026-06-10T16:00:00Z"),
    )
}

/// `GET /dashboard/explain`.
pub async fn show(Extension(session): Extension<Session>) -> Response {
    page(
        "Explain",
        &session,
        Nav::Explain,
        &form(&session, &Fields::default()),
    )
}

/// `POST /dashboard/explain`.
pub async fn run(
    State(app): State<App>,
    Extension(session): Extension<Session>,
    Extension(f): Extension<Fields>,
) -> Response {
    let req = ExplainRequest {
        from: f.get("from"),
        to: Some(f.get("to")),
        source_ip: Some(f.get("source_ip")),
        from_host: f.get("from_host"),
        pin: Some(f.get("pin")).filter(|p| !p.is_empty()),
        no_pin: false,
        at: Some(f.get("at")),
    };
    let suffix = d::ids::base57_suffix(rand::random::<u128>());
    let snapshot = app.service.snapshot();
    let mut body = form(&session, &f);
    let mut status = StatusCode::OK;
    match explain(&snapshot, &req, jiff::Timestamp::now(), &suffix) {
        Ok(r) => {
            let decision = serde_json::to_value(r.decision)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_else(|| format!("{:?}", r.decision));
            let _ = write!(
                body,
                "<section id=\"explain-result\" class=\"card\"><h2>Decision: <span class=\"badge {cls}\" id=\"decision\">{decision}</span></h2><dl>\
<dt>SIP status</dt><dd>{sip}</dd><dt>Reason</dt><dd id=\"explain-reason\">{reason}</dd><dt>Detail</dt><dd>{detail}</dd>\
<dt>Trunk</dt><dd>{trunk}</dd><dt>Rule</dt><dd id=\"explain-rule\">{rule}</dd><dt>Sent on from rule</dt><dd>{from_rule}</dd>\
<dt>Room</dt><dd>{room}</dd><dt>Agents</dt><dd>{agents}</dd></dl>",
                cls = esc(&decision),
                decision = esc(&decision),
                sip = r.sip_status.map_or("–".to_string(), |s| s.to_string()),
                reason = esc(&r.reason),
                detail = esc(&r.detail),
                trunk = opt(r.trunk_id.as_deref()),
                rule = match &r.rule_id {
                    Some(id) => format!(
                        "<a href=\"/dashboard/rules/{}\">{}</a>",
                        super::html::url_enc(id),
                        esc(id)
                    ),
                    None => "–".into(),
                },
                from_rule = opt(r.routed_from_rule_id.as_deref()),
                room = opt(r.room_name.as_deref()),
                agents = if r.agents.is_empty() {
                    "–".to_string()
                } else {
                    esc(&r
                        .agents
                        .iter()
                        .map(|a| a.agent_name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "))
                },
            );
            body.push_str("<h3>Trace</h3><ol class=\"trace\">");
            for t in &r.trace {
                let line = serde_json::to_string(t).unwrap_or_default();
                let _ = write!(body, "<li><code>{}</code></li>", esc(&line));
            }
            body.push_str("</ol></section>");
        }
        Err(e) => {
            status = StatusCode::BAD_REQUEST;
            body.push_str(&notice("error", &e.msg));
        }
    }
    let mut resp = page("Explain", &session, Nav::Explain, &body);
    *resp.status_mut() = status;
    resp
}
