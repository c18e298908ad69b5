//! `POST /api/v1/explain`: "why would a call from X to Y be routed or rejected?" — the same
//! evaluation a call gets, without a call, with the trace of every trunk and rule considered.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use switchboard_dispatch::{self as d, Call, Pin, TraceEntry};

use super::App;
use super::auth::Grant;
use super::error::ErrorBody;
use super::error::{ApiError, Code};

/// The explain request (SPEC §3). Only `to` is required.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ExplainRequest {
    /// Caller: the From user part.
    pub from: String,
    /// Called number: the To user part.
    pub to: Option<String>,
    pub source_ip: Option<String>,
    pub from_host: String,
    /// Digits entered at the PIN prompt.
    pub pin: Option<String>,
    /// The caller pressed `#` without a PIN.
    pub no_pin: bool,
    /// RFC 3339 instant for schedule evaluation; default now.
    pub at: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AgentOut {
    pub agent_name: String,
    pub metadata: String,
}

/// The explain answer (SPEC §3), plus `detail`, `routed_from_rule_id` and `closed` extras.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ExplainResponse {
    pub decision: d::Verdict,
    pub sip_status: Option<u16>,
    pub reason: String,
    pub detail: String,
    pub trunk_id: Option<String>,
    pub rule_id: Option<String>,
    pub routed_from_rule_id: Option<String>,
    pub room_name: Option<String>,
    pub participant_identity: Option<String>,
    pub participant_name: Option<String>,
    pub attributes: Option<BTreeMap<String, String>>,
    pub metadata: Option<String>,
    pub agents: Vec<AgentOut>,
    pub closed: Option<d::ClosedReason>,
    pub trace: Vec<TraceEntry>,
}

fn bad(msg: String) -> ApiError {
    ApiError::new(Code::InvalidArgument, msg)
}

/// Evaluates an explain request against a snapshot.
pub fn explain(
    snapshot: &d::Snapshot,
    req: &ExplainRequest,
    now: jiff::Timestamp,
    suffix: &str,
) -> Result<ExplainResponse, ApiError> {
    let to = req.to.as_deref().filter(|t| !t.is_empty()).ok_or_else(|| {
        bad("`to` is required: the called number, as the To header's user part".into())
    })?;
    let source_ip = match req.source_ip.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(d::address::parse_ip(s).ok_or_else(|| {
            bad(format!(
                "source_ip {s:?} is not an IP address; write e.g. 203.0.113.5 or 2001:db8::5"
            ))
        })?),
    };
    let at = match req.at.as_deref() {
        None | Some("") => now,
        Some(s) => s.parse::<jiff::Timestamp>().map_err(|e| {
            bad(format!(
                "at {s:?} is not an RFC 3339 instant (e.g. 2026-06-10T16:00:00Z): {e}"
            ))
        })?,
    };
    let pin = match (&req.pin, req.no_pin) {
        (Some(_), true) => return Err(bad("give either pin or no_pin, not both".into())),
        (Some(p), false) if !p.is_empty() => {
            if p.len() > 16 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad("pin must be 1 to 16 digits".into()));
            }
            Pin::Entered(p)
        }
        (_, true) => Pin::Skipped,
        _ => Pin::NotEntered,
    };
    let call_id = format!("{}{}", d::ids::CALL_PREFIX, suffix);
    let call = Call {
        caller: &req.from,
        from_host: &req.from_host,
        called: to,
        source_ip,
        pin,
        at,
        call_id: &call_id,
        sip_call_id: "",
        headers: &[],
        room_suffix: suffix,
    };
    // No live calls are counted yet, so every route is under its limit.
    let decision = snapshot.explain(&call, &mut d::Unlimited);
    let room = decision.room.as_ref();
    Ok(ExplainResponse {
        decision: decision.verdict,
        sip_status: decision.sip_status,
        reason: decision.reason.code().to_string(),
        detail: decision.detail.clone(),
        trunk_id: decision.trunk_id.clone(),
        rule_id: decision.rule_id.clone(),
        routed_from_rule_id: decision.routed_from_rule_id.clone(),
        room_name: room.map(|r| r.room_name.clone()),
        participant_identity: room.map(|r| r.participant_identity.clone()),
        participant_name: room.map(|r| r.participant_name.clone()),
        attributes: room.map(|r| r.attributes.clone()),
        metadata: room.map(|r| r.participant_metadata.clone()),
        agents: room
            .map(|r| {
                r.agents
                    .iter()
                    .map(|a| AgentOut {
                        agent_name: a.agent_name.clone(),
                        metadata: a.metadata.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        closed: decision.closed.clone(),
        trace: decision.trace,
    })
}

/// `POST /api/v1/explain`.
#[utoipa::path(post, path = "/api/v1/explain", tag = "explain", request_body = ExplainRequest, security(("bearer" = [])), responses((status = 200, body = ExplainResponse), (status = 400, description = "invalid_argument or malformed", body = ErrorBody), (status = 401, description = "unauthenticated", body = ErrorBody), (status = 403, description = "permission_denied", body = ErrorBody)))]
pub async fn handle(
    State(app): State<App>,
    headers: HeaderMap,
    body: Result<Json<ExplainRequest>, JsonRejection>,
) -> Result<Json<ExplainResponse>, ApiError> {
    app.keys.authorize(&headers, Grant::SipAdmin)?;
    let Json(req) = body.map_err(super::json_rejection)?;
    let suffix = d::ids::base57_suffix(rand::random::<u128>());
    let snapshot = app.service.snapshot();
    explain(&snapshot, &req, jiff::Timestamp::now(), &suffix).map(Json)
}
