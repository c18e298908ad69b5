//! # switchboard-media
//!
//! The media-plane building blocks switchboard needs to bridge a SIP call to a voice AI
//! agent: G.711 audio ([`g711`]) and DTMF digits carried as RFC 4733 telephone-events or
//! SIP INFO bodies ([`dtmf`]).
//!
//! ## Sans-I/O
//!
//! Everything here is a plain function or a plain struct that is fed bytes (and, where
//! time matters, RTP timestamps supplied by the caller) and returns results. Nothing opens
//! a socket, spawns a task, awaits, or reads a clock, so the same code runs under any
//! runtime and is tested deterministically. The hot path (per-packet, per-sample work)
//! does not allocate: codecs write into caller-provided buffers and DTMF payloads are
//! fixed-size arrays.

pub mod dtmf;
pub mod g711;
