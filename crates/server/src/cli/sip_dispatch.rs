//! `switchboard sip dispatch create|list|get|update|delete`: dispatch rules through the Twirp
//! API, with `lk sip dispatch`'s flags (`--trunks`, `--individual/--caller`, `--direct`,
//! `--callee`, `--randomize`) plus `--rule-type`, `--room-prefix`, `--room-name`, `--pin`,
//! `--numbers`, `--inbound-numbers`, `--agent` …, or a JSON file in the shapes of LiveKit's
//! documentation (`{"dispatch_rule": {...}}` for create, the bare rule for update).

use clap::{Args, Subcommand, ValueEnum};
use livekit_protocol as lk;
use lk::sip_dispatch_rule::Rule as Kind;

use super::client::Client;
use super::connection::ConnectionArgs;
use super::json_input::{CREATE_RULE, JsonInput, RULE_INFO};
use super::output::{self, Table, col, full};
use super::sip::{IdsArgs, list_update, list_values, set_list, time};

/// `switchboard sip dispatch …`.
#[derive(Debug, Subcommand)]
pub enum RuleCommand {
    /// Create a dispatch rule from a JSON file or flags.
    ///
    /// Examples:
    ///   switchboard sip dispatch create dispatch-rule.json
    ///   switchboard sip dispatch create --name support --trunks ST_abc --individual call- --agent support-agent
    ///   switchboard sip dispatch create --name lobby --rule-type direct --room-name lobby --pin 1234
    #[command(verbatim_doc_comment)]
    Create(Box<CreateArgs>),
    /// List dispatch rules.
    List(ListArgs),
    /// Show dispatch rules by id.
    Get(IdsArgs),
    /// Change a dispatch rule.
    ///
    /// Without --replace only the fields given change (LiveKit's SIPDispatchRuleUpdate: name,
    /// metadata, rule, trunk_ids, attributes, media). Fields an update cannot express
    /// (numbers, inbound_numbers, hide_phone_number, room_config / --agent, room_preset …)
    /// are applied by reading the rule and writing it whole. With --replace the rule becomes
    /// exactly the JSON file plus flags.
    ///
    /// Example: switchboard sip dispatch update --id SDR_abc --trunks "[]" dispatch-rule.json
    Update(Box<UpdateArgs>),
    /// Delete dispatch rules.
    Delete(IdsArgs),
}

/// The three rule kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RuleType {
    /// A room per caller: `<prefix>_<caller>_<random>`.
    #[value(alias = "caller")]
    Individual,
    /// Every caller in one room.
    Direct,
    /// A room per called number: `<prefix>_<called>`.
    Callee,
}

/// Rule fields settable by flags.
#[derive(Debug, Default, Args)]
pub struct RuleFlags {
    /// Name of the rule.
    #[arg(long)]
    pub name: Option<String>,
    /// Trunks the rule applies to (comma-separated or repeated; "[]" = all trunks).
    #[arg(long, visible_alias = "trunk-id", alias = "trunk", value_name = "IDS")]
    pub trunks: Option<Vec<String>>,
    /// Rule kind.
    #[arg(long, value_enum)]
    pub rule_type: Option<RuleType>,
    /// Individual rule with this room prefix (lk's --caller / --individual).
    #[arg(long, visible_alias = "caller", value_name = "PREFIX")]
    pub individual: Option<String>,
    /// Direct rule into this room.
    #[arg(long, value_name = "ROOM")]
    pub direct: Option<String>,
    /// Callee rule with this room prefix.
    #[arg(long, value_name = "PREFIX")]
    pub callee: Option<String>,
    /// Room prefix (individual and callee rules).
    #[arg(long, value_name = "PREFIX")]
    pub room_prefix: Option<String>,
    /// Room name (direct rules).
    #[arg(long, value_name = "ROOM")]
    pub room_name: Option<String>,
    /// PIN callers must enter ("" for none).
    #[arg(long)]
    pub pin: Option<String>,
    /// Callee rules: a room per caller (`_<random>` appended).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub randomize: Option<bool>,
    /// Individual rules: no random suffix (`<prefix>_<caller>`).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub no_randomness: Option<bool>,
    /// Called numbers the rule accepts (comma-separated or repeated; "[]" = any).
    #[arg(long, value_name = "NUMBERS")]
    pub numbers: Option<Vec<String>>,
    /// Caller numbers the rule accepts (comma-separated or repeated; "[]" = any).
    #[arg(long, value_name = "NUMBERS")]
    pub inbound_numbers: Option<Vec<String>>,
    /// Hide the caller's number from the room.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub hide_phone_number: Option<bool>,
    /// Metadata given to the caller participant.
    #[arg(long)]
    pub metadata: Option<String>,
    /// Attribute given to the caller participant, KEY=VALUE (repeatable).
    #[arg(long = "attribute", value_name = "KEY=VALUE")]
    pub attributes: Vec<String>,
    /// Agent to dispatch into the room (repeatable; "[]" = none).
    #[arg(long = "agent", value_name = "AGENT_NAME")]
    pub agents: Option<Vec<String>>,
    /// Job metadata for the --agent entries.
    #[arg(long, value_name = "TEXT", requires = "agents")]
    pub agent_metadata: Option<String>,
}

