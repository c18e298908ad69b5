//! Agent workers (`docs/agent-protocol.md`): the WebSocket upgrades of the control
//! connection (`GET /agent`) and of a job's media channel (`GET /agent/jobs/{job_id}/media`),
//! and the list of connected workers (`GET /api/v1/agents`).

use axum::Json;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::App;
use super::auth::Grant;
use super::error::{ApiError, Code, ErrorBody};
use crate::agents::{self, WorkerView};

/// Frames larger than this are refused by the WebSocket layer itself; up to it, the
/// protocol answers `too_large` past [`agents::MAX_MESSAGE_BYTES`].
const WS_HARD_LIMIT: usize = 4 * agents::MAX_MESSAGE_BYTES;

#[derive(Deserialize, Default)]
pub struct TokenQuery {
    access_token: Option<String>,
    token: Option<String>,
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    v.strip_prefix("Bearer ")
        .or_else(|| v.strip_prefix("bearer "))
        .map(str::trim)
}

/// Initial read buffer of an agent WebSocket.
const WS_READ_BUFFER: usize = 4096;

fn upgrade(
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<WebSocketUpgrade, ApiError> {
    ws.map(|w| {
        w.max_message_size(WS_HARD_LIMIT)
            .max_frame_size(WS_HARD_LIMIT)
            // The WebSocket layer zero-fills its read buffer up to capacity before each
            // read: the 128 KiB default cost an eighth of the server's CPU with 200 calls
            // and most of their memory. Audio frames are a few hundred bytes; the buffer
            // still grows for a large message.
            .read_buffer_size(WS_READ_BUFFER)
    })
    .map_err(|e| {
        ApiError::new(
            Code::InvalidArgument,
            format!("this endpoint speaks WebSocket only: {}", e.body_text()),
        )
    })
}

/// `ws://host` (or `wss://` behind a TLS proxy) as the worker reached us.
fn media_base(headers: &HeaderMap) -> Option<String> {
    let host = headers.get(axum::http::header::HOST)?.to_str().ok()?;
    if host.is_empty() || host.contains(['/', ' ', '@']) {
        return None;
    }
    let tls = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.eq_ignore_ascii_case("https") || p.eq_ignore_ascii_case("wss"));
    Some(format!("{}://{host}", if tls { "wss" } else { "ws" }))
}

/// `GET /agent`: a worker's control connection (agent grant).
pub async fn control(
    State(app): State<App>,
    headers: HeaderMap,
    query: Result<Query<TokenQuery>, axum::extract::rejection::QueryRejection>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let query = query.map(|Query(q)| q).unwrap_or_default();
    let auth = match (bearer(&headers), query.access_token.as_deref()) {
        (None, Some(t)) if headers.get(axum::http::header::AUTHORIZATION).is_none() => {
            app.keys.authorize_token(t, Grant::Agent)
        }
        _ => app.keys.authorize(&headers, Grant::Agent),
    };
    if let Err(e) = auth {
        return e.into_response();
    }
    let ws = match upgrade(ws) {
        Ok(ws) => ws,
        Err(e) => return e.into_response(),
    };
    let base = media_base(&headers);
    let agents = app.agents.clone();
    ws.on_upgrade(move |socket| agents::ws::control(agents, socket, base))
}

/// `GET /agent/jobs/{job_id}/media`: a job's media channel (the assignment's media token).
pub async fn media(
    State(app): State<App>,
    Path(job_id): Path<String>,
    headers: HeaderMap,
    query: Result<Query<TokenQuery>, axum::extract::rejection::QueryRejection>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let query = query.map(|Query(q)| q).unwrap_or_default();
    let Some(token) = bearer(&headers).map(str::to_owned).or(query.token) else {
        return ApiError::new(
            Code::Unauthenticated,
            "missing media token: send `Authorization: Bearer <media_token>` or ?token=<media_token> from the assignment",
        )
        .into_response();
    };
    let ws = match upgrade(ws) {
        Ok(ws) => ws,
        Err(e) => return e.into_response(),
    };
    let Some(claim) = app.agents.claim_media(&job_id, &token) else {
        return ApiError::new(
            Code::PermissionDenied,
            "the media token is wrong, used or expired (valid once, for 30 s after the assignment, for its job only)",
        )
        .into_response();
    };
    ws.on_upgrade(move |socket| agents::ws::media(claim, socket))
}

/// The connected agent workers.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct WorkerList {
    pub workers: Vec<WorkerView>,
}

/// `GET /api/v1/agents`: the agent workers connected to this node, oldest first.
#[utoipa::path(get, path = "/api/v1/agents", tag = "agents", security(("bearer" = [])), responses((status = 200, body = WorkerList), (status = 401, description = "unauthenticated", body = ErrorBody), (status = 403, description = "permission_denied", body = ErrorBody)))]
pub async fn list(
    State(app): State<App>,
    headers: HeaderMap,
) -> Result<Json<WorkerList>, ApiError> {
    app.keys.authorize(&headers, Grant::SipAdmin)?;
    Ok(Json(WorkerList {
        workers: app.agents.workers(),
    }))
}
