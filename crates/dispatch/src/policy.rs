//! Route policies: when a dispatch rule takes calls (schedule) and how many at once (capacity).
//!
//! A policy is keyed by dispatch rule id. Schedules are evaluated on the wall clock of the
//! policy's IANA time zone, so daylight-saving changes move the window with local time.
//! The instant is always a parameter: nothing here reads a clock.
//!
//! # Compiling
//!
//! [`RoutePolicy::compile`] validates a policy and resolves its time zone once, giving a
//! [`CompiledPolicy`]. Every refusal is a [`ConfigError::Invalid`] naming the field and
//! saying how to fix it.
//!
//! # Schedule semantics ([`CompiledPolicy::schedule_at`])
//!
//! 1. The instant is converted to the civil (wall-clock) date and time of the policy's zone
//!    (an empty `timezone` means `UTC`).
//! 2. The **window** is half-open, `[window_start, window_end)`:
//!    * `window_start < window_end`: open when `window_start <= local time < window_end`;
//!    * `window_start > window_end` (crosses midnight): open when
//!      `local time >= window_start` **or** `local time < window_end`;
//!    * both unset: open all day. (Equal ends, or only one end set, are refused by
//!      `compile`.)
//! 3. The **schedule day** is the calendar day a moment belongs to. It is the local date,
//!    except in a window that crosses midnight when the local time is before `window_end`:
//!    that part of the night belongs to the *previous* day's window, so the schedule day is
//!    the previous calendar day. (A Fri 22:00–02:00 window is open on Saturday at 01:00
//!    even if Saturday is not an active day, and closed on Monday at 01:00 if Sunday is
//!    not.)
//! 4. Checks run in this order and the first failure is the reason reported:
//!    1. date range on the schedule day, both ends inclusive:
//!       [`ClosedReason::BeforeStartDate`], then [`ClosedReason::AfterEndDate`];
//!    2. the schedule day's weekday against `active_days` (empty = every day):
//!       [`ClosedReason::InactiveDay`];
//!    3. the window: [`ClosedReason::OutsideWindow`].
//! 5. **Daylight saving time.** Because only the local wall-clock time is compared, a
//!    09:00–17:00 window opens at 09:00 local time on both sides of a change (so at a
//!    different UTC instant). In a spring-forward gap the skipped local times never occur: a
//!    window lying entirely in the gap does not open that day, and a window covering the gap
//!    is simply an hour shorter in real time. In a fall-back overlap the repeated local
//!    times occur twice and each occurrence is evaluated by its wall time, so a window
//!    covering the repeated hour is open during both occurrences (an hour longer in real
//!    time).
//!
//! `max_concurrent_calls` is validated here but enforced by the caller, which knows how many
//! calls are in progress.

use std::fmt;

use jiff::Timestamp;
use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use crate::ConfigError;

/// A route policy as stored and exchanged over the API.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RoutePolicy {
    /// The dispatch rule this policy governs.
    pub rule_id: String,
    /// IANA time zone name, e.g. `America/New_York`. Empty = `UTC`.
    pub timezone: String,
    /// First day (inclusive, in `timezone`) on which the route takes calls.
    pub start_date: Option<Date>,
    /// Last day (inclusive, in `timezone`) on which the route takes calls.
    pub end_date: Option<Date>,
    /// Daily window start (`HH:MM`); both ends unset = all day. May be after `window_end`
    /// (a window that crosses midnight).
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, example = "09:00"))]
    pub window_start: Option<Time>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, example = "18:00"))]
    pub window_end: Option<Time>,
    /// Days on which the window opens. Empty = every day.
    pub active_days: Vec<Day>,
    /// Unset = unlimited.
    pub max_concurrent_calls: Option<u32>,
    pub after_hours: PolicyAction,
    pub over_capacity: PolicyAction,
}

/// A day of the week, serialized as `mon` … `sun`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Day {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

/// What happens to a call the policy does not admit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "action")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum PolicyAction {
    /// Answer with `sip_status`; unset = 480 after hours, 486 over capacity.
    Reject {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sip_status: Option<u16>,
    },
    /// Send the call to another dispatch rule (e.g. a voicemail agent).
    RouteToRule { rule_id: String },
}

impl Default for PolicyAction {
    fn default() -> Self {
        PolicyAction::Reject { sip_status: None }
    }
}

/// Lowest and highest SIP status a `Reject` action may answer with (4xx–6xx final responses).
const REJECT_STATUS_RANGE: std::ops::RangeInclusive<u16> = 400..=699;

