//! Logging in and out.
//!
//! The login form takes an API key and its secret, or the admin password when
//! `[dashboard] admin_password` is set. Credentials are compared in constant time (as
//! SHA-256 digests, so lengths leak nothing either). A client address that fails
//! [`MAX_FAILURES`] times within [`WINDOW`] is refused with `429` until the window ends.
//! The form carries a per-browser token (double-submit: a `SameSite=Strict` cookie and a
//! hidden field) so another site cannot log a victim into an attacker's session.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::Extension;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::form::Fields;
use super::guard::{now_ms, same_origin, session_of};
use super::html::{bare_page, esc, notice};
use super::session::{Session, clear_cookie, set_cookie};
use crate::http::App;

/// Failed logins allowed per client address per [`WINDOW`].
pub const MAX_FAILURES: u32 = 10;
pub const WINDOW: Duration = Duration::from_secs(300);
/// Addresses tracked at most; beyond, stale entries are dropped and new ones share a bucket.
const MAX_TRACKED: usize = 10_000;
const LOGIN_COOKIE: &str = "sb_login";

/// Failed logins per client address.
#[derive(Default)]
pub struct Limiter {
    failures: Mutex<HashMap<IpAddr, (u32, Instant)>>,
}

impl Limiter {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, (u32, Instant)>> {
        self.failures.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `Err(wait)` while `ip` is locked out.
    pub fn check(&self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        match self.lock().get(&ip) {
            Some((n, since)) if *n >= MAX_FAILURES && now.duration_since(*since) < WINDOW => {
                Err(WINDOW - now.duration_since(*since))
            }
            _ => Ok(()),
        }
    }

    pub fn failed(&self, ip: IpAddr, now: Instant) {
        let mut m = self.lock();
        if m.len() >= MAX_TRACKED && !m.contains_key(&ip) {
            m.retain(|_, (_, since)| now.duration_since(*since) < WINDOW);
        }
        let ip = if m.len() >= MAX_TRACKED && !m.contains_key(&ip) {
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        } else {
            ip
        };
        let e = m.entry(ip).or_insert((0, now));
        if now.duration_since(e.1) >= WINDOW {
            *e = (0, now);
        }
        e.0 += 1;
    }

