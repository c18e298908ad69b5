//! `switchboard dispatch agent|get|delete`: SIPHON's `Dispatch` helper — route a phone number
//! to an agent in one command, find and delete the rules of a number. The logic lives on the
//! server (`/api/v1/dispatch…`) so that every client gets the same semantics; this is the
//! command-line front end.

use clap::{ArgGroup, Args, Subcommand};
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use super::client::Client;
use super::connection::ConnectionArgs;
use super::output::{self, Table, col, full};
use super::sip::list_values;

/// `switchboard dispatch …`.
#[derive(Debug, Subcommand)]
pub enum DispatchCommand {
    /// Route calls for a number (or trunk) to an agent, idempotently.
    ///
    /// Ensures an inbound trunk for --number (an existing trunk listing it, else a new one,
    /// which must be restricted: pass --allowed-address and/or --auth-user/--auth-pass), then
    /// an individual dispatch rule named --name on that trunk, with rooms `inbound-call-_<caller>_<random>`,
    /// dispatching --agent with this job metadata:
    ///
    ///   {"agent_config": {"llm", "stt", "tts", "instructions", "greeting" (those given)},
    ///    "inbound_trunk_id": "ST_…", "agent_number": "<--number, normalized, or empty>"}
    ///
    /// Running it again with the same --name on the same trunk does not create another rule:
    /// it answers the existing one, with its agent and metadata updated when they changed.
    ///
    /// --json prints:
    ///   {"dispatch_id": "SDR_…", "name": "…", "trunk_ids": ["ST_…"], "inbound_trunk_id": "ST_…",
    ///    "created": bool, "updated": bool, "trunk_created": bool}
    /// created: a new rule was made; updated: the existing rule's agent/metadata changed;
    /// trunk_created: a new trunk was made for --number.
    #[command(verbatim_doc_comment)]
    Agent(Box<AgentArgs>),
    /// Find the dispatch rules of a number, or one rule by id.
    ///
    /// The rules of a number are every rule that can receive its calls: rules on trunks that
    /// list it (exactly or by a `*` pattern), and rules for all trunks (when some trunk admits
    /// calls for it); in both cases only if the rule's own numbers filter is empty or matches.
    /// Numbers are compared normalized (`+1 (555) 010-0100` = `15550100100`).
    ///
    /// --json prints {"dispatch_rules": [{"dispatch_id", "name", "trunk_ids"}…], "count": N}.
    #[command(verbatim_doc_comment)]
    Get(TargetArgs),
    /// Delete the dispatch rules of a number (as `dispatch get` finds them), or one rule by id.
    ///
    /// Trunks are kept. --json prints {"success": true, "deleted_count": N, "deleted_ids": […]}.
    #[command(verbatim_doc_comment)]
    Delete(TargetArgs),
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("target").required(true).args(["trunk_id", "number"])))]
pub struct AgentArgs {
    #[command(flatten)]
    pub conn: ConnectionArgs,
    /// Name of the dispatch rule (its stable identity on the trunk).
    #[arg(long)]
    pub name: String,
    /// The agent to dispatch: the name its worker registers with.
    #[arg(long, value_name = "AGENT_NAME")]
    pub agent: String,
    /// Put the rule on this existing inbound trunk.
    #[arg(long, value_name = "ID")]
    pub trunk_id: Option<String>,
    /// Put the rule on the trunk for this phone number (created when there is none).
    #[arg(long)]
    pub number: Option<String>,
    /// For a created trunk: carrier signalling IP, CIDR or host allowed to send calls
    /// (repeatable or comma-separated).
    #[arg(
        long = "allowed-address",
        visible_alias = "allowed-addresses",
        value_name = "ADDR"
    )]
    pub allowed_addresses: Vec<String>,
    /// For a created trunk: digest auth user name.
    #[arg(long, value_name = "USER", requires = "auth_pass")]
    pub auth_user: Option<String>,
    /// For a created trunk: digest auth password.
    #[arg(long, value_name = "PASSWORD", requires = "auth_user")]
    pub auth_pass: Option<String>,
    /// For a created trunk: digest auth realm.
    #[arg(long, value_name = "REALM")]
    pub auth_realm: Option<String>,
    /// Agent configuration: LLM.
    #[arg(long)]
    pub llm: Option<String>,
    /// Agent configuration: speech-to-text.
    #[arg(long)]
    pub stt: Option<String>,
    /// Agent configuration: text-to-speech.
    #[arg(long)]
    pub tts: Option<String>,
    /// Agent configuration: system instructions.
    #[arg(long, value_name = "TEXT")]
    pub instructions: Option<String>,
    /// Agent configuration: greeting.
    #[arg(long, value_name = "TEXT")]
    pub greeting: Option<String>,
    /// Print the API's JSON answer.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("target").required(true).args(["id", "number"])))]
pub struct TargetArgs {
    #[command(flatten)]
    pub conn: ConnectionArgs,
    /// A dispatch rule id.
    #[arg(long, value_name = "ID")]
    pub id: Option<String>,
    /// A phone number: every rule that can receive its calls.
    #[arg(long)]
    pub number: Option<String>,
    /// Print the API's JSON answer.
    #[arg(long)]
    pub json: bool,
}