impl RoutePolicy {
    /// Validates the policy and pre-computes what [`CompiledPolicy::schedule_at`] needs.
    ///
    /// Duplicate `active_days` are tolerated (they are merged).
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] naming the offending field when: `timezone` is not an IANA
    /// time zone name; `start_date` is after `end_date`; only one of `window_start` /
    /// `window_end` is set, or both are equal; `max_concurrent_calls` is 0; a `Reject` action's
    /// `sip_status` is outside 400–699; a `RouteToRule` action has an empty `rule_id` or names
    /// this policy's own rule.
    pub fn compile(&self) -> Result<CompiledPolicy, ConfigError> {
        let (tz, timezone_name) = resolve_timezone(&self.timezone)?;

        if let (Some(start), Some(end)) = (self.start_date, self.end_date)
            && start > end
        {
            return Err(ConfigError::invalid(
                "start_date",
                format!(
                    "start_date {start} is after end_date {end}; set start_date on or before \
                     end_date (both are inclusive), or leave one of them unset"
                ),
            ));
        }

        let window = match (self.window_start, self.window_end) {
            (None, None) => None,
            (Some(start), None) => {
                return Err(ConfigError::invalid(
                    "window_end",
                    format!(
                        "window_start is {} but window_end is unset; set window_end too \
                         (e.g. \"18:00\"), or leave both unset for a route open all day",
                        hhmm(start)
                    ),
                ));
            }
            (None, Some(end)) => {
                return Err(ConfigError::invalid(
                    "window_start",
                    format!(
                        "window_end is {} but window_start is unset; set window_start too \
                         (e.g. \"09:00\"), or leave both unset for a route open all day",
                        hhmm(end)
                    ),
                ));
            }
            (Some(start), Some(end)) if start == end => {
                return Err(ConfigError::invalid(
                    "window_start",
                    format!(
                        "window_start and window_end are both {}, which would be an empty \
                         window; leave both unset for a route open all day, or set different \
                         times (window_end before window_start crosses midnight)",
                        hhmm(start)
                    ),
                ));
            }
            (Some(start), Some(end)) => Some((start, end)),
        };

        if self.max_concurrent_calls == Some(0) {
            return Err(ConfigError::invalid(
                "max_concurrent_calls",
                "max_concurrent_calls is 0, which would refuse every call; set it to 1 or more, \
                 or leave it unset for no limit",
            ));
        }

        self.check_action("after_hours", &self.after_hours)?;
        self.check_action("over_capacity", &self.over_capacity)?;

        let days = if self.active_days.is_empty() {
            ALL_DAYS_MASK
        } else {
            self.active_days.iter().fold(0, |mask, d| mask | d.bit())
        };

        Ok(CompiledPolicy {
            policy: self.clone(),
            tz,
            timezone_name,
            days,
            window,
        })
    }

    fn check_action(&self, field: &str, action: &PolicyAction) -> Result<(), ConfigError> {
        match action {
            PolicyAction::Reject {
                sip_status: Some(status),
            } if !REJECT_STATUS_RANGE.contains(status) => Err(ConfigError::invalid(
                format!("{field}.sip_status"),
                format!(
                    "{field}.sip_status {status} is not a SIP error status; use a status from \
                     400 to 699 (e.g. 480 Temporarily Unavailable or 486 Busy Here), or leave \
                     it unset for the default"
                ),
            )),
            PolicyAction::RouteToRule { rule_id } if rule_id.trim().is_empty() => {
                Err(ConfigError::invalid(
                    format!("{field}.rule_id"),
                    format!(
                        "{field} routes to a rule but rule_id is empty; set rule_id to the id \
                         of another dispatch rule (e.g. a voicemail rule), or use the reject \
                         action"
                    ),
                ))
            }
            PolicyAction::RouteToRule { rule_id } if *rule_id == self.rule_id => {
                Err(ConfigError::invalid(
                    format!("{field}.rule_id"),
                    format!(
                        "{field} routes to rule \"{rule_id}\", which is the rule this policy \
                         governs, so the call would loop; set rule_id to a different dispatch \
                         rule, or use the reject action"
                    ),
                ))
            }
            _ => Ok(()),
        }
    }
}

