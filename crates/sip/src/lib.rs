//! # switchboard-sip
//!
//! SIP signalling for switchboard. Like the routing core, the protocol logic here is
//! sans-I/O: functions and state machines fed with messages and the time, with the socket
//! loops living in a thin shell around them.
//!
//! * [`digest`]: server-side HTTP digest authentication of INVITEs (RFC 3261 §22, RFC 7616
//!   for `qop=auth`, RFC 8760 for SHA-256), with stateless, expiring nonces.

pub mod digest;
