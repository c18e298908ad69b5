//! API authentication: `Authorization: Bearer <HS256 JWT>` whose `iss` is a configured API
//! key, checked for signature, `exp` and `nbf` (60 s leeway) and for the grant a route needs.

use std::collections::BTreeMap;

use axum::http::HeaderMap;
use livekit_token::{Claims, TokenVerifier};

use super::error::{ApiError, Code};

/// The configured API keys and their secrets.
#[derive(Clone, Default)]
pub struct Keys {
    keys: BTreeMap<String, String>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.keys.keys()).finish()
    }
}

/// What a route requires of the token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grant {
    /// `sip.admin`: manage trunks, rules and policies.
    SipAdmin,
    /// `video.agent`: connect an agent worker (LiveKit's agent grant).
    Agent,
}

impl Keys {
    pub fn new(keys: BTreeMap<String, String>) -> Self {
        Keys { keys }
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }

    /// Verifies the bearer token of a request and checks the grant.
    pub fn authorize(&self, headers: &HeaderMap, grant: Grant) -> Result<Claims, ApiError> {
        let value = headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| {
                ApiError::new(
                    Code::Unauthenticated,
                    "missing Authorization header: send `Authorization: Bearer <token>` with a token signed by an API key (mint one with `switchboard token create`)",
                )
            })?
            .to_str()
            .map_err(|_| ApiError::new(Code::Unauthenticated, "the Authorization header is not valid text"))?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .ok_or_else(|| {
                ApiError::new(
                    Code::Unauthenticated,
                    "the Authorization header must be `Bearer <token>`",
                )
            })?
            .trim();
        self.authorize_token(token, grant)
    }

    /// Verifies a token (from a header or a query parameter) and checks the grant.
    pub fn authorize_token(&self, token: &str, grant: Grant) -> Result<Claims, ApiError> {
        let claims = self.verify(token)?;
        match grant {
            Grant::SipAdmin if !claims.sip.admin => Err(ApiError::new(
                Code::PermissionDenied,
                format!(
                    "the token of API key {:?} lacks the sip.admin grant that managing trunks and dispatch rules needs; mint one with `switchboard token create` or set sip.admin in your SDK's AccessToken",
                    claims.iss
                ),
            )),
            Grant::Agent if !claims.video.agent => Err(ApiError::new(
                Code::PermissionDenied,
                format!(
                    "the token of API key {:?} lacks the agent grant that agent workers need; set video.agent = true (VideoGrants(agent=True) in the LiveKit SDKs)",
                    claims.iss
                ),
            )),
            _ => Ok(claims),
        }
    }

    /// Verifies a token's signature and validity period.
    pub fn verify(&self, token: &str) -> Result<Claims, ApiError> {
        let unverified = Claims::from_unverified(token).map_err(|e| {
            ApiError::new(
                Code::Unauthenticated,
                format!("invalid authorization token: {e}"),
            )
        })?;
        let secret = self.keys.get(&unverified.iss).ok_or_else(|| {
            ApiError::new(
                Code::Unauthenticated,
                format!(
                    "invalid API key {:?}: the token's issuer is not one of this server's API keys",
                    unverified.iss
                ),
            )
        })?;
        TokenVerifier::with_api_key(&unverified.iss, secret)
            .verify(token)
            .map_err(|e| {
                // livekit-token wraps jsonwebtoken's error kinds; its Display says only
                // "failed to encode jwt", so read the kind from the Debug form.
                let kind = format!("{e:?}");
                let hint = if kind.contains("ExpiredSignature") {
                    "the token has expired; mint a new one"
                } else if kind.contains("ImmatureSignature") {
                    "the token is not valid yet (nbf is in the future); check the clock of the machine that minted it"
                } else if kind.contains("InvalidSignature") {
                    "the signature does not verify: the token was signed with another secret than this API key's"
                } else if kind.contains("InvalidAlgorithm") {
                    "the token must be signed with HS256"
                } else if kind.contains("MissingRequiredClaim") {
                    "the token lacks a required claim (exp)"
                } else {
                    "the token could not be verified"
                };
                ApiError::new(Code::Unauthenticated, format!("invalid authorization token: {hint}"))
            })
    }
}