fn resolve_timezone(name: &str) -> Result<(TimeZone, String), ConfigError> {
    if name.is_empty() {
        return Ok((TimeZone::UTC, "UTC".to_owned()));
    }
    let invalid = || {
        ConfigError::invalid(
            "timezone",
            format!(
                "timezone \"{name}\" is not an IANA time zone name; use a name such as \
                 \"America/New_York\" or \"Europe/Paris\", or leave it empty for UTC"
            ),
        )
    };
    let tz = TimeZone::get(name).map_err(|_| invalid())?;
    // `Etc/Unknown` resolves to jiff's "unknown" zone, which has no IANA name: refuse it.
    let canonical = tz.iana_name().ok_or_else(invalid)?.to_owned();
    Ok((tz, canonical))
}

/// A validated [`RoutePolicy`] with its time zone resolved, ready to evaluate.
#[derive(Clone, Debug)]
pub struct CompiledPolicy {
    policy: RoutePolicy,
    tz: TimeZone,
    timezone_name: String,
    /// Bit `Day::index()` set = active. Never 0.
    days: u8,
    /// `(window_start, window_end)`, never equal.
    window: Option<(Time, Time)>,
}

impl CompiledPolicy {
    /// The policy this was compiled from, unchanged.
    pub fn policy(&self) -> &RoutePolicy {
        &self.policy
    }

    /// The resolved time zone.
    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    /// The canonical IANA name of the zone (`UTC` when the policy leaves it empty).
    pub fn timezone_name(&self) -> &str {
        &self.timezone_name
    }

    /// Whether the route takes calls at `at`, and if not, why. See the module docs for the
    /// exact semantics.
    pub fn schedule_at(&self, at: Timestamp) -> ScheduleStatus {
        let local = self.tz.to_datetime(at);
        let (date, time) = (local.date(), local.time());

        let crosses_into_yesterday =
            matches!(self.window, Some((start, end)) if start > end && time < end);
        // `yesterday` only fails on the first representable date; jiff's timestamp range
        // makes that unreachable in practice, and falling back to today cannot panic.
        let schedule_day = if crosses_into_yesterday {
            date.yesterday().unwrap_or(date)
        } else {
            date
        };

        if let Some(start_date) = self.policy.start_date
            && schedule_day < start_date
        {
            return ScheduleStatus::Closed(ClosedReason::BeforeStartDate { start_date });
        }
        if let Some(end_date) = self.policy.end_date
            && schedule_day > end_date
        {
            return ScheduleStatus::Closed(ClosedReason::AfterEndDate { end_date });
        }

        let day = Day::from_jiff(schedule_day.weekday());
        if self.days & day.bit() == 0 {
            return ScheduleStatus::Closed(ClosedReason::InactiveDay { day });
        }

        if let Some((window_start, window_end)) = self.window {
            let open = if window_start < window_end {
                window_start <= time && time < window_end
            } else {
                time >= window_start || time < window_end
            };
            if !open {
                return ScheduleStatus::Closed(ClosedReason::OutsideWindow {
                    local_time: truncate_to_second(time),
                    window_start,
                    window_end,
                });
            }
        }

        ScheduleStatus::Open
    }

    /// Shorthand for `self.schedule_at(at) == ScheduleStatus::Open`.
    pub fn is_open_at(&self, at: Timestamp) -> bool {
        self.schedule_at(at).is_open()
    }
}

/// The outcome of [`CompiledPolicy::schedule_at`].
///
/// Serialized as `{"status":"open"}` or `{"status":"closed","reason":"outside_window",…}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum ScheduleStatus {
    Open,
    Closed(ClosedReason),
}

impl ScheduleStatus {
    pub fn is_open(&self) -> bool {
        matches!(self, ScheduleStatus::Open)
    }

    /// The reason, when closed.
    pub fn closed_reason(&self) -> Option<&ClosedReason> {
        match self {
            ScheduleStatus::Open => None,
            ScheduleStatus::Closed(reason) => Some(reason),
        }
    }
}

/// Why a schedule is closed at an instant. Dates and times are in the policy's zone.
///
/// Serialized with a `reason` tag, e.g.
/// `{"reason":"outside_window","local_time":"20:15:00","window_start":"09:00:00","window_end":"18:00:00"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "reason")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ClosedReason {
    /// The schedule day is before the (inclusive) start date.
    BeforeStartDate { start_date: Date },
    /// The schedule day is after the (inclusive) end date.
    AfterEndDate { end_date: Date },
    /// The schedule day's weekday is not in `active_days`.
    InactiveDay { day: Day },
    /// The local time is outside the daily window. `local_time` is truncated to the second.
    OutsideWindow {
        #[cfg_attr(feature = "openapi", schema(value_type = String, example = "09:00:00"))]
        local_time: Time,
        #[cfg_attr(feature = "openapi", schema(value_type = String, example = "09:00:00"))]
        window_start: Time,
        #[cfg_attr(feature = "openapi", schema(value_type = String, example = "09:00:00"))]
        window_end: Time,
    },
}

