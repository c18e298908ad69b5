//! The LiveKit-compatible Twirp service `livekit.SIP` at `POST /twirp/livekit.SIP/<Method>`.
//!
//! Requests are `application/protobuf` or `application/json` (protobuf-JSON: snake_case and
//! camelCase names accepted); the answer uses the request's encoding. Errors are Twirp JSON
//! bodies. Inbound trunks and dispatch rules are implemented; outbound trunks and
//! participants answer `unimplemented`.

// The deprecated flat fields of CreateSIPDispatchRule and the legacy media_encryption
// fields are part of the wire contract the SDKs still use.
#![allow(deprecated)]

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use livekit_protocol as lk;
use prost::Message;
use serde::Serialize;
use serde::de::DeserializeOwned;
use switchboard_dispatch::number::NumberPattern;

use super::App;
use super::auth::Grant;
use super::error::ErrorBody;
use super::error::{ApiError, Code};
use super::list_update;
use crate::service::ServiceError;

/// The wire encoding of a request, used for the answer too.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Encoding {
    Json,
    Protobuf,
}

fn encoding(headers: &HeaderMap) -> Result<Encoding, ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "application/json" => Ok(Encoding::Json),
        "application/protobuf" | "application/x-protobuf" => Ok(Encoding::Protobuf),
        _ => Err(ApiError::new(
            Code::BadRoute,
            format!(
                "unexpected Content-Type {ct:?}: send application/protobuf or application/json"
            ),
        )),
    }
}

fn decode<M: Message + Default + DeserializeOwned>(
    enc: Encoding,
    body: &[u8],
) -> Result<M, ApiError> {
    match enc {
        Encoding::Protobuf => M::decode(body).map_err(|e| {
            ApiError::new(
                Code::Malformed,
                format!("the request body is not a valid protobuf message: {e}"),
            )
        }),
        Encoding::Json => {
            let body = if body.iter().all(u8::is_ascii_whitespace) {
                b"{}".as_slice()
            } else {
                body
            };
            serde_json::from_slice(body).map_err(|e| {
                ApiError::new(
                    Code::Malformed,
                    format!("the request body is not valid JSON for this method: {e}"),
                )
            })
        }
    }
}

fn encode<M: Message + Serialize>(enc: Encoding, m: &M) -> Response {
    match enc {
        Encoding::Protobuf => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/protobuf"),
            )],
            m.encode_to_vec(),
        )
            .into_response(),
        Encoding::Json => match serde_json::to_value(m).map(|mut v| {
            zulu_timestamps(&mut v);
            v
        }) {
            Ok(body) => (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                body.to_string(),
            )
                .into_response(),
            Err(e) => ApiError::new(Code::Internal, format!("could not encode the answer: {e}"))
                .into_response(),
        },
    }
}

/// Rewrites protobuf-JSON timestamps from `+00:00` to `Z`, the form proto3 JSON specifies
/// and some clients (protobuf-es, used by the Node SDK) require.
fn zulu_timestamps(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                if k.ends_with("At")
                    && let serde_json::Value::String(s) = child
                    && let Some(base) = s.strip_suffix("+00:00")
                {
                    *s = format!("{base}Z");
                } else {
                    zulu_timestamps(child);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(zulu_timestamps),
        _ => {}
    }
}

