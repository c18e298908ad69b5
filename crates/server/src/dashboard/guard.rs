//! The gate in front of every dashboard page: a valid session cookie, and for `POST` a
//! same-origin request carrying the session's CSRF token.
//!
//! Without a session, pages redirect to the login page (remembering where the user was
//! going) and the event stream answers `401`. A `POST` whose `Origin` header names another
//! site, or whose form lacks the right `csrf` field (or `X-CSRF-Token` header), is refused
//! with `403` before any handler runs. The parsed form is handed to the handler as
//! [`Fields`] so it is read once.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use super::form::Fields;
use super::html;
use super::session::{Session, Sessions, cookie_value};
use crate::http::{App, MAX_BODY_BYTES};

pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// The session of a request, if its cookie verifies.
pub fn session_of(app: &App, headers: &HeaderMap) -> Option<Session> {
    let value = cookie_value(headers)?;
    app.dashboard.sessions.verify(value, now_ms()).ok()
}

/// Whether the request's `Origin` (when present) is this server, as named by `Host`.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let authority = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    authority.is_some_and(|a| a.eq_ignore_ascii_case(host))
}

/// The login URL that brings the user back to `uri` afterwards.
fn login_redirect(uri: &axum::http::Uri) -> Response {
    let back = uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/dashboard/rules");
    Redirect::to(&format!("/dashboard/login?next={}", html::url_enc(back))).into_response()
}

pub async fn require_session(State(app): State<App>, req: Request, next: Next) -> Response {
    let Some(session) = session_of(&app, req.headers()) else {
        if req.uri().path() == "/dashboard/events" {
            return html::text(
                StatusCode::UNAUTHORIZED,
                "not logged in: log in at /dashboard/login",
            );
        }
        if req.method() == Method::GET {
            return login_redirect(req.uri());
        }
        // A form posted after the session ended: send the user to log in again.
        return Redirect::to("/dashboard/login").into_response();
    };
    if req.method() != Method::POST {
        let mut req = req;
        req.extensions_mut().insert(session);
        return html::harden(next.run(req).await);
    }
    if !same_origin(req.headers()) {
        return html::text(
            StatusCode::FORBIDDEN,
            "refused: this form was posted from another site (Origin does not match this server)",
        );
    }
    let (mut parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(_) => {
            return html::text(
                StatusCode::PAYLOAD_TOO_LARGE,
                "the form is larger than this server accepts",
            );
        }
    };
    let fields = Fields::parse(&String::from_utf8_lossy(&bytes));
    let header_token = parts
        .headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let token = header_token.unwrap_or_else(|| fields.raw("csrf"));
    if !Sessions::csrf_ok(&session, &token) {
        return html::text(
            StatusCode::FORBIDDEN,
            "refused: the form's security token is missing or belongs to another session; reload the page and submit it again",
        );
    }
    parts.extensions.insert(session);
    parts.extensions.insert(fields);
    let req = Request::from_parts(parts, Body::from(bytes));
    html::harden(next.run(req).await)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn origin_must_match_host() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:7880"));
        assert!(
            same_origin(&h),
            "no Origin: allowed (SameSite cookie and token still apply)"
        );
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:7880"),
        );
        assert!(same_origin(&h));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://evil.example"),
        );
        assert!(!same_origin(&h));
        h.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(!same_origin(&h));
    }
}
