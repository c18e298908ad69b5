//! SIPHON's `Dispatch` helpers as native routes, so every client gets the same semantics:
//!
//! * `POST /api/v1/dispatch/agent` — ensure an inbound trunk for a number (or use a given
//!   trunk) and an individual dispatch rule (room prefix `inbound-call-`) that dispatches one
//!   agent with its configuration as job metadata. Idempotent: the same name on the same
//!   trunk answers the existing rule, updated if the agent or its metadata changed.
//! * `GET /api/v1/dispatch?number=…|id=…` — the rules that can receive calls for a number
//!   (`{"dispatch_rules": [{dispatch_id, name, trunk_ids}], "count"}`), or one rule by id.
//! * `DELETE /api/v1/dispatch?number=…|id=…` — delete those rules
//!   (`{"success", "deleted_count", "deleted_ids"}`); trunks are kept.
//!
//! "Can receive calls for a number" means: rules bound to a trunk that serves the number
//! (exactly or by a `*` pattern), plus rules for all trunks when some trunk can admit calls
//! for it (a serving trunk, a wildcard trunk, or `accept_trunkless_calls`); in both cases
//! the rule's own `numbers` filter must be empty or match. Numbers are compared normalized.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use livekit_protocol as lk;
use serde::{Deserialize, Serialize};
use switchboard_dispatch::number::{NumberPattern, normalize};

use super::App;
use super::auth::Grant;
use super::error::ErrorBody;
use super::error::{ApiError, Code};
use crate::service::{ConfigService, ServiceError};

/// Room prefix of the rules `dispatch agent` creates.
pub const ROOM_PREFIX: &str = "inbound-call-";

/// The agent's configuration, carried to the worker as job metadata (only what was given).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub llm: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tts: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub greeting: Option<String>,
}

/// `POST /api/v1/dispatch/agent` request.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct AgentRequest {
    /// The rule's name: its stable identity together with the trunk.
    pub name: String,
    /// The agent to dispatch (`room_config.agents[0].agent_name`).
    pub agent_name: String,
    /// Use this existing inbound trunk…
    pub trunk_id: Option<String>,
    /// …or the trunk serving this number (created when there is none).
    pub number: Option<String>,
    /// For a created trunk: who may send calls.
    pub allowed_addresses: Vec<String>,
    pub auth_username: String,
    pub auth_password: String,
    pub auth_realm: String,
    pub agent_config: AgentConfig,
}

/// The job metadata `dispatch agent` attaches to the agent dispatch.
#[derive(Debug, Serialize)]
struct JobMetadata<'a> {
    agent_config: &'a AgentConfig,
    inbound_trunk_id: &'a str,
    agent_number: &'a str,
}

/// `POST /api/v1/dispatch/agent` answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AgentResponse {
    pub dispatch_id: String,
    pub name: String,
    pub trunk_ids: Vec<String>,
    pub inbound_trunk_id: String,
    /// A new rule was created (false: the rule with this name on this trunk already existed).
    pub created: bool,
    /// The existing rule's agent or job metadata was changed to the requested one.
    pub updated: bool,
    /// A new inbound trunk was created for the number.
    pub trunk_created: bool,
}

/// One rule in SIPHON's result shape.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RuleRef {
    pub dispatch_id: String,
    pub name: String,
    pub trunk_ids: Vec<String>,
}

/// `GET /api/v1/dispatch` answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FindResponse {
    pub dispatch_rules: Vec<RuleRef>,
    pub count: usize,
}

/// `DELETE /api/v1/dispatch` answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeleteResponse {
    pub success: bool,
    pub deleted_count: usize,
    pub deleted_ids: Vec<String>,
}

/// `?number=…` or `?id=…`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(default, deny_unknown_fields)]
pub struct Target {
    pub number: Option<String>,
    pub id: Option<String>,
}

fn rule_ref(r: &lk::SipDispatchRuleInfo) -> RuleRef {
    RuleRef {
        dispatch_id: r.sip_dispatch_rule_id.clone(),
        name: r.name.clone(),
        trunk_ids: r.trunk_ids.clone(),
    }
}