/// `POST /twirp/livekit.SIP/{method}`.
#[utoipa::path(post, path = "/twirp/livekit.SIP/{method}", tag = "livekit.SIP", params(("method" = String, Path, description = "a livekit.SIP method: CreateSIPInboundTrunk, UpdateSIPInboundTrunk, GetSIPInboundTrunk, ListSIPInboundTrunk, DeleteSIPTrunk, ListSIPTrunk, CreateSIPDispatchRule, UpdateSIPDispatchRule, ListSIPDispatchRule, DeleteSIPDispatchRule")), request_body(content = Vec<u8>, description = "the method's request message, as application/protobuf or protobuf-JSON (application/json)", content_type = "application/protobuf"), security(("bearer" = [])), responses((status = 200, description = "the method's response message, in the request's encoding"), (status = 404, description = "bad_route", body = ErrorBody), (status = 409, description = "already_exists", body = ErrorBody), (status = 501, description = "unimplemented", body = ErrorBody), (status = 400, description = "invalid_argument or malformed", body = ErrorBody), (status = 401, description = "unauthenticated", body = ErrorBody), (status = 403, description = "permission_denied", body = ErrorBody)))]
pub async fn handle(
    State(app): State<App>,
    Path(method): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match dispatch(&app, &method, &headers, body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn dispatch(
    app: &App,
    method: &str,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    const UNIMPLEMENTED: &[&str] = &[
        "CreateSIPTrunk",
        "CreateSIPOutboundTrunk",
        "UpdateSIPOutboundTrunk",
        "GetSIPOutboundTrunk",
        "ListSIPOutboundTrunk",
        "CreateSIPParticipant",
        "TransferSIPParticipant",
    ];
    const KNOWN: &[&str] = &[
        "CreateSIPInboundTrunk",
        "UpdateSIPInboundTrunk",
        "GetSIPInboundTrunk",
        "ListSIPInboundTrunk",
        "DeleteSIPTrunk",
        "ListSIPTrunk",
        "CreateSIPDispatchRule",
        "UpdateSIPDispatchRule",
        "ListSIPDispatchRule",
        "DeleteSIPDispatchRule",
    ];
    if UNIMPLEMENTED.contains(&method) {
        return Err(ApiError::new(
            Code::Unimplemented,
            format!(
                "{method} is not implemented: switchboard routes inbound calls only (outbound trunks, outbound calls and transfers are not supported)"
            ),
        ));
    }
    if !KNOWN.contains(&method) {
        return Err(ApiError::new(
            Code::BadRoute,
            format!("no method {method:?} in service livekit.SIP"),
        ));
    }
    let enc = encoding(headers)?;
    app.keys.authorize(headers, Grant::SipAdmin)?;
    let body = body.map_err(|e| {
        if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                Code::ResourceExhausted,
                format!(
                    "the request body is larger than the {} byte limit",
                    super::MAX_BODY_BYTES
                ),
            )
        } else {
            ApiError::new(
                Code::Malformed,
                format!("could not read the request body: {e}"),
            )
        }
    })?;
    let svc = &app.service;
    Ok(match method {
        "CreateSIPInboundTrunk" => {
            let req: lk::CreateSipInboundTrunkRequest = decode(enc, &body)?;
            let trunk = req
                .trunk
                .ok_or_else(|| ApiError::invalid("missing trunk: send {\"trunk\": {...}}"))?;
            encode(enc, &svc.create_trunk(trunk).await?)
        }
        "UpdateSIPInboundTrunk" => {
            let req: lk::UpdateSipInboundTrunkRequest = decode(enc, &body)?;
            encode(enc, &update_trunk(svc, req).await?)
        }
        "GetSIPInboundTrunk" => {
            let req: lk::GetSipInboundTrunkRequest = decode(enc, &body)?;
            if req.sip_trunk_id.is_empty() {
                return Err(ApiError::invalid("sip_trunk_id is required"));
            }
            let trunk = svc.get_trunk(&req.sip_trunk_id).await?;
            encode(enc, &lk::GetSipInboundTrunkResponse { trunk: Some(trunk) })
        }
        "ListSIPInboundTrunk" => {
            let req: lk::ListSipInboundTrunkRequest = decode(enc, &body)?;
            let filters: Vec<NumberPattern> = req
                .numbers
                .iter()
                .map(|n| NumberPattern::parse(n))
                .collect();
            let items = svc
                .list_trunks()
                .await
                .into_iter()
                .filter(|t| req.trunk_ids.is_empty() || req.trunk_ids.contains(&t.sip_trunk_id))
                .filter(|t| {
                    filters.is_empty() || t.numbers.is_empty() || serves_any(&t.numbers, &filters)
                })
                .collect::<Vec<_>>();
            let items = paginate(items, req.page.as_ref(), |t| &t.sip_trunk_id);
            encode(enc, &lk::ListSipInboundTrunkResponse { items })
        }
        "ListSIPTrunk" => {
            // Deprecated: inbound trunks in the legacy SIPTrunkInfo shape.
            let req: lk::ListSipTrunkRequest = decode(enc, &body)?;
            let items = paginate(svc.list_trunks().await, req.page.as_ref(), |t| {
                &t.sip_trunk_id
            })
            .into_iter()
            .map(legacy_trunk)
            .collect();
            encode(enc, &lk::ListSipTrunkResponse { items })
        }
        "DeleteSIPTrunk" => {
            let req: lk::DeleteSipTrunkRequest = decode(enc, &body)?;
            if req.sip_trunk_id.is_empty() {
                return Err(ApiError::invalid("sip_trunk_id is required"));
            }
            let t = svc.delete_trunk(&req.sip_trunk_id).await?;
            encode(enc, &legacy_trunk(t))
        }
        "CreateSIPDispatchRule" => {
            let req: lk::CreateSipDispatchRuleRequest = decode(enc, &body)?;
            encode(enc, &svc.create_rule(rule_from_create(req)?).await?)
        }
        "UpdateSIPDispatchRule" => {
            let req: lk::UpdateSipDispatchRuleRequest = decode(enc, &body)?;
            encode(enc, &update_rule(svc, req).await?)
        }
        "ListSIPDispatchRule" => {
            let req: lk::ListSipDispatchRuleRequest = decode(enc, &body)?;
            let items = svc
                .list_rules()
                .await
                .into_iter()
                .filter(|r| {
                    req.dispatch_rule_ids.is_empty()
                        || req.dispatch_rule_ids.contains(&r.sip_dispatch_rule_id)
                })
                .filter(|r| {
                    req.trunk_ids.is_empty()
                        || r.trunk_ids.is_empty()
                        || r.trunk_ids.iter().any(|t| req.trunk_ids.contains(t))
                })
                .collect::<Vec<_>>();
            let items = paginate(items, req.page.as_ref(), |r| &r.sip_dispatch_rule_id);
            encode(enc, &lk::ListSipDispatchRuleResponse { items })
        }
        "DeleteSIPDispatchRule" => {
            let req: lk::DeleteSipDispatchRuleRequest = decode(enc, &body)?;
            if req.sip_dispatch_rule_id.is_empty() {
                return Err(ApiError::invalid("sip_dispatch_rule_id is required"));
            }
            encode(enc, &svc.delete_rule(&req.sip_dispatch_rule_id).await?)
        }
        _ => unreachable!("method list checked above"),
    })
}

