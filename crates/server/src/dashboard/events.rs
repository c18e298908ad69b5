//! `GET /dashboard/events`: the live figures as server-sent events.
//!
//! The stream sends one JSON message at once and then whenever it changes: the calls in
//! progress on this node (`live`, `live_total`) and, for the rules named in `?rules=` (the
//! ones on the page), their live / completed / total counts from the store. It wakes up
//! when a call on this node changes state ([`LiveCalls::changes`]), waits
//! [`SETTLE`] for the call record to reach the store, and re-reads; it also re-reads every
//! [`POLL`] so other nodes' calls show too. The stream ends when the session expires.
//!
//! [`LiveCalls::changes`]: crate::calls::live::LiveCalls::changes

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::time::Duration;

use axum::Extension;
use axum::extract::{Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use serde::Serialize;
use tokio::sync::watch;

use super::guard::now_ms;
use super::session::Session;
use crate::http::App;

/// Time given to the call-record writer (which flushes every few milliseconds) after a
/// change, before the counts are read; also coalesces bursts of changes.
pub const SETTLE: Duration = Duration::from_millis(60);
/// Re-read at least this often.
pub const POLL: Duration = Duration::from_secs(1);
/// Rules one stream may follow.
const MAX_RULES: usize = 200;

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct EventsQuery {
    /// Comma-separated rule ids.
    rules: String,
}

#[derive(Serialize, PartialEq)]
struct LiveCall {
    id: String,
    rule_id: Option<String>,
    caller: String,
    called: String,
    state: &'static str,
    created_at_ms: i64,
}

#[derive(Serialize, PartialEq, Default)]
struct Counts {
    live: u64,
    completed: u64,
    total: u64,
}

#[derive(Serialize, PartialEq)]
struct Figures {
    live_total: usize,
    live: Vec<LiveCall>,
    rules: BTreeMap<String, Counts>,
    /// Set when the store could not be read (the counts are then absent).
    error: Option<String>,
}

async fn figures(app: &App, rules: &[String]) -> Figures {
    let mut live: Vec<LiveCall> = app
        .live
        .list()
        .into_iter()
        .map(|r| LiveCall {
            id: r.id,
            rule_id: r.rule_id,
            caller: r.caller,
            called: r.called,
            state: r.state.as_str(),
            created_at_ms: r.created_at_ms,
        })
        .collect();
    live.sort_by(|a, b| {
        b.created_at_ms
            .cmp(&a.created_at_ms)
            .then_with(|| a.id.cmp(&b.id))
    });
    let mut out = Figures {
        live_total: live.len(),
        live,
        rules: BTreeMap::new(),
        error: None,
    };
    if !rules.is_empty() {
        match app.store.call_counts(Some(rules)).await {
            Ok(counts) => {
                for c in counts {
                    out.rules.insert(
                        c.rule_id,
                        Counts {
                            live: c.live,
                            completed: c.completed,
                            total: c.total,
                        },
                    );
                }
            }
            Err(e) => out.error = Some(format!("call counts are unavailable: {e}")),
        }
    }
    out
}

struct State_ {
    app: App,
    rules: Vec<String>,
    changes: watch::Receiver<u64>,
    last: Option<String>,
    first: bool,
    expires_ms: i64,
}

/// Parses `?rules=`: distinct, plausible ids only, at most [`MAX_RULES`].
fn rule_ids(s: &str) -> Vec<String> {
    let mut ids: Vec<String> = s
        .split(',')
        .map(str::trim)
        .filter(|id| !id.is_empty() && id.len() <= 64)
        .map(str::to_string)
        .collect();
    ids.sort();
    ids.dedup();
    ids.truncate(MAX_RULES);
    ids
}

/// `GET /dashboard/events`.
pub async fn stream(
    State(app): State<App>,
    Extension(session): Extension<Session>,
    Query(q): Query<EventsQuery>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let st = State_ {
        changes: app.live.changes(),
        app,
        rules: rule_ids(&q.rules),
        last: None,
        first: true,
        expires_ms: session.expires_ms,
    };
    let events = futures_util::stream::unfold(st, |mut st| async move {
        loop {
            if !st.first {
                tokio::select! {
                    changed = st.changes.changed() => {
                        if changed.is_err() {
                            // The registry is gone (shutting down): poll only.
                            tokio::time::sleep(POLL).await;
                        } else {
                            tokio::time::sleep(SETTLE).await;
                        }
                    }
                    _ = tokio::time::sleep(POLL) => {}
                }
                st.changes.borrow_and_update();
            }
            st.first = false;
            if now_ms() >= st.expires_ms {
                return None;
            }
            let f = figures(&st.app, &st.rules).await;
            let json = serde_json::to_string(&f).unwrap_or_else(|_| "{}".into());
            if st.last.as_deref() != Some(json.as_str()) {
                st.last = Some(json.clone());
                return Some((Ok(Event::default().event("figures").data(json)), st));
            }
        }
    });
    Sse::new(events).keep_alive(KeepAlive::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_ids_are_bounded_and_distinct() {
        assert_eq!(rule_ids("SDR_b, SDR_a,,SDR_b"), ["SDR_a", "SDR_b"]);
        assert!(rule_ids(&"x".repeat(100)).is_empty());
        let many: Vec<String> = (0..500).map(|i| format!("SDR_{i}")).collect();
        assert_eq!(rule_ids(&many.join(",")).len(), MAX_RULES);
    }
}
