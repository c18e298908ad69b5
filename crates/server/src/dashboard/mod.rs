//! The web dashboard served at `/` (SPEC §7): server-rendered HTML pages with a little
//! vanilla JavaScript, behind a login.
//!
//! * Login with an API key and its secret, or with `[dashboard] admin_password`; the
//!   session is a signed, HTTP-only, `SameSite=Strict` cookie with an expiry
//!   ([`session`]). Failed logins are limited per client address ([`login`]).
//! * Every page under `/dashboard/` but the login page and the static assets needs a
//!   session; without one a page redirects to the login page and the event stream answers
//!   `401` ([`guard`]). Every `POST` must carry the session's CSRF token, and its `Origin`,
//!   when sent, must be this server.
//! * Pages: inbound rules ([`rules`], create form in [`route_form`]), route detail
//!   ([`route_detail`]), trunks, agents, live calls (with hang-up), calls search and
//!   explain.
//! * Live figures: the browser subscribes to `/dashboard/events` (server-sent events,
//!   [`events`]), pushed when a call on this node changes state, and re-reads the parts of
//!   the page marked `data-refresh`.
//!
//! The API (`/twirp`, `/api/v1`) is unaffected: it still takes only bearer tokens.

mod agents;
mod calls;
mod events;
mod explain;
pub mod form;
mod guard;
pub mod html;
mod live;
mod login;
mod route_detail;
mod route_form;
mod rules;
pub mod session;
pub mod status;
mod trunks;

use std::collections::BTreeMap;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::http::App;

/// `[dashboard]` settings, resolved.
#[derive(Clone, Default)]
pub struct DashboardSettings {
    /// Lets `admin` log in with this password (besides API key + secret).
    pub admin_password: Option<String>,
    /// Key material of the session cookies; default: derived from the API keys and the
    /// admin password.
    pub session_secret: Option<String>,
    /// Session lifetime.
    pub session_hours: u32,
    /// Mark the cookie `Secure` (serve the dashboard over HTTPS, e.g. behind a proxy).
    pub secure_cookie: bool,
}

impl std::fmt::Debug for DashboardSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DashboardSettings")
            .field(
                "admin_password",
                &self.admin_password.as_ref().map(|_| "***"),
            )
            .field(
                "session_secret",
                &self.session_secret.as_ref().map(|_| "***"),
            )
            .field("session_hours", &self.session_hours)
            .field("secure_cookie", &self.secure_cookie)
            .finish()
    }
}

/// Default session lifetime.
pub const DEFAULT_SESSION_HOURS: u32 = 12;

/// The dashboard's own state, shared by its handlers.
pub struct Dashboard {
    pub sessions: session::Sessions,
    /// API key → secret: who may log in.
    keys: BTreeMap<String, String>,
    admin_password: Option<String>,
    secure_cookie: bool,
    limiter: login::Limiter,
}

impl Dashboard {
    pub fn new(settings: &DashboardSettings, keys: &BTreeMap<String, String>) -> Dashboard {
        let key = match &settings.session_secret {
            Some(s) => session::derive_key(&[b"configured", s.as_bytes()]),
            None => {
                let mut material: Vec<&[u8]> = vec![b"derived"];
                for (k, s) in keys {
                    material.push(k.as_bytes());
                    material.push(s.as_bytes());
                }
                if let Some(p) = &settings.admin_password {
                    material.push(b"admin");
                    material.push(p.as_bytes());
                }
                session::derive_key(&material)
            }
        };
        let hours = if settings.session_hours == 0 {
            DEFAULT_SESSION_HOURS
        } else {
            settings.session_hours
        };
        Dashboard {
            sessions: session::Sessions::new(key, i64::from(hours) * 3_600_000),
            keys: keys.clone(),
            admin_password: settings.admin_password.clone(),
            secure_cookie: settings.secure_cookie,
            limiter: login::Limiter::default(),
        }
    }
}

const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    resp
}

/// The dashboard's routes, to merge into the HTTP application.
pub fn router(app: App) -> Router<App> {
    let protected = Router::new()
        .route("/dashboard/rules", get(rules::list))
        .route(
            "/dashboard/rules/new",
            get(route_form::show).post(route_form::create),
        )
        .route("/dashboard/rules/{id}", get(route_detail::show))
        .route("/dashboard/rules/{id}/delete", post(rules::delete))
        .route("/dashboard/trunks", get(trunks::list))
        .route("/dashboard/agents", get(agents::list))
        .route("/dashboard/live", get(live::list))
        .route("/dashboard/live/{id}/hangup", post(live::hangup))
        .route("/dashboard/calls", get(calls::list))
        .route("/dashboard/explain", get(explain::show).post(explain::run))
        .route("/dashboard/events", get(events::stream))
        .route("/dashboard/logout", post(login::logout))
        .route_layer(axum::middleware::from_fn_with_state(
            app,
            guard::require_session,
        ));
    Router::new()
        .route("/", get(|| async { Redirect::to("/dashboard/rules") }))
        .route(
            "/dashboard",
            get(|| async { Redirect::to("/dashboard/rules") }),
        )
        .route(
            "/dashboard/",
            get(|| async { Redirect::to("/dashboard/rules") }),
        )
        .route("/dashboard/login", get(login::show).post(login::submit))
        .route(
            "/dashboard/assets/app.js",
            get(|| async { asset(APP_JS, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/dashboard/assets/app.css",
            get(|| async { asset(APP_CSS, "text/css; charset=utf-8") }),
        )
        .merge(protected)
}