impl RuleFlags {
    fn kind_flags(&self) -> bool {
        self.rule_type.is_some()
            || self.individual.is_some()
            || self.direct.is_some()
            || self.callee.is_some()
            || self.room_prefix.is_some()
            || self.room_name.is_some()
            || self.pin.is_some()
            || self.randomize.is_some()
            || self.no_randomness.is_some()
    }

    /// Flags SIPDispatchRuleUpdate can express.
    fn update_flags(&self) -> bool {
        self.name.is_some()
            || self.trunks.is_some()
            || self.metadata.is_some()
            || !self.attributes.is_empty()
            || self.kind_flags()
    }

    /// Flags only a whole-rule write can express.
    fn whole_flags(&self) -> bool {
        self.numbers.is_some()
            || self.inbound_numbers.is_some()
            || self.hide_phone_number.is_some()
            || self.agents.is_some()
    }

    fn any(&self) -> bool {
        self.update_flags() || self.whole_flags()
    }

    /// The kind the flags ask for explicitly, if any.
    fn explicit_kind(&self) -> Result<Option<RuleType>, String> {
        let mut kinds = Vec::new();
        if let Some(t) = self.rule_type {
            kinds.push((t, "--rule-type"));
        }
        if self.individual.is_some() {
            kinds.push((RuleType::Individual, "--individual"));
        }
        if self.direct.is_some() {
            kinds.push((RuleType::Direct, "--direct"));
        }
        if self.callee.is_some() {
            kinds.push((RuleType::Callee, "--callee"));
        }
        let first = kinds.first().map(|k| k.0);
        if let Some((other, flag)) = kinds.iter().find(|k| Some(k.0) != first) {
            return Err(format!(
                "only one dispatch rule type is allowed: {flag} asks for a {} rule, {} for a {} rule",
                type_name(*other),
                kinds[0].1,
                type_name(kinds[0].0)
            ));
        }
        Ok(first.or(if self.room_name.is_some() {
            Some(RuleType::Direct)
        } else {
            None
        }))
    }

