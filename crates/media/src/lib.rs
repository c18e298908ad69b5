//! # switchboard-media
//!
//! The media plane switchboard needs to bridge a SIP call to a voice AI agent:
//!
//! - [`sdp`]: tolerant SDP parsing, offer/answer negotiation (PCMU/PCMA + telephone-event);
//! - [`rtp`] and [`rtcp`]: packet parsing (borrowed views) and writing into caller buffers;
//! - [`g711`]: µ-law / A-law;
//! - [`dtmf`]: RFC 4733 telephone-events and SIP INFO bodies;
//! - [`session`]: the sans-I/O RTP session of one call (latching, decoding, DTMF, 20 ms
//!   pacer, playout queue with marks, prompts, timeouts, statistics);
//! - [`prompt`] and [`tone`]: the audio switchboard plays itself;
//! - [`resample`]: streaming 8 kHz ↔ 16/24/48 kHz conversion for agents (polyphase FIR);
//! - [`mixer`]: saturating mix and mix-minus of PCM16 frames for rooms;
//! - [`live_mix`]: per-source jitter FIFOs mixing live callers at one 20 ms pace;
//! - [`socket`]: the thin tokio shell (port pool, UDP sockets, the per-call media task).
//!
//! ## Sans-I/O
//!
//! Everything except [`socket`] is a plain function or a plain struct that is fed bytes and
//! the current time (an [`Instant`](std::time::Instant) parameter) and returns results.
//! Nothing there opens a socket, spawns a task, awaits, or reads a clock, so the same code
//! is tested deterministically with a fake clock. The per-packet path does not allocate:
//! codecs write into caller-provided buffers, decoded audio is lent out as `&[i16]`, and
//! the outbound pacer writes each packet into a caller buffer.

pub mod dtmf;
pub mod g711;
pub mod live_mix;
pub mod mixer;
pub mod prompt;
pub mod resample;
pub mod rtcp;
pub mod rtp;
pub mod sdp;
pub mod session;
pub mod socket;
pub mod tone;

pub use prompt::Prompt;
pub use resample::{Resampler, UnsupportedRate};
pub use sdp::{Codec, Negotiated};
pub use session::{MediaStats, Playable, Timeouts};
pub use socket::{MediaConfig, MediaEvent, MediaHandle, PortPool, start};
pub use tone::Tone;