impl ClosedReason {
    /// A stable machine-readable code, equal to the serialized `reason` tag.
    pub fn code(&self) -> &'static str {
        match self {
            ClosedReason::BeforeStartDate { .. } => "before_start_date",
            ClosedReason::AfterEndDate { .. } => "after_end_date",
            ClosedReason::InactiveDay { .. } => "inactive_day",
            ClosedReason::OutsideWindow { .. } => "outside_window",
        }
    }

    /// A sentence for operators, naming the policy's time zone, e.g.
    /// `outside the daily window 09:00–18:00 (local time 20:15 America/New_York)`.
    pub fn describe(&self, policy: &CompiledPolicy) -> String {
        let zone = policy.timezone_name();
        match self {
            ClosedReason::BeforeStartDate { start_date } => {
                format!("before the start date {start_date} ({zone})")
            }
            ClosedReason::AfterEndDate { end_date } => {
                format!("after the end date {end_date} ({zone})")
            }
            ClosedReason::InactiveDay { day } => {
                format!("{} is not an active day ({zone})", day.full_name())
            }
            ClosedReason::OutsideWindow {
                local_time,
                window_start,
                window_end,
            } => format!(
                "outside the daily window {}–{} (local time {} {zone})",
                hhmm(*window_start),
                hhmm(*window_end),
                hhmm(*local_time)
            ),
        }
    }
}

/// `HH:MM`, or `HH:MM:SS` when the seconds are not zero. Sub-seconds are not shown.
fn hhmm(t: Time) -> String {
    if t.second() == 0 {
        format!("{:02}:{:02}", t.hour(), t.minute())
    } else {
        format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second())
    }
}

fn truncate_to_second(t: Time) -> Time {
    Time::constant(t.hour(), t.minute(), t.second(), 0)
}

const ALL_DAYS_MASK: u8 = 0b111_1111;

impl Day {
    /// The `Day` for a jiff weekday.
    pub fn from_jiff(w: Weekday) -> Day {
        match w {
            Weekday::Monday => Day::Mon,
            Weekday::Tuesday => Day::Tue,
            Weekday::Wednesday => Day::Wed,
            Weekday::Thursday => Day::Thu,
            Weekday::Friday => Day::Fri,
            Weekday::Saturday => Day::Sat,
            Weekday::Sunday => Day::Sun,
        }
    }

    /// Monday through Sunday, in order.
    pub fn all() -> [Day; 7] {
        [
            Day::Mon,
            Day::Tue,
            Day::Wed,
            Day::Thu,
            Day::Fri,
            Day::Sat,
            Day::Sun,
        ]
    }

    /// Parses `mon` or `monday` (any case, surrounding whitespace ignored).
    pub fn parse(s: &str) -> Option<Day> {
        let s = s.trim();
        Day::all().into_iter().find(|d| {
            s.eq_ignore_ascii_case(d.short_name()) || s.eq_ignore_ascii_case(d.full_name())
        })
    }

    fn short_name(self) -> &'static str {
        match self {
            Day::Mon => "Mon",
            Day::Tue => "Tue",
            Day::Wed => "Wed",
            Day::Thu => "Thu",
            Day::Fri => "Fri",
            Day::Sat => "Sat",
            Day::Sun => "Sun",
        }
    }

    fn full_name(self) -> &'static str {
        match self {
            Day::Mon => "Monday",
            Day::Tue => "Tuesday",
            Day::Wed => "Wednesday",
            Day::Thu => "Thursday",
            Day::Fri => "Friday",
            Day::Sat => "Saturday",
            Day::Sun => "Sunday",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for Day {
    /// `Mon` … `Sun`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.short_name())
    }
}

impl PolicyAction {
    /// The SIP status to answer with: the configured one, or `default`, for `Reject`;
    /// `None` for `RouteToRule`.
    pub fn reject_status(&self, default: u16) -> Option<u16> {
        match self {
            PolicyAction::Reject { sip_status } => Some(sip_status.unwrap_or(default)),
            PolicyAction::RouteToRule { .. } => None,
        }
    }
}
