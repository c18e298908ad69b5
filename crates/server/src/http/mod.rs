//! The HTTP interface: LiveKit's Twirp `livekit.SIP` service and the native `/api/v1` API,
//! both behind bearer-token authentication.

mod agent_endpoints;
mod agents;
pub mod auth;
mod calls;
mod dispatch_helpers;
pub mod error;
pub(crate) mod explain;
mod list_update;
mod metrics;
mod policies;
mod rooms;
mod twirp;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::rejection::JsonRejection;
use axum::routing::get;

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
    pub store: Arc<dyn switchboard_store::Store>,
    pub rooms: Arc<crate::rooms::Rooms>,
    pub live: Arc<crate::calls::live::LiveCalls>,
    pub agents: Arc<crate::agents::Agents>,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Gauges read from the live registries when `/metrics` is scraped.
    pub live_gauges: Arc<dyn Fn() -> crate::metrics::Live + Send + Sync>,
    /// The web dashboard's sessions and login settings.
    pub dashboard: Arc<crate::dashboard::Dashboard>,
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

/// Refuses a request whose declared `Content-Length` is over the limit before reading any
/// of its body, so the client gets the error instead of a reset connection. Bodies without
/// a length are still cut at the limit as they are read.
async fn reject_declared_oversized(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let declared = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        let mut resp = ApiError::new(
            Code::ResourceExhausted,
            format!("the request body is larger than the {MAX_BODY_BYTES} byte limit"),
        )
        .into_response();
        resp.headers_mut().insert(
            axum::http::header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
        return resp;
    }
    next.run(req).await
}

async fn not_found() -> ApiError {
    ApiError::new(
        Code::BadRoute,
        "no such route: the APIs are POST /twirp/livekit.SIP/<Method> and /api/v1/…",
    )
}

/// The OpenAPI document's fixed parts; paths come from the handlers' annotations.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "switchboard",
        description = "Inbound call router for voice AI agents: the LiveKit-compatible livekit.SIP Twirp service and the native /api/v1 API. Every route needs `Authorization: Bearer <HS256 JWT>` signed with a configured API key and carrying the sip.admin grant."
    ),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The routes and their OpenAPI description, built from the same handler list so the
/// document cannot drift from what is served.
fn api() -> (Router<App>, utoipa::openapi::OpenApi) {
    use utoipa::OpenApi;
    use utoipa_axum::router::OpenApiRouter;
    use utoipa_axum::routes;
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(twirp::handle))
        .routes(routes!(explain::handle))
        .routes(routes!(dispatch_helpers::find, dispatch_helpers::remove))
        .routes(routes!(dispatch_helpers::agent))
        .routes(routes!(policies::list))
        .routes(routes!(policies::get, policies::put, policies::delete))
        .routes(routes!(rooms::list))
        .routes(routes!(rooms::get))
        .routes(routes!(calls::list))
        .routes(routes!(calls::get))
        .routes(routes!(calls::hangup))
        .routes(routes!(agents::list))
        .routes(routes!(agent_endpoints::list))
        .routes(routes!(
            agent_endpoints::get,
            agent_endpoints::put,
            agent_endpoints::delete
        ))
        .routes(routes!(metrics::get))
        .split_for_parts()
}

/// The whole HTTP application.
pub fn router(app: App) -> Router {
    let (routes, doc) = api();
    let doc = std::sync::Arc::new(doc.to_pretty_json().unwrap_or_default());
    routes
        .route(
            "/api/v1/openapi.json",
            get(move || {
                let doc = doc.clone();
                async move {
                    (
                        [(axum::http::header::CONTENT_TYPE, "application/json")],
                        (*doc).clone(),
                    )
                }
            }),
        )
        .route("/healthz", get(|| async { "ok" }))
        .route("/agent", get(agents::control))
        .route("/agent/jobs/{job_id}/media", get(agents::media))
        .merge(crate::dashboard::router(app.clone()))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(reject_declared_oversized))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            metrics::count_requests,
        ))
        .with_state(app)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openapi_lists_every_route_with_its_methods() {
        let doc: serde_json::Value = serde_json::from_str(&api().1.to_json().unwrap()).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        let methods = |p: &str| -> Vec<String> {
            let mut m: Vec<String> = paths[p].as_object().unwrap().keys().cloned().collect();
            m.sort();
            m
        };
        assert_eq!(methods("/twirp/livekit.SIP/{method}"), ["post"]);
        assert_eq!(methods("/api/v1/explain"), ["post"]);
        assert_eq!(methods("/api/v1/dispatch"), ["delete", "get"]);
        assert_eq!(methods("/api/v1/dispatch/agent"), ["post"]);
        assert_eq!(methods("/api/v1/policies"), ["get"]);
        assert_eq!(
            methods("/api/v1/policies/{rule_id}"),
            ["delete", "get", "put"]
        );
        assert_eq!(methods("/api/v1/rooms"), ["get"]);
        assert_eq!(methods("/api/v1/rooms/{name}"), ["get"]);
        assert_eq!(methods("/api/v1/calls"), ["get"]);
        assert_eq!(methods("/api/v1/calls/{id}"), ["get"]);
        assert_eq!(methods("/api/v1/calls/{id}/hangup"), ["post"]);
        assert_eq!(methods("/metrics"), ["get"]);
        assert_eq!(methods("/api/v1/agents"), ["get"]);
        assert_eq!(methods("/api/v1/agent-endpoints"), ["get"]);
        assert_eq!(
            methods("/api/v1/agent-endpoints/{agent_name}"),
            ["delete", "get", "put"]
        );
        assert_eq!(paths.len(), 15);
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for s in [
            "ExplainRequest",
            "ExplainResponse",
            "RoutePolicy",
            "TraceEntry",
            "ErrorBody",
        ] {
            assert!(schemas.contains_key(s), "schema {s} missing");
        }
        assert_eq!(
            doc["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
    }
}
