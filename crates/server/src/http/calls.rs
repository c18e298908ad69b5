//! `/api/v1/calls`: call records (SPEC §8) — search, one call, and hanging up a live one.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use switchboard_store::{CallFilter, CallRecord, CallStatus, StoreError};

use super::App;
use super::auth::Grant;
use super::error::{ApiError, Code, ErrorBody};

/// A call record as the API shows it.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct CallView {
    pub id: String,
    pub sip_call_id: String,
    pub node_id: String,
    pub trunk_id: Option<String>,
    pub rule_id: Option<String>,
    pub routed_from_rule_id: Option<String>,
    pub room_name: Option<String>,
    pub caller: String,
    pub called: String,
    pub source_ip: String,
    pub transport: String,
    /// incoming | ringing | pin | active | ended
    pub state: String,
    /// live, or how it ended: completed | rejected | cancelled | failed | interrupted
    pub status: String,
    pub sip_status: Option<u16>,
    pub reason: Option<String>,
    /// caller | server | agent
    pub hangup_by: Option<String>,
    pub pin_attempts: u32,
    /// RFC 3339.
    pub created_at: String,
    pub answered_at: Option<String>,
    pub ended_at: Option<String>,
    pub updated_at: String,
    /// Seconds from answer to end (or to now while live); absent if never answered.
    pub duration_secs: Option<f64>,
    /// Unix milliseconds of the last change (for `updated_after`).
    pub updated_at_ms: i64,
}

fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

impl From<&CallRecord> for CallView {
    fn from(r: &CallRecord) -> CallView {
        let now = jiff::Timestamp::now().as_millisecond();
        CallView {
            id: r.id.clone(),
            sip_call_id: r.sip_call_id.clone(),
            node_id: r.node_id.clone(),
            trunk_id: r.trunk_id.clone(),
            rule_id: r.rule_id.clone(),
            routed_from_rule_id: r.routed_from_rule_id.clone(),
            room_name: r.room_name.clone(),
            caller: r.caller.clone(),
            called: r.called.clone(),
            source_ip: r.source_ip.clone(),
            transport: r.transport.clone(),
            state: r.state.as_str().to_string(),
            status: r.final_status.map_or("live", |s| s.as_str()).to_string(),
            sip_status: r.sip_status,
            reason: r.reason.clone(),
            hangup_by: r.hangup_by.clone(),
            pin_attempts: r.pin_attempts,
            created_at: rfc3339(r.created_at_ms),
            answered_at: r.answered_at_ms.map(rfc3339),
            ended_at: r.ended_at_ms.map(rfc3339),
            updated_at: rfc3339(r.updated_at_ms),
            duration_secs: r
                .answered_at_ms
                .map(|a| (r.ended_at_ms.unwrap_or(now) - a).max(0) as f64 / 1000.0),
            updated_at_ms: r.updated_at_ms,
        }
    }
}

/// The query of `GET /api/v1/calls`.
#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallQuery {
    /// Dispatch rule id.
    pub rule_id: Option<String>,
    /// Trunk id.
    pub trunk_id: Option<String>,
    /// live | completed | rejected | cancelled | failed | interrupted
    pub status: Option<String>,
    /// Caller or called number, exactly as received.
    pub number: Option<String>,
    /// RFC 3339: calls created at or after.
    pub since: Option<String>,
    /// RFC 3339: calls created before.
    pub until: Option<String>,
    /// Unix milliseconds: calls changed after this, oldest change first (for tailing).
    pub updated_after: Option<i64>,
    /// Page size, 1–1000 (default 50).
    pub limit: Option<u32>,
    /// `next_page_token` of the previous page.
    pub page_token: Option<String>,
}

/// One page of calls.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct CallList {
    pub calls: Vec<CallView>,
    pub next_page_token: Option<String>,
}

fn instant(field: &str, v: &Option<String>) -> Result<Option<i64>, ApiError> {
    v.as_deref()
        .map(|s| {
            s.parse::<jiff::Timestamp>()
                .map(|t| t.as_millisecond())
                .map_err(|_| {
                    ApiError::invalid(format!(
                        "{field}={s:?} is not an RFC 3339 instant, e.g. 2026-11-21T09:00:00Z"
                    ))
                })
        })
        .transpose()
}

