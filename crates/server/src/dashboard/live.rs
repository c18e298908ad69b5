//! The live calls page: the calls in progress on this node, each with a hang-up button that
//! does what `POST /api/v1/calls/{id}/hangup` does (BYE when answered, `480` before).

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use super::calls::calls_table;
use super::html::{Nav, notice, page};
use super::session::Session;
use crate::http::App;

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct LiveQuery {
    notice: String,
}

fn render(app: &App, session: &Session, msg: Option<(&str, String)>) -> Response {
    let mut calls = app.live.list();
    calls.sort_by(|a, b| {
        b.created_at_ms
            .cmp(&a.created_at_ms)
            .then_with(|| a.id.cmp(&b.id))
    });
    let mut body = String::from("<h1>Live calls</h1>");
    if let Some((kind, text)) = msg {
        body.push_str(&notice(kind, &text));
    }
    body.push_str(&format!(
        "<section id=\"live\" data-refresh><p class=\"muted\">{} call(s) in progress on this node.</p>{}</section>",
        calls.len(),
        calls_table(
            &calls,
            jiff::Timestamp::now().as_millisecond(),
            true,
            Some(session)
        )
    ));
    page("Live calls", session, Nav::Live, &body)
}

/// `GET /dashboard/live`.
pub async fn list(
    State(app): State<App>,
    Extension(session): Extension<Session>,
    Query(q): Query<LiveQuery>,
) -> Response {
    let msg = (q.notice == "hangup").then(|| ("ok", "Hang-up sent.".to_string()));
    render(&app, &session, msg)
}

/// `POST /dashboard/live/{id}/hangup`.
pub async fn hangup(
    State(app): State<App>,
    Extension(session): Extension<Session>,
    Path(id): Path<String>,
) -> Response {
    if app.live.hang_up(&id) {
        tracing::info!(call_id = %id, who = %session.subject, "hang-up requested from the dashboard");
        return Redirect::to("/dashboard/live?notice=hangup").into_response();
    }
    let mut resp = render(
        &app,
        &session,
        Some((
            "error",
            format!("Call {id} is not live on this node any more; nothing was hung up."),
        )),
    );
    *resp.status_mut() = StatusCode::NOT_FOUND;
    resp
}
