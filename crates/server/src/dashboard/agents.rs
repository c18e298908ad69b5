//! The agents page: the agent workers connected to this node (name, load, jobs) and the
//! media-stream endpoints stored for agent names.

use std::fmt::Write as _;

use axum::Extension;
use axum::extract::State;
use axum::response::Response;

use super::html::{Nav, esc, notice, page, time};
use super::session::Session;
use crate::http::App;

/// A URL without its query string (which may carry a token).
fn without_query(url: &str) -> String {
    match url.split_once('?') {
        Some((base, _)) => format!("{base}?…"),
        None => url.to_string(),
    }
}

/// `GET /dashboard/agents`.
pub async fn list(State(app): State<App>, Extension(session): Extension<Session>) -> Response {
    let workers = app.agents.workers();
    let mut body = format!(
        "<h1>Agents</h1><section id=\"workers\" data-refresh><h2>Connected workers</h2><p class=\"muted\">{} worker(s) connected to this node.</p>\
<table class=\"grid\"><thead><tr><th>Agent name</th><th>Worker id</th><th>Version</th><th>Load</th><th>Jobs</th><th>Pending offers</th><th>Connected</th></tr></thead><tbody>",
        workers.len()
    );
    for w in &workers {
        let jobs: Vec<String> = w
            .jobs
            .iter()
            .map(|j| format!("{} (call {})", esc(&j.job_id), esc(&j.call_id)))
            .collect();
        let _ = write!(
            body,
            "<tr><td>{name}</td><td><code>{id}</code></td><td>{version}</td><td>{load:.0}% of {max}</td><td>{jobs}</td><td>{pending}</td><td class=\"small\">{connected}</td></tr>",
            name = if w.agent_name.is_empty() {
                "(automatic dispatch)".into()
            } else {
                esc(&w.agent_name)
            },
            id = esc(&w.worker_id),
            version = esc(&w.version),
            load = w.load * 100.0,
            max = w.max_jobs,
            jobs = if jobs.is_empty() {
                "–".into()
            } else {
                jobs.join("<br>")
            },
            pending = w.pending_offers,
            connected = esc(&w.connected_at),
        );
    }
    if workers.is_empty() {
        body.push_str("<tr><td colspan=\"7\" class=\"muted\">No workers connected. Start an agent worker against this server's /agent endpoint.</td></tr>");
    }
    body.push_str("</tbody></table></section><section><h2>Media-stream endpoints</h2>");
    match app.store.list_agent_endpoints().await {
        Ok(endpoints) => {
            body.push_str("<table class=\"grid\" id=\"endpoints\"><thead><tr><th>Agent name</th><th>URL</th><th>Updated</th></tr></thead><tbody>");
            for e in &endpoints {
                let _ = write!(
                    body,
                    "<tr><td>{}</td><td><code>{}</code></td><td class=\"small\">{}</td></tr>",
                    esc(&e.agent_name),
                    esc(&without_query(&e.url)),
                    time(e.updated_at_ms)
                );
            }
            if endpoints.is_empty() {
                body.push_str("<tr><td colspan=\"3\" class=\"muted\">None. Add one with PUT /api/v1/agent-endpoints/{agent_name}.</td></tr>");
            }
            body.push_str("</tbody></table>");
        }
        Err(e) => body.push_str(&notice(
            "error",
            &format!("The endpoints cannot be read: {e}"),
        )),
    }
    body.push_str("</section>");
    page("Agents", &session, Nav::Agents, &body)
}
