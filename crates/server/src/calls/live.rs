//! The calls in progress on this node, so the API can list them and hang one up without
//! reaching into a call task: each entry holds a copy of the call's record and a one-shot
//! hang-up signal the call task listens to. Every insert, update and removal bumps a change
//! counter that the dashboard's live view waits on ([`LiveCalls::changes`]).

use std::collections::HashMap;
use std::sync::Mutex;

use switchboard_store::CallRecord;
use tokio::sync::watch;

struct Entry {
    record: CallRecord,
    hangup: watch::Sender<bool>,
}

/// Live calls by switchboard call id.
pub struct LiveCalls {
    calls: Mutex<HashMap<String, Entry>>,
    /// Bumped on every change, so watchers learn of one at once.
    version: watch::Sender<u64>,
}

impl Default for LiveCalls {
    fn default() -> Self {
        LiveCalls {
            calls: Mutex::default(),
            version: watch::Sender::new(0),
        }
    }
}

/// Held by the call task: resolves when someone asks the call to end.
pub struct HangupSignal(watch::Receiver<bool>);

impl HangupSignal {
    /// Waits for a hang-up request; pending forever if none comes.
    pub async fn requested(&mut self) {
        while !*self.0.borrow_and_update() {
            if self.0.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

impl LiveCalls {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Tells watchers that something changed.
    fn changed(&self) {
        self.version.send_modify(|v| *v = v.wrapping_add(1));
    }

    /// A receiver that sees a new value after every insert, update and removal.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }

    /// Registers a call; the signal fires when [`LiveCalls::hang_up`] is called for it.
    pub fn insert(&self, record: &CallRecord) -> HangupSignal {
        let (tx, rx) = watch::channel(false);
        self.lock().insert(
            record.id.clone(),
            Entry {
                record: record.clone(),
                hangup: tx,
            },
        );
        self.changed();
        HangupSignal(rx)
    }

    /// Refreshes the copy of a call's record.
    pub fn update(&self, record: &CallRecord) {
        if let Some(e) = self.lock().get_mut(&record.id) {
            e.record = record.clone();
        }
        self.changed();
    }

    pub fn remove(&self, id: &str) {
        self.lock().remove(id);
        self.changed();
    }

    /// Asks a call to end; `false` if it is not live here.
    pub fn hang_up(&self, id: &str) -> bool {
        match self.lock().get(id) {
            Some(e) => {
                let _ = e.hangup.send(true);
                true
            }
            None => false,
        }
    }

    /// Every live call.
    pub fn list(&self) -> Vec<CallRecord> {
        self.lock().values().map(|e| e.record.clone()).collect()
    }

    pub fn get(&self, id: &str) -> Option<CallRecord> {
        self.lock().get(id).map(|e| e.record.clone())
    }
}
