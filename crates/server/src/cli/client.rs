//! The HTTP client every client command uses: Twirp `livekit.SIP` calls in JSON and native
//! `/api/v1` JSON calls, authenticated with a short-lived token minted from the resolved API
//! key and secret. Errors come back as sentences that say what went wrong and what to do.

use std::time::Duration;

use reqwest::{Method, StatusCode, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::connection::{Connection, ConnectionArgs};
use super::token;

/// How long a minted token lives: one invocation's worth.
const TOKEN_TTL: Duration = Duration::from_secs(600);
/// How long to wait for one answer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A connected client of one switchboard server.
pub struct Client {
    http: reqwest::Client,
    base: Url,
    base_text: String,
    token: String,
}

/// The error body both APIs answer with.
#[derive(Debug, serde::Deserialize)]
struct ErrorBody {
    code: String,
    msg: String,
}

impl Client {
    /// Resolves the connection settings and prepares a client with a fresh token.
    pub fn connect(args: &ConnectionArgs) -> Result<Client, String> {
        Client::new(&args.resolve()?)
    }

    /// A client for resolved settings.
    pub fn new(conn: &Connection) -> Result<Client, String> {
        let base = Url::parse(&conn.url).map_err(|e| {
            format!(
                "the server URL {:?} is not valid ({e}); write it like http://127.0.0.1:7880 (set --url or LIVEKIT_URL)",
                conn.url
            )
        })?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(format!(
                "the server URL {:?} must start with http://, https://, ws:// or wss:// (set --url or LIVEKIT_URL)",
                conn.url
            ));
        }
        // reqwest is built without a default TLS provider: use ring. Installing twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("switchboard-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot set up the HTTP client: {}", chain(&e)))?;
        let token = token::mint(
            &conn.api_key,
            &conn.api_secret,
            TOKEN_TTL,
            "switchboard-cli",
            true,
        )?;
        Ok(Client {
            http,
            base_text: conn.url.clone(),
            base,
            token,
        })
    }

    /// `path` under the base URL, keeping a path prefix the base may carry (a reverse proxy
    /// mount point).
    fn url(&self, path: &str) -> Url {
        let mut url = self.base.clone();
        url.set_query(None);
        let joined = format!(
            "{}/{}",
            self.base.path().trim_end_matches('/'),
            path.trim_start_matches('/')
        );
        url.set_path(&joined);
        url
    }

    /// Calls `livekit.SIP/<method>` with a JSON request and decodes the JSON answer.
    pub async fn twirp<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        method: &str,
        req: &Req,
    ) -> Result<Resp, String> {
        let url = self.url(&format!("twirp/livekit.SIP/{method}"));
        let body = serde_json::to_vec(req)
            .map_err(|e| format!("cannot encode the {method} request: {e}"))?;
        let rb = self
            .http
            .post(url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        let bytes = self.send(rb, &url, method).await?;
        serde_json::from_slice(&bytes).map_err(|e| {
            format!("the answer of {url} to {method} is not what this CLI expects ({e}); are the CLI and the server the same version?")
        })
    }

    /// Calls a native `/api/v1/...` route with optional query pairs and JSON body; answers
    /// the body text (valid JSON, field order as the server wrote it).
    pub async fn native(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&serde_json::Value>,
    ) -> Result<String, String> {
        let mut url = self.url(path);
        if !query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in query {
                pairs.append_pair(k, v);
            }
        }
        let what = format!("{method} {path}");
        let mut rb = self.http.request(method, url.clone());
        if let Some(b) = body {
            rb = rb.json(b);
        }
        let bytes = self.send(rb, &url, &what).await?;
        let text = String::from_utf8(bytes)
            .map_err(|_| format!("the answer of {url} to {what} is not UTF-8 text"))?;
        serde_json::from_str::<serde::de::IgnoredAny>(&text).map_err(|e| {
            format!("the answer of {url} to {what} is not valid JSON ({e}); is --url / LIVEKIT_URL a switchboard server?")
        })?;
        Ok(text)
    }

    /// Sends a request; answers the body of a success, or the error as a sentence.
    async fn send(
        &self,
        rb: reqwest::RequestBuilder,
        url: &Url,
        what: &str,
    ) -> Result<Vec<u8>, String> {
        let resp = rb
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| self.transport_error(&e))?;
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| format!("the answer from {url} was cut off: {}", chain(&e)))?;
        if status.is_success() {
            return Ok(bytes.to_vec());
        }
        Err(api_error(status, &bytes, url, what))
    }

    fn transport_error(&self, e: &reqwest::Error) -> String {
        let cause = root_cause(e);
        let mut msg = if e.is_connect() {
            format!(
                "cannot reach switchboard at {}: {cause}; is `switchboard serve` running? (set --url or LIVEKIT_URL)",
                self.base_text
            )
        } else if e.is_timeout() {
            format!(
                "switchboard at {} did not answer within {} s: {cause}",
                self.base_text,
                REQUEST_TIMEOUT.as_secs()
            )
        } else {
            format!(
                "the request to switchboard at {} failed: {}",
                self.base_text,
                chain(e)
            )
        };
        if self.base.scheme() == "https"
            && (cause.contains("InvalidContentType") || cause.contains("corrupt message"))
        {
            msg.push_str("\nhint: the server does not speak TLS on this port; `switchboard serve` serves plain HTTP unless it is behind a TLS proxy: try http://");
        }
        msg
    }
}

