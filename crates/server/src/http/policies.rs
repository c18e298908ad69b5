//! `/api/v1/policies`: route policies (schedules and capacity) per dispatch rule.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use switchboard_dispatch::RoutePolicy;

use super::App;
use super::auth::Grant;
use super::error::ApiError;
use super::error::ErrorBody;
use crate::service::StoredPolicy;

/// `GET /api/v1/policies`.
#[utoipa::path(get, path = "/api/v1/policies", tag = "policies", security(("bearer" = [])), responses((status = 200, body = Vec<StoredPolicy>), (status = 400, description = "invalid_argument or malformed", body = ErrorBody), (status = 401, description = "unauthenticated", body = ErrorBody), (status = 403, description = "permission_denied", body = ErrorBody)))]
pub async fn list(
    State(app): State<App>,
    headers: HeaderMap,
) -> Result<Json<Vec<StoredPolicy>>, ApiError> {
    app.keys.authorize(&headers, Grant::SipAdmin)?;
    Ok(Json(app.service.list_policies().await))
}

/// `GET /api/v1/policies/{rule_id}`.
#[utoipa::path(get, path = "/api/v1/policies/{rule_id}", tag = "policies", params(("rule_id" = String, Path, description = "dispatch rule id")), security(("bearer" = [])), responses((status = 200, body = StoredPolicy), (status = 404, description = "not_found", body = ErrorBody), (status = 400, description = "invalid_argument or malformed", body = ErrorBody), (status = 401, description = "unauthenticated", body = ErrorBody), (status = 403, description = "permission_denied", body = ErrorBody)))]
pub async fn get(
    State(app): State<App>,
    Path(rule_id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<StoredPolicy>, ApiError> {
    app.keys.authorize(&headers, Grant::SipAdmin)?;
    Ok(Json(app.service.get_policy(&rule_id).await?))
}

/// `PUT /api/v1/policies/{rule_id}`: create or replace. A `rule_id` in the body must match.
#[utoipa::path(put, path = "/api/v1/policies/{rule_id}", tag = "policies", params(("rule_id" = String, Path, description = "dispatch rule id")), request_body = RoutePolicy, security(("bearer" = [])), responses((status = 200, body = StoredPolicy), (status = 404, description = "not_found", body = ErrorBody), (status = 400, description = "invalid_argument or malformed", body = ErrorBody), (status = 401, description = "unauthenticated", body = ErrorBody), (status = 403, description = "permission_denied", body = ErrorBody)))]
pub async fn put(
    State(app): State<App>,
    Path(rule_id): Path<String>,
    headers: HeaderMap,
    body: Result<Json<RoutePolicy>, JsonRejection>,
) -> Result<Json<StoredPolicy>, ApiError> {
    app.keys.authorize(&headers, Grant::SipAdmin)?;
    let Json(mut policy) = body.map_err(super::json_rejection)?;
    if !policy.rule_id.is_empty() && policy.rule_id != rule_id {
        return Err(ApiError::invalid(format!(
            "the body's rule_id {:?} differs from the path's {rule_id:?}; leave it out or make them equal",
            policy.rule_id
        )));
    }
    policy.rule_id = rule_id;
    Ok(Json(app.service.put_policy(policy).await?))
}

/// `DELETE /api/v1/policies/{rule_id}`.
#[utoipa::path(delete, path = "/api/v1/policies/{rule_id}", tag = "policies", params(("rule_id" = String, Path, description = "dispatch rule id")), security(("bearer" = [])), responses((status = 200, body = StoredPolicy), (status = 404, description = "not_found", body = ErrorBody), (status = 400, description = "invalid_argument or malformed", body = ErrorBody), (status = 401, description = "unauthenticated", body = ErrorBody), (status = 403, description = "permission_denied", body = ErrorBody)))]
pub async fn delete(
    State(app): State<App>,
    Path(rule_id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<StoredPolicy>, ApiError> {
    app.keys.authorize(&headers, Grant::SipAdmin)?;
    Ok(Json(app.service.delete_policy(&rule_id).await?))
}
