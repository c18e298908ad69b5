//! Webhooks: call and room events POSTed as signed JSON to the configured URLs.
//!
//! [`Webhooks::emit`] builds the event body once and queues one delivery per configured
//! URL. A writer task stores the queued deliveries in batches (like call records,
//! [`crate::calls::record`]), so an event is in the store within milliseconds and a restart
//! loses none. A delivery task polls the store every [`POLL_EVERY`] for due deliveries and
//! POSTs them:
//!
//! - headers `Content-Type: application/json`, `X-Switchboard-Event: <event>`,
//!   `X-Switchboard-Delivery: <delivery id>` and
//!   `X-Switchboard-Signature: sha256=<hex HMAC-SHA256(secret, body)>`;
//! - a 2xx answer within [`TIMEOUT`] marks the delivery delivered; anything else is retried
//!   after `min(2^attempts s, 10 min)`; after [`MAX_ATTEMPTS`] attempts the delivery stays in
//!   the store (with its attempts and last error) but is not tried again.
//!
//! Delivery is at least once: a node stopped between a receiver's answer and the store
//! update sends that delivery again after the restart, and nodes sharing one PostgreSQL
//! database may both send a delivery. Receivers dedupe on `X-Switchboard-Delivery`.
//!
//! With no URLs configured, [`Webhooks::emit`] does nothing and no task runs.

use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use switchboard_store::{Store, WebhookDelivery};
use tokio::sync::mpsc;

/// How often the delivery task looks for due deliveries.
pub const POLL_EVERY: Duration = Duration::from_millis(200);
/// How long one POST may take.
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// Attempts after which a delivery is given up.
pub const MAX_ATTEMPTS: u32 = 12;
/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(600);
/// Longest time a queued delivery waits before it is written to the store.
const FLUSH_EVERY: Duration = Duration::from_millis(5);
/// Most deliveries per store write, and per poll.
const BATCH: usize = 500;

/// The webhook settings (`[webhooks]`).
#[derive(Clone, Debug, Default)]
pub struct WebhookSettings {
    pub urls: Vec<String>,
    pub secret: String,
}

/// The emitter; share it behind an `Arc`. The secret and the store live in its tasks.
pub struct Webhooks {
    urls: Vec<String>,
    /// The writer task's queue; `None` when no URL is configured.
    queue: Option<mpsc::UnboundedSender<WebhookDelivery>>,
}

impl Webhooks {
    /// Starts the writer and delivery tasks when URLs are configured.
    pub fn start(settings: &WebhookSettings, store: Arc<dyn Store>) -> Arc<Webhooks> {
        if settings.urls.is_empty() {
            return Arc::new(Webhooks {
                urls: Vec::new(),
                queue: None,
            });
        }
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(write_loop(store.clone(), rx));
        tokio::spawn(deliver_loop(store, settings.secret.as_bytes().to_vec()));
        Arc::new(Webhooks {
            urls: settings.urls.clone(),
            queue: Some(tx),
        })
    }

    /// Queues `event` with `data()` for every configured URL. `data` is only called when
    /// webhooks are configured: the call path emits on every INVITE, and without URLs that
    /// must cost nothing.
    pub fn emit(&self, event: &str, data: impl FnOnce() -> serde_json::Value) {
        let Some(queue) = &self.queue else {
            return;
        };
        let data = data();
        let now = jiff::Timestamp::now();
        let body = serde_json::json!({
            "id": switchboard_dispatch::ids::new_id("WH_", rand::random()),
            "event": event,
            "created_at": now.to_string(),
            "data": data,
        })
        .to_string();
        for url in &self.urls {
            let _ = queue.send(WebhookDelivery {
                id: switchboard_dispatch::ids::new_id("WD_", rand::random()),
                url: url.clone(),
                event: event.to_string(),
                body: body.clone(),
                attempts: 0,
                next_attempt_at_ms: now.as_millisecond(),
                delivered_at_ms: None,
                last_error: None,
                created_at_ms: now.as_millisecond(),
            });
        }
    }
}

