//! The trunks page: every inbound trunk with its numbers, who may send calls (addresses,
//! digest user; passwords are never shown) and how many rules use it; searchable and paged.

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::Extension;
use axum::extract::{Query, State};
use axum::response::Response;
use switchboard_dispatch::Trunk;

use super::html::{Nav, esc, page, time, url_enc};
use super::session::Session;
use crate::http::App;

const PAGE_SIZE: usize = 50;

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct TrunksQuery {
    q: String,
    page: Option<usize>,
}

fn list_or(v: &[String], empty: &str) -> String {
    if v.is_empty() {
        empty.to_string()
    } else {
        esc(&v.join(", "))
    }
}

/// `GET /dashboard/trunks`.
pub async fn list(
    State(app): State<App>,
    Extension(session): Extension<Session>,
    Query(q): Query<TrunksQuery>,
) -> Response {
    let snapshot = app.service.snapshot();
    let needle = q.q.trim().to_lowercase();
    let mut trunks: Vec<&Trunk> = snapshot
        .trunks()
        .filter(|t| {
            needle.is_empty()
                || t.id.to_lowercase().contains(&needle)
                || t.name.to_lowercase().contains(&needle)
                || t.numbers.iter().any(|n| n.to_lowercase().contains(&needle))
        })
        .collect();
    trunks.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
    let mut bound: HashMap<&str, usize> = HashMap::new();
    let mut wildcard = 0;
    for r in snapshot.rules() {
        if r.trunk_ids.is_empty() {
            wildcard += 1;
        }
        for t in &r.trunk_ids {
            *bound.entry(t.as_str()).or_default() += 1;
        }
    }
    let pages = trunks.len().div_ceil(PAGE_SIZE).max(1);
    let current = q.page.unwrap_or(1).clamp(1, pages);
    let mut body = format!(
        "<h1>Trunks</h1><form method=\"get\" class=\"search\"><input type=\"search\" name=\"q\" value=\"{}\" placeholder=\"Search name, number or id\" aria-label=\"Search trunks\"><button type=\"submit\">Search</button></form>\
<p class=\"muted\">{} trunk(s); {wildcard} rule(s) apply to every trunk.</p>\
<table class=\"grid\" id=\"trunks\"><thead><tr><th>Name</th><th>Numbers</th><th>Allowed addresses</th><th>Allowed callers</th><th>Digest auth</th><th>Rules</th><th>Created</th></tr></thead><tbody>",
        esc(&q.q),
        trunks.len()
    );
    for t in trunks
        .iter()
        .skip((current - 1) * PAGE_SIZE)
        .take(PAGE_SIZE)
    {
        let _ = write!(
            body,
            "<tr><td>{name}<div class=\"muted small\">{id}</div></td><td>{numbers}</td><td>{addresses}</td><td>{callers}</td><td>{auth}</td><td>{rules}</td><td class=\"small\">{created}</td></tr>",
            name = if t.name.is_empty() {
                "(unnamed)".into()
            } else {
                esc(&t.name)
            },
            id = esc(&t.id),
            numbers = list_or(&t.numbers, "any number"),
            addresses = list_or(&t.allowed_addresses, "any source"),
            callers = list_or(&t.allowed_numbers, "anyone"),
            auth = if t.auth_username.is_empty() {
                "–".into()
            } else {
                format!("user {}", esc(&t.auth_username))
            },
            rules = bound.get(t.id.as_str()).copied().unwrap_or(0),
            created = time(t.created_at_ms),
        );
    }
    if trunks.is_empty() {
        body.push_str("<tr><td colspan=\"7\" class=\"muted\">No trunks.</td></tr>");
    }
    body.push_str("</tbody></table><nav class=\"pager\">");
    let link = |p: usize| format!("/dashboard/trunks?q={}&page={p}", url_enc(&q.q));
    if current > 1 {
        let _ = write!(
            body,
            "<a href=\"{}\" rel=\"prev\">← Previous</a>",
            esc(&link(current - 1))
        );
    }
    let _ = write!(body, "<span>Page {current} of {pages}</span>");
    if current < pages {
        let _ = write!(
            body,
            "<a href=\"{}\" rel=\"next\">Next →</a>",
            esc(&link(current + 1))
        );
    }
    body.push_str("</nav>");
    page("Trunks", &session, Nav::Trunks, &body)
}
