//! The answer routing gives for a call, and the trace that explains it (SPEC §3).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::model::AgentDispatch;
use crate::policy::ClosedReason;

/// accept | request_pin | reject.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Verdict {
    Accept,
    RequestPin,
    Reject,
}

/// Why the decision is what it is: a stable code for metrics, call records and `explain`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    Matched,
    PinRequired,
    NoTrunk,
    NoRule,
    InvalidPin,
    AfterHours,
    OverCapacity,
}

impl Reason {
    pub fn code(&self) -> &'static str {
        match self {
            Reason::Matched => "matched",
            Reason::PinRequired => "pin_required",
            Reason::NoTrunk => "no_trunk",
            Reason::NoRule => "no_rule",
            Reason::InvalidPin => "invalid_pin",
            Reason::AfterHours => "after_hours",
            Reason::OverCapacity => "over_capacity",
        }
    }
}

/// Where an accepted caller goes and as whom.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RoomAssignment {
    pub room_name: String,
    pub participant_identity: String,
    pub participant_name: String,
    pub participant_metadata: String,
    pub attributes: BTreeMap<String, String>,
    pub agents: Vec<AgentDispatch>,
    pub room_preset: String,
    /// How long the caller may ring waiting for an agent.
    #[serde(skip)]
    pub ringing_timeout: Duration,
    /// When the call is ended with BYE.
    #[serde(skip)]
    pub max_call_duration: Duration,
    /// Extra headers for the 200 OK (from the trunk).
    #[serde(skip)]
    pub headers: BTreeMap<String, String>,
}

/// The result of routing one call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub verdict: Verdict,
    /// The SIP answer SPEC §3 assigns; `None` when the call was already answered (a wrong
    /// PIN ends it with BYE) or for `accept`/`request_pin` before media is up.
    pub sip_status: Option<u16>,
    pub reason: Reason,
    /// A sentence for people.
    pub detail: String,
    pub trunk_id: Option<String>,
    pub rule_id: Option<String>,
    /// When the rule's route policy sent the call to a fallback rule, the rule first chosen.
    pub routed_from_rule_id: Option<String>,
    /// Set for `accept`.
    pub room: Option<RoomAssignment>,
    /// The concurrency limit the call must take a slot of, keyed by the governing rule id.
    pub capacity: Option<(String, u32)>,
    /// Why the route was closed, when it was.
    pub closed: Option<ClosedReason>,
    pub trace: Vec<TraceEntry>,
}

/// What a trace step looked at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Stage {
    Trunk,
    Rule,
    Policy,
    Pin,
}

/// What became of the object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum StepResult {
    Selected,
    Kept,
    Dropped,
    Info,
}

/// One line of the explain trace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TraceEntry {
    pub stage: Stage,
    pub id: String,
    pub name: String,
    pub result: StepResult,
    /// Stable code, e.g. `caller_not_allowed`, `lower_priority`.
    pub reason: &'static str,
    pub detail: String,
}

/// Collects trace entries when explaining; does nothing on the call path.
pub(crate) struct Tracer<'t>(pub Option<&'t mut Vec<TraceEntry>>);

impl Tracer<'_> {
    pub fn on(&self) -> bool {
        self.0.is_some()
    }

    /// Records an entry; `detail` is only evaluated when tracing.
    pub fn push(
        &mut self,
        stage: Stage,
        id: &str,
        name: &str,
        result: StepResult,
        reason: &'static str,
        detail: impl FnOnce() -> String,
    ) {
        if let Some(t) = self.0.as_deref_mut() {
            t.push(TraceEntry {
                stage,
                id: id.to_string(),
                name: name.to_string(),
                result,
                reason,
                detail: detail(),
            });
        }
    }
}