impl TargetArgs {
    fn query(&self) -> Vec<(&str, &str)> {
        match (&self.id, &self.number) {
            (Some(id), _) => vec![("id", id.as_str())],
            (_, Some(n)) => vec![("number", n.as_str())],
            _ => Vec::new(),
        }
    }

    fn what(&self) -> String {
        match (&self.id, &self.number) {
            (Some(id), _) => format!("dispatch rule {id}"),
            (_, Some(n)) => format!("number {n}"),
            _ => String::new(),
        }
    }
}

#[derive(Debug, Deserialize)]
struct FindAnswer {
    dispatch_rules: Vec<RuleRef>,
}

#[derive(Debug, Deserialize)]
struct DeleteAnswer {
    deleted_ids: Vec<String>,
}

fn parse<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, String> {
    serde_json::from_str(text)
        .map_err(|e| format!("the server's answer is not what this CLI expects ({e}); are the CLI and the server the same version?"))
}

#[derive(Debug, Deserialize)]
struct RuleRef {
    dispatch_id: String,
    name: String,
    trunk_ids: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct AgentAnswer {
    dispatch_id: String,
    name: String,
    inbound_trunk_id: String,
    created: bool,
    #[serde(default)]
    updated: bool,
    #[serde(default)]
    trunk_created: bool,
}

pub fn run(cmd: DispatchCommand) -> Result<(), String> {
    super::runtime()?.block_on(async move {
        match cmd {
            DispatchCommand::Agent(a) => agent(*a).await,
            DispatchCommand::Get(a) => get(a).await,
            DispatchCommand::Delete(a) => delete(a).await,
        }
    })
}

async fn agent(a: AgentArgs) -> Result<(), String> {
    let mut config = serde_json::Map::new();
    for (k, v) in [
        ("llm", &a.llm),
        ("stt", &a.stt),
        ("tts", &a.tts),
        ("instructions", &a.instructions),
        ("greeting", &a.greeting),
    ] {
        if let Some(v) = v {
            config.insert(k.to_string(), Value::String(v.clone()));
        }
    }
    let body = json!({
        "name": a.name,
        "agent_name": a.agent,
        "trunk_id": a.trunk_id,
        "number": a.number,
        "allowed_addresses": list_values(&a.allowed_addresses),
        "auth_username": a.auth_user.clone().unwrap_or_default(),
        "auth_password": a.auth_pass.clone().unwrap_or_default(),
        "auth_realm": a.auth_realm.clone().unwrap_or_default(),
        "agent_config": config,
    });
    let client = Client::connect(&a.conn)?;
    let answer = client
        .native(Method::POST, "api/v1/dispatch/agent", &[], Some(&body))
        .await?;
    if a.json {
        println!("{}", output::pretty_raw(&answer));
        return Ok(());
    }
    let r: AgentAnswer = parse(&answer)?;
    let trunk = if r.trunk_created {
        format!("new trunk {}", r.inbound_trunk_id)
    } else {
        format!("trunk {}", r.inbound_trunk_id)
    };
    if r.created {
        println!(
            "created dispatch rule {} {:?} on {trunk}: calls go to rooms inbound-call-_<caller>_<random> with agent {:?}",
            r.dispatch_id, r.name, a.agent
        );
    } else if r.updated {
        println!(
            "dispatch rule {} {:?} already exists on {trunk}; its agent and job metadata were updated",
            r.dispatch_id, r.name
        );
    } else {
        println!(
            "dispatch rule {} {:?} already exists on {trunk}; nothing changed",
            r.dispatch_id, r.name
        );
    }
    Ok(())
}

async fn get(a: TargetArgs) -> Result<(), String> {
    let client = Client::connect(&a.conn)?;
    let answer = client
        .native(Method::GET, "api/v1/dispatch", &a.query(), None)
        .await?;
    if a.json {
        println!("{}", output::pretty_raw(&answer));
        return Ok(());
    }
    let rules = parse::<FindAnswer>(&answer)?.dispatch_rules;
    if rules.is_empty() {
        println!("no dispatch rules for {}", a.what());
        return Ok(());
    }
    let mut t = Table::new(&[full("ID"), col("NAME", 40), col("TRUNKS", 60)]);
    for r in &rules {
        t.row(vec![
            r.dispatch_id.clone(),
            r.name.clone(),
            output::join_or(&r.trunk_ids, "<any>"),
        ]);
    }
    print!("{}", t.render());
    Ok(())
}

async fn delete(a: TargetArgs) -> Result<(), String> {
    let client = Client::connect(&a.conn)?;
    let answer = client
        .native(Method::DELETE, "api/v1/dispatch", &a.query(), None)
        .await?;
    if a.json {
        println!("{}", output::pretty_raw(&answer));
        return Ok(());
    }
    let ids = parse::<DeleteAnswer>(&answer)?.deleted_ids;
    match ids.len() {
        0 => println!("no dispatch rules for {}; nothing deleted", a.what()),
        1 => println!("deleted 1 dispatch rule: {}", ids[0]),
        n => println!("deleted {n} dispatch rules: {}", ids.join(", ")),
    }
    Ok(())
}
