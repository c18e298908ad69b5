//! API errors in Twirp's shape: `{"code", "msg", "meta"}` with the HTTP status Twirp assigns
//! to the code. The native `/api/v1` API answers errors in the same shape.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::service::ServiceError;

/// A Twirp error code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    InvalidArgument,
    Malformed,
    Unauthenticated,
    PermissionDenied,
    NotFound,
    BadRoute,
    AlreadyExists,
    ResourceExhausted,
    Unimplemented,
    Unavailable,
    Internal,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::InvalidArgument => "invalid_argument",
            Code::Malformed => "malformed",
            Code::Unauthenticated => "unauthenticated",
            Code::PermissionDenied => "permission_denied",
            Code::NotFound => "not_found",
            Code::BadRoute => "bad_route",
            Code::AlreadyExists => "already_exists",
            Code::ResourceExhausted => "resource_exhausted",
            Code::Unimplemented => "unimplemented",
            Code::Unavailable => "unavailable",
            Code::Internal => "internal",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            Code::InvalidArgument | Code::Malformed => StatusCode::BAD_REQUEST,
            Code::Unauthenticated => StatusCode::UNAUTHORIZED,
            Code::PermissionDenied => StatusCode::FORBIDDEN,
            Code::NotFound | Code::BadRoute => StatusCode::NOT_FOUND,
            Code::AlreadyExists => StatusCode::CONFLICT,
            // Twirp maps resource_exhausted to 429; we only use it for oversized bodies.
            Code::ResourceExhausted => StatusCode::PAYLOAD_TOO_LARGE,
            Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
            Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Code::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// The error body every API answers with, for the OpenAPI document.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ErrorBody {
    /// Twirp error code, e.g. `invalid_argument`, `not_found`, `already_exists`.
    pub code: String,
    /// What was wrong and how to fix it.
    pub msg: String,
    /// Details such as `field` or `existing_id`.
    pub meta: std::collections::BTreeMap<String, String>,
}

/// An error answer.
#[derive(Clone, Debug)]
pub struct ApiError {
    pub code: Code,
    pub msg: String,
    pub meta: BTreeMap<String, String>,
}

impl ApiError {
    pub fn new(code: Code, msg: impl Into<String>) -> Self {
        ApiError {
            code,
            msg: msg.into(),
            meta: BTreeMap::new(),
        }
    }

    pub fn with_meta(mut self, key: &str, value: impl Into<String>) -> Self {
        self.meta.insert(key.to_string(), value.into());
        self
    }

    pub fn invalid(msg: impl Into<String>) -> Self {
        ApiError::new(Code::InvalidArgument, msg)
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        let msg = e.to_string();
        match e {
            ServiceError::Invalid { field, .. } => {
                ApiError::new(Code::InvalidArgument, msg).with_meta("field", field)
            }
            ServiceError::Conflict { existing_id, .. } => {
                ApiError::new(Code::AlreadyExists, msg).with_meta("existing_id", existing_id)
            }
            ServiceError::NotFound { id, .. } => {
                ApiError::new(Code::NotFound, msg).with_meta("id", id)
            }
            ServiceError::Unavailable(_) => ApiError::new(Code::Unavailable, msg),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "code": self.code.as_str(),
            "msg": self.msg,
            "meta": self.meta,
        });
        (self.code.status(), axum::Json(body)).into_response()
    }
}
