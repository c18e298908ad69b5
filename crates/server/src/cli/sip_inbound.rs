//! `switchboard sip inbound create|list|get|update|delete`: inbound trunks through the Twirp
//! API, with `lk sip inbound`'s flags or a JSON file (`{"trunk": {...}}` or the bare trunk).

use clap::{Args, Subcommand};
use livekit_protocol as lk;

use super::client::Client;
use super::connection::ConnectionArgs;
use super::json_input::{CREATE_TRUNK, JsonInput, TRUNK_INFO};
use super::output::{self, Table, col, full};
use super::sip::{IdsArgs, list_update, list_values, set_list, time};

/// `switchboard sip inbound …`.
#[derive(Debug, Subcommand)]
pub enum InboundCommand {
    /// Create an inbound trunk from flags or a JSON file.
    ///
    /// Example: switchboard sip inbound create --name carrier --numbers +15550100
    /// --allowed-addresses 203.0.113.0/24
    Create(Box<CreateArgs>),
    /// List inbound trunks.
    List(ListArgs),
    /// Show one inbound trunk.
    Get(IdsArgs),
    /// Change an inbound trunk: the fields given (flags or a JSON file), or all of it with --replace.
    Update(Box<UpdateArgs>),
    /// Delete inbound trunks.
    Delete(IdsArgs),
}

/// Trunk fields settable by flags.
#[derive(Debug, Default, Args)]
pub struct TrunkFlags {
    /// Name of the trunk.
    #[arg(long)]
    pub name: Option<String>,
    /// Called numbers the trunk serves (comma-separated or repeated; `+1555*` is a prefix
    /// pattern; "[]" for none).
    #[arg(long, visible_alias = "number", value_name = "NUMBERS")]
    pub numbers: Option<Vec<String>>,
    /// Source IPs, CIDRs or From hosts allowed to send calls (comma-separated or repeated).
    #[arg(long, visible_alias = "allowed-address", value_name = "ADDRS")]
    pub allowed_addresses: Option<Vec<String>>,
    /// Caller numbers allowed to call (comma-separated or repeated).
    #[arg(long, visible_alias = "allowed-number", value_name = "NUMBERS")]
    pub allowed_numbers: Option<Vec<String>>,
    /// Digest auth user name.
    #[arg(long, value_name = "USER")]
    pub auth_user: Option<String>,
    /// Digest auth password.
    #[arg(long, value_name = "PASSWORD")]
    pub auth_pass: Option<String>,
    /// Digest auth realm (default `switchboard`).
    #[arg(long, value_name = "REALM")]
    pub auth_realm: Option<String>,
    /// Free-form metadata stored with the trunk.
    #[arg(long)]
    pub metadata: Option<String>,
}

impl TrunkFlags {
    fn any(&self) -> bool {
        self.name.is_some()
            || self.numbers.is_some()
            || self.allowed_addresses.is_some()
            || self.allowed_numbers.is_some()
            || self.auth_user.is_some()
            || self.auth_pass.is_some()
            || self.auth_realm.is_some()
            || self.metadata.is_some()
    }

    /// Sets the given fields on a whole trunk.
    fn apply(&self, t: &mut lk::SipInboundTrunkInfo) {
        let set = |dst: &mut String, v: &Option<String>| {
            if let Some(v) = v {
                dst.clone_from(v);
            }
        };
        set(&mut t.name, &self.name);
        set(&mut t.auth_username, &self.auth_user);
        set(&mut t.auth_password, &self.auth_pass);
        set(&mut t.auth_realm, &self.auth_realm);
        set(&mut t.metadata, &self.metadata);
        if let Some(v) = &self.numbers {
            t.numbers = list_values(v);
        }
        if let Some(v) = &self.allowed_addresses {
            t.allowed_addresses = list_values(v);
        }
        if let Some(v) = &self.allowed_numbers {
            t.allowed_numbers = list_values(v);
        }
    }

