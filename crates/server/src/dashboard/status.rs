//! A rule's status on the dashboard, derived from its route policy at an instant:
//!
//! | status | when |
//! |---|---|
//! | active | no policy, or the policy's schedule is open now |
//! | scheduled | before the policy's start date |
//! | ended | after the policy's end date |
//! | paused | within the dates, but outside the daily window or on an inactive day |
//!
//! Capacity does not change the status (a full route is still active).

use switchboard_dispatch::policy::{ClosedReason, CompiledPolicy, ScheduleStatus};

/// See the module docs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleStatus {
    Active,
    Scheduled,
    Paused,
    Ended,
}

impl RuleStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleStatus::Active => "active",
            RuleStatus::Scheduled => "scheduled",
            RuleStatus::Paused => "paused",
            RuleStatus::Ended => "ended",
        }
    }
}

/// The status, and for a closed schedule the policy's own sentence saying why.
pub fn rule_status(
    policy: Option<&CompiledPolicy>,
    now: jiff::Timestamp,
) -> (RuleStatus, Option<String>) {
    let Some(policy) = policy else {
        return (RuleStatus::Active, None);
    };
    match policy.schedule_at(now) {
        ScheduleStatus::Open => (RuleStatus::Active, None),
        ScheduleStatus::Closed(reason) => {
            let status = match reason {
                ClosedReason::BeforeStartDate { .. } => RuleStatus::Scheduled,
                ClosedReason::AfterEndDate { .. } => RuleStatus::Ended,
                ClosedReason::InactiveDay { .. } | ClosedReason::OutsideWindow { .. } => {
                    RuleStatus::Paused
                }
            };
            (status, Some(reason.describe(policy)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_dispatch::RoutePolicy;
    use switchboard_dispatch::policy::Day;

    fn at(s: &str) -> jiff::Timestamp {
        s.parse().expect("instant")
    }

    fn compiled(p: RoutePolicy) -> CompiledPolicy {
        p.compile().expect("valid policy")
    }

    #[test]
    fn derives_each_status() {
        let now = at("2026-06-10T12:00:00Z"); // a Wednesday
        assert_eq!(rule_status(None, now).0, RuleStatus::Active);
        let base = RoutePolicy {
            rule_id: "SDR_x".into(),
            timezone: "UTC".into(),
            ..Default::default()
        };
        let open = compiled(base.clone());
        assert_eq!(rule_status(Some(&open), now), (RuleStatus::Active, None));

        let later = compiled(RoutePolicy {
            start_date: Some("2026-07-01".parse().expect("date")),
            ..base.clone()
        });
        let (s, why) = rule_status(Some(&later), now);
        assert_eq!(s, RuleStatus::Scheduled);
        assert!(why.unwrap_or_default().contains("2026-07-01"));

        let over = compiled(RoutePolicy {
            end_date: Some("2026-06-09".parse().expect("date")),
            ..base.clone()
        });
        assert_eq!(rule_status(Some(&over), now).0, RuleStatus::Ended);

        let night = compiled(RoutePolicy {
            window_start: Some("20:00".parse().expect("time")),
            window_end: Some("23:00".parse().expect("time")),
            ..base.clone()
        });
        assert_eq!(rule_status(Some(&night), now).0, RuleStatus::Paused);

        let weekend = compiled(RoutePolicy {
            active_days: vec![Day::Sat, Day::Sun],
            ..base.clone()
        });
        assert_eq!(rule_status(Some(&weekend), now).0, RuleStatus::Paused);

        // Capacity alone never changes the status.
        let capped = compiled(RoutePolicy {
            max_concurrent_calls: Some(1),
            ..base
        });
        assert_eq!(rule_status(Some(&capped), now).0, RuleStatus::Active);
    }
}
