//! The Route Dashboard of one dispatch rule (seed 003): identity and routing, performance
//! (Total Completed, Live In Progress, Recent Calls), schedule and status, and the rule's
//! recent calls log, newest first and paged by key.

use std::fmt::Write as _;

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use switchboard_dispatch::PolicyAction;
use switchboard_store::CallFilter;

use super::calls::calls_table;
use super::html::{Nav, csrf_field, esc, notice, page, time, url_enc};
use super::rules::{counts, rule_agents, rule_numbers};
use super::session::Session;
use super::status::{RuleStatus, rule_status};
use crate::http::App;

/// Calls per page of the log.
const LOG_PAGE: u32 = 20;

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct DetailQuery {
    page: String,
    notice: String,
}

fn action(a: &PolicyAction, default: u16) -> String {
    match a {
        PolicyAction::Reject { sip_status } => {
            format!("reject with {}", sip_status.unwrap_or(default))
        }
        PolicyAction::RouteToRule { rule_id } => format!("send to rule {rule_id}"),
    }
}

/// `GET /dashboard/rules/{id}`.
pub async fn show(
    State(app): State<App>,
    Extension(session): Extension<Session>,
    Path(id): Path<String>,
    Query(q): Query<DetailQuery>,
) -> Response {
    let snapshot = app.service.snapshot();
    let Some(rule) = snapshot.rule(&id) else {
        let body = format!(
            "<h1>No such rule</h1>{}<p><a href=\"/dashboard/rules\">Back to the inbound rules</a></p>",
            notice(
                "error",
                &format!("There is no dispatch rule {id:?} (it may have been deleted).")
            )
        );
        let mut resp = page("No such rule", &session, Nav::Rules, &body);
        *resp.status_mut() = StatusCode::NOT_FOUND;
        return resp;
    };
    let now = jiff::Timestamp::now();
    let policy = snapshot.policy(&id);
    let (status, why) = rule_status(policy, now);
    let (c, counts_error) = counts(&app, std::slice::from_ref(&rule.id)).await;
    let c = c
        .into_iter()
        .find(|c| c.rule_id == rule.id)
        .unwrap_or_default();
    let filter = CallFilter {
        rule_id: Some(rule.id.clone()),
        limit: Some(LOG_PAGE),
        page_token: Some(q.page.clone()).filter(|p| !p.is_empty()),
        ..Default::default()
    };
    let log = app.store.list_calls(&filter).await;

    let mut body = String::new();
    if q.notice == "created" {
        body.push_str(&notice("ok", "The route was created and is live now."));
    }
    if let Some(e) = counts_error {
        body.push_str(&notice("error", &e));
    }
    let _ = write!(
        body,
        "<div class=\"head\"><h1>{name}</h1><span class=\"badge {st}\" id=\"route-status\" title=\"{why}\">{st}</span></div>",
        name = if rule.name.is_empty() {
            "(unnamed rule)".into()
        } else {
            esc(&rule.name)
        },
        st = status.as_str(),
        why = esc(why.as_deref().unwrap_or("the route takes calls now")),
    );
    let workers: Vec<String> = app
        .agents
        .workers()
        .into_iter()
        .filter(|w| rule.agents().iter().any(|a| a.agent_name == w.agent_name))
        .map(|w| w.worker_id)
        .collect();
    let metadata: Vec<String> = rule
        .agents()
        .iter()
        .filter(|a| !a.metadata.is_empty())
        .map(|a| format!("<pre class=\"meta\">{}</pre>", esc(&a.metadata)))
        .collect();
    let trunks: String = rule
        .trunk_ids
        .iter()
        .map(|t| format!("<code>{}</code>", esc(t)))
        .collect::<Vec<_>>()
        .join(", ");
    let _ = write!(
        body,
        "<div class=\"cards\">\
<section class=\"card\" id=\"identity\"><h2>Identity &amp; routing</h2><dl>\
<dt>Assigned agent</dt><dd id=\"assigned-agent\">{agents}</dd>\
<dt>Agent id</dt><dd>{agent_ids}</dd>\
<dt>Workers online</dt><dd>{workers}</dd>\
<dt>Phone number</dt><dd id=\"phone-number\">{numbers}</dd>\
<dt>Trunk(s)</dt><dd>{trunks}</dd>\
<dt>Rule type</dt><dd>{kind}</dd>\
<dt>Agent config</dt><dd>{metadata}</dd></dl></section>\
<section class=\"card\" id=\"performance\"><h2>Performance</h2><div class=\"figures\">\
<div><span class=\"figure\" id=\"total-completed\" data-completed=\"{rid}\">{completed}</span><span>Total Completed</span></div>\
<div><span class=\"figure\" id=\"live-in-progress\" data-live=\"{rid}\">{live}</span><span>Live In Progress</span></div>\
<div><span class=\"figure\" id=\"recent-calls\" data-total=\"{rid}\">{total}</span><span>Recent Calls</span></div>\
</div><p class=\"muted small\">Recent Calls counts every call routed to this rule, whatever its outcome.</p></section>\
<section class=\"card\" id=\"schedule\"><h2>Schedule &amp; status</h2><dl>\
<dt>Created</dt><dd>{created}</dd>\
<dt>Ended</dt><dd id=\"ended\">{ended}</dd>\
<dt>Dispatch rule id</dt><dd><code id=\"rule-id\">{rid}</code></dd>\
{policy}</dl></section></div>",
        agents = esc(&rule_agents(rule)),
        agent_ids = if rule.agents().is_empty() {
            "–".to_string()
        } else {
            rule.agents()
                .iter()
                .map(|a| format!("<code>{}</code>", esc(&a.agent_name)))
                .collect::<Vec<_>>()
                .join(", ")
        },
        workers = if workers.is_empty() {
            "none connected".to_string()
        } else {
            esc(&workers.join(", "))
        },
        numbers = esc(&rule_numbers(&snapshot, rule)),
        trunks = if trunks.is_empty() {
            "every trunk".to_string()
        } else {
            trunks
        },
        kind = rule.kind.as_ref().map_or("–", |k| k.label()),
        metadata = if metadata.is_empty() {
            "–".to_string()
        } else {
            metadata.join("")
        },
        rid = esc(&rule.id),
        completed = c.completed,
        live = c.live,
        total = c.total,
        created = time(rule.created_at_ms),
        ended = match (status, policy.and_then(|p| p.policy().end_date)) {
            (RuleStatus::Ended, Some(d)) => format!("Ended after {d}"),
            (RuleStatus::Ended, None) => "Ended".to_string(),
            (_, Some(d)) => format!("Still active (until {d})"),
            (_, None) => "Still active".to_string(),
        },
        policy = match policy {
            None =>
                "<dt>Policy</dt><dd>none: takes calls at any time, without a limit</dd>".to_string(),
            Some(p) => {
                let p = p.policy();
                let days = if p.active_days.is_empty() {
                    "every day".to_string()
                } else {
                    p.active_days
                        .iter()
                        .map(|d| format!("{d:?}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let window = match (p.window_start, p.window_end) {
                    (Some(a), Some(b)) => {
                        format!("{}–{}", a.strftime("%H:%M"), b.strftime("%H:%M"))
                    }
                    _ => "all day".to_string(),
                };
                format!(
                    "<dt>Time zone</dt><dd>{tz}</dd><dt>Dates</dt><dd>{start} to {end}</dd>\
<dt>Call window</dt><dd>{window}</dd><dt>Active days</dt><dd>{days}</dd>\
<dt>Max concurrent calls</dt><dd>{max}</dd><dt>After hours</dt><dd>{ah}</dd><dt>Over capacity</dt><dd>{oc}</dd>",
                    tz = esc(if p.timezone.is_empty() {
                        "UTC"
                    } else {
                        &p.timezone
                    }),
                    start = p.start_date.map_or("–".to_string(), |d| d.to_string()),
                    end = p.end_date.map_or("–".to_string(), |d| d.to_string()),
                    max = p
                        .max_concurrent_calls
                        .map_or("unlimited".to_string(), |m| m.to_string()),
                    ah = esc(&action(&p.after_hours, 480)),
                    oc = esc(&action(&p.over_capacity, 486)),
                )
            }
        },
    );
    let _ = write!(
        body,
        "<section id=\"recent\" data-refresh><h2>Recent calls</h2>"
    );
    match log {
        Ok(log) => {
            body.push_str(&calls_table(&log.calls, now.as_millisecond(), false, None));
            let _ = write!(body, "<nav class=\"pager\">");
            if !q.page.is_empty() {
                let _ = write!(
                    body,
                    "<a href=\"/dashboard/rules/{}\">↑ Newest</a>",
                    url_enc(&rule.id)
                );
            }
            if let Some(next) = log.next_page_token {
                let _ = write!(
                    body,
                    "<a href=\"/dashboard/rules/{}?page={}\" rel=\"next\">Older →</a>",
                    url_enc(&rule.id),
                    url_enc(&next)
                );
            }
            body.push_str("</nav>");
        }
        Err(e) => body.push_str(&notice("error", &format!("The calls cannot be read: {e}"))),
    }
    let _ = write!(
        body,
        "</section><form method=\"post\" action=\"/dashboard/rules/{}/delete\" data-confirm=\"Delete this rule? Calls to it will no longer be routed.\">{}<button type=\"submit\" class=\"danger\">Delete rule</button></form>",
        url_enc(&rule.id),
        csrf_field(&session)
    );
    let title = if rule.name.is_empty() {
        rule.id.clone()
    } else {
        rule.name.clone()
    };
    page(&title, &session, Nav::Rules, &body)
}
