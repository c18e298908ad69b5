//! [`MediaHandle`]: the call layer's control of a running media task.
//!
//! The handle and the task share the [`RtpSession`] behind a mutex that is only held for
//! the few microseconds a session call takes (never across an await), so every control
//! call is synchronous and copies audio straight into the playout queue. The task picks the
//! change up at its next 20 ms tick. Clones share one task; when the last clone is dropped
//! the task stops.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{Notify, mpsc};

use super::task::AudioFrame;
use crate::sdp::Negotiated;
use crate::session::{MediaStats, Playable, RtpSession};
use crate::tone::Tone;

/// Where decoded caller audio goes: called from the media task for every 20 ms frame, so it
/// must not block (a `try_send`, a copy into a buffer).
pub type AudioFn = Arc<dyn Fn(&AudioFrame) + Send + Sync>;

/// The audio callback's slot (a newtype so [`Shared`] stays `Debug`).
#[derive(Default)]
pub(super) struct SinkSlot(Mutex<Option<AudioFn>>);

impl std::fmt::Debug for SinkSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SinkSlot")
    }
}

/// State shared by the handles and the task.
#[derive(Debug)]
pub(super) struct Shared {
    pub(super) session: Mutex<RtpSession>,
    pub(super) audio_sink: SinkSlot,
    pub(super) stop: Notify,
    pub(super) stopped: AtomicBool,
    pub(super) local_rtp: SocketAddr,
    pub(super) advertise_ip: IpAddr,
}

impl Shared {
    pub(super) fn session(&self) -> MutexGuard<'_, RtpSession> {
        self.session.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn sink(&self) -> Option<AudioFn> {
        self.audio_sink
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub(super) fn request_stop(&self) {
        self.stopped.store(true, Ordering::Release);
        self.stop.notify_one();
    }

    pub(super) fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Acquire)
    }
}

/// Stops the task when the last handle goes away.
#[derive(Debug)]
struct StopOnDrop(Arc<Shared>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.request_stop();
    }
}

/// Controls one call's media task. Cheap to clone.
#[derive(Debug, Clone)]
pub struct MediaHandle {
    shared: Arc<Shared>,
    _alive: Arc<StopOnDrop>,
}

impl MediaHandle {
    pub(super) fn new(shared: Arc<Shared>) -> MediaHandle {
        MediaHandle {
            _alive: Arc::new(StopOnDrop(Arc::clone(&shared))),
            shared,
        }
    }

    /// The RTP port we receive on (for the SDP answer).
    pub fn local_port(&self) -> u16 {
        self.shared.local_rtp.port()
    }

    /// The address to put in the SDP answer: the configured advertise IP and the RTP port.
    pub fn advertise_addr(&self) -> SocketAddr {
        SocketAddr::new(self.shared.advertise_ip, self.shared.local_rtp.port())
    }

    /// The address the RTP socket is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local_rtp
    }

    /// Plays a prompt, a tone or static audio once, after what is already playing or
    /// waiting; [`MediaEvent::PlaybackDone`](super::MediaEvent) follows each. `false` if
    /// the playlist is full.
    pub fn play(&self, playable: impl Into<Playable>) -> bool {
        self.shared.session().play(playable)
    }

    /// Plays a tone (shorthand for [`play`](Self::play)).
    pub fn play_tone(&self, tone: Tone) -> bool {
        self.play(tone)
    }

    /// Stops the prompt or tone being played and drops those waiting.
    pub fn stop_playback(&self) {
        self.shared.session().stop_playback();
    }

    /// Whether only silence is being sent (no prompt, tone, agent audio or DTMF pending).
    pub fn is_idle(&self) -> bool {
        self.shared.session().is_idle()
    }

    /// Queues agent audio (8 kHz PCM16); returns how many samples fit.
    pub fn enqueue_pcm(&self, pcm: &[i16]) -> usize {
        self.shared.session().enqueue_pcm(pcm)
    }

    /// Mixes 8 kHz audio of another caller of the room into what this call hears
    /// (`source` tells the callers apart).
    pub fn push_live(&self, source: u64, pcm: &[i16]) {
        self.shared.session().push_live(source, pcm);
    }

    /// Stops mixing a caller that left the room.
    pub fn remove_live(&self, source: u64) {
        self.shared.session().remove_live(source);
    }

    /// Drops queued agent audio (barge-in); pending marks are reported.
    pub fn clear(&self) {
        self.shared.session().clear();
    }

    /// Places a mark after the audio queued so far.
    pub fn mark(&self, id: u64) {
        self.shared.session().mark(id);
    }

    /// Sends a DTMF digit as RFC 4733 events; `false` if it cannot.
    pub fn send_dtmf(&self, digit: char) -> bool {
        self.shared.session().send_dtmf(digit)
    }

    /// Applies a re-INVITE's negotiation (hold, resume, new address).
    pub fn set_remote(&self, negotiated: Negotiated) {
        let now = tokio::time::Instant::now().into_std();
        self.shared.session().set_remote(negotiated, now);
    }

    /// Where decoded caller audio goes: 20 ms frames of 8 kHz PCM16. Frames are dropped
    /// (not queued without bound) when the receiver lags. `None` stops the flow.
    pub fn set_audio_sink(&self, sink: Option<mpsc::Sender<AudioFrame>>) {
        self.set_audio_fn(sink.map(|tx| -> AudioFn {
            Arc::new(move |frame: &AudioFrame| {
                let _ = tx.try_send(*frame);
            })
        }));
    }

    /// Like [`set_audio_sink`](Self::set_audio_sink), with a callback run by the media task
    /// for each frame (it must not block): saves a task hop when the frames go on to another
    /// channel anyway.
    pub fn set_audio_fn(&self, sink: Option<AudioFn>) {
        *self
            .shared
            .audio_sink
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = sink;
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> MediaStats {
        self.shared.session().stats()
    }

    /// Stops the task (also happens when the last handle is dropped).
    pub fn stop(&self) {
        self.shared.request_stop();
    }

    /// Whether the task was asked to stop.
    pub fn is_stopped(&self) -> bool {
        self.shared.is_stopped()
    }
}
