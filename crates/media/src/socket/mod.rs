//! The thin tokio shell around the sans-I/O session: UDP ports and the per-call media task.
//!
//! - [`PortPool`] hands out even RTP ports (with port + 1 for RTCP) from a configured
//!   range, skipping ports that fail to bind, and takes them back when the lease drops.
//! - [`start`] binds a port pair and spawns the task that drives one
//!   [`RtpSession`](crate::session::RtpSession); [`MediaHandle`] controls it and
//!   [`MediaEvent`]s come back on a channel.

mod handle;
mod port_pool;
mod task;

pub use handle::{AudioFn, MediaHandle};
pub use port_pool::{BoundPorts, PortLease, PortPool};
pub use task::{AudioFrame, EVENT_CHANNEL_CAPACITY, MediaConfig, start};

/// Events from the media task (the session's events).
pub use crate::session::SessionEvent as MediaEvent;
