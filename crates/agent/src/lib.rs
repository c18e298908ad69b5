//! Client SDK for switchboard's agent worker protocol (`docs/agent-protocol.md`).
//!
//! A **worker** keeps one WebSocket open to switchboard (`GET /agent`), registers under an
//! agent name and is offered a **job** for every call routed to that name. Each accepted job
//! gets its own **media channel** carrying the caller's audio (PCM16 mono at the registered
//! sample rate) and the call's events, and taking the agent's audio and commands.
//!
//! ```no_run
//! use switchboard_agent::{MediaEvent, Worker, WorkerOptions};
//!
//! # async fn run() -> Result<(), switchboard_agent::Error> {
//! let worker = Worker::connect(WorkerOptions {
//!     agent_name: "support-agent".into(),
//!     max_jobs: 4,
//!     ..WorkerOptions::new("http://127.0.0.1:7880", "devkey", "secret")
//! })
//! .await?;
//! while let Some(offer) = worker.next_offer().await {
//!     let mut session = offer.accept().await?; // or offer.decline("busy").await
//!     tokio::spawn(async move {
//!         session.ready().await?;
//!         while let Some(event) = session.next_event().await {
//!             match event {
//!                 MediaEvent::Audio(samples) => session.send_audio(&samples).await?,
//!                 MediaEvent::Dtmf { digit, .. } if digit == "#" => session.hangup().await?,
//!                 _ => {}
//!             }
//!         }
//!         Ok::<_, switchboard_agent::Error>(())
//!     });
//! }
//! # Ok(()) }
//! ```
//!
//! **Transport:** plain `ws://` only (an `http://` URL is turned into `ws://`). This crate
//! does not include TLS: run the worker next to switchboard or on a private network, or put
//! a local TLS-terminating proxy in front of a remote server.
//!
//! **Authentication:** [`Worker::connect`] mints the worker's JWT from the API key and secret
//! (HS256, `iss` = key, the LiveKit agent grant `video.agent`), or uses
//! [`WorkerOptions::token`] as given.
//!
//! **Keepalive:** the worker answers the server's pings and pings it every
//! `ping_interval_ms`; a server that sends nothing for three intervals is considered gone.

pub mod protocol;

mod error;
mod session;
mod worker;

pub use error::Error;
pub use protocol::{
    Attributes, CallStatus, DtmfSource, ErrorCode, HangupReason, JobEndReason, Participant, Room,
};
pub use session::{JobSession, MediaEvent, MediaSender};
pub use worker::{JobOffer, Worker, WorkerEvent, WorkerOptions};

use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest, http};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub(crate) type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long opening a WebSocket may take.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Opens a WebSocket with `Authorization: Bearer <token>`.
pub(crate) async fn open_ws(url: &str, token: &str, media: bool) -> Result<Ws, Error> {
    let mut request = url.into_client_request().map_err(|e| {
        Error::InvalidOptions(format!("{url:?} is not a usable WebSocket URL: {e}"))
    })?;
    let bearer = http::HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
        Error::InvalidOptions("the token contains characters not allowed in a header".into())
    })?;
    request
        .headers_mut()
        .insert(http::header::AUTHORIZATION, bearer);
    let config = tungstenite::protocol::WebSocketConfig::default()
        .max_message_size(Some(1 << 20))
        .max_frame_size(Some(1 << 20));
    let connecting = tokio_tungstenite::connect_async_with_config(request, Some(config), true);
    let result = tokio::time::timeout(CONNECT_TIMEOUT, connecting)
        .await
        .map_err(|_| Error::Connect {
            url: url.into(),
            reason: format!(
                "no answer within {} s; check the address and that nothing blocks it",
                CONNECT_TIMEOUT.as_secs()
            ),
        })?;
    match result {
        Ok((ws, _)) => Ok(ws),
        Err(tungstenite::Error::Http(response)) => Err(error::refused(
            url,
            response.status().as_u16(),
            response.body().as_deref(),
            media,
        )),
        Err(tungstenite::Error::Io(e)) => Err(Error::Connect {
            url: url.into(),
            reason: format!(
                "{e}; is switchboard running (`switchboard serve --dev`) and is this its HTTP address?"
            ),
        }),
        Err(tungstenite::Error::Url(tungstenite::error::UrlError::TlsFeatureNotEnabled)) => {
            Err(Error::InvalidOptions(format!(
                "{url}: this client speaks plain ws:// only (no TLS); connect to switchboard directly over http:// / ws://, or through a local TLS-terminating proxy"
            )))
        }
        Err(e) => Err(Error::Connect {
            url: url.into(),
            reason: e.to_string(),
        }),
    }
}

/// `http://host:port[/prefix]` → `ws://host:port[/prefix]/agent`.
pub(crate) fn control_url(base: &str) -> Result<String, Error> {
    let base = base.trim().trim_end_matches('/');
    let rest = if let Some(r) = base.strip_prefix("http://") {
        r
    } else if let Some(r) = base.strip_prefix("ws://") {
        r
    } else if base.starts_with("https://") || base.starts_with("wss://") {
        return Err(Error::InvalidOptions(format!(
            "{base}: this client speaks plain ws:// only (no TLS); use switchboard's http:// address, or a local TLS-terminating proxy"
        )));
    } else if base.contains("://") {
        return Err(Error::InvalidOptions(format!(
            "{base}: the URL must be switchboard's http:// (or ws://) address, e.g. http://127.0.0.1:7880"
        )));
    } else {
        base
    };
    if rest.is_empty() {
        return Err(Error::InvalidOptions(
            "the URL is empty: set it to switchboard's HTTP address, e.g. http://127.0.0.1:7880"
                .into(),
        ));
    }
    if rest.ends_with("/agent") {
        Ok(format!("ws://{rest}"))
    } else {
        Ok(format!("ws://{rest}/agent"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_urls() {
        assert_eq!(
            control_url("http://127.0.0.1:7880").unwrap(),
            "ws://127.0.0.1:7880/agent"
        );
        assert_eq!(control_url("ws://h:1/").unwrap(), "ws://h:1/agent");
        assert_eq!(control_url("h:1/agent").unwrap(), "ws://h:1/agent");
        assert_eq!(
            control_url("http://h/prefix").unwrap(),
            "ws://h/prefix/agent"
        );
        let e = control_url("https://h").unwrap_err().to_string();
        assert!(e.contains("no TLS"), "{e}");
        assert!(control_url("ftp://h").is_err());
        assert!(control_url(" ").is_err());
    }

    #[test]
    fn refusals_explain_the_fix() {
        let e = error::refused(
            "ws://h/agent",
            403,
            Some(br#"{"code":"permission_denied","msg":"no agent grant"}"#),
            false,
        );
        let s = e.to_string();
        assert!(s.contains("agent grant (video.agent)"), "{s}");
        assert!(s.contains("permission_denied: no agent grant"), "{s}");
        let s = error::refused("ws://h/agent", 401, None, false).to_string();
        assert!(s.contains("devkey"), "{s}");
        let s = error::refused("ws://h/agent", 404, Some(b"nope"), false).to_string();
        assert!(
            s.contains("(HTTP 404 (nope))") || s.contains("HTTP 404"),
            "{s}"
        );
        let s = error::refused("ws://h/x/media", 403, None, true).to_string();
        assert!(s.contains("valid once"), "{s}");
    }
}
