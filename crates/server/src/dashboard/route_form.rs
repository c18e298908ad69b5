//! The "create route" form (seed 003's inbound campaign): pick the phone number or trunk
//! the public dials, the agent it is routed to (with optional `agent_config` JSON given to
//! the agent's job), and, under "Schedule & Rules", the route policy: time zone, max
//! concurrent calls, start and end date, daily call window and active days.
//!
//! Saving validates everything first (including the policy), then creates, through the
//! configuration service so the route is live at once: the trunk when the number is new
//! (restricted to the given addresses or digest credentials, like `dispatch agent`), an
//! individual dispatch rule (room prefix `inbound-call-`, job metadata shaped like
//! `dispatch agent`'s), and its route policy. If a later step fails, what was created is
//! removed again. Errors are shown next to their fields, with everything typed kept.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use livekit_protocol as lk;
use switchboard_dispatch::number::normalize;
use switchboard_dispatch::{Day, RoutePolicy};

use super::form::Fields;
use super::html::{Nav, csrf_field, esc, page, url_enc};
use super::session::Session;
use crate::http::App;
use crate::service::ServiceError;

/// Room prefix of the rules the form creates (the same as `dispatch agent`'s).
const ROOM_PREFIX: &str = "inbound-call-";
/// Trunks listed in the form's drop-down at most (a text field takes any id beyond).
const MAX_TRUNK_CHOICES: usize = 500;

/// Problems by field name (`""` for the form as a whole).
#[derive(Default, Debug)]
pub struct Problems(pub BTreeMap<String, String>);