    /// Sets the given fields on a field update.
    fn apply_update(&self, u: &mut lk::SipInboundTrunkUpdate) {
        let set = |dst: &mut Option<String>, v: &Option<String>| {
            if v.is_some() {
                dst.clone_from(v);
            }
        };
        set(&mut u.name, &self.name);
        set(&mut u.auth_username, &self.auth_user);
        set(&mut u.auth_password, &self.auth_pass);
        set(&mut u.auth_realm, &self.auth_realm);
        set(&mut u.metadata, &self.metadata);
        if let Some(l) = list_update(&self.numbers) {
            u.numbers = Some(l);
        }
        if let Some(l) = list_update(&self.allowed_addresses) {
            u.allowed_addresses = Some(l);
        }
        if let Some(l) = list_update(&self.allowed_numbers) {
            u.allowed_numbers = Some(l);
        }
    }
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    #[command(flatten)]
    pub conn: ConnectionArgs,
    /// JSON file with `{"trunk": {...}}` or the bare trunk (protobuf JSON, camelCase or
    /// snake_case); flags override its fields.
    #[arg(value_name = "FILE")]
    pub file: Option<String>,
    #[command(flatten)]
    pub flags: TrunkFlags,
    /// Print the created trunk as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub conn: ConnectionArgs,
    /// Only these trunk ids (comma-separated or repeated).
    #[arg(long, visible_alias = "trunk-id", value_name = "IDS")]
    pub ids: Vec<String>,
    /// Only trunks serving one of these numbers (wildcard trunks included).
    #[arg(long, value_name = "NUMBERS")]
    pub numbers: Vec<String>,
    /// Print the JSON array of trunks.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    #[command(flatten)]
    pub conn: ConnectionArgs,
    /// The trunk to change (default: sip_trunk_id in the JSON file).
    #[arg(long, value_name = "ID")]
    pub id: Option<String>,
    /// JSON file with the fields to set (bare trunk or `{"trunk": {...}}`).
    #[arg(value_name = "FILE")]
    pub file: Option<String>,
    #[command(flatten)]
    pub flags: TrunkFlags,
    /// Replace the whole trunk with the file and flags instead of changing only the fields given.
    #[arg(long)]
    pub replace: bool,
    /// Print the updated trunk as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cmd: InboundCommand) -> Result<(), String> {
    super::runtime()?.block_on(async move {
        match cmd {
            InboundCommand::Create(a) => create(*a).await,
            InboundCommand::List(a) => list(a).await,
            InboundCommand::Get(a) => get(a).await,
            InboundCommand::Update(a) => update(*a).await,
            InboundCommand::Delete(a) => delete(a).await,
        }
    })
}

/// Reads a trunk from a JSON file: `{"trunk": {...}}` or the bare trunk.
fn read_trunk(input: &JsonInput) -> Result<lk::SipInboundTrunkInfo, String> {
    if input.has("trunk") {
        let req: lk::CreateSipInboundTrunkRequest = input.decode(&CREATE_TRUNK)?;
        Ok(req.trunk.unwrap_or_default())
    } else {
        input.decode(&TRUNK_INFO)
    }
}

/// The snake_case fields a JSON file sets, looking inside `{"trunk": {...}}`.
fn trunk_fields(input: &JsonInput) -> Vec<String> {
    match input.value.get("trunk").and_then(|t| t.as_object()) {
        Some(m) => m.keys().map(|k| super::json_input::snake(k)).collect(),
        None => input.fields(),
    }
}

async fn create(a: CreateArgs) -> Result<(), String> {
    let mut trunk = match &a.file {
        Some(f) => read_trunk(&JsonInput::read(f)?)?,
        None if !a.flags.any() => {
            return Err("nothing to create: give a JSON file or flags, e.g. `switchboard sip inbound create --name carrier --numbers +15550100 --allowed-addresses 203.0.113.0/24`".into());
        }
        None => lk::SipInboundTrunkInfo::default(),
    };
    a.flags.apply(&mut trunk);
    let client = Client::connect(&a.conn)?;
    let created: lk::SipInboundTrunkInfo = client
        .twirp(
            "CreateSIPInboundTrunk",
            &lk::CreateSipInboundTrunkRequest { trunk: Some(trunk) },
        )
        .await?;
    output::print_saved(a.json, &created, "SIPTrunkID", &created.sip_trunk_id)
}

fn auth_cell(t: &lk::SipInboundTrunkInfo) -> String {
    match (t.auth_username.is_empty(), t.auth_password.is_empty()) {
        (true, true) => String::new(),
        (_, false) => format!("{} / ****", t.auth_username),
        (false, true) => format!("{} / (no password)", t.auth_username),
    }
}

