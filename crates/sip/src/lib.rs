//! # switchboard-sip
//!
//! SIP signalling for switchboard, written for this server rather than built on a
//! general-purpose stack: we only need a UAS for inbound calls, and we want it fast
//! (thousands of INVITEs per second per core), bounded in memory, deterministic to test
//! and free of third-party API churn. So:
//!
//! * [`message`]: a hand-written, allocation-light parser. A message keeps its datagram
//!   as one `Bytes` and stores byte ranges; compact forms, folding, multi-value Via,
//!   IPv6 are handled; malformed requests yield the `400` reason phrase; garbage is a
//!   [`message::ParseError`] (dropped and counted). Also the TCP [`message::Framer`] and
//!   the response / in-dialog request builders.
//! * [`endpoint`]: the sans-I/O UAS — INVITE and non-INVITE server transactions, our
//!   BYE/INFO client transactions, dialog matching, RFC 3261 timers (with RFC 6026 2xx
//!   handling and RFC 3581 `rport`), driven by `Instant`s passed in. All protocol
//!   behaviour lives (and is unit-tested) here.
//! * [`transport`]: the thin tokio shell — UDP and TCP sockets, one driver task owning the
//!   endpoint, per-call channels ([`transport::IncomingCall`], [`transport::CallHandle`]).
//! * [`digest`]: server-side HTTP digest authentication of INVITEs (RFC 3261 §22, RFC 7616
//!   for `qop=auth`, RFC 8760 for SHA-256), with stateless, expiring nonces.

pub mod digest;
pub mod endpoint;
pub mod message;
pub mod transport;