impl Problems {
    fn add(&mut self, field: &str, msg: impl Into<String>) {
        self.0
            .entry(field.to_string())
            .or_insert_with(|| msg.into());
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn of(&self, field: &str) -> String {
        self.0
            .get(field)
            .map(|m| {
                format!(
                    "<span class=\"field-error\" role=\"alert\">{}</span>",
                    esc(m)
                )
            })
            .unwrap_or_default()
    }
}

/// What the form asks for, validated.
#[derive(Debug, PartialEq)]
pub struct RouteRequest {
    pub name: String,
    pub number: Option<String>,
    pub trunk_id: Option<String>,
    pub allowed_addresses: Vec<String>,
    pub auth_username: String,
    pub auth_password: String,
    pub agent_name: String,
    pub agent_config: Option<serde_json::Value>,
    /// `None` when no "Schedule & Rules" field was filled.
    pub policy: Option<RoutePolicy>,
}

const DAYS: [(&str, &str); 7] = [
    ("mon", "Mon"),
    ("tue", "Tue"),
    ("wed", "Wed"),
    ("thu", "Thu"),
    ("fri", "Fri"),
    ("sat", "Sat"),
    ("sun", "Sun"),
];

/// Reads and checks the form; every problem is reported at once.
pub fn parse(f: &Fields) -> Result<RouteRequest, Problems> {
    let mut p = Problems::default();
    let name = f.get("name");
    if name.is_empty() {
        p.add("name", "give the route a name, e.g. Sales line");
    } else if name.len() > 200 {
        p.add("name", "the name is longer than 200 characters");
    }
    let number = Some(f.get("number")).filter(|s| !s.is_empty());
    let trunk_id = Some(f.get("trunk_id")).filter(|s| !s.is_empty());
    match (&number, &trunk_id) {
        (None, None) => p.add(
            "number",
            "give the phone number callers dial, or choose an existing trunk",
        ),
        (Some(_), Some(_)) => p.add(
            "number",
            "give either a phone number or a trunk, not both (clear one of them)",
        ),
        (Some(n), None) => {
            let norm = normalize(n);
            if norm.is_empty()
                || norm.ends_with('*')
                || !norm
                    .trim_start_matches('+')
                    .bytes()
                    .all(|b| b.is_ascii_digit())
            {
                p.add(
                    "number",
                    format!("{n:?} is not a phone number; write it like +15550100 (digits, optional leading +)"),
                );
            }
        }
        (None, Some(_)) => {}
    }
    let allowed_addresses: Vec<String> = f
        .get("allowed_addresses")
        .split([',', '\n', ' '])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let auth_username = f.get("auth_username");
    let auth_password = f.raw("auth_password");
    if auth_username.is_empty() != auth_password.is_empty() {
        p.add(
            "auth_username",
            "give both the digest user name and password, or neither",
        );
    }
    let agent_name = f.get("agent_name");
    if agent_name.len() > 128 {
        p.add("agent_name", "the agent name is longer than 128 characters");
    }
    let raw_config = f.get("agent_config");
    let agent_config = if raw_config.is_empty() {
        None
    } else {
        match serde_json::from_str::<serde_json::Value>(&raw_config) {
            Ok(v @ serde_json::Value::Object(_)) => Some(v),
            Ok(_) => {
                p.add(
                    "agent_config",
                    "agent_config must be a JSON object, e.g. {\"instructions\": \"Be brief\"}",
                );
                None
            }
            Err(e) => {
                p.add(
                    "agent_config",
                    format!("agent_config is not valid JSON: {e}"),
                );
                None
            }
        }
    };
    if agent_config.is_some() && agent_name.is_empty() {
        p.add(
            "agent_config",
            "agent_config is given to a named agent: fill in the agent name too",
        );
    }
    let policy = policy_of(f, &mut p);
    if p.is_empty() {
        Ok(RouteRequest {
            name,
            number,
            trunk_id,
            allowed_addresses,
            auth_username,
            auth_password,
            agent_name,
            agent_config,
            policy,
        })
    } else {
        Err(p)
    }
}

/// The "Schedule & Rules" part; `None` when all of it is blank.
fn policy_of(f: &Fields, p: &mut Problems) -> Option<RoutePolicy> {
    let timezone = f.get("timezone");
    let max = f.get("max_concurrent_calls");
    let start = f.get("start_date");
    let end = f.get("end_date");
    let ws = f.get("window_start");
    let we = f.get("window_end");
    let days = f.all("day");
    if [&timezone, &max, &start, &end, &ws, &we]
        .iter()
        .all(|s| s.is_empty())
        && days.is_empty()
    {
        return None;
    }
    let mut policy = RoutePolicy {
        timezone: timezone.clone(),
        ..Default::default()
    };
    if !max.is_empty() {
        match max.parse::<u32>() {
            Ok(n) if n >= 1 => policy.max_concurrent_calls = Some(n),
            _ => p.add(
                "max_concurrent_calls",
                format!("{max:?} is not a whole number of calls of at least 1; leave it blank for no limit"),
            ),
        }
    }
    let date = |field: &str, v: &str, p: &mut Problems| {
        if v.is_empty() {
            return None;
        }
        v.parse::<jiff::civil::Date>()
            .map_err(|_| p.add(field, format!("{v:?} is not a date; use YYYY-MM-DD")))
            .ok()
    };
    policy.start_date = date("start_date", &start, p);
    policy.end_date = date("end_date", &end, p);
    let clock = |field: &str, v: &str, p: &mut Problems| {
        if v.is_empty() {
            return None;
        }
        v.parse::<jiff::civil::Time>()
            .map_err(|_| {
                p.add(
                    field,
                    format!("{v:?} is not a time of day; use HH:MM, e.g. 09:00"),
                )
            })
            .ok()
    };
    policy.window_start = clock("window_start", &ws, p);
    policy.window_end = clock("window_end", &we, p);
    if days.len() == 7 {
        // Every day ticked is the same as none: keep the stored policy short.
        policy.active_days = Vec::new();
    } else {
        for d in &days {
            match Day::parse(d) {
                Some(day) => policy.active_days.push(day),
                None => p.add("day", format!("{d:?} is not a day of the week")),
            }
        }
    }
    if p.is_empty() {
        policy.rule_id = "SDR_pending".into();
        if let Err(e) = policy.compile() {
            match e {
                switchboard_dispatch::ConfigError::Invalid { field, message } => {
                    let field = match field.as_str() {
                        "window_start"
                        | "window_end"
                        | "timezone"
                        | "start_date"
                        | "end_date"
                        | "max_concurrent_calls" => field,
                        f if f.starts_with("active_days") => "day".to_string(),
                        _ => String::new(),
                    };
                    p.add(&field, message);
                }
                other => p.add("", other.to_string()),
            }
        }
        policy.rule_id.clear();
    }
    Some(policy)
}

fn field_of(e: &ServiceError) -> &str {
    match e {
        ServiceError::Invalid { field, .. } if field.contains("allowed_addresses") => {
            "allowed_addresses"
        }
        ServiceError::Invalid { field, .. } if field.contains("auth") => "auth_username",
        ServiceError::Invalid { field, .. } if field.contains("number") => "number",
        _ => "",
    }
}

/// The trunk of a number: the one listing it exactly, or a new restricted one.
async fn ensure_trunk(
    app: &App,
    req: &RouteRequest,
    number: &str,
) -> Result<(String, bool), Problems> {
    let mut p = Problems::default();
    let norm = normalize(number).into_owned();
    let exact = app.service.trunks_listing(&norm).await;
    match exact.as_slice() {
        [one] => return Ok((one.sip_trunk_id.clone(), false)),
        [] => {}
        many => {
            let ids: Vec<&str> = many.iter().map(|t| t.sip_trunk_id.as_str()).collect();
            p.add(
                "number",
                format!(
                    "several trunks list {norm} ({}); clear the number and choose one of them as the trunk",
                    ids.join(", ")
                ),
            );
            return Err(p);
        }
    }
    if req.allowed_addresses.is_empty() && req.auth_username.is_empty() {
        p.add(
            "allowed_addresses",
            format!("{norm} is a new number: give your carrier's signalling addresses (IPs or CIDRs) and/or digest credentials, so that not everyone who reaches this server can call it"),
        );
        return Err(p);
    }
    let trunk = lk::SipInboundTrunkInfo {
        name: format!("inbound {norm}"),
        numbers: vec![norm],
        allowed_addresses: req.allowed_addresses.clone(),
        auth_username: req.auth_username.clone(),
        auth_password: req.auth_password.clone(),
        ..Default::default()
    };
    match app.service.create_trunk(trunk).await {
        Ok(t) => Ok((t.sip_trunk_id, true)),
        Err(e) => {
            p.add(field_of(&e), format!("the trunk was not created: {e}"));
            Err(p)
        }
    }
}

/// Creates the trunk (if needed), the rule and its policy; undoes earlier steps on failure.
pub async fn create_route(app: &App, req: &RouteRequest) -> Result<String, Problems> {
    let (trunk_id, trunk_created) = match (&req.trunk_id, &req.number) {
        (Some(id), _) => match app.service.get_trunk(id).await {
            Ok(t) => (t.sip_trunk_id, false),
            Err(e) => {
                let mut p = Problems::default();
                p.add("trunk_id", e.to_string());
                return Err(p);
            }
        },
        (None, Some(n)) => ensure_trunk(app, req, n).await?,
        (None, None) => {
            let mut p = Problems::default();
            p.add(
                "number",
                "give the phone number callers dial, or choose a trunk",
            );
            return Err(p);
        }
    };
    let undo_trunk = async |app: &App| {
        if trunk_created && let Err(e) = app.service.delete_trunk(&trunk_id).await {
            tracing::warn!(trunk = %trunk_id, "could not remove the trunk of a failed route: {e}");
        }
    };
    let agents = if req.agent_name.is_empty() {
        Vec::new()
    } else {
        let number = req
            .number
            .as_deref()
            .map(|n| normalize(n).into_owned())
            .unwrap_or_default();
        let metadata = serde_json::json!({
            "agent_config": req.agent_config.clone().unwrap_or_else(|| serde_json::json!({})),
            "inbound_trunk_id": trunk_id,
            "agent_number": number,
        })
        .to_string();
        vec![lk::RoomAgentDispatch {
            agent_name: req.agent_name.clone(),
            metadata,
            ..Default::default()
        }]
    };
    let rule = lk::SipDispatchRuleInfo {
        name: req.name.clone(),
        trunk_ids: vec![trunk_id.clone()],
        rule: Some(lk::SipDispatchRule {
            rule: Some(lk::sip_dispatch_rule::Rule::DispatchRuleIndividual(
                lk::SipDispatchRuleIndividual {
                    room_prefix: ROOM_PREFIX.to_string(),
                    ..Default::default()
                },
            )),
        }),
        room_config: Some(lk::RoomConfiguration {
            agents,
            ..Default::default()
        }),
        ..Default::default()
    };
    let created = match app.service.create_rule(rule).await {
        Ok(r) => r,
        Err(e) => {
            undo_trunk(app).await;
            let mut p = Problems::default();
            let field = if trunk_created || req.trunk_id.is_none() {
                "number"
            } else {
                "trunk_id"
            };
            p.add(field, format!("the rule was not created: {e}"));
            return Err(p);
        }
    };
    let id = created.sip_dispatch_rule_id;
    if let Some(policy) = &req.policy {
        let mut policy = policy.clone();
        policy.rule_id = id.clone();
        if let Err(e) = app.service.put_policy(policy).await {
            if let Err(e) = app.service.delete_rule(&id).await {
                tracing::warn!(rule = %id, "could not remove the rule of a failed route: {e}");
            }
            undo_trunk(app).await;
            let mut p = Problems::default();
            p.add("", format!("the schedule was not saved: {e}"));
            return Err(p);
        }
    }
    Ok(id)
}

fn input(
    f: &Fields,
    name: &str,
    label: &str,
    kind: &str,
    extra: &str,
    problems: &Problems,
    hint: &str,
) -> String {
    format!(
        "<label class=\"field{bad}\">{label} <input type=\"{kind}\" name=\"{name}\" id=\"f-{name}\" value=\"{value}\" {extra}>{hint}{err}</label>",
        bad = if problems.0.contains_key(name) {
            " bad"
        } else {
            ""
        },
        value = esc(&f.raw(name)),
        hint = if hint.is_empty() {
            String::new()
        } else {
            format!("<small>{hint}</small>")
        },
        err = problems.of(name),
    )
}

/// The form, filled with `f` and annotated with `problems`.
fn render(app: &App, session: &Session, f: &Fields, problems: &Problems) -> String {
    let snapshot = app.service.snapshot();
    let mut trunks: Vec<_> = snapshot.trunks().collect();
    trunks.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
    let chosen = f.get("trunk_id");
    let trunk_choice = if trunks.len() <= MAX_TRUNK_CHOICES {
        let mut s = String::from(
            "<select name=\"trunk_id\" id=\"f-trunk_id\"><option value=\"\">— none: use the number above —</option>",
        );
        for t in &trunks {
            let _ = write!(
                s,
                "<option value=\"{id}\"{sel}>{name} ({numbers}) · {id}</option>",
                id = esc(&t.id),
                sel = if t.id == chosen { " selected" } else { "" },
                name = esc(&t.name),
                numbers = esc(&if t.numbers.is_empty() {
                    "any number".to_string()
                } else {
                    t.numbers.join(", ")
                }),
            );
        }
        s.push_str("</select>");
        s
    } else {
        format!(
            "<input name=\"trunk_id\" id=\"f-trunk_id\" value=\"{}\" placeholder=\"ST_…\">",
            esc(&chosen)
        )
    };
    let mut agent_names: Vec<String> = app
        .agents
        .workers()
        .into_iter()
        .map(|w| w.agent_name)
        .filter(|n| !n.is_empty())
        .collect();
    agent_names.sort();
    agent_names.dedup();
    let agent_list: String = agent_names
        .iter()
        .map(|n| format!("<option value=\"{}\">", esc(n)))
        .collect();
    let zones: String = jiff::tz::db()
        .available()
        .map(|z| format!("<option value=\"{}\">", esc(z.as_str())))
        .collect();
    let days = f.all("day");
    let day_boxes: String = DAYS
        .iter()
        .map(|(v, l)| {
            format!(
                "<label class=\"day\"><input type=\"checkbox\" name=\"day\" value=\"{v}\"{}> {l}</label>",
                if days.iter().any(|d| d == v) { " checked" } else { "" }
            )
        })
        .collect();
    let schedule_touched = [
        "timezone",
        "max_concurrent_calls",
        "start_date",
        "end_date",
        "window_start",
        "window_end",
    ]
    .iter()
    .any(|n| !f.get(n).is_empty())
        || !days.is_empty()
        || !problems.is_empty();
    let summary = if problems.is_empty() {
        String::new()
    } else {
        let mut s = String::from(
            "<div class=\"notice error\" role=\"alert\" id=\"form-errors\"><strong>The route was not created. Fix these and save again:</strong><ul>",
        );
        for m in problems.0.values() {
            let _ = write!(s, "<li>{}</li>", esc(m));
        }
        s.push_str("</ul></div>");
        s
    };
    format!(
        "<h1>Create route</h1>{summary}\
<form method=\"post\" action=\"/dashboard/rules/new\" class=\"stack\" id=\"route-form\">{csrf}\
{name}\
<fieldset><legend>Incoming calls to</legend>\
{number}\
<label class=\"field{trunk_bad}\">or an existing trunk {trunk_choice}{trunk_err}</label>\
<details{new_open}><summary>Access for a new number</summary>\
{addresses}{auth_user}{auth_pass}</details></fieldset>\
<fieldset><legend>Routed to agent</legend>\
{agent}<datalist id=\"agents\">{agent_list}</datalist>\
<label class=\"field{cfg_bad}\">Agent config (JSON, optional) <textarea name=\"agent_config\" id=\"f-agent_config\" rows=\"4\" placeholder='{{\"instructions\": \"You are a helpful assistant\"}}'>{cfg}</textarea>\
<small>Given to the agent's job as <code>agent_config</code> in its metadata.</small>{cfg_err}</label></fieldset>\
<details class=\"schedule\" id=\"schedule\"{sched_open}><summary>Schedule &amp; Rules</summary>\
{tz}<datalist id=\"zones\">{zones}</datalist>\
{max}{start}{end}{ws}{we}\
<fieldset class=\"days{days_bad}\"><legend>Active days</legend>{day_boxes}<small>None ticked: every day.</small>{days_err}</fieldset>\
</details>\
<div class=\"actions\"><button type=\"submit\">Save route</button> <a href=\"/dashboard/rules\">Cancel</a></div></form>",
        csrf = csrf_field(session),
        name = input(
            f,
            "name",
            "Route name",
            "text",
            "required maxlength=\"200\"",
            problems,
            ""
        ),
        number = input(
            f,
            "number",
            "Phone number",
            "tel",
            "placeholder=\"+15550100\"",
            problems,
            "The number the public dials. A number no trunk lists yet gets its own trunk."
        ),
        trunk_bad = if problems.0.contains_key("trunk_id") {
            " bad"
        } else {
            ""
        },
        trunk_err = problems.of("trunk_id"),
        new_open = if problems.0.contains_key("allowed_addresses")
            || problems.0.contains_key("auth_username")
            || !f.get("allowed_addresses").is_empty()
        {
            " open"
        } else {
            ""
        },
        addresses = input(
            f,
            "allowed_addresses",
            "Allowed addresses",
            "text",
            "placeholder=\"203.0.113.0/24, 198.51.100.7\"",
            problems,
            "Your carrier's signalling IPs or CIDRs, comma separated."
        ),
        auth_user = input(
            f,
            "auth_username",
            "Digest user (optional)",
            "text",
            "autocomplete=\"off\"",
            problems,
            ""
        ),
        auth_pass = input(
            f,
            "auth_password",
            "Digest password (optional)",
            "password",
            "autocomplete=\"new-password\"",
            problems,
            ""
        ),
        agent = input(
            f,
            "agent_name",
            "Agent name",
            "text",
            "list=\"agents\" placeholder=\"support-agent\"",
            problems,
            "The name your agent worker registers with. Blank: automatic dispatch."
        ),
        agent_list = agent_list,
        cfg_bad = if problems.0.contains_key("agent_config") {
            " bad"
        } else {
            ""
        },
        cfg = esc(&f.raw("agent_config")),
        cfg_err = problems.of("agent_config"),
        sched_open = if schedule_touched { " open" } else { "" },
        tz = input(
            f,
            "timezone",
            "Time zone",
            "text",
            "list=\"zones\" placeholder=\"America/New_York\"",
            problems,
            "IANA name; interprets all dates and times below. Blank: UTC."
        ),
        zones = zones,
        max = input(
            f,
            "max_concurrent_calls",
            "Max concurrent calls",
            "number",
            "min=\"1\" step=\"1\"",
            problems,
            "Blank: unlimited."
        ),
        start = input(
            f,
            "start_date",
            "Start date",
            "date",
            "",
            problems,
            "First day the route takes calls."
        ),
        end = input(
            f,
            "end_date",
            "End date",
            "date",
            "",
            problems,
            "Last day the route takes calls."
        ),
        ws = input(
            f,
            "window_start",
            "Call window start",
            "time",
            "",
            problems,
            "Blank start and end: any time of day."
        ),
        we = input(
            f,
            "window_end",
            "Call window end",
            "time",
            "",
            problems,
            "May be earlier than the start (a night window)."
        ),
        days_bad = if problems.0.contains_key("day") {
            " bad"
        } else {
            ""
        },
        days_err = problems.of("day"),
    ) + &problems.of("")
}

/// `GET /dashboard/rules/new`.
pub async fn show(State(app): State<App>, Extension(session): Extension<Session>) -> Response {
    let body = render(&app, &session, &Fields::default(), &Problems::default());
    page("Create route", &session, Nav::Rules, &body)
}

/// `POST /dashboard/rules/new`.
pub async fn create(
    State(app): State<App>,
    Extension(session): Extension<Session>,
    Extension(fields): Extension<Fields>,
) -> Response {
    let result = match parse(&fields) {
        Ok(req) => create_route(&app, &req).await,
        Err(p) => Err(p),
    };
    match result {
        Ok(id) => Redirect::to(&format!("/dashboard/rules/{}?notice=created", url_enc(&id)))
            .into_response(),
        Err(problems) => {
            let body = render(&app, &session, &fields, &problems);
            let mut resp = page("Create route", &session, Nav::Rules, &body);
            *resp.status_mut() = StatusCode::BAD_REQUEST;
            resp
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(s: &str) -> Fields {
        Fields::parse(s)
    }

    #[test]
    fn a_full_form_parses() {
        let r = parse(&form(
            "name=Sales&number=%2B15550100&allowed_addresses=10.0.0.0%2F8&agent_name=sales-bot&agent_config=%7B%22instructions%22%3A%22hi%22%7D\
&timezone=Europe%2FParis&max_concurrent_calls=3&start_date=2026-01-01&end_date=2026-12-31&window_start=09%3A00&window_end=18%3A00&day=mon&day=fri",
        ))
        .expect("valid");
        assert_eq!(r.name, "Sales");
        assert_eq!(r.number.as_deref(), Some("+15550100"));
        assert_eq!(r.allowed_addresses, ["10.0.0.0/8"]);
        let p = r.policy.expect("policy");
        assert_eq!(p.timezone, "Europe/Paris");
        assert_eq!(p.max_concurrent_calls, Some(3));
        assert_eq!(p.active_days, [Day::Mon, Day::Fri]);
        assert!(p.rule_id.is_empty());
    }

    #[test]
    fn problems_name_their_fields() {
        let p = parse(&form(
            "name=&number=abc&agent_config=%5B1%5D&max_concurrent_calls=0&start_date=tomorrow&window_start=25%3A00&timezone=Mars%2FBase",
        ))
        .expect_err("invalid");
        for f in [
            "name",
            "number",
            "agent_config",
            "max_concurrent_calls",
            "start_date",
            "window_start",
        ] {
            assert!(p.0.contains_key(f), "no problem for {f}: {p:?}");
        }
        let p = parse(&form("name=x&number=%2B1555&timezone=Mars%2FBase")).expect_err("bad zone");
        assert!(
            p.0.get("timezone").is_some_and(|m| m.contains("Mars")),
            "{p:?}"
        );
        let p = parse(&form("name=x&number=%2B1555&window_start=09%3A00")).expect_err("one end");
        assert!(!p.0.is_empty());
        let p = parse(&form("name=x&number=%2B1555&trunk_id=ST_a")).expect_err("both");
        assert!(p.0.contains_key("number"));
    }

    #[test]
    fn no_schedule_no_policy_and_all_days_is_every_day() {
        let r = parse(&form("name=x&trunk_id=ST_a")).expect("valid");
        assert!(r.policy.is_none());
        let r = parse(&form(
            "name=x&trunk_id=ST_a&day=mon&day=tue&day=wed&day=thu&day=fri&day=sat&day=sun",
        ))
        .expect("valid");
        assert!(r.policy.expect("policy").active_days.is_empty());
    }
}