    /// The rule kind after the flags, starting from `base` (the file's or the stored rule).
    /// `None` when the flags say nothing about the kind.
    fn kind(&self, base: Option<&Kind>) -> Result<Option<Kind>, String> {
        if !self.kind_flags() {
            return Ok(None);
        }
        let wanted = match (self.explicit_kind()?, base) {
            (Some(t), _) => t,
            (None, Some(k)) => kind_type(k),
            (None, None) => {
                return Err(
                    "which kind of rule? pass --rule-type individual|direct|callee (or --individual PREFIX, --direct ROOM, --callee PREFIX)"
                        .into(),
                );
            }
        };
        // Start from the base when it has the same kind, so e.g. --pin alone keeps the room.
        let mut k = match base {
            Some(b) if kind_type(b) == wanted => b.clone(),
            _ => match wanted {
                RuleType::Individual => Kind::DispatchRuleIndividual(Default::default()),
                RuleType::Direct => Kind::DispatchRuleDirect(Default::default()),
                RuleType::Callee => Kind::DispatchRuleCallee(Default::default()),
            },
        };
        let prefix = match (&self.individual, &self.callee, &self.room_prefix) {
            (Some(p), _, Some(q)) | (_, Some(p), Some(q)) if p != q => {
                return Err(format!(
                    "the room prefix is given twice ({p:?} and --room-prefix {q:?}); give it once"
                ));
            }
            (Some(p), _, _) | (_, Some(p), _) | (_, _, Some(p)) => Some(p.clone()),
            _ => None,
        };
        let room = match (&self.direct, &self.room_name) {
            (Some(a), Some(b)) if a != b => {
                return Err(format!(
                    "the room name is given twice (--direct {a:?} and --room-name {b:?}); give it once"
                ));
            }
            (Some(r), _) | (_, Some(r)) => Some(r.clone()),
            _ => None,
        };
        let misplaced = |flag: &str, kind: RuleType| {
            format!(
                "{flag} does not apply to a {} rule{}",
                type_name(kind),
                match kind {
                    RuleType::Direct => " (direct rules take --room-name and --pin)",
                    RuleType::Individual =>
                        " (individual rules take --room-prefix, --pin and --no-randomness)",
                    RuleType::Callee => " (callee rules take --room-prefix, --pin and --randomize)",
                }
            )
        };
        match &mut k {
            Kind::DispatchRuleDirect(d) => {
                if prefix.is_some() {
                    return Err(misplaced("--room-prefix", RuleType::Direct));
                }
                if self.randomize.is_some() {
                    return Err(misplaced("--randomize", RuleType::Direct));
                }
                if self.no_randomness.is_some() {
                    return Err(misplaced("--no-randomness", RuleType::Direct));
                }
                if let Some(r) = room {
                    d.room_name = r;
                }
                if let Some(p) = &self.pin {
                    d.pin.clone_from(p);
                }
            }
            Kind::DispatchRuleIndividual(i) => {
                if room.is_some() {
                    return Err(misplaced("--room-name", RuleType::Individual));
                }
                if self.randomize.is_some() {
                    return Err(misplaced("--randomize", RuleType::Individual));
                }
                if let Some(p) = prefix {
                    i.room_prefix = p;
                }
                if let Some(p) = &self.pin {
                    i.pin.clone_from(p);
                }
                if let Some(n) = self.no_randomness {
                    i.no_randomness = n;
                }
            }
            Kind::DispatchRuleCallee(c) => {
                if room.is_some() {
                    return Err(misplaced("--room-name", RuleType::Callee));
                }
                if self.no_randomness.is_some() {
                    return Err(misplaced("--no-randomness", RuleType::Callee));
                }
                if let Some(p) = prefix {
                    c.room_prefix = p;
                }
                if let Some(p) = &self.pin {
                    c.pin.clone_from(p);
                }
                if let Some(r) = self.randomize {
                    c.randomize = r;
                }
            }
        }
        Ok(Some(k))
    }

    fn attributes(&self) -> Result<Vec<(String, String)>, String> {
        self.attributes
            .iter()
            .map(|a| {
                a.split_once('=')
                    .map(|(k, v)| (k.trim().to_string(), v.to_string()))
                    .filter(|(k, _)| !k.is_empty())
                    .ok_or_else(|| format!("--attribute {a:?} must be KEY=VALUE"))
            })
            .collect()
    }

    /// Sets the given fields on a whole rule.
    fn apply(&self, r: &mut lk::SipDispatchRuleInfo) -> Result<(), String> {
        if let Some(v) = &self.name {
            r.name.clone_from(v);
        }
        if let Some(v) = &self.metadata {
            r.metadata.clone_from(v);
        }
        if let Some(v) = &self.trunks {
            r.trunk_ids = list_values(v);
        }
        if let Some(v) = &self.numbers {
            r.numbers = list_values(v);
        }
        if let Some(v) = &self.inbound_numbers {
            r.inbound_numbers = list_values(v);
        }
        if let Some(v) = self.hide_phone_number {
            r.hide_phone_number = v;
        }
        for (k, v) in self.attributes()? {
            if v.is_empty() {
                r.attributes.remove(&k);
            } else {
                r.attributes.insert(k, v);
            }
        }
        if let Some(k) = self.kind(r.rule.as_ref().and_then(|x| x.rule.as_ref()))? {
            r.rule = Some(lk::SipDispatchRule { rule: Some(k) });
        }
        if let Some(agents) = &self.agents {
            let metadata = self.agent_metadata.clone().unwrap_or_default();
            let cfg = r.room_config.get_or_insert_with(Default::default);
            cfg.agents = list_values(agents)
                .into_iter()
                .map(|agent_name| lk::RoomAgentDispatch {
                    agent_name,
                    metadata: metadata.clone(),
                    ..Default::default()
                })
                .collect();
        }
        Ok(())
    }
}