    pub fn succeeded(&self, ip: IpAddr) {
        self.lock().remove(&ip);
    }
}

fn digest(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

fn ct_eq(a: &str, b: &str) -> bool {
    bool::from(digest(a).ct_eq(&digest(b)))
}

/// Who the credentials belong to, checking every candidate so timing says nothing.
fn authenticate(app: &App, key: &str, secret: &str, password: &str) -> Option<String> {
    let d = &app.dashboard;
    if !password.is_empty() {
        let configured = d.admin_password.as_deref().unwrap_or_default();
        let ok = ct_eq(password, configured) & !configured.is_empty();
        return ok.then(|| "admin".to_string());
    }
    let mut found = None;
    for (k, s) in &d.keys {
        let ok = ct_eq(key, k) & ct_eq(secret, s);
        if ok && found.is_none() {
            found = Some(format!("key:{k}"));
        }
    }
    found
}

/// `next` if it is a dashboard page of this server, else the rules list.
fn safe_next(next: &str) -> String {
    if next.starts_with("/dashboard/")
        && !next.starts_with("//")
        && !next.contains("://")
        && !next.contains('\\')
        && !next.starts_with("/dashboard/login")
    {
        next.to_string()
    } else {
        "/dashboard/rules".to_string()
    }
}

fn login_cookie_of(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == LOGIN_COOKIE)
        .map(|(_, value)| value.trim().to_string())
}

fn form(app: &App, token: &str, next: &str, key: &str, error: Option<&str>) -> String {
    let password = if app.dashboard.admin_password.is_some() {
        "<fieldset><legend>Or the admin password</legend>\
<label>Admin password <input type=\"password\" name=\"password\" autocomplete=\"current-password\"></label></fieldset>"
    } else {
        ""
    };
    format!(
        "<h1>switchboard</h1><p>Log in with an API key and its secret.</p>{err}\
<form method=\"post\" action=\"/dashboard/login\" class=\"stack\" id=\"login-form\">\
<input type=\"hidden\" name=\"login_token\" value=\"{token}\">\
<input type=\"hidden\" name=\"next\" value=\"{next}\">\
<label>API key <input name=\"api_key\" value=\"{key}\" autocomplete=\"username\"></label>\
<label>API secret <input type=\"password\" name=\"api_secret\" autocomplete=\"current-password\"></label>\
{password}<button type=\"submit\">Log in</button></form>",
        err = error.map(|e| notice("error", e)).unwrap_or_default(),
        token = esc(token),
        next = esc(next),
        key = esc(key),
    )
}

/// Shows the form with a fresh per-browser token in a cookie.
fn render(app: &App, status: StatusCode, next: &str, key: &str, error: Option<&str>) -> Response {
    let token = format!("{:032x}", rand::random::<u128>());
    let mut resp = bare_page("Log in", &form(app, &token, next, key, error));
    *resp.status_mut() = status;
    let cookie = format!(
        "{LOGIN_COOKIE}={token}; Path=/dashboard/login; HttpOnly; SameSite=Strict; Max-Age=3600{}",
        if app.dashboard.secure_cookie {
            "; Secure"
        } else {
            ""
        }
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct NextQuery {
    next: String,
}

/// `GET /dashboard/login`.
pub async fn show(
    State(app): State<App>,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
) -> Response {
    if session_of(&app, &headers).is_some() {
        return Redirect::to(&safe_next(&q.next)).into_response();
    }
    render(&app, StatusCode::OK, &safe_next(&q.next), "", None)
}

fn client_ip(info: Option<Extension<ConnectInfo<SocketAddr>>>) -> IpAddr {
    info.map(|Extension(ConnectInfo(a))| a.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

/// `POST /dashboard/login`.
pub async fn submit(
    State(app): State<App>,
    headers: HeaderMap,
    info: Option<Extension<ConnectInfo<SocketAddr>>>,
    body: String,
) -> Response {
    let f = Fields::parse(&body);
    let next = safe_next(&f.get("next"));
    let key = f.get("api_key");
    if !same_origin(&headers) {
        return render(
            &app,
            StatusCode::FORBIDDEN,
            &next,
            &key,
            Some("refused: the login form was posted from another site"),
        );
    }
    let token = f.raw("login_token");
    let cookie = login_cookie_of(&headers).unwrap_or_default();
    if token.is_empty() || !ct_eq(&token, &cookie) {
        return render(
            &app,
            StatusCode::FORBIDDEN,
            &next,
            &key,
            Some("the login form expired (or cookies are blocked); try again"),
        );
    }
    let ip = client_ip(info);
    let now = Instant::now();
    if let Err(wait) = app.dashboard.limiter.check(ip, now) {
        return render(
            &app,
            StatusCode::TOO_MANY_REQUESTS,
            &next,
            &key,
            Some(&format!(
                "too many failed logins from your address; try again in {} s",
                wait.as_secs().max(1)
            )),
        );
    }
    let password = f.raw("password");
    let secret = f.raw("api_secret");
    if password.is_empty() && (key.is_empty() || secret.is_empty()) {
        return render(
            &app,
            StatusCode::BAD_REQUEST,
            &next,
            &key,
            Some("give an API key and its secret (or the admin password)"),
        );
    }
    let Some(subject) = authenticate(&app, &key, &secret, &password) else {
        app.dashboard.limiter.failed(ip, now);
        tracing::warn!(client = %ip, "dashboard login failed");
        return render(
            &app,
            StatusCode::UNAUTHORIZED,
            &next,
            &key,
            Some("wrong API key and secret, or wrong admin password"),
        );
    };
    app.dashboard.limiter.succeeded(ip);
    let (session, value) = app.dashboard.sessions.issue(&subject, now_ms());
    tracing::info!(client = %ip, who = %session.subject, "dashboard login");
    let mut resp = Redirect::to(&next).into_response();
    let max_age = app.dashboard.sessions.ttl_ms() / 1000;
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&set_cookie(&value, max_age, app.dashboard.secure_cookie))
    {
        h.append(header::SET_COOKIE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{LOGIN_COOKIE}=; Path=/dashboard/login; HttpOnly; SameSite=Strict; Max-Age=0"
    )) {
        h.append(header::SET_COOKIE, v);
    }
    resp
}

/// `POST /dashboard/logout`.
pub async fn logout(State(app): State<App>, Extension(session): Extension<Session>) -> Response {
    app.dashboard.sessions.revoke(&session, now_ms());
    let mut resp = Redirect::to("/dashboard/login").into_response();
    if let Ok(v) = HeaderValue::from_str(&clear_cookie(app.dashboard.secure_cookie)) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_locks_out_after_failures_and_forgets_after_the_window() {
        let l = Limiter::default();
        let ip: IpAddr = "203.0.113.5".parse().expect("ip");
        let other: IpAddr = "203.0.113.6".parse().expect("ip");
        let t0 = Instant::now();
        for _ in 0..MAX_FAILURES {
            assert!(l.check(ip, t0).is_ok());
            l.failed(ip, t0);
        }
        assert!(l.check(ip, t0).is_err());
        assert!(l.check(other, t0).is_ok());
        assert!(l.check(ip, t0 + WINDOW).is_ok());
        l.succeeded(ip);
        assert!(l.check(ip, t0).is_ok());
    }

    #[test]
    fn next_stays_on_the_dashboard() {
        assert_eq!(safe_next("/dashboard/live"), "/dashboard/live");
        assert_eq!(safe_next("/dashboard/rules?q=a"), "/dashboard/rules?q=a");
        for bad in [
            "https://evil.example/",
            "//evil.example",
            "/api/v1/calls",
            "/dashboard/login",
            "/dashboard/\\evil",
            "",
        ] {
            assert_eq!(safe_next(bad), "/dashboard/rules", "{bad}");
        }
    }
}
