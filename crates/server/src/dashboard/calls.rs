//! The calls page (search call records by number, rule, status and time, paged by key) and
//! the calls table the route detail and live calls pages share.

use std::fmt::Write as _;

use axum::Extension;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use switchboard_store::{CallFilter, CallRecord, CallStatus};

use super::html::{Nav, csrf_field, duration, esc, notice, opt, page, time, url_enc};
use super::session::Session;
use crate::http::App;

/// Calls per page.
const PAGE: u32 = 50;

/// A table of calls. `show_rule` adds the rule column; `hangup` adds a hang-up button
/// (live calls) whose form carries the session's CSRF token.
pub fn calls_table(
    calls: &[CallRecord],
    now_ms: i64,
    show_rule: bool,
    hangup: Option<&Session>,
) -> String {
    let mut s = String::from(
        "<table class=\"grid calls\"><thead><tr><th>Time</th><th>Caller</th><th>Called</th>",
    );
    if show_rule {
        s.push_str("<th>Rule</th>");
    }
    s.push_str("<th>Duration</th><th>Status</th><th>SIP</th><th>Reason</th>");
    if hangup.is_some() {
        s.push_str("<th></th>");
    }
    s.push_str("</tr></thead><tbody>");
    for c in calls {
        let status = match c.final_status {
            Some(f) => f.as_str().to_string(),
            None => format!("live ({})", c.state.as_str()),
        };
        let class = c.final_status.map_or("live", |f| f.as_str());
        let _ = write!(
            s,
            "<tr data-call=\"{id}\"><td class=\"small\" title=\"{id}\">{time}</td><td class=\"caller\">{caller}</td><td>{called}</td>",
            id = esc(&c.id),
            time = time(c.created_at_ms),
            caller = esc(&c.caller),
            called = esc(&c.called),
        );
        if show_rule {
            let _ = match &c.rule_id {
                Some(r) => write!(
                    s,
                    "<td><a href=\"/dashboard/rules/{}\">{}</a></td>",
                    url_enc(r),
                    esc(r)
                ),
                None => write!(s, "<td>–</td>"),
            };
        }
        let _ = write!(
            s,
            "<td>{dur}</td><td><span class=\"badge {class}\">{status}</span></td><td>{sip}</td><td class=\"reason\">{reason}</td>",
            dur = duration(c.answered_at_ms, c.ended_at_ms, now_ms),
            sip = c.sip_status.map_or("–".to_string(), |s| s.to_string()),
            reason = opt(c.reason.as_deref()),
            status = esc(&status),
        );
        if let Some(session) = hangup {
            let _ = write!(
                s,
                "<td><form method=\"post\" action=\"/dashboard/live/{uid}/hangup\" data-confirm=\"Hang up the call from {caller}?\">{csrf}<button type=\"submit\" class=\"danger small\">Hang up</button></form></td>",
                uid = url_enc(&c.id),
                caller = esc(&c.caller),
                csrf = csrf_field(session),
            );
        }
        s.push_str("</tr>");
    }
    if calls.is_empty() {
        let cols = 6 + usize::from(show_rule) + usize::from(hangup.is_some());
        let _ = write!(
            s,
            "<tr><td colspan=\"{cols}\" class=\"muted\">No calls.</td></tr>"
        );
    }
    s.push_str("</tbody></table>");
    s
}

#[derive(serde::Deserialize, Default, Clone)]
#[serde(default)]
pub struct CallsQuery {
    number: String,
    rule: String,
    status: String,
    since: String,
    until: String,
    page: String,
}

/// `2026-06-10T16:00` (a `datetime-local` field, read as UTC) or an RFC 3339 instant.
fn instant(field: &str, v: &str) -> Result<Option<i64>, String> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    if let Ok(t) = v.parse::<jiff::Timestamp>() {
        return Ok(Some(t.as_millisecond()));
    }
    v.parse::<jiff::civil::DateTime>()
        .ok()
        .and_then(|dt| dt.to_zoned(jiff::tz::TimeZone::UTC).ok())
        .map(|z| Some(z.timestamp().as_millisecond()))
        .ok_or_else(|| {
            format!("{field} {v:?} is not a date and time; use e.g. 2026-06-10T16:00 (UTC)")
        })
}

