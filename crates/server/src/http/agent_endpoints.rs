//! `/api/v1/agent-endpoints`: media-stream agents (SPEC §5 item 2). An endpoint
//! `{agent_name, url}` makes every job dispatched to `agent_name` dial `url` and speak the
//! Twilio Media Streams protocol (`agents/media_stream.rs`) instead of being offered to
//! registered workers.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use switchboard_store::AgentEndpoint;

use super::App;
use super::auth::Grant;
use super::calls::store_error;
use super::error::{ApiError, Code, ErrorBody};

/// The longest accepted URL.
pub const MAX_URL_CHARS: usize = 2048;
/// The longest accepted agent name.
pub const MAX_AGENT_NAME_CHARS: usize = 128;

/// A media-stream agent endpoint.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AgentEndpointView {
    pub agent_name: String,
    /// `ws://…` or `wss://…`.
    pub url: String,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

impl From<AgentEndpoint> for AgentEndpointView {
    fn from(e: AgentEndpoint) -> Self {
        let ts = |ms: i64| {
            jiff::Timestamp::from_millisecond(ms)
                .map(|t| t.to_string())
                .unwrap_or_default()
        };
        AgentEndpointView {
            created_at: ts(e.created_at_ms),
            updated_at: ts(e.updated_at_ms),
            agent_name: e.agent_name,
            url: e.url,
        }
    }
}

/// The endpoints, by agent name.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct AgentEndpointList {
    pub endpoints: Vec<AgentEndpointView>,
}

/// The body of `PUT /api/v1/agent-endpoints/{agent_name}`.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct PutAgentEndpoint {
    /// `ws://host[:port]/path` or `wss://…`, at most 2048 characters.
    pub url: String,
}