/// `sha256=<hex HMAC-SHA256(secret, body)>`.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let mut out = String::with_capacity(7 + digest.len() * 2);
    out.push_str("sha256=");
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// The wait after `attempts` failed attempts: `min(2^attempts s, 10 min)`.
pub fn backoff(attempts: u32) -> Duration {
    Duration::from_secs(1u64 << attempts.min(20)).min(MAX_BACKOFF)
}

async fn write_loop(store: Arc<dyn Store>, mut rx: mpsc::UnboundedReceiver<WebhookDelivery>) {
    loop {
        let Some(first) = rx.recv().await else {
            return;
        };
        let mut batch = vec![first];
        let deadline = tokio::time::Instant::now() + FLUSH_EVERY;
        while batch.len() < BATCH {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(d)) => batch.push(d),
                Ok(None) | Err(_) => break,
            }
        }
        let mut delay = Duration::from_millis(50);
        loop {
            match store.enqueue_webhooks(&batch).await {
                Ok(()) => break,
                Err(e) => {
                    // The store is down: keep the deliveries and retry, never drop them.
                    tracing::error!(deliveries = batch.len(), error = %e, "cannot queue webhook deliveries; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
    }
}

async fn deliver_loop(store: Arc<dyn Store>, secret: Vec<u8>) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = match reqwest::Client::builder().timeout(TIMEOUT).build() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the webhook HTTP client; webhooks are not delivered");
            return;
        }
    };
    let secret: Arc<[u8]> = secret.into();
    let mut tick = tokio::time::interval(POLL_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let now = jiff::Timestamp::now().as_millisecond();
        let due = match store.due_webhooks(now, BATCH as u32).await {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(error = %e, "cannot read due webhook deliveries");
                continue;
            }
        };
        // One batch at a time, its POSTs in parallel: a delivery is never in flight twice.
        let tasks: Vec<_> = due
            .into_iter()
            .map(|d| {
                let (store, client, secret) = (store.clone(), client.clone(), secret.clone());
                tokio::spawn(async move { deliver(&*store, &client, &secret, d).await })
            })
            .collect();
        for t in tasks {
            let _ = t.await;
        }
    }
}

async fn deliver(store: &dyn Store, client: &reqwest::Client, secret: &[u8], d: WebhookDelivery) {
    let result = client
        .post(&d.url)
        .header("Content-Type", "application/json")
        .header("X-Switchboard-Event", &d.event)
        .header("X-Switchboard-Delivery", &d.id)
        .header(
            "X-Switchboard-Signature",
            signature(secret, d.body.as_bytes()),
        )
        .body(d.body.clone())
        .send()
        .await;
    let error = match result {
        Ok(r) if r.status().is_success() => None,
        Ok(r) => Some(format!("HTTP {}", r.status())),
        Err(e) => Some(format!("{e}")),
    };
    let now = jiff::Timestamp::now().as_millisecond();
    let stored = match error {
        None => store.webhook_delivered(&d.id, now).await,
        Some(error) => {
            let attempts = d.attempts + 1;
            let next = if attempts >= MAX_ATTEMPTS {
                tracing::warn!(delivery = %d.id, url = %d.url, event = %d.event, attempts, error = %error, "webhook delivery given up");
                i64::MAX
            } else {
                tracing::info!(delivery = %d.id, url = %d.url, event = %d.event, attempts, error = %error, "webhook delivery failed; will retry");
                now + backoff(attempts).as_millis() as i64
            };
            store.webhook_failed(&d.id, attempts, next, &error).await
        }
    };
    if let Err(e) = stored {
        tracing::error!(delivery = %d.id, error = %e, "cannot record a webhook delivery attempt");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_rfc4231_case_2() {
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn backoff_doubles_up_to_ten_minutes() {
        assert_eq!(backoff(1), Duration::from_secs(2));
        assert_eq!(backoff(3), Duration::from_secs(8));
        assert_eq!(backoff(9), Duration::from_secs(512));
        assert_eq!(backoff(10), Duration::from_secs(600));
        assert_eq!(backoff(40), Duration::from_secs(600));
    }
}
