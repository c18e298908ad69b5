//! The HTTP interface: LiveKit's Twirp `livekit.SIP` service and the native `/api/v1` API,
//! both behind bearer-token authentication.

pub mod auth;
mod dispatch_helpers;
pub mod error;
mod explain;
mod list_update;
mod policies;
mod twirp;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::rejection::JsonRejection;
use axum::routing::{get, post};

use crate::service::ConfigService;
use auth::Keys;
use error::{ApiError, Code};

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// Shared state of every handler.
#[derive(Clone)]
pub struct App {
    pub service: Arc<ConfigService>,
    pub keys: Arc<Keys>,
}

/// A JSON body that could not be read, as an API error.
pub fn json_rejection(e: JsonRejection) -> ApiError {
    if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::new(
            Code::ResourceExhausted,
            format!("the request body is larger than the {MAX_BODY_BYTES} byte limit"),
        );
    }
    ApiError::new(
        Code::Malformed,
        format!("the request body is not valid: {}", e.body_text()),
    )
}

async fn not_found() -> ApiError {
    ApiError::new(
        Code::BadRoute,
        "no such route: the APIs are POST /twirp/livekit.SIP/<Method> and /api/v1/…",
    )
}

/// The whole HTTP application.
pub fn router(app: App) -> Router {
    Router::new()
        .route("/twirp/livekit.SIP/{method}", post(twirp::handle))
        .route("/api/v1/explain", post(explain::handle))
        .route(
            "/api/v1/dispatch",
            get(dispatch_helpers::find).delete(dispatch_helpers::remove),
        )
        .route("/api/v1/dispatch/agent", post(dispatch_helpers::agent))
        .route("/api/v1/policies", get(policies::list))
        .route(
            "/api/v1/policies/{rule_id}",
            get(policies::get)
                .put(policies::put)
                .delete(policies::delete),
        )
        .route("/healthz", get(|| async { "ok" }))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(app)
}
