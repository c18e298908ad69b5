//! The inbound rules page: every dispatch rule with its number(s), routed-to agent, status
//! and live / completed counts, searchable and paged (the rules come from the in-memory
//! routing snapshot; the counts of one page come from one store query). Also deleting a
//! rule.

use std::fmt::Write as _;

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use switchboard_dispatch::{Rule, Snapshot};
use switchboard_store::CallCounts;

use super::html::{Nav, csrf_field, esc, notice, page, time, url_enc};
use super::session::Session;
use super::status::rule_status;
use crate::http::App;

/// Rules per page.
pub const PAGE_SIZE: usize = 50;

/// The numbers a rule answers: its own filter, else its trunks' numbers.
pub fn rule_numbers(snapshot: &Snapshot, rule: &Rule) -> String {
    if !rule.numbers.is_empty() {
        return rule.numbers.join(", ");
    }
    if rule.trunk_ids.is_empty() {
        return "any number (every trunk)".into();
    }
    let mut out: Vec<&str> = Vec::new();
    for id in &rule.trunk_ids {
        match snapshot.trunk(id) {
            Some(t) if t.numbers.is_empty() => out.push("any number"),
            Some(t) => out.extend(t.numbers.iter().map(String::as_str)),
            None => {}
        }
    }
    if out.is_empty() {
        "–".into()
    } else {
        out.join(", ")
    }
}

/// The agents a rule dispatches, or `automatic dispatch`.
pub fn rule_agents(rule: &Rule) -> String {
    let names: Vec<&str> = rule
        .agents()
        .iter()
        .map(|a| a.agent_name.as_str())
        .collect();
    if names.is_empty() {
        "automatic dispatch".into()
    } else {
        names.join(", ")
    }
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct ListQuery {
    q: String,
    page: Option<usize>,
    notice: String,
}

/// The rules matching `q` (case-insensitive, in id, name, numbers and agent names), newest
/// first.
fn matching<'a>(snapshot: &'a Snapshot, q: &str) -> Vec<&'a Rule> {
    let q = q.trim().to_lowercase();
    let mut rules: Vec<&Rule> = snapshot
        .rules()
        .filter(|r| {
            q.is_empty()
                || r.id.to_lowercase().contains(&q)
                || r.name.to_lowercase().contains(&q)
                || rule_numbers(snapshot, r).to_lowercase().contains(&q)
                || r.agents()
                    .iter()
                    .any(|a| a.agent_name.to_lowercase().contains(&q))
        })
        .collect();
    rules.sort_by(|a, b| {
        b.created_at_ms
            .cmp(&a.created_at_ms)
            .then_with(|| a.id.cmp(&b.id))
    });
    rules
}

/// Counts of `ids`, zeros when the store cannot answer (the page says so).
pub async fn counts(app: &App, ids: &[String]) -> (Vec<CallCounts>, Option<String>) {
    match app.store.call_counts(Some(ids)).await {
        Ok(c) => (c, None),
        Err(e) => (
            Vec::new(),
            Some(format!("call counts are unavailable: {e}")),
        ),
    }
}

/// `GET /dashboard/rules`.
pub async fn list(
    State(app): State<App>,
    Extension(session): Extension<Session>,
    Query(q): Query<ListQuery>,
) -> Response {
    let msg = match q.notice.as_str() {
        "deleted" => Some(("ok", "The rule was deleted.")),
        _ => None,
    };
    render(&app, &session, &q, msg.map(|(k, t)| (k, t.to_string()))).await
}

