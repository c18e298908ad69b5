//! # switchboard-dispatch
//!
//! The pure routing core of switchboard: given the configuration (inbound trunks, dispatch
//! rules, route policies) and the facts of one INVITE, decide which trunk admits the call,
//! which rule takes it, which room the caller joins under which identity, which agents are
//! dispatched, and — when the call is refused — which SIP status it gets and why.
//!
//! The crate does no I/O, spawns nothing, reads no clock and draws no random numbers: the
//! instant and the random room suffix are parameters. That keeps every decision reproducible
//! in tests and in `explain`.
//!
//! The entry point is [`Snapshot`]: an immutable, indexed view of one configuration version,
//! built once per change and shared by every call. Its lookups do not grow with the number
//! of rules. [`linear`] evaluates the same semantics by brute force; the property tests check
//! that the two always agree.
//!
//! Map of the crate:
//! * [`number`], [`address`]: the primitives compared (normalized numbers, prefix patterns,
//!   IP/CIDR/host filters);
//! * [`model`]: trunks, rules and the whole [`Config`]; [`policy`]: schedules and capacity;
//! * [`validate`]: checks on write and conflict keys; [`Snapshot::check_trunk`] and
//!   [`Snapshot::check_rule`] check against the rest of the configuration;
//! * [`rank`]: the precedence orders; [`room`]: room names, identities, attributes;
//! * [`call`], [`decision`]: the input and output of [`Snapshot::evaluate`] and
//!   [`Snapshot::explain`].

pub mod address;
pub mod call;
pub mod decision;
pub mod error;
mod evaluate;
pub mod ids;
pub mod linear;
pub mod model;
pub mod number;
pub mod policy;
pub mod rank;
pub mod room;
mod snapshot;
pub mod validate;

pub use call::{Call, Pin};
pub use decision::{Decision, Reason, RoomAssignment, Stage, StepResult, TraceEntry, Verdict};
pub use error::ConfigError;
pub use evaluate::{Capacity, DEFAULT_RINGING_TIMEOUT, MAX_CALL_DURATION, Unlimited};
pub use model::*;
pub use policy::{ClosedReason, CompiledPolicy, Day, PolicyAction, RoutePolicy, ScheduleStatus};
pub use snapshot::{ConfigChange, Snapshot};

/// Digest realm used when a trunk sets none.
pub const DEFAULT_REALM: &str = "switchboard";