/// `GET /dashboard/calls`.
pub async fn list(
    State(app): State<App>,
    Extension(session): Extension<Session>,
    Query(q): Query<CallsQuery>,
) -> Response {
    let mut problems = Vec::new();
    let status = match q.status.as_str() {
        "" => None,
        s => match s.parse::<CallStatus>() {
            Ok(s) => Some(s),
            Err(e) => {
                problems.push(e.to_string());
                None
            }
        },
    };
    let since = instant("since", &q.since).unwrap_or_else(|e| {
        problems.push(e);
        None
    });
    let until = instant("until", &q.until).unwrap_or_else(|e| {
        problems.push(e);
        None
    });
    let filter = CallFilter {
        rule_id: Some(q.rule.trim().to_string()).filter(|s| !s.is_empty()),
        number: Some(q.number.trim().to_string()).filter(|s| !s.is_empty()),
        status,
        since_ms: since,
        until_ms: until,
        limit: Some(PAGE),
        page_token: Some(q.page.clone()).filter(|s| !s.is_empty()),
        ..Default::default()
    };
    let statuses = [
        "",
        "live",
        "completed",
        "rejected",
        "cancelled",
        "failed",
        "interrupted",
    ];
    let options: String = statuses
        .iter()
        .map(|s| {
            format!(
                "<option value=\"{s}\"{}>{}</option>",
                if *s == q.status { " selected" } else { "" },
                if s.is_empty() { "any status" } else { s }
            )
        })
        .collect();
    let mut body = format!(
        "<h1>Calls</h1><form method=\"get\" class=\"search wrap\" id=\"calls-search\">\
<label>Number <input name=\"number\" value=\"{number}\" placeholder=\"caller or called, exactly\"></label>\
<label>Rule id <input name=\"rule\" value=\"{rule}\" placeholder=\"SDR_…\"></label>\
<label>Status <select name=\"status\">{options}</select></label>\
<label>From (UTC) <input type=\"datetime-local\" name=\"since\" value=\"{since}\"></label>\
<label>Until (UTC) <input type=\"datetime-local\" name=\"until\" value=\"{until}\"></label>\
<button type=\"submit\">Search</button></form>",
        number = esc(&q.number),
        rule = esc(&q.rule),
        since = esc(&q.since),
        until = esc(&q.until),
    );
    let mut status_code = StatusCode::OK;
    if !problems.is_empty() {
        status_code = StatusCode::BAD_REQUEST;
        for p in &problems {
            body.push_str(&notice("error", p));
        }
    } else {
        match app.store.list_calls(&filter).await {
            Ok(page) => {
                body.push_str("<section id=\"calls\" data-refresh>");
                body.push_str(&calls_table(
                    &page.calls,
                    jiff::Timestamp::now().as_millisecond(),
                    true,
                    None,
                ));
                body.push_str("</section><nav class=\"pager\">");
                let base = format!(
                    "/dashboard/calls?number={}&rule={}&status={}&since={}&until={}",
                    url_enc(&q.number),
                    url_enc(&q.rule),
                    url_enc(&q.status),
                    url_enc(&q.since),
                    url_enc(&q.until)
                );
                if !q.page.is_empty() {
                    let _ = write!(body, "<a href=\"{}\">↑ Newest</a>", esc(&base));
                }
                if let Some(next) = page.next_page_token {
                    let _ = write!(
                        body,
                        "<a href=\"{}\" rel=\"next\">Older →</a>",
                        esc(&format!("{base}&page={}", url_enc(&next)))
                    );
                }
                body.push_str("</nav>");
            }
            Err(e) => {
                status_code = StatusCode::BAD_REQUEST;
                body.push_str(&notice("error", &format!("The search failed: {e}")));
            }
        }
    }
    let mut resp = page("Calls", &session, Nav::Calls, &body);
    *resp.status_mut() = status_code;
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_store::{CallState, FinalStatus};

    fn call(caller: &str, reason: &str) -> CallRecord {
        CallRecord {
            id: "SCL_1".into(),
            sip_call_id: "x".into(),
            node_id: "n".into(),
            trunk_id: None,
            rule_id: Some("SDR_<b>".into()),
            routed_from_rule_id: None,
            room_name: None,
            caller: caller.into(),
            called: "+15550100".into(),
            source_ip: "127.0.0.1".into(),
            transport: "udp".into(),
            state: CallState::Ended,
            final_status: Some(FinalStatus::Rejected),
            sip_status: Some(486),
            reason: Some(reason.into()),
            hangup_by: None,
            pin_attempts: 0,
            created_at_ms: 0,
            answered_at_ms: None,
            ended_at_ms: Some(1),
            updated_at_ms: 1,
        }
    }

    #[test]
    fn hostile_caller_and_reason_are_escaped() {
        let html = calls_table(
            &[call(
                "<script>alert(1)</script>",
                "<img src=x onerror=alert(2)>",
            )],
            0,
            true,
            None,
        );
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("&lt;img src=x onerror=alert(2)&gt;"));
        assert!(html.contains("SDR_&lt;b&gt;"));
        assert!(html.contains("/dashboard/rules/SDR_%3Cb%3E"));
    }

    #[test]
    fn instants() {
        assert_eq!(instant("since", ""), Ok(None));
        assert_eq!(instant("since", "1970-01-01T00:01"), Ok(Some(60_000)));
        assert_eq!(instant("since", "1970-01-01T00:00:01Z"), Ok(Some(1_000)));
        assert!(instant("since", "yesterday").is_err());
    }
}
