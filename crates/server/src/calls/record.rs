//! Call records (SPEC §8): the call task edits its record; a single writer task saves the
//! changes to the store in batches.
//!
//! Batching is what lets the store keep up with thousands of INVITEs per second: every
//! state change is queued, changes to the same call within one batch collapse to the
//! latest, and a batch is one transaction. The window is short ([`FLUSH_EVERY`]) so a
//! record is on disk within milliseconds of the INVITE; the store ignores an update older
//! than what it holds, so batches can never move a record backwards. On shutdown the
//! queue is drained before the process exits.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use switchboard_store::{CallRecord, Store};
use tokio::sync::mpsc;

/// Longest time a change waits before it is written.
pub const FLUSH_EVERY: Duration = Duration::from_millis(5);
/// Most records in one write.
const MAX_BATCH: usize = 2000;

/// Queues record changes for the writer task. Cheap to clone.
#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::UnboundedSender<CallRecord>,
}

impl Recorder {
    /// Starts the writer task; it ends once every `Recorder` is dropped and the queue is
    /// written. Await the returned handle to know the last record is stored.
    pub fn start(store: Arc<dyn Store>) -> (Recorder, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(write_loop(store, rx));
        (Recorder { tx }, task)
    }

    /// Queues the record's current state, stamped now.
    pub fn save(&self, record: &mut CallRecord) {
        let now = jiff::Timestamp::now().as_millisecond();
        // Two changes in the same millisecond must still order correctly in the store.
        record.updated_at_ms = now.max(record.updated_at_ms + 1);
        let _ = self.tx.send(record.clone());
    }
}

async fn write_loop(store: Arc<dyn Store>, mut rx: mpsc::UnboundedReceiver<CallRecord>) {
    let mut pending: HashMap<String, CallRecord> = HashMap::new();
    loop {
        let Some(first) = rx.recv().await else {
            return;
        };
        pending.insert(first.id.clone(), first);
        let deadline = tokio::time::Instant::now() + FLUSH_EVERY;
        while pending.len() < MAX_BATCH {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(r)) => {
                    pending.insert(r.id.clone(), r);
                }
                Ok(None) | Err(_) => break,
            }
        }
        let batch: Vec<CallRecord> = pending.drain().map(|(_, r)| r).collect();
        let mut delay = Duration::from_millis(50);
        loop {
            match store.save_calls(&batch).await {
                Ok(()) => break,
                Err(e) => {
                    // The store is down: keep the records and retry, never drop them.
                    tracing::error!(records = batch.len(), error = %e, "cannot save call records; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
    }
}