async fn list(a: ListArgs) -> Result<(), String> {
    let client = Client::connect(&a.conn)?;
    let resp: lk::ListSipInboundTrunkResponse = client
        .twirp(
            "ListSIPInboundTrunk",
            &lk::ListSipInboundTrunkRequest {
                trunk_ids: list_values(&a.ids),
                numbers: list_values(&a.numbers),
                ..Default::default()
            },
        )
        .await?;
    if a.json {
        return output::print_json(&resp.items);
    }
    if resp.items.is_empty() {
        println!("no inbound trunks; create one with `switchboard sip inbound create`");
        return Ok(());
    }
    let mut t = Table::new(&[
        full("ID"),
        col("NAME", 24),
        col("NUMBERS", 40),
        col("ALLOWED ADDRESSES", 36),
        col("ALLOWED CALLERS", 28),
        col("AUTH", 24),
        col("METADATA", 30),
    ]);
    for tr in &resp.items {
        t.row(vec![
            tr.sip_trunk_id.clone(),
            tr.name.clone(),
            output::join_or(&tr.numbers, "<any>"),
            output::join_or(&tr.allowed_addresses, "<any>"),
            output::join_or(&tr.allowed_numbers, "<any>"),
            auth_cell(tr),
            tr.metadata.clone(),
        ]);
    }
    print!("{}", t.render());
    Ok(())
}

fn print_trunk(t: &lk::SipInboundTrunkInfo) {
    let dur = |d: &Option<pbjson_types::Duration>| {
        d.as_ref()
            .map(|d| format!("{}s", d.seconds))
            .unwrap_or_default()
    };
    print!(
        "{}",
        output::details(&[
            ("id", t.sip_trunk_id.clone()),
            ("name", t.name.clone()),
            ("numbers", output::join_or(&t.numbers, "<any>")),
            (
                "allowed addresses",
                output::join_or(&t.allowed_addresses, "<any>")
            ),
            (
                "allowed callers",
                output::join_or(&t.allowed_numbers, "<any>")
            ),
            ("auth", auth_cell(t)),
            ("auth realm", t.auth_realm.clone()),
            ("headers", output::map_cell(&t.headers)),
            (
                "headers → attributes",
                output::map_cell(&t.headers_to_attributes)
            ),
            (
                "attributes → headers",
                output::map_cell(&t.attributes_to_headers)
            ),
            ("ringing timeout", dur(&t.ringing_timeout)),
            ("max call duration", dur(&t.max_call_duration)),
            ("metadata", t.metadata.clone()),
            ("created", time(&t.created_at)),
            ("updated", time(&t.updated_at)),
        ])
    );
}

async fn get(a: IdsArgs) -> Result<(), String> {
    let ids = a.all("inbound trunk", "sip inbound list")?;
    let client = Client::connect(&a.conn)?;
    let mut trunks = Vec::new();
    for id in ids {
        let resp: lk::GetSipInboundTrunkResponse = client
            .twirp(
                "GetSIPInboundTrunk",
                &lk::GetSipInboundTrunkRequest { sip_trunk_id: id },
            )
            .await?;
        trunks.extend(resp.trunk);
    }
    if a.json {
        return match trunks.as_slice() {
            [one] => output::print_json(one),
            many => output::print_json(many),
        };
    }
    for (i, t) in trunks.iter().enumerate() {
        if i > 0 {
            println!();
        }
        print_trunk(t);
    }
    Ok(())
}

/// Fields of `SIPInboundTrunkUpdate`; a file setting anything else needs a whole-trunk write.
const UPDATABLE: &[&str] = &[
    "numbers",
    "allowed_addresses",
    "allowed_numbers",
    "auth_username",
    "auth_password",
    "auth_realm",
    "name",
    "metadata",
    "media_encryption",
    "media",
];
/// Fields a file may carry that an update ignores.
const IGNORED: &[&str] = &["sip_trunk_id", "created_at", "updated_at"];

/// Copies the field `name` of `src` to `dst`.
// media_encryption is deprecated but still part of the wire contract.
#[allow(deprecated)]
fn copy_field(dst: &mut lk::SipInboundTrunkInfo, src: &lk::SipInboundTrunkInfo, name: &str) {
    match name {
        "name" => dst.name.clone_from(&src.name),
        "metadata" => dst.metadata.clone_from(&src.metadata),
        "numbers" => dst.numbers.clone_from(&src.numbers),
        "allowed_addresses" => dst.allowed_addresses.clone_from(&src.allowed_addresses),
        "allowed_numbers" => dst.allowed_numbers.clone_from(&src.allowed_numbers),
        "auth_username" => dst.auth_username.clone_from(&src.auth_username),
        "auth_password" => dst.auth_password.clone_from(&src.auth_password),
        "auth_realm" => dst.auth_realm.clone_from(&src.auth_realm),
        "headers" => dst.headers.clone_from(&src.headers),
        "headers_to_attributes" => dst
            .headers_to_attributes
            .clone_from(&src.headers_to_attributes),
        "attributes_to_headers" => dst
            .attributes_to_headers
            .clone_from(&src.attributes_to_headers),
        "include_headers" => dst.include_headers = src.include_headers,
        "ringing_timeout" => dst.ringing_timeout = src.ringing_timeout,
        "ringing_timeout_status" => dst.ringing_timeout_status = src.ringing_timeout_status,
        "max_call_duration" => dst.max_call_duration = src.max_call_duration,
        "krisp_enabled" => dst.krisp_enabled = src.krisp_enabled,
        "media_encryption" => dst.media_encryption = src.media_encryption,
        "media" => dst.media.clone_from(&src.media),
        _ => {}
    }
}