/// An inbound trunk in the deprecated `SIPTrunkInfo` shape.
fn legacy_trunk(t: lk::SipInboundTrunkInfo) -> lk::SipTrunkInfo {
    lk::SipTrunkInfo {
        sip_trunk_id: t.sip_trunk_id,
        kind: lk::sip_trunk_info::TrunkKind::TrunkInbound as i32,
        inbound_addresses: t.allowed_addresses,
        inbound_numbers: t.allowed_numbers,
        outbound_number: t.numbers.first().cloned().unwrap_or_default(),
        inbound_username: t.auth_username,
        inbound_password: t.auth_password,
        name: t.name,
        metadata: t.metadata,
        ..Default::default()
    }
}

/// Whether a trunk's numbers serve any of the filter numbers (normalized; patterns on
/// either side match by prefix).
fn serves_any(numbers: &[String], filters: &[NumberPattern]) -> bool {
    numbers.iter().map(|n| NumberPattern::parse(n)).any(|own| {
        filters.iter().any(|f| match (&own, f) {
            (NumberPattern::Exact(a), NumberPattern::Exact(b)) => a == b,
            (NumberPattern::Prefix(p), NumberPattern::Exact(n))
            | (NumberPattern::Exact(n), NumberPattern::Prefix(p)) => n.starts_with(p.as_str()),
            (NumberPattern::Prefix(a), NumberPattern::Prefix(b)) => a == b,
        })
    })
}

/// Items with id greater than `after_id`, ascending, at most `limit` (0 = all).
fn paginate<T>(
    mut items: Vec<T>,
    page: Option<&lk::Pagination>,
    id: impl Fn(&T) -> &String,
) -> Vec<T> {
    items.sort_by(|a, b| id(a).cmp(id(b)));
    let Some(page) = page else { return items };
    if !page.after_id.is_empty() {
        items.retain(|t| id(t).as_str() > page.after_id.as_str());
    }
    if page.limit > 0 {
        items.truncate(page.limit as usize);
    }
    items
}

fn set_optional(target: &mut String, value: &Option<String>) {
    if let Some(v) = value {
        target.clone_from(v);
    }
}