fn type_name(t: RuleType) -> &'static str {
    match t {
        RuleType::Individual => "individual",
        RuleType::Direct => "direct",
        RuleType::Callee => "callee",
    }
}

fn kind_type(k: &Kind) -> RuleType {
    match k {
        Kind::DispatchRuleDirect(_) => RuleType::Direct,
        Kind::DispatchRuleIndividual(_) => RuleType::Individual,
        Kind::DispatchRuleCallee(_) => RuleType::Callee,
    }
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    #[command(flatten)]
    pub conn: ConnectionArgs,
    /// JSON file (or inline JSON) with `{"dispatch_rule": {...}}` or the bare rule; flags
    /// override its fields.
    #[arg(value_name = "FILE")]
    pub file: Option<String>,
    #[command(flatten)]
    pub flags: RuleFlags,
    /// Print the created rule as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub conn: ConnectionArgs,
    /// Only rules that apply to these trunks (rules for all trunks included).
    #[arg(long, visible_alias = "trunks", value_name = "IDS")]
    pub trunk_id: Vec<String>,
    /// Only these rule ids.
    #[arg(long, visible_alias = "id", value_name = "IDS")]
    pub ids: Vec<String>,
    /// Print the JSON array of rules.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    #[command(flatten)]
    pub conn: ConnectionArgs,
    /// The rule to change (default: sip_dispatch_rule_id in the JSON file).
    #[arg(long, value_name = "ID")]
    pub id: Option<String>,
    /// JSON file (or inline JSON) with the fields to set: the bare rule
    /// (`{"name": …, "rule": {…}}`) or `{"dispatch_rule": {...}}`.
    #[arg(value_name = "FILE")]
    pub file: Option<String>,
    #[command(flatten)]
    pub flags: RuleFlags,
    /// Replace the whole rule with the file and flags.
    #[arg(long)]
    pub replace: bool,
    /// Print the updated rule as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cmd: RuleCommand) -> Result<(), String> {
    super::runtime()?.block_on(async move {
        match cmd {
            RuleCommand::Create(a) => create(*a).await,
            RuleCommand::List(a) => list(a).await,
            RuleCommand::Get(a) => get(a).await,
            RuleCommand::Update(a) => update(*a).await,
            RuleCommand::Delete(a) => delete(a).await,
        }
    })
}

/// Reads a rule from a JSON file: `{"dispatch_rule": {...}}`, or the bare rule (which also
/// covers the deprecated flat fields of CreateSIPDispatchRuleRequest). Returns the rule and
/// the snake_case names of the fields the file sets.
fn read_rule(input: &JsonInput) -> Result<(lk::SipDispatchRuleInfo, Vec<String>), String> {
    if input.has("dispatch_rule") {
        let req: lk::CreateSipDispatchRuleRequest = input.decode(&CREATE_RULE)?;
        let others: Vec<String> = input
            .fields()
            .into_iter()
            .filter(|f| f != "dispatch_rule")
            .collect();
        if !others.is_empty() {
            return Err(format!(
                "{}: give the rule either inside \"dispatch_rule\" or as top-level fields, not both (top-level: {})",
                input.label,
                others.join(", ")
            ));
        }
        let fields = input
            .value
            .get("dispatch_rule")
            .or_else(|| input.value.get("dispatchRule"))
            .and_then(|v| v.as_object())
            .map(|m| m.keys().map(|k| super::json_input::snake(k)).collect())
            .unwrap_or_default();
        Ok((req.dispatch_rule.unwrap_or_default(), fields))
    } else {
        Ok((input.decode(&RULE_INFO)?, input.fields()))
    }
}

