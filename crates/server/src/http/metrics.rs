//! `GET /metrics`: Prometheus text format (SPEC §7), behind the same bearer token as the API
//! (Prometheus: `authorization: {credentials: <token>}` in the scrape config), and the
//! middleware that counts API requests by method and status.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::IntoResponse;

use super::App;
use super::auth::Grant;
use super::error::{ApiError, ErrorBody};

/// `GET /metrics`.
#[utoipa::path(get, path = "/metrics", tag = "metrics", security(("bearer" = [])), responses((status = 200, description = "Prometheus text exposition format 0.0.4", content_type = "text/plain"), (status = 401, description = "unauthenticated", body = ErrorBody), (status = 403, description = "permission_denied", body = ErrorBody)))]
pub async fn get(
    State(app): State<App>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    app.keys.authorize(&headers, Grant::SipAdmin)?;
    let live = (app.live_gauges)();
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        app.metrics.render(&live),
    ))
}

/// Counts every request by method and final status.
pub async fn count_requests(
    State(app): State<App>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let method = req.method().as_str().to_string();
    let resp = next.run(req).await;
    app.metrics.api_request(&method, resp.status().as_u16());
    resp
}