/// A replace-or-update request, whatever the object.
enum Edit<'a, T, U> {
    Replace(&'a T),
    Update(&'a U),
}

impl<T: Clone, U> Edit<'_, T, U> {
    /// Applies the edit to the stored value.
    fn apply(
        &self,
        stored: &mut T,
        update: fn(&mut T, &U) -> Result<(), ApiError>,
    ) -> Result<(), ApiError> {
        match self {
            Edit::Replace(new) => {
                *stored = (*new).clone();
                Ok(())
            }
            Edit::Update(u) => update(stored, u),
        }
    }
}

/// Carries an [`ApiError`] out of a service edit closure, which can only fail with a
/// [`ServiceError`], so the client gets the edit's own code and message.
#[derive(Default)]
struct EditError(Option<ApiError>);

impl EditError {
    fn capture(&mut self, r: Result<(), ApiError>) -> Result<(), ServiceError> {
        r.map_err(|e| {
            let msg = e.msg.clone();
            self.0 = Some(e);
            ServiceError::invalid("update", msg)
        })
    }

    fn finish<T>(self, r: Result<T, ServiceError>) -> Result<T, ApiError> {
        match (r, self.0) {
            (Err(_), Some(e)) => Err(e),
            (r, _) => Ok(r?),
        }
    }
}

/// The checks both update methods make before editing: an id, an action, and a replace
/// whose own id is empty or the same.
fn check_update<'a, T, U>(
    what: &str,
    id: &str,
    edit: Option<Edit<'a, T, U>>,
    inner_id: impl Fn(&T) -> &str,
) -> Result<Edit<'a, T, U>, ApiError> {
    if id.is_empty() {
        return Err(ApiError::invalid(format!("the {what} id is required")));
    }
    let edit =
        edit.ok_or_else(|| ApiError::invalid("missing update action: send replace or update"))?;
    if let Edit::Replace(t) = &edit {
        let inner = inner_id(t);
        if !inner.is_empty() && inner != id {
            return Err(ApiError::invalid(format!(
                "the {what} id inside replace must be empty or equal to the id being updated"
            )));
        }
    }
    Ok(edit)
}

async fn update_trunk(
    svc: &crate::service::ConfigService,
    req: lk::UpdateSipInboundTrunkRequest,
) -> Result<lk::SipInboundTrunkInfo, ApiError> {
    use lk::update_sip_inbound_trunk_request::Action;
    let edit = req.action.as_ref().map(|a| match a {
        Action::Replace(t) => Edit::Replace(t),
        Action::Update(u) => Edit::Update(u),
    });
    let edit = check_update("trunk", &req.sip_trunk_id, edit, |t| &t.sip_trunk_id)?;
    let mut error = EditError::default();
    let result = svc
        .update_trunk(&req.sip_trunk_id, |t| {
            error.capture(edit.apply(t, apply_trunk_update))
        })
        .await;
    error.finish(result)
}

fn apply_trunk_update(
    t: &mut lk::SipInboundTrunkInfo,
    u: &lk::SipInboundTrunkUpdate,
) -> Result<(), ApiError> {
    if let Some(l) = &u.numbers {
        list_update::apply("numbers", &mut t.numbers, l)?;
    }
    if let Some(l) = &u.allowed_addresses {
        list_update::apply("allowed_addresses", &mut t.allowed_addresses, l)?;
    }
    if let Some(l) = &u.allowed_numbers {
        list_update::apply("allowed_numbers", &mut t.allowed_numbers, l)?;
    }
    set_optional(&mut t.auth_username, &u.auth_username);
    set_optional(&mut t.auth_password, &u.auth_password);
    set_optional(&mut t.auth_realm, &u.auth_realm);
    set_optional(&mut t.name, &u.name);
    set_optional(&mut t.metadata, &u.metadata);
    if let Some(e) = u.media_encryption {
        t.media_encryption = e;
    }
    if let Some(m) = &u.media {
        t.media = Some(m.clone());
    }
    Ok(())
}