/// Checks an agent name from the path.
pub fn validate_agent_name(name: &str) -> Result<(), ApiError> {
    if name.trim().is_empty() {
        return Err(ApiError::invalid(
            "the agent name is empty; give the agent_name used in the dispatch rules' room_config.agents",
        ));
    }
    if name.chars().count() > MAX_AGENT_NAME_CHARS {
        return Err(ApiError::invalid(format!(
            "the agent name is longer than {MAX_AGENT_NAME_CHARS} characters; use a shorter name"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "the agent name contains control characters; use printable characters only",
        ));
    }
    Ok(())
}

/// Checks a media-stream URL: `ws` or `wss`, a host, at most [`MAX_URL_CHARS`].
pub fn validate_url(url: &str) -> Result<(), String> {
    const EXAMPLE: &str = "e.g. wss://bot.example.com/media or ws://10.0.0.5:8765/stream";
    if url.chars().count() > MAX_URL_CHARS {
        return Err(format!(
            "the url is longer than {MAX_URL_CHARS} characters; use a shorter URL"
        ));
    }
    let parsed = reqwest::Url::parse(url.trim()).map_err(|e| {
        format!("the url {url:?} is not a valid URL ({e}); give a WebSocket URL, {EXAMPLE}")
    })?;
    if !matches!(parsed.scheme(), "ws" | "wss") {
        let hint = match parsed.scheme() {
            "http" => " (use ws:// for http://)",
            "https" => " (use wss:// for https://)",
            _ => "",
        };
        return Err(format!(
            "the url's scheme is {:?}; a media-stream endpoint is a WebSocket URL starting with ws:// or wss://{hint}, {EXAMPLE}",
            parsed.scheme()
        ));
    }
    // The URL parser reads `ws:///x` as host `x`: check the text itself too.
    let authority = url
        .trim()
        .split_once("://")
        .map(|(_, rest)| rest.split(['/', '?', '#']).next().unwrap_or_default())
        .unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    if host.is_empty() || host.starts_with(':') || parsed.host_str().is_none_or(str::is_empty) {
        return Err(format!("the url {url:?} has no host; {EXAMPLE}"));
    }
    Ok(())
}

fn not_found(agent_name: &str) -> ApiError {
    ApiError::new(
        Code::NotFound,
        format!(
            "agent {agent_name:?} has no media-stream endpoint; list them with GET /api/v1/agent-endpoints"
        ),
    )
}

/// `GET /api/v1/agent-endpoints`: every media-stream endpoint, by agent name.
#[utoipa::path(get, path = "/api/v1/agent-endpoints", tag = "agents", security(("bearer" = [])), responses((status = 200, body = AgentEndpointList), (status = 401, description = "unauthenticated", body = ErrorBody), (status = 403, description = "permission_denied", body = ErrorBody)))]
pub async fn list(
    State(app): State<App>,
    headers: HeaderMap,
) -> Result<Json<AgentEndpointList>, ApiError> {
    app.keys.authorize(&headers, Grant::SipAdmin)?;
    let list = app
        .store
        .list_agent_endpoints()
        .await
        .map_err(store_error)?;
    app.agents.set_endpoints(&list);
    Ok(Json(AgentEndpointList {
        endpoints: list.into_iter().map(Into::into).collect(),
    }))
}

/// `GET /api/v1/agent-endpoints/{agent_name}`.
#[utoipa::path(get, path = "/api/v1/agent-endpoints/{agent_name}", tag = "agents", params(("agent_name" = String, Path, description = "the agent name")), security(("bearer" = [])), responses((status = 200, body = AgentEndpointView), (status = 404, description = "not_found", body = ErrorBody), (status = 401, description = "unauthenticated", body = ErrorBody), (status = 403, description = "permission_denied", body = ErrorBody)))]
pub async fn get(
    State(app): State<App>,
    Path(agent_name): Path<String>,
    headers: HeaderMap,
) -> Result<Json<AgentEndpointView>, ApiError> {
    app.keys.authorize(&headers, Grant::SipAdmin)?;
    match app
        .store
        .get_agent_endpoint(&agent_name)
        .await
        .map_err(store_error)?
    {
        Some(e) => Ok(Json(e.into())),
        None => Err(not_found(&agent_name)),
    }
}

/// `PUT /api/v1/agent-endpoints/{agent_name}`: create or replace; calls dispatched to the
/// name are streamed to the URL from the next dispatch on.
#[utoipa::path(put, path = "/api/v1/agent-endpoints/{agent_name}", tag = "agents", params(("agent_name" = String, Path, description = "the agent name")), request_body = PutAgentEndpoint, security(("bearer" = [])), responses((status = 200, body = AgentEndpointView), (status = 400, description = "invalid_argument or malformed", body = ErrorBody), (status = 401, description = "unauthenticated", body = ErrorBody), (status = 403, description = "permission_denied", body = ErrorBody)))]
pub async fn put(
    State(app): State<App>,
    Path(agent_name): Path<String>,
    headers: HeaderMap,
    body: Result<Json<PutAgentEndpoint>, JsonRejection>,
) -> Result<Json<AgentEndpointView>, ApiError> {
    app.keys.authorize(&headers, Grant::SipAdmin)?;
    let Json(body) = body.map_err(super::json_rejection)?;
    validate_agent_name(&agent_name)?;
    validate_url(&body.url).map_err(ApiError::invalid)?;
    let now = jiff::Timestamp::now().as_millisecond();
    let saved = app
        .store
        .put_agent_endpoint(&AgentEndpoint {
            agent_name,
            url: body.url.trim().to_string(),
            created_at_ms: now,
            updated_at_ms: now,
        })
        .await
        .map_err(store_error)?;
    reload(&app).await;
    Ok(Json(saved.into()))
}

/// `DELETE /api/v1/agent-endpoints/{agent_name}`: answers the deleted endpoint; calls to
/// the name go to registered workers again.
#[utoipa::path(delete, path = "/api/v1/agent-endpoints/{agent_name}", tag = "agents", params(("agent_name" = String, Path, description = "the agent name")), security(("bearer" = [])), responses((status = 200, body = AgentEndpointView), (status = 404, description = "not_found", body = ErrorBody), (status = 401, description = "unauthenticated", body = ErrorBody), (status = 403, description = "permission_denied", body = ErrorBody)))]
pub async fn delete(
    State(app): State<App>,
    Path(agent_name): Path<String>,
    headers: HeaderMap,
) -> Result<Json<AgentEndpointView>, ApiError> {
    app.keys.authorize(&headers, Grant::SipAdmin)?;
    let Some(existing) = app
        .store
        .get_agent_endpoint(&agent_name)
        .await
        .map_err(store_error)?
    else {
        return Err(not_found(&agent_name));
    };
    if !app
        .store
        .delete_agent_endpoint(&agent_name)
        .await
        .map_err(store_error)?
    {
        return Err(not_found(&agent_name));
    }
    reload(&app).await;
    Ok(Json(existing.into()))
}

/// Refreshes this node's cache right after a write (other nodes poll).
async fn reload(app: &App) {
    if let Err(e) = app.agents.reload_endpoints(&*app.store).await {
        tracing::warn!(error = %e, "cannot reload the media-stream agent endpoints after a write; the periodic refresh will retry");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_with_advice() {
        assert!(validate_url("ws://127.0.0.1:9000/media").is_ok());
        assert!(validate_url("wss://bot.example.com/twilio?x=1").is_ok());
        let e = validate_url("http://bot.example.com/").unwrap_err();
        assert!(
            e.contains("ws://") && e.contains("use ws:// for http://"),
            "{e}"
        );
        let e = validate_url("ws:///nohost").unwrap_err();
        assert!(
            e.contains("no host") || e.contains("not a valid URL"),
            "{e}"
        );
        let e = validate_url("garbage").unwrap_err();
        assert!(e.contains("not a valid URL"), "{e}");
        let long = format!("ws://h/{}", "a".repeat(MAX_URL_CHARS));
        assert!(validate_url(&long).unwrap_err().contains("2048"));
    }

    #[test]
    fn agent_names_are_checked() {
        assert!(validate_agent_name("bot").is_ok());
        assert!(validate_agent_name(" ").is_err());
        assert!(validate_agent_name("a\u{7}").is_err());
        assert!(validate_agent_name(&"x".repeat(129)).is_err());
    }
}