pub(crate) fn store_error(e: StoreError) -> ApiError {
    match e {
        StoreError::InvalidArgument(m) => ApiError::invalid(m),
        other => ApiError::new(Code::Unavailable, other.to_string()),
    }
}

impl CallQuery {
    fn filter(&self) -> Result<CallFilter, ApiError> {
        let status = match self.status.as_deref() {
            None | Some("") => None,
            Some(s) => Some(s.parse::<CallStatus>().map_err(store_error)?),
        };
        if let Some(l) = self.limit
            && !(1..=1000).contains(&l)
        {
            return Err(ApiError::invalid(format!(
                "limit={l} is out of range; use 1 to 1000"
            )));
        }
        Ok(CallFilter {
            rule_id: self.rule_id.clone().filter(|s| !s.is_empty()),
            trunk_id: self.trunk_id.clone().filter(|s| !s.is_empty()),
            status,
            number: self.number.clone().filter(|s| !s.is_empty()),
            since_ms: instant("since", &self.since)?,
            until_ms: instant("until", &self.until)?,
            updated_after_ms: self.updated_after,
            limit: self.limit,
            page_token: self.page_token.clone().filter(|s| !s.is_empty()),
        })
    }
}

/// `GET /api/v1/calls`: newest first, or with `updated_after` in order of change.
#[utoipa::path(get, path = "/api/v1/calls", tag = "calls", params(CallQuery), security(("bearer" = [])), responses((status = 200, body = CallList), (status = 400, description = "invalid_argument", body = ErrorBody), (status = 401, description = "unauthenticated", body = ErrorBody), (status = 403, description = "permission_denied", body = ErrorBody)))]
pub async fn list(
    State(app): State<App>,
    headers: HeaderMap,
    query: Result<Query<CallQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<CallList>, ApiError> {
    app.keys.authorize(&headers, Grant::SipAdmin)?;
    let Query(query) =
        query.map_err(|e| ApiError::invalid(format!("bad query string: {}", e.body_text())))?;
    let page = app
        .store
        .list_calls(&query.filter()?)
        .await
        .map_err(store_error)?;
    Ok(Json(CallList {
        calls: page.calls.iter().map(CallView::from).collect(),
        next_page_token: page.next_page_token,
    }))
}

/// `GET /api/v1/calls/{id}`.
#[utoipa::path(get, path = "/api/v1/calls/{id}", tag = "calls", params(("id" = String, Path, description = "call id (SCL_…)")), security(("bearer" = [])), responses((status = 200, body = CallView), (status = 404, description = "not_found", body = ErrorBody), (status = 401, description = "unauthenticated", body = ErrorBody), (status = 403, description = "permission_denied", body = ErrorBody)))]
pub async fn get(
    State(app): State<App>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<CallView>, ApiError> {
    app.keys.authorize(&headers, Grant::SipAdmin)?;
    // The live copy is fresher than the store while batches are in flight.
    if let Some(r) = app.live.get(&id) {
        return Ok(Json(CallView::from(&r)));
    }
    match app.store.get_call(&id).await.map_err(store_error)? {
        Some(r) => Ok(Json(CallView::from(&r))),
        None => Err(ApiError::new(
            Code::NotFound,
            format!("no call {id:?}; GET /api/v1/calls lists calls (ids look like SCL_…)"),
        )),
    }
}

/// `POST /api/v1/calls/{id}/hangup`: ends a live call on this node with BYE (or, before it
/// is answered, with `480`).
#[utoipa::path(post, path = "/api/v1/calls/{id}/hangup", tag = "calls", params(("id" = String, Path, description = "call id (SCL_…)")), security(("bearer" = [])), responses((status = 200, body = CallView), (status = 404, description = "not_found", body = ErrorBody), (status = 401, description = "unauthenticated", body = ErrorBody), (status = 403, description = "permission_denied", body = ErrorBody)))]
pub async fn hangup(
    State(app): State<App>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<CallView>, ApiError> {
    app.keys.authorize(&headers, Grant::SipAdmin)?;
    let Some(r) = app.live.get(&id) else {
        return Err(ApiError::new(
            Code::NotFound,
            format!(
                "call {id:?} is not live on this node; GET /api/v1/calls?status=live lists live calls"
            ),
        ));
    };
    app.live.hang_up(&id);
    Ok(Json(CallView::from(&r)))
}