/// An error answer, as a sentence: the server's message, its code, and a hint.
fn api_error(status: StatusCode, body: &[u8], url: &Url, what: &str) -> String {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(e) => {
            let hint = match e.code.as_str() {
                "unauthenticated" => {
                    "\nhint: check the API key and secret (--api-key/--api-secret, LIVEKIT_API_KEY/LIVEKIT_API_SECRET or .env); they must be one of the server's key pairs (`serve --dev`: devkey/secret)"
                }
                "bad_route" => {
                    "\nhint: is the URL a switchboard server of the same version as this CLI?"
                }
                "unavailable" => {
                    "\nhint: the server's storage is unavailable; check its logs and retry"
                }
                _ => "",
            };
            format!("{} (code: {}){hint}", e.msg, e.code)
        }
        Err(_) => {
            let text = String::from_utf8_lossy(body);
            let snippet: String = text.chars().take(200).collect();
            format!(
                "{url} answered {what} with HTTP {status} and no switchboard error body: {:?}; is --url / LIVEKIT_URL a switchboard server?",
                snippet.trim()
            )
        }
    }
}

/// The innermost cause of an error (e.g. "Connection refused (os error 111)").
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// An error and its causes, joined with ": ".
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(c) = cur {
        let s = c.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        cur = c.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_become_sentences() {
        let url = Url::parse("http://127.0.0.1:1/twirp/livekit.SIP/X").unwrap();
        let e = api_error(
            StatusCode::NOT_FOUND,
            br#"{"code":"not_found","msg":"dispatch rule \"SDR_x\" does not exist","meta":{}}"#,
            &url,
            "X",
        );
        assert_eq!(
            e,
            "dispatch rule \"SDR_x\" does not exist (code: not_found)"
        );
        let e = api_error(
            StatusCode::UNAUTHORIZED,
            br#"{"code":"unauthenticated","msg":"bad"}"#,
            &url,
            "X",
        );
        assert!(e.starts_with("bad (code: unauthenticated)\nhint: check the API key and secret"));
        let e = api_error(StatusCode::BAD_GATEWAY, b"<html>oops</html>", &url, "X");
        assert!(e.contains("HTTP 502"), "{e}");
        assert!(e.contains("LIVEKIT_URL"), "{e}");
    }

    #[test]
    fn bad_urls_are_refused_clearly() {
        let conn = |url: &str| Connection {
            url: url.into(),
            api_key: "k".into(),
            api_secret: "s".into(),
        };
        assert!(
            Client::new(&conn("ftp://x"))
                .err()
                .unwrap()
                .contains("must start with http://")
        );
        assert!(
            Client::new(&conn("not a url"))
                .err()
                .unwrap()
                .contains("not valid")
        );
        assert!(Client::new(&conn("http://127.0.0.1:7880")).is_ok());
    }
}