async fn create(a: CreateArgs) -> Result<(), String> {
    let mut rule = match &a.file {
        Some(f) => read_rule(&JsonInput::read(f)?)?.0,
        None if !a.flags.any() => {
            return Err("nothing to create: give a JSON file (see `switchboard sip dispatch create --help`) or flags, e.g. --name support --individual call- --agent my-agent".into());
        }
        None => lk::SipDispatchRuleInfo::default(),
    };
    a.flags.apply(&mut rule)?;
    if rule.rule.as_ref().and_then(|r| r.rule.as_ref()).is_none() {
        return Err(match &a.file {
            Some(f) => format!(
                "{f} has no rule kind: set \"rule\": {{\"dispatchRuleIndividual\" | \"dispatchRuleDirect\" | \"dispatchRuleCallee\": {{...}}}} or pass --rule-type"
            ),
            None => "which kind of rule? pass --rule-type individual|direct|callee (or --individual PREFIX, --direct ROOM, --callee PREFIX)".into(),
        });
    }
    let client = Client::connect(&a.conn)?;
    let created: lk::SipDispatchRuleInfo = client
        .twirp(
            "CreateSIPDispatchRule",
            &lk::CreateSipDispatchRuleRequest {
                dispatch_rule: Some(rule),
                ..Default::default()
            },
        )
        .await?;
    output::print_saved(
        a.json,
        &created,
        "SIPDispatchRuleID",
        &created.sip_dispatch_rule_id,
    )
}

/// (kind, room pattern, pin) of a rule, for display.
fn describe(r: &lk::SipDispatchRuleInfo) -> (&'static str, String, String) {
    let with_prefix = |p: &str, rest: &str| {
        if p.is_empty() {
            rest.to_string()
        } else {
            format!("{p}_{rest}")
        }
    };
    match r.rule.as_ref().and_then(|x| x.rule.as_ref()) {
        Some(Kind::DispatchRuleDirect(d)) => ("direct", d.room_name.clone(), d.pin.clone()),
        Some(Kind::DispatchRuleIndividual(i)) => (
            "individual",
            with_prefix(
                &i.room_prefix,
                if i.no_randomness {
                    "<caller>"
                } else {
                    "<caller>_<random>"
                },
            ),
            i.pin.clone(),
        ),
        Some(Kind::DispatchRuleCallee(c)) => (
            "callee",
            with_prefix(
                &c.room_prefix,
                if c.randomize {
                    "<called>_<random>"
                } else {
                    "<called>"
                },
            ),
            c.pin.clone(),
        ),
        None => ("(none)", String::new(), String::new()),
    }
}

fn agent_names(r: &lk::SipDispatchRuleInfo) -> Vec<String> {
    r.room_config
        .as_ref()
        .map(|c| c.agents.iter().map(|a| a.agent_name.clone()).collect())
        .unwrap_or_default()
}

async fn fetch(client: &Client, ids: Vec<String>) -> Result<Vec<lk::SipDispatchRuleInfo>, String> {
    let resp: lk::ListSipDispatchRuleResponse = client
        .twirp(
            "ListSIPDispatchRule",
            &lk::ListSipDispatchRuleRequest {
                dispatch_rule_ids: ids,
                ..Default::default()
            },
        )
        .await?;
    Ok(resp.items)
}

/// One rule by id (LiveKit has no Get: a List filtered by id).
async fn fetch_one(client: &Client, id: &str) -> Result<lk::SipDispatchRuleInfo, String> {
    fetch(client, vec![id.to_string()])
        .await?
        .into_iter()
        .find(|r| r.sip_dispatch_rule_id == id)
        .ok_or_else(|| {
            format!("dispatch rule {id:?} does not exist; list them with `switchboard sip dispatch list` (code: not_found)")
        })
}

