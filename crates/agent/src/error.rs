//! The SDK's errors: each says what went wrong and, where there is one, how to fix it.

use crate::protocol::ErrorCode;

/// What went wrong talking to switchboard.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The [`WorkerOptions`](crate::WorkerOptions) are not valid; nothing was sent.
    #[error("invalid worker options: {0}")]
    InvalidOptions(String),
    /// The worker token could not be minted from the key and secret.
    #[error("cannot mint the worker token: {0}")]
    Token(String),
    /// The TCP or WebSocket connection could not be made.
    #[error("cannot connect to {url}: {reason}")]
    Connect { url: String, reason: String },
    /// The server answered the WebSocket upgrade with an HTTP error (401/403/404…).
    #[error("{message}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// What the server said, with a hint.
        message: String,
    },
    /// The server refused the `register` message.
    #[error("the server refused the registration ({code}): {message}")]
    Registration { code: ErrorCode, message: String },
    /// The server sent an `error` message in answer to a request of this client.
    #[error("the server answered with an error ({code}): {message}")]
    Server { code: ErrorCode, message: String },
    /// The server did not answer in time.
    #[error("timed out: {0}")]
    Timeout(String),
    /// The server sent something this client cannot understand.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The connection is closed (by the server, the network or this client).
    #[error("the connection is closed: {0}")]
    Closed(String),
}

impl Error {
    pub(crate) fn closed(what: &str) -> Self {
        Error::Closed(format!(
            "{what}; the worker's control connection or this job's media channel has ended"
        ))
    }
}

/// Builds the error for an HTTP answer to a WebSocket upgrade.
pub(crate) fn refused(url: &str, status: u16, body: Option<&[u8]>, media: bool) -> Error {
    // Twirp-style body: {"code": "...", "msg": "..."}; fall back to the raw text.
    let said = body
        .and_then(|b| {
            let v: serde_json::Value = serde_json::from_slice(b).ok()?;
            let msg = v
                .get("msg")
                .or_else(|| v.get("message"))
                .and_then(|m| m.as_str())?;
            let code = v.get("code").and_then(|c| c.as_str()).unwrap_or("");
            Some(if code.is_empty() {
                msg.to_string()
            } else {
                format!("{code}: {msg}")
            })
        })
        .or_else(|| {
            body.map(|b| String::from_utf8_lossy(b).trim().to_string())
                .filter(|s| !s.is_empty())
        })
        .map(|s| format!(" ({s})"))
        .unwrap_or_default();
    let message = match (status, media) {
        (401, false) => format!(
            "the server refused the token with HTTP 401{said}: check that api_key and api_secret are one of the server's key pairs (`switchboard serve --dev` uses devkey / secret) and that this machine's clock is right"
        ),
        (403, false) => format!(
            "the server refused the token with HTTP 403{said}: it needs the agent grant (video.agent); WorkerOptions without `token` mints it from api_key/api_secret, a token of your own must carry VideoGrants {{ agent: true, .. }}"
        ),
        (401 | 403, true) => format!(
            "the server refused the media token with HTTP {status}{said}: it is valid once, for 30 s after the assignment; open the media channel promptly and only once per job"
        ),
        (404, false) => format!(
            "no agent endpoint at {url} (HTTP 404{said}): set url to switchboard's HTTP address (e.g. http://127.0.0.1:7880), and check the server is a switchboard version with agent support"
        ),
        (404, true) => format!(
            "the media channel {url} does not exist (HTTP 404{said}): the job has ended or was not assigned to this worker"
        ),
        _ => format!("the server answered the WebSocket upgrade of {url} with HTTP {status}{said}"),
    };
    Error::Refused { status, message }
}