fn query(q: Result<Query<Target>, QueryRejection>) -> Result<Target, ApiError> {
    let Query(t) = q.map_err(|e| {
        ApiError::invalid(format!(
            "bad query: {}; use ?number=+15550100 or ?id=SDR_…",
            e.body_text()
        ))
    })?;
    Ok(t)
}

enum By {
    Number(String),
    Id(String),
}

fn target(t: Target) -> Result<By, ApiError> {
    let number = t.number.filter(|s| !s.trim().is_empty());
    let id = t.id.filter(|s| !s.trim().is_empty());
    match (number, id) {
        (Some(n), None) => Ok(By::Number(n.trim().to_string())),
        (None, Some(i)) => Ok(By::Id(i.trim().to_string())),
        (Some(_), Some(_)) => Err(ApiError::invalid("give either number or id, not both")),
        (None, None) => Err(ApiError::invalid(
            "which rules? give ?number=+15550100 (every rule that can receive calls for it) or ?id=SDR_…",
        )),
    }
}

/// The rules that can receive calls for `number` (see the module docs), by id.
pub fn rules_for_number(
    trunks: &[lk::SipInboundTrunkInfo],
    rules: &[lk::SipDispatchRuleInfo],
    number: &str,
    accept_trunkless: bool,
) -> Vec<lk::SipDispatchRuleInfo> {
    let norm = normalize(number);
    let matches = |list: &[String]| {
        list.iter()
            .any(|n| NumberPattern::parse(n).matches(&norm).is_some())
    };
    let serving: Vec<&str> = trunks
        .iter()
        .filter(|t| matches(&t.numbers))
        .map(|t| t.sip_trunk_id.as_str())
        .collect();
    let reachable =
        !serving.is_empty() || accept_trunkless || trunks.iter().any(|t| t.numbers.is_empty());
    let mut out: Vec<lk::SipDispatchRuleInfo> = rules
        .iter()
        .filter(|r| r.numbers.is_empty() || matches(&r.numbers))
        .filter(|r| {
            if r.trunk_ids.is_empty() {
                reachable
            } else {
                r.trunk_ids.iter().any(|t| serving.contains(&t.as_str()))
            }
        })
        .cloned()
        .collect();
    out.sort_by(|a, b| a.sip_dispatch_rule_id.cmp(&b.sip_dispatch_rule_id));
    out
}

async fn select(app: &App, by: &By) -> Result<Vec<lk::SipDispatchRuleInfo>, ApiError> {
    match by {
        By::Id(id) => Ok(vec![app.service.get_rule(id).await?]),
        By::Number(n) => {
            let trunks = app.service.list_trunks().await;
            let rules = app.service.list_rules().await;
            let trunkless = app.service.snapshot().options().accept_trunkless_calls;
            Ok(rules_for_number(&trunks, &rules, n, trunkless))
        }
    }
}

/// `GET /api/v1/dispatch?number=…|id=…`.
#[utoipa::path(get, path = "/api/v1/dispatch", tag = "dispatch", params(Target), security(("bearer" = [])), responses((status = 200, body = FindResponse), (status = 404, description = "not_found", body = ErrorBody), (status = 400, description = "invalid_argument or malformed", body = ErrorBody), (status = 401, description = "unauthenticated", body = ErrorBody), (status = 403, description = "permission_denied", body = ErrorBody)))]
pub async fn find(
    State(app): State<App>,
    headers: HeaderMap,
    q: Result<Query<Target>, QueryRejection>,
) -> Result<Json<FindResponse>, ApiError> {
    app.keys.authorize(&headers, Grant::SipAdmin)?;
    let by = target(query(q)?)?;
    let rules = select(&app, &by).await?;
    Ok(Json(FindResponse {
        count: rules.len(),
        dispatch_rules: rules.iter().map(rule_ref).collect(),
    }))
}

