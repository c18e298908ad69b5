//! HTML building blocks of the dashboard: escaping, the page frame (navigation, CSRF meta
//! tag, assets), and the small formatters every page uses.
//!
//! Everything that comes from configuration or from callers (names, numbers, SIP reasons,
//! metadata) goes through [`esc`] before it is put into markup; pages never build markup
//! from unescaped input. The pages also carry a strict Content-Security-Policy (scripts and
//! styles only from this server), so even a missed escape could not run a script.

use std::fmt::Write as _;

use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};

use super::session::Session;

/// Escapes text for HTML element content and quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes a query-string value.
pub fn url_enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The pages of the navigation bar.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Rules,
    Trunks,
    Agents,
    Live,
    Calls,
    Explain,
}

const NAV: [(Nav, &str, &str); 6] = [
    (Nav::Rules, "/dashboard/rules", "Inbound rules"),
    (Nav::Trunks, "/dashboard/trunks", "Trunks"),
    (Nav::Agents, "/dashboard/agents", "Agents"),
    (Nav::Live, "/dashboard/live", "Live calls"),
    (Nav::Calls, "/dashboard/calls", "Calls"),
    (Nav::Explain, "/dashboard/explain", "Explain"),
];

/// Security headers of every dashboard response.
pub fn harden(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// A whole page for a logged-in user: `body` is already-escaped markup.
pub fn page(title: &str, session: &Session, nav: Nav, body: &str) -> Response {
    let mut links = String::new();
    for (n, href, label) in NAV {
        let current = if n == nav {
            " aria-current=\"page\""
        } else {
            ""
        };
        let _ = write!(links, "<a href=\"{href}\"{current}>{label}</a>");
    }
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<meta name=\"csrf-token\" content=\"{csrf}\">\
<title>{title} · switchboard</title>\
<link rel=\"stylesheet\" href=\"/dashboard/assets/app.css\">\
<script src=\"/dashboard/assets/app.js\" defer></script></head>\
<body><header class=\"top\"><span class=\"brand\">switchboard</span><nav>{links}</nav>\
<span class=\"who\"><span id=\"live-total\" title=\"calls in progress on this node\" data-live-total>–</span> live · \
<span id=\"sse-state\" data-sse=\"connecting\">connecting</span> · {who}</span>\
<form method=\"post\" action=\"/dashboard/logout\" class=\"inline\">{csrf_field}<button type=\"submit\" class=\"link\">Log out</button></form>\
</header><main>{body}</main></body></html>",
        csrf = esc(&session.csrf),
        title = esc(title),
        who = esc(&session.subject),
        csrf_field = csrf_field(session),
    );
    harden(Html(html).into_response())
}

/// A page without the navigation (the login page).
pub fn bare_page(title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{title} · switchboard</title>\
<link rel=\"stylesheet\" href=\"/dashboard/assets/app.css\"></head>\
<body class=\"bare\"><main>{body}</main></body></html>",
        title = esc(title)
    );
    harden(Html(html).into_response())
}

/// The hidden CSRF input every form carries.
pub fn csrf_field(session: &Session) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        esc(&session.csrf)
    )
}

/// A notice or error box.
pub fn notice(kind: &str, text: &str) -> String {
    format!(
        "<p class=\"notice {}\" role=\"status\">{}</p>",
        esc(kind),
        esc(text)
    )
}

/// Unix milliseconds as `2026-06-10 16:00:05 UTC`.
pub fn time(ms: i64) -> String {
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(t) => t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string(),
        Err(_) => "–".into(),
    }
}

/// A call's duration (answer to end, or to now while live) as `1:05`; `–` if unanswered.
pub fn duration(answered_ms: Option<i64>, ended_ms: Option<i64>, now_ms: i64) -> String {
    let Some(a) = answered_ms else {
        return "–".into();
    };
    let secs = (ended_ms.unwrap_or(now_ms) - a).max(0) / 1000;
    if secs >= 3600 {
        format!("{}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
    } else {
        format!("{}:{:02}", secs / 60, secs % 60)
    }
}

/// `Option<String>` as text, `–` when absent or empty.
pub fn opt(s: Option<&str>) -> String {
    match s {
        Some(s) if !s.is_empty() => esc(s),
        _ => "–".into(),
    }
}

/// A plain-text response with a status (errors outside pages, e.g. a refused form).
pub fn text(status: axum::http::StatusCode, msg: &str) -> Response {
    harden((status, msg.to_string()).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            esc("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        assert_eq!(esc("+15550100"), "+15550100");
        assert_eq!(url_enc("a b&c=+1"), "a%20b%26c%3D%2B1");
    }

    #[test]
    fn formats() {
        assert_eq!(duration(Some(0), Some(65_000), 0), "1:05");
        assert_eq!(duration(Some(0), Some(3_725_000), 0), "1:02:05");
        assert_eq!(duration(None, Some(5), 0), "–");
        assert_eq!(time(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(opt(Some("<b>")), "&lt;b&gt;");
        assert_eq!(opt(Some("")), "–");
    }
}