// media_encryption is deprecated but still part of the wire contract.
#[allow(deprecated)]
async fn update(a: UpdateArgs) -> Result<(), String> {
    use lk::update_sip_inbound_trunk_request::Action;
    let input = a.file.as_deref().map(JsonInput::read).transpose()?;
    let from_file = input.as_ref().map(read_trunk).transpose()?;
    let id = a
        .id
        .clone()
        .or_else(|| from_file.as_ref().map(|t| t.sip_trunk_id.clone()).filter(|s| !s.is_empty()))
        .ok_or("which trunk? pass --id ID (or set sip_trunk_id in the JSON file); `switchboard sip inbound list` shows them")?;
    if input.is_none() && !a.flags.any() {
        return Err("nothing to update: give a JSON file with the fields to set, or flags such as --name, --numbers, --allowed-addresses, --auth-user/--auth-pass".into());
    }
    let client = Client::connect(&a.conn)?;
    let fields = input.as_ref().map(trunk_fields).unwrap_or_default();
    let needs_whole = fields
        .iter()
        .any(|f| !UPDATABLE.contains(&f.as_str()) && !IGNORED.contains(&f.as_str()));
    let action = if a.replace {
        let mut t = from_file.unwrap_or_default();
        t.sip_trunk_id.clear();
        a.flags.apply(&mut t);
        Action::Replace(t)
    } else if needs_whole {
        // SIPInboundTrunkUpdate cannot express these fields: read the trunk, change the
        // fields the file sets, write it whole.
        let current: lk::GetSipInboundTrunkResponse = client
            .twirp(
                "GetSIPInboundTrunk",
                &lk::GetSipInboundTrunkRequest {
                    sip_trunk_id: id.clone(),
                },
            )
            .await?;
        let mut t = current.trunk.unwrap_or_default();
        if let Some(src) = &from_file {
            for f in &fields {
                copy_field(&mut t, src, f);
            }
        }
        a.flags.apply(&mut t);
        t.sip_trunk_id.clear();
        Action::Replace(t)
    } else {
        let mut u = lk::SipInboundTrunkUpdate::default();
        if let Some(src) = &from_file {
            for f in &fields {
                match f.as_str() {
                    "numbers" => u.numbers = Some(set_list(&src.numbers)),
                    "allowed_addresses" => {
                        u.allowed_addresses = Some(set_list(&src.allowed_addresses))
                    }
                    "allowed_numbers" => u.allowed_numbers = Some(set_list(&src.allowed_numbers)),
                    "auth_username" => u.auth_username = Some(src.auth_username.clone()),
                    "auth_password" => u.auth_password = Some(src.auth_password.clone()),
                    "auth_realm" => u.auth_realm = Some(src.auth_realm.clone()),
                    "name" => u.name = Some(src.name.clone()),
                    "metadata" => u.metadata = Some(src.metadata.clone()),
                    "media_encryption" => u.media_encryption = Some(src.media_encryption),
                    "media" => u.media.clone_from(&src.media),
                    _ => {}
                }
            }
        }
        a.flags.apply_update(&mut u);
        Action::Update(u)
    };
    let updated: lk::SipInboundTrunkInfo = client
        .twirp(
            "UpdateSIPInboundTrunk",
            &lk::UpdateSipInboundTrunkRequest {
                sip_trunk_id: id,
                action: Some(action),
            },
        )
        .await?;
    output::print_saved(a.json, &updated, "SIPTrunkID", &updated.sip_trunk_id)
}

async fn delete(a: IdsArgs) -> Result<(), String> {
    let ids = a.all("inbound trunk", "sip inbound list")?;
    let client = Client::connect(&a.conn)?;
    output::delete_each(
        ids,
        a.json,
        async |id| -> Result<lk::SipTrunkInfo, String> {
            client
                .twirp(
                    "DeleteSIPTrunk",
                    &lk::DeleteSipTrunkRequest { sip_trunk_id: id },
                )
                .await
        },
        |info| format!("deleted inbound trunk {}", info.sip_trunk_id),
    )
    .await
}