async fn list(a: ListArgs) -> Result<(), String> {
    let client = Client::connect(&a.conn)?;
    let resp: lk::ListSipDispatchRuleResponse = client
        .twirp(
            "ListSIPDispatchRule",
            &lk::ListSipDispatchRuleRequest {
                dispatch_rule_ids: list_values(&a.ids),
                trunk_ids: list_values(&a.trunk_id),
                ..Default::default()
            },
        )
        .await?;
    if a.json {
        return output::print_json(&resp.items);
    }
    if resp.items.is_empty() {
        println!(
            "no dispatch rules; create one with `switchboard sip dispatch create` or `switchboard dispatch agent`"
        );
        return Ok(());
    }
    let mut t = Table::new(&[
        full("ID"),
        col("NAME", 24),
        col("TRUNKS", 34),
        full("KIND"),
        col("ROOM", 32),
        col("PIN", 8),
        col("NUMBERS", 24),
        col("CALLERS", 24),
        col("AGENTS", 24),
        col("METADATA", 24),
    ]);
    for r in &resp.items {
        let (kind, room, pin) = describe(r);
        t.row(vec![
            r.sip_dispatch_rule_id.clone(),
            r.name.clone(),
            output::join_or(&r.trunk_ids, "<any>"),
            kind.to_string(),
            room,
            if pin.is_empty() {
                String::new()
            } else {
                "****".to_string()
            },
            output::join_or(&r.numbers, "<any>"),
            output::join_or(&r.inbound_numbers, "<any>"),
            agent_names(r).join(","),
            r.metadata.clone(),
        ]);
    }
    print!("{}", t.render());
    Ok(())
}

fn print_rule(r: &lk::SipDispatchRuleInfo) {
    let (kind, room, pin) = describe(r);
    let agents = r
        .room_config
        .as_ref()
        .map(|c| {
            c.agents
                .iter()
                .map(|a| {
                    if a.metadata.is_empty() {
                        a.agent_name.clone()
                    } else {
                        format!(
                            "{} (job metadata {:?})",
                            a.agent_name,
                            output::cell(&a.metadata, 120)
                        )
                    }
                })
                .collect::<Vec<_>>()
                .join("; ")
        })
        .unwrap_or_default();
    print!(
        "{}",
        output::details(&[
            ("id", r.sip_dispatch_rule_id.clone()),
            ("name", r.name.clone()),
            ("kind", kind.to_string()),
            ("room", room),
            ("pin", pin),
            ("trunks", output::join_or(&r.trunk_ids, "<any>")),
            ("numbers", output::join_or(&r.numbers, "<any>")),
            ("callers", output::join_or(&r.inbound_numbers, "<any>")),
            (
                "hide phone number",
                if r.hide_phone_number {
                    "yes".into()
                } else {
                    String::new()
                }
            ),
            ("agents", agents),
            ("metadata", r.metadata.clone()),
            ("attributes", output::map_cell(&r.attributes)),
            ("room preset", r.room_preset.clone()),
            ("created", time(&r.created_at)),
            ("updated", time(&r.updated_at)),
        ])
    );
}

async fn get(a: IdsArgs) -> Result<(), String> {
    let ids = a.all("dispatch rule", "sip dispatch list")?;
    let client = Client::connect(&a.conn)?;
    let mut rules = Vec::new();
    for id in &ids {
        rules.push(fetch_one(&client, id).await?);
    }
    if a.json {
        return match rules.as_slice() {
            [one] => output::print_json(one),
            many => output::print_json(many),
        };
    }
    for (i, r) in rules.iter().enumerate() {
        if i > 0 {
            println!();
        }
        print_rule(r);
    }
    Ok(())
}

/// Fields of SIPDispatchRuleUpdate.
const UPDATABLE: &[&str] = &[
    "trunk_ids",
    "rule",
    "name",
    "metadata",
    "attributes",
    "media_encryption",
    "media",
];
/// Fields a file may carry that an update ignores.
const IGNORED: &[&str] = &["sip_dispatch_rule_id", "created_at", "updated_at"];

/// Copies the field `name` of `src` to `dst` (attributes merge, as in an update).
// media_encryption is deprecated but still part of the wire contract.
#[allow(deprecated)]
fn copy_field(dst: &mut lk::SipDispatchRuleInfo, src: &lk::SipDispatchRuleInfo, name: &str) {
    match name {
        "rule" => dst.rule.clone_from(&src.rule),
        "trunk_ids" => dst.trunk_ids.clone_from(&src.trunk_ids),
        "hide_phone_number" => dst.hide_phone_number = src.hide_phone_number,
        "inbound_numbers" => dst.inbound_numbers.clone_from(&src.inbound_numbers),
        "numbers" => dst.numbers.clone_from(&src.numbers),
        "name" => dst.name.clone_from(&src.name),
        "metadata" => dst.metadata.clone_from(&src.metadata),
        "attributes" => {
            for (k, v) in &src.attributes {
                if v.is_empty() {
                    dst.attributes.remove(k);
                } else {
                    dst.attributes.insert(k.clone(), v.clone());
                }
            }
        }
        "room_preset" => dst.room_preset.clone_from(&src.room_preset),
        "room_config" => dst.room_config.clone_from(&src.room_config),
        "media" => dst.media.clone_from(&src.media),
        "krisp_enabled" => dst.krisp_enabled = src.krisp_enabled,
        "media_encryption" => dst.media_encryption = src.media_encryption,
        _ => {}
    }
}