/// The rule a create request describes: the `dispatch_rule` form, or the deprecated flat
/// fields (what the Node SDK sends).
fn rule_from_create(
    req: lk::CreateSipDispatchRuleRequest,
) -> Result<lk::SipDispatchRuleInfo, ApiError> {
    if let Some(r) = req.dispatch_rule {
        if !r.sip_dispatch_rule_id.is_empty() {
            return Err(ApiError::invalid(
                "sip_dispatch_rule_id must be empty when creating a dispatch rule: switchboard assigns it",
            ));
        }
        return Ok(r);
    }
    if req.rule.is_none() {
        return Err(ApiError::invalid(
            "missing rule: send dispatch_rule with one of dispatch_rule_direct, dispatch_rule_individual or dispatch_rule_callee",
        ));
    }
    Ok(lk::SipDispatchRuleInfo {
        rule: req.rule,
        trunk_ids: req.trunk_ids,
        hide_phone_number: req.hide_phone_number,
        inbound_numbers: req.inbound_numbers,
        name: req.name,
        metadata: req.metadata,
        attributes: req.attributes,
        room_preset: req.room_preset,
        room_config: req.room_config,
        ..Default::default()
    })
}

async fn update_rule(
    svc: &crate::service::ConfigService,
    req: lk::UpdateSipDispatchRuleRequest,
) -> Result<lk::SipDispatchRuleInfo, ApiError> {
    use lk::update_sip_dispatch_rule_request::Action;
    let edit = req.action.as_ref().map(|a| match a {
        Action::Replace(r) => Edit::Replace(r),
        Action::Update(u) => Edit::Update(u),
    });
    let edit = check_update("dispatch rule", &req.sip_dispatch_rule_id, edit, |r| {
        &r.sip_dispatch_rule_id
    })?;
    let mut error = EditError::default();
    let result = svc
        .update_rule(&req.sip_dispatch_rule_id, |r| {
            error.capture(edit.apply(r, apply_rule_update))
        })
        .await;
    error.finish(result)
}

fn apply_rule_update(
    r: &mut lk::SipDispatchRuleInfo,
    u: &lk::SipDispatchRuleUpdate,
) -> Result<(), ApiError> {
    if let Some(l) = &u.trunk_ids {
        list_update::apply("trunk_ids", &mut r.trunk_ids, l)?;
    }
    if let Some(rule) = &u.rule {
        r.rule = Some(rule.clone());
    }
    set_optional(&mut r.name, &u.name);
    set_optional(&mut r.metadata, &u.metadata);
    for (k, v) in &u.attributes {
        if v.is_empty() {
            r.attributes.remove(k);
        } else {
            r.attributes.insert(k.clone(), v.clone());
        }
    }
    if let Some(e) = u.media_encryption {
        r.media_encryption = e;
    }
    if let Some(m) = &u.media {
        r.media = Some(m.clone());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_timestamps_end_in_z() {
        let mut v = serde_json::json!({"createdAt": "2026-11-21T06:52:06.295+00:00", "items": [{"updatedAt": "2026-01-01T00:00:00+00:00", "name": "x+00:00"}]});
        zulu_timestamps(&mut v);
        assert_eq!(v["createdAt"], "2026-11-21T06:52:06.295Z");
        assert_eq!(v["items"][0]["updatedAt"], "2026-01-01T00:00:00Z");
        assert_eq!(v["items"][0]["name"], "x+00:00");
    }

    #[test]
    fn pagination_walks_in_id_order() {
        let items: Vec<String> = ["c", "a", "d", "b"].iter().map(|s| s.to_string()).collect();
        let page = |after: &str, limit| lk::Pagination {
            after_id: after.into(),
            limit,
        };
        assert_eq!(paginate(items.clone(), None, |s| s), ["a", "b", "c", "d"]);
        assert_eq!(
            paginate(items.clone(), Some(&page("", 2)), |s| s),
            ["a", "b"]
        );
        assert_eq!(
            paginate(items.clone(), Some(&page("b", 2)), |s| s),
            ["c", "d"]
        );
        assert_eq!(
            paginate(items.clone(), Some(&page("d", 2)), |s| s),
            Vec::<String>::new()
        );
        assert_eq!(paginate(items, Some(&page("a", 0)), |s| s), ["b", "c", "d"]);
    }

    #[test]
    fn number_filters_are_normalized_and_match_patterns() {
        let f = |n: &[&str]| {
            n.iter()
                .map(|s| NumberPattern::parse(s))
                .collect::<Vec<_>>()
        };
        let own = vec!["+15550100".to_string(), "+1777*".to_string()];
        assert!(serves_any(&own, &f(&["1 555 0100"])));
        assert!(serves_any(&own, &f(&["+17770000"])));
        assert!(!serves_any(&own, &f(&["+15550101"])));
    }
}