async fn render(
    app: &App,
    session: &Session,
    q: &ListQuery,
    msg: Option<(&str, String)>,
) -> Response {
    let snapshot = app.service.snapshot();
    let rules = matching(&snapshot, &q.q);
    let pages = rules.len().div_ceil(PAGE_SIZE).max(1);
    let current = q.page.unwrap_or(1).clamp(1, pages);
    let shown: Vec<&Rule> = rules
        .iter()
        .skip((current - 1) * PAGE_SIZE)
        .take(PAGE_SIZE)
        .copied()
        .collect();
    let ids: Vec<String> = shown.iter().map(|r| r.id.clone()).collect();
    let (counts, counts_error) = counts(app, &ids).await;
    let now = jiff::Timestamp::now();
    let mut body = String::new();
    let _ = write!(
        body,
        "<div class=\"head\"><h1>Inbound rules</h1><a class=\"button\" href=\"/dashboard/rules/new\">Create route</a></div>"
    );
    if let Some((kind, text)) = msg {
        body.push_str(&notice(kind, &text));
    }
    if let Some(e) = counts_error {
        body.push_str(&notice("error", &e));
    }
    let _ = write!(
        body,
        "<form method=\"get\" class=\"search\"><input type=\"search\" name=\"q\" value=\"{}\" placeholder=\"Search name, number, agent or id\" aria-label=\"Search rules\"><button type=\"submit\">Search</button></form>\
<p class=\"muted\">{} rule(s){}</p>",
        esc(&q.q),
        rules.len(),
        if q.q.is_empty() {
            String::new()
        } else {
            format!(" matching “{}”", esc(&q.q))
        },
    );
    body.push_str(
        "<table class=\"grid\" id=\"rules\" data-rules><thead><tr><th>Name</th><th>Number(s)</th><th>Routed to agent</th><th>Status</th><th>Live</th><th>Completed</th><th>Created</th><th></th></tr></thead><tbody>",
    );
    for r in &shown {
        let c = counts.iter().find(|c| c.rule_id == r.id);
        let (status, why) = rule_status(snapshot.policy(&r.id), now);
        let _ = write!(
            body,
            "<tr data-rule=\"{id}\"><td><a href=\"/dashboard/rules/{uid}\">{name}</a><div class=\"muted small\">{id}</div></td>\
<td>{numbers}</td><td>{agents}</td>\
<td><span class=\"badge {st}\" title=\"{why}\">{st}</span></td>\
<td data-live=\"{id}\">{live}</td><td data-completed=\"{id}\">{completed}</td><td class=\"small\">{created}</td>\
<td><form method=\"post\" action=\"/dashboard/rules/{uid}/delete\" data-confirm=\"Delete rule {name_attr}? Calls to it will no longer be routed.\">{csrf}<button type=\"submit\" class=\"danger small\">Delete</button></form></td></tr>",
            id = esc(&r.id),
            uid = url_enc(&r.id),
            name = if r.name.is_empty() {
                "(unnamed)".to_string()
            } else {
                esc(&r.name)
            },
            name_attr = esc(&r.name),
            numbers = esc(&rule_numbers(&snapshot, r)),
            agents = esc(&rule_agents(r)),
            st = status.as_str(),
            why = esc(why.as_deref().unwrap_or("the route takes calls now")),
            live = c.map_or(0, |c| c.live),
            completed = c.map_or(0, |c| c.completed),
            created = time(r.created_at_ms),
            csrf = csrf_field(session),
        );
    }
    if shown.is_empty() {
        body.push_str("<tr><td colspan=\"8\" class=\"muted\">No rules. Create a route to start taking calls.</td></tr>");
    }
    body.push_str("</tbody></table>");
    let link = |p: usize| format!("/dashboard/rules?q={}&page={p}", url_enc(&q.q));
    let _ = write!(body, "<nav class=\"pager\">");
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
    page("Inbound rules", session, Nav::Rules, &body)
}

/// `POST /dashboard/rules/{id}/delete`.
pub async fn delete(
    State(app): State<App>,
    Extension(session): Extension<Session>,
    Path(id): Path<String>,
) -> Response {
    match app.service.delete_rule(&id).await {
        Ok(_) => Redirect::to("/dashboard/rules?notice=deleted").into_response(),
        Err(e) => {
            let mut resp = render(
                &app,
                &session,
                &ListQuery::default(),
                Some(("error", format!("The rule was not deleted: {e}"))),
            )
            .await;
            *resp.status_mut() = match e {
                crate::service::ServiceError::NotFound { .. } => StatusCode::NOT_FOUND,
                _ => StatusCode::SERVICE_UNAVAILABLE,
            };
            resp
        }
    }
}