// media_encryption is deprecated but still part of the wire contract.
#[allow(deprecated)]
async fn update(a: UpdateArgs) -> Result<(), String> {
    use lk::update_sip_dispatch_rule_request::Action;
    let input = a.file.as_deref().map(JsonInput::read).transpose()?;
    let (from_file, fields) = match &input {
        Some(i) => {
            let (r, f) = read_rule(i)?;
            (Some(r), f)
        }
        None => (None, Vec::new()),
    };
    let id = a
        .id
        .clone()
        .or_else(|| from_file.as_ref().map(|r| r.sip_dispatch_rule_id.clone()).filter(|s| !s.is_empty()))
        .ok_or("which rule? pass --id ID (or set sip_dispatch_rule_id in the JSON file); `switchboard sip dispatch list` shows them")?;
    if input.is_none() && !a.flags.any() {
        return Err("nothing to update: give a JSON file with the fields to set, or flags such as --name, --trunks, --individual/--direct/--callee, --pin".into());
    }
    let client = Client::connect(&a.conn)?;
    let needs_whole = a.flags.whole_flags()
        || fields
            .iter()
            .any(|f| !UPDATABLE.contains(&f.as_str()) && !IGNORED.contains(&f.as_str()));
    let action = if a.replace {
        let mut r = from_file.unwrap_or_default();
        r.sip_dispatch_rule_id.clear();
        a.flags.apply(&mut r)?;
        Action::Replace(r)
    } else if needs_whole {
        // SIPDispatchRuleUpdate cannot express these fields: read the rule, change what the
        // file and flags set, write it whole.
        let mut r = fetch_one(&client, &id).await?;
        if let Some(src) = &from_file {
            for f in &fields {
                copy_field(&mut r, src, f);
            }
        }
        a.flags.apply(&mut r)?;
        r.sip_dispatch_rule_id.clear();
        Action::Replace(r)
    } else {
        let mut u = lk::SipDispatchRuleUpdate::default();
        let mut base_kind = None;
        if let Some(src) = &from_file {
            for f in &fields {
                match f.as_str() {
                    "trunk_ids" => u.trunk_ids = Some(set_list(&src.trunk_ids)),
                    "rule" => {
                        u.rule.clone_from(&src.rule);
                        base_kind = src.rule.as_ref().and_then(|r| r.rule.clone());
                    }
                    "name" => u.name = Some(src.name.clone()),
                    "metadata" => u.metadata = Some(src.metadata.clone()),
                    "attributes" => u.attributes.clone_from(&src.attributes),
                    "media_encryption" => u.media_encryption = Some(src.media_encryption),
                    "media" => u.media.clone_from(&src.media),
                    _ => {}
                }
            }
        }
        let f = &a.flags;
        if let Some(v) = &f.name {
            u.name = Some(v.clone());
        }
        if let Some(v) = &f.metadata {
            u.metadata = Some(v.clone());
        }
        if let Some(l) = list_update(&f.trunks) {
            u.trunk_ids = Some(l);
        }
        for (k, v) in f.attributes()? {
            u.attributes.insert(k, v);
        }
        if f.kind_flags() {
            // A partial change of the kind (e.g. --pin alone) starts from the stored rule.
            if base_kind.is_none() && f.explicit_kind()?.is_none() {
                base_kind = fetch_one(&client, &id).await?.rule.and_then(|r| r.rule);
            }
            if let Some(k) = f.kind(base_kind.as_ref())? {
                u.rule = Some(lk::SipDispatchRule { rule: Some(k) });
            }
        }
        Action::Update(u)
    };
    let updated: lk::SipDispatchRuleInfo = client
        .twirp(
            "UpdateSIPDispatchRule",
            &lk::UpdateSipDispatchRuleRequest {
                sip_dispatch_rule_id: id,
                action: Some(action),
            },
        )
        .await?;
    output::print_saved(
        a.json,
        &updated,
        "SIPDispatchRuleID",
        &updated.sip_dispatch_rule_id,
    )
}