/// `DELETE /api/v1/dispatch?number=…|id=…`.
#[utoipa::path(delete, path = "/api/v1/dispatch", tag = "dispatch", params(Target), security(("bearer" = [])), responses((status = 200, body = DeleteResponse), (status = 404, description = "not_found", body = ErrorBody), (status = 400, description = "invalid_argument or malformed", body = ErrorBody), (status = 401, description = "unauthenticated", body = ErrorBody), (status = 403, description = "permission_denied", body = ErrorBody)))]
pub async fn remove(
    State(app): State<App>,
    headers: HeaderMap,
    q: Result<Query<Target>, QueryRejection>,
) -> Result<Json<DeleteResponse>, ApiError> {
    app.keys.authorize(&headers, Grant::SipAdmin)?;
    let by = target(query(q)?)?;
    let rules = select(&app, &by).await?;
    let mut deleted_ids = Vec::new();
    for r in rules {
        match app.service.delete_rule(&r.sip_dispatch_rule_id).await {
            Ok(_) => deleted_ids.push(r.sip_dispatch_rule_id),
            // Deleted meanwhile by someone else: the goal is reached.
            Err(ServiceError::NotFound { .. }) if matches!(by, By::Number(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Json(DeleteResponse {
        success: true,
        deleted_count: deleted_ids.len(),
        deleted_ids,
    }))
}

/// The trunk a number's rule goes on: an existing trunk listing the number exactly, or a
/// new restricted one. Returns the trunk id and whether it was created.
async fn ensure_trunk(
    svc: &ConfigService,
    req: &AgentRequest,
    number: &str,
) -> Result<(String, bool), ApiError> {
    let norm = normalize(number).into_owned();
    if norm.ends_with('*') {
        return Err(ApiError::invalid(format!(
            "number {number:?} is a pattern; dispatch agent needs one phone number (or pass trunk_id)"
        ))
        .with_meta("field", "number"));
    }
    let exact = svc.trunks_listing(&norm).await;
    match exact.as_slice() {
        [one] => return Ok((one.sip_trunk_id.clone(), false)),
        [] => {}
        many => {
            // Several trunks list the number (differing by source or callers): the one whose
            // restrictions the request repeats, if exactly one does.
            let same: Vec<_> = many
                .iter()
                .filter(|t| {
                    let mut a = t.allowed_addresses.clone();
                    let mut b = req.allowed_addresses.clone();
                    a.sort();
                    b.sort();
                    a == b && t.auth_username == req.auth_username
                })
                .collect();
            if let [one] = same.as_slice() {
                return Ok((one.sip_trunk_id.clone(), false));
            }
            let ids: Vec<&str> = many.iter().map(|t| t.sip_trunk_id.as_str()).collect();
            return Err(ApiError::invalid(format!(
                "several inbound trunks list {norm} ({}); pass trunk_id (--trunk-id) to choose one",
                ids.join(", ")
            )));
        }
    }
    let has_auth = !req.auth_username.is_empty() && !req.auth_password.is_empty();
    if req.allowed_addresses.is_empty() && !has_auth {
        let by_pattern: Vec<String> = svc
            .list_trunks()
            .await
            .iter()
            .filter(|t| {
                t.numbers
                    .iter()
                    .any(|n| NumberPattern::parse(n).matches(&norm).is_some())
            })
            .map(|t| format!("{} {:?}", t.sip_trunk_id, t.name))
            .collect();
        let also = if by_pattern.is_empty() {
            String::new()
        } else {
            format!(
                " (trunks serving it by pattern: {}; pass --trunk-id to put the rule on one of them)",
                by_pattern.join(", ")
            )
        };
        return Err(ApiError::invalid(format!(
            "no inbound trunk lists {norm}, and switchboard will not create an open one: a trunk restricted only by its number admits calls from anyone who can reach this server and dials it (toll fraud, spam). Pass --allowed-address with your carrier's signalling IPs or CIDRs (repeatable), and/or --auth-user and --auth-pass for digest authentication; or create the trunk with `switchboard sip inbound create` and pass --trunk-id{also}"
        ))
        .with_meta("field", "allowed_addresses"));
    }
    let trunk = lk::SipInboundTrunkInfo {
        name: format!("inbound {norm}"),
        numbers: vec![norm],
        allowed_addresses: req.allowed_addresses.clone(),
        auth_username: req.auth_username.clone(),
        auth_password: req.auth_password.clone(),
        auth_realm: req.auth_realm.clone(),
        ..Default::default()
    };
    let created = svc.create_trunk(trunk).await?;
    Ok((created.sip_trunk_id, true))
}

fn existing_rule(
    rules: &[lk::SipDispatchRuleInfo],
    name: &str,
    trunk_id: &str,
) -> Option<lk::SipDispatchRuleInfo> {
    let mut found: Vec<&lk::SipDispatchRuleInfo> = rules
        .iter()
        .filter(|r| r.name == name && r.trunk_ids.iter().any(|t| t == trunk_id))
        .collect();
    found.sort_by(|a, b| a.sip_dispatch_rule_id.cmp(&b.sip_dispatch_rule_id));
    found.first().map(|r| (*r).clone())
}

fn same_agents(have: &Option<lk::RoomConfiguration>, want: &[lk::RoomAgentDispatch]) -> bool {
    let have = have
        .as_ref()
        .map(|c| c.agents.as_slice())
        .unwrap_or_default();
    have.len() == want.len()
        && have
            .iter()
            .zip(want)
            .all(|(a, b)| a.agent_name == b.agent_name && a.metadata == b.metadata)
}

/// The same name on the same trunk is the same dispatch: keep the rule, and bring its agent
/// up to date. Returns the rule and whether it changed.
async fn reuse(
    svc: &ConfigService,
    r: lk::SipDispatchRuleInfo,
    agents: &[lk::RoomAgentDispatch],
) -> Result<(lk::SipDispatchRuleInfo, bool), ApiError> {
    if same_agents(&r.room_config, agents) {
        return Ok((r, false));
    }
    let updated = svc
        .update_rule(&r.sip_dispatch_rule_id, |x| {
            x.room_config.get_or_insert_with(Default::default).agents = agents.to_vec();
            Ok(())
        })
        .await?;
    Ok((updated, true))
}

/// `POST /api/v1/dispatch/agent`.
#[utoipa::path(post, path = "/api/v1/dispatch/agent", tag = "dispatch", request_body = AgentRequest, security(("bearer" = [])), responses((status = 200, body = AgentResponse), (status = 400, description = "invalid_argument or malformed", body = ErrorBody), (status = 401, description = "unauthenticated", body = ErrorBody), (status = 403, description = "permission_denied", body = ErrorBody)))]
pub async fn agent(
    State(app): State<App>,
    headers: HeaderMap,
    body: Result<Json<AgentRequest>, JsonRejection>,
) -> Result<Json<AgentResponse>, ApiError> {
    app.keys.authorize(&headers, Grant::SipAdmin)?;
    let Json(req) = body.map_err(super::json_rejection)?;
    if req.name.trim().is_empty() {
        return Err(ApiError::invalid(
            "name is required: a stable name for the dispatch rule, e.g. customer-support",
        )
        .with_meta("field", "name"));
    }
    if req.agent_name.trim().is_empty() {
        return Err(ApiError::invalid(
            "agent_name is required: the name your agent worker registers with",
        )
        .with_meta("field", "agent_name"));
    }
    if req.auth_username.is_empty() != req.auth_password.is_empty() {
        return Err(ApiError::invalid(
            "give both the auth user name and the auth password, or neither",
        ));
    }
    let svc = &app.service;
    let number = req
        .number
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    let trunk_id = req
        .trunk_id
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    let (trunk_id, trunk_created) = match (trunk_id, number) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "give either trunk_id or number, not both",
            ));
        }
        (None, None) => {
            return Err(ApiError::invalid(
                "which trunk? give trunk_id (an existing inbound trunk) or number (its trunk is found, or created)",
            ));
        }
        (Some(id), None) => (svc.get_trunk(id).await?.sip_trunk_id, false),
        (None, Some(n)) => ensure_trunk(svc, &req, n).await?,
    };
    let agent_number = number
        .map(|n| normalize(n).into_owned())
        .unwrap_or_default();
    let metadata = serde_json::to_string(&JobMetadata {
        agent_config: &req.agent_config,
        inbound_trunk_id: &trunk_id,
        agent_number: &agent_number,
    })
    .map_err(|e| {
        ApiError::new(
            Code::Internal,
            format!("cannot encode the job metadata: {e}"),
        )
    })?;
    let agents = vec![lk::RoomAgentDispatch {
        agent_name: req.agent_name.trim().to_string(),
        metadata,
        ..Default::default()
    }];
    let answer = |r: &lk::SipDispatchRuleInfo, created: bool, updated: bool| AgentResponse {
        dispatch_id: r.sip_dispatch_rule_id.clone(),
        name: r.name.clone(),
        trunk_ids: r.trunk_ids.clone(),
        inbound_trunk_id: trunk_id.clone(),
        created,
        updated,
        trunk_created,
    };
    if let Some(r) = existing_rule(&svc.list_rules().await, &req.name, &trunk_id) {
        let (r, updated) = reuse(svc, r, &agents).await?;
        return Ok(Json(answer(&r, false, updated)));
    }
    let rule = lk::SipDispatchRuleInfo {
        name: req.name.clone(),
        trunk_ids: vec![trunk_id.clone()],
        rule: Some(lk::SipDispatchRule {
            rule: Some(lk::sip_dispatch_rule::Rule::DispatchRuleIndividual(
                lk::SipDispatchRuleIndividual {
                    room_prefix: ROOM_PREFIX.to_string(),
                    ..Default::default()
                },
            )),
        }),
        room_config: Some(lk::RoomConfiguration {
            agents: agents.clone(),
            ..Default::default()
        }),
        ..Default::default()
    };
    match svc.create_rule(rule).await {
        Ok(r) => Ok(Json(answer(&r, true, false))),
        Err(e @ ServiceError::Conflict { .. }) => {
            // A concurrent run of the same command may have created it first.
            match existing_rule(&svc.list_rules().await, &req.name, &trunk_id) {
                Some(r) => {
                    let (r, updated) = reuse(svc, r, &agents).await?;
                    Ok(Json(answer(&r, false, updated)))
                }
                None => Err(e.into()),
            }
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trunk(id: &str, numbers: &[&str]) -> lk::SipInboundTrunkInfo {
        lk::SipInboundTrunkInfo {
            sip_trunk_id: id.into(),
            numbers: numbers.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    fn rule(id: &str, trunks: &[&str], numbers: &[&str]) -> lk::SipDispatchRuleInfo {
        lk::SipDispatchRuleInfo {
            sip_dispatch_rule_id: id.into(),
            trunk_ids: trunks.iter().map(|s| s.to_string()).collect(),
            numbers: numbers.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    fn ids(v: Vec<lk::SipDispatchRuleInfo>) -> Vec<String> {
        v.into_iter().map(|r| r.sip_dispatch_rule_id).collect()
    }

    #[test]
    fn rules_for_a_number() {
        let trunks = [
            trunk("ST_a", &["+15550100"]),
            trunk("ST_p", &["+1555*"]),
            trunk("ST_o", &["+16660000"]),
        ];
        let rules = [
            rule("SDR_1", &["ST_a"], &[]),
            rule("SDR_2", &["ST_p"], &[]),
            rule("SDR_3", &["ST_o"], &[]),
            rule("SDR_4", &[], &[]),
            rule("SDR_5", &[], &["+1 555 0100"]),
            rule("SDR_6", &[], &["+15550199"]),
            rule("SDR_7", &["ST_a"], &["+15550199"]),
        ];
        assert_eq!(
            ids(rules_for_number(&trunks, &rules, "1 (555) 0100", false)),
            ["SDR_1", "SDR_2", "SDR_4", "SDR_5"]
        );
        // No trunk can admit calls for this number: wildcard rules cannot receive them.
        assert_eq!(
            ids(rules_for_number(&trunks, &rules, "+4420", false)),
            Vec::<String>::new()
        );
        assert_eq!(
            ids(rules_for_number(&trunks, &rules, "+4420", true)),
            ["SDR_4"]
        );
    }

    #[test]
    fn job_metadata_shape() {
        let cfg = AgentConfig {
            llm: Some("openai".into()),
            greeting: Some("Hi".into()),
            ..Default::default()
        };
        let m = serde_json::to_string(&JobMetadata {
            agent_config: &cfg,
            inbound_trunk_id: "ST_x",
            agent_number: "+15550100",
        })
        .unwrap();
        assert_eq!(
            m,
            r#"{"agent_config":{"llm":"openai","greeting":"Hi"},"inbound_trunk_id":"ST_x","agent_number":"+15550100"}"#
        );
    }
}
