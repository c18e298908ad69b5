//! `switchboard sip …`: LiveKit `lk sip`-compatible management of inbound trunks and
//! dispatch rules over the Twirp `livekit.SIP` API, plus the flag conventions they share
//! (comma-separated or repeated lists, `"[]"` for an explicitly empty list).

use clap::{Args, Subcommand};
use livekit_protocol as lk;

use super::connection::ConnectionArgs;
use super::sip_dispatch::RuleCommand;
use super::sip_inbound::InboundCommand;

/// `switchboard sip …`.
#[derive(Debug, Subcommand)]
pub enum SipCommand {
    /// Inbound SIP trunks: which calls are admitted and how they authenticate.
    #[command(subcommand, visible_alias = "in", alias = "inbound-trunk")]
    Inbound(InboundCommand),
    /// Dispatch rules: which room (and agents) an admitted call goes to.
    #[command(subcommand, alias = "dispatch-rule")]
    Dispatch(RuleCommand),
}

impl SipCommand {
    pub fn run(self) -> Result<(), String> {
        match self {
            SipCommand::Inbound(c) => super::sip_inbound::run(c),
            SipCommand::Dispatch(c) => super::sip_dispatch::run(c),
        }
    }
}

/// The id argument of `get` and `delete`: `--id ID` or positional ids.
#[derive(Debug, Args)]
pub struct IdsArgs {
    #[command(flatten)]
    pub conn: ConnectionArgs,
    /// The id(s).
    #[arg(value_name = "ID")]
    pub ids: Vec<String>,
    /// The id (same as the positional argument).
    #[arg(long = "id", value_name = "ID")]
    pub id_flag: Vec<String>,
    /// Print the API's JSON answer.
    #[arg(long)]
    pub json: bool,
}

impl IdsArgs {
    /// Every id given, at least one.
    pub fn all(&self, what: &str, list: &str) -> Result<Vec<String>, String> {
        let ids: Vec<String> = self
            .id_flag
            .iter()
            .chain(&self.ids)
            .flat_map(|s| list_values(std::slice::from_ref(s)))
            .collect();
        if ids.is_empty() {
            return Err(format!(
                "which {what}? pass --id ID (or the id as an argument); `switchboard {list}` shows them"
            ));
        }
        Ok(ids)
    }
}

/// The values of a list flag given as `a,b`, repeated (`--x a --x b`), as a JSON array
/// (`["a","b"]`) or bracketed (`[a,b]`); `"[]"` or `""` alone is the empty list.
pub fn list_values(raw: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for v in raw {
        let v = v.trim();
        if v.starts_with('[')
            && let Ok(items) = serde_json::from_str::<Vec<String>>(v)
        {
            out.extend(
                items
                    .into_iter()
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty()),
            );
            continue;
        }
        let v = v.strip_prefix('[').unwrap_or(v);
        let v = v.strip_suffix(']').unwrap_or(v);
        out.extend(
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from),
        );
    }
    out
}

/// A list flag as a LiveKit `ListUpdate`: `set` to the values, or `clear` for an empty list.
pub fn list_update(raw: &Option<Vec<String>>) -> Option<lk::ListUpdate> {
    let values = list_values(raw.as_ref()?);
    Some(if values.is_empty() {
        lk::ListUpdate {
            clear: true,
            ..Default::default()
        }
    } else {
        lk::ListUpdate {
            set: values,
            ..Default::default()
        }
    })
}

/// A list as a `ListUpdate` that makes the stored list equal to it.
pub fn set_list(values: &[String]) -> lk::ListUpdate {
    if values.is_empty() {
        lk::ListUpdate {
            clear: true,
            ..Default::default()
        }
    } else {
        lk::ListUpdate {
            set: values.to_vec(),
            ..Default::default()
        }
    }
}

/// A protobuf timestamp as RFC 3339 (empty when unset).
pub fn time(t: &Option<pbjson_types::Timestamp>) -> String {
    t.as_ref()
        .and_then(|t| jiff::Timestamp::new(t.seconds, t.nanos).ok())
        .map(|t| {
            t.round(jiff::Unit::Second)
                .map_or_else(|_| t.to_string(), |r| r.to_string())
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn list_flag_forms() {
        assert_eq!(list_values(&s(&["a,b", "c"])), s(&["a", "b", "c"]));
        assert_eq!(list_values(&s(&["[]"])), Vec::<String>::new());
        assert_eq!(list_values(&s(&[""])), Vec::<String>::new());
        assert_eq!(list_values(&s(&["[a, b]"])), s(&["a", "b"]));
        assert_eq!(list_values(&s(&[r#"["a","b"]"#])), s(&["a", "b"]));
        assert_eq!(list_values(&s(&[" +1 555 0100 "])), s(&["+1 555 0100"]));
    }

    #[test]
    fn list_updates() {
        assert_eq!(list_update(&None), None);
        assert!(list_update(&Some(s(&["[]"]))).unwrap().clear);
        assert_eq!(list_update(&Some(s(&["a,b"]))).unwrap().set, s(&["a", "b"]));
    }

    #[test]
    fn timestamps_print_as_rfc3339() {
        let t = Some(pbjson_types::Timestamp {
            seconds: 1_700_000_000,
            nanos: 400_000_000,
        });
        assert_eq!(time(&t), "2023-11-14T22:13:20Z");
        assert_eq!(time(&None), "");
    }
}