async fn delete(a: IdsArgs) -> Result<(), String> {
    let ids = a.all("dispatch rule", "sip dispatch list")?;
    let client = Client::connect(&a.conn)?;
    output::delete_each(
        ids,
        a.json,
        async |id| -> Result<lk::SipDispatchRuleInfo, String> {
            client
                .twirp(
                    "DeleteSIPDispatchRule",
                    &lk::DeleteSipDispatchRuleRequest {
                        sip_dispatch_rule_id: id,
                    },
                )
                .await
        },
        |info| {
            format!(
                "deleted dispatch rule {} {:?}",
                info.sip_dispatch_rule_id, info.name
            )
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct T {
        #[command(flatten)]
        f: RuleFlags,
    }

    fn flags(args: &[&str]) -> RuleFlags {
        T::try_parse_from(std::iter::once("t").chain(args.iter().copied()))
            .unwrap()
            .f
    }

    fn built(args: &[&str]) -> Result<lk::SipDispatchRuleInfo, String> {
        let mut r = lk::SipDispatchRuleInfo::default();
        flags(args).apply(&mut r)?;
        Ok(r)
    }

    #[test]
    fn short_forms_and_rule_type_build_the_same_rule() {
        let a = built(&["--individual", "call-", "--pin", "12"]).unwrap();
        let b = built(&[
            "--rule-type",
            "individual",
            "--room-prefix",
            "call-",
            "--pin",
            "12",
        ])
        .unwrap();
        let c = built(&["--caller", "call-", "--pin", "12"]).unwrap();
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert_eq!(
            describe(&a),
            ("individual", "call-_<caller>_<random>".into(), "12".into())
        );
        let d = built(&["--room-name", "lobby"]).unwrap();
        assert_eq!(describe(&d).1, "lobby");
        let e = built(&["--callee", "n", "--randomize"]).unwrap();
        assert_eq!(describe(&e).1, "n_<called>_<random>");
        let f = built(&["--callee", "n", "--randomize=false"]).unwrap();
        assert_eq!(describe(&f).1, "n_<called>");
    }

    #[test]
    fn contradictions_are_refused() {
        assert!(
            built(&["--direct", "x", "--callee", "y"])
                .unwrap_err()
                .contains("only one dispatch rule type")
        );
        assert!(
            built(&["--direct", "x", "--randomize"])
                .unwrap_err()
                .contains("does not apply to a direct rule")
        );
        assert!(
            built(&["--rule-type", "callee", "--no-randomness"])
                .unwrap_err()
                .contains("--no-randomness")
        );
        assert!(
            built(&["--pin", "1"])
                .unwrap_err()
                .contains("which kind of rule")
        );
        assert!(
            built(&["--attribute", "novalue"])
                .unwrap_err()
                .contains("KEY=VALUE")
        );
    }

    #[test]
    fn lists_and_agents() {
        let r = built(&[
            "--trunks",
            "ST_a,ST_b",
            "--trunk-id",
            "ST_c",
            "--agent",
            "bot",
            "--agent-metadata",
            "{}",
            "--numbers",
            "[]",
            "--individual",
            "",
        ])
        .unwrap();
        assert_eq!(r.trunk_ids, ["ST_a", "ST_b", "ST_c"]);
        assert!(r.numbers.is_empty());
        let agents = r.room_config.unwrap().agents;
        assert_eq!(
            (agents[0].agent_name.as_str(), agents[0].metadata.as_str()),
            ("bot", "{}")
        );
    }

    #[test]
    fn pin_alone_keeps_the_stored_kind() {
        let base = Kind::DispatchRuleDirect(lk::SipDispatchRuleDirect {
            room_name: "lobby".into(),
            pin: String::new(),
        });
        let k = flags(&["--pin", "99"]).kind(Some(&base)).unwrap().unwrap();
        assert_eq!(
            k,
            Kind::DispatchRuleDirect(lk::SipDispatchRuleDirect {
                room_name: "lobby".into(),
                pin: "99".into()
            })
        );
    }
}
