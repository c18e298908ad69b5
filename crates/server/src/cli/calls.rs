//! `switchboard calls list|get|tail|hangup`: call records (SPEC §8) from `/api/v1/calls`.

use clap::{Args, Subcommand};
use reqwest::Method;
use serde::Deserialize;

use super::client::Client;
use super::connection::ConnectionArgs;
use super::output::{self, Table, col, full};

/// `switchboard calls …`.
#[derive(Debug, Subcommand)]
pub enum CallsCommand {
    /// List calls, newest first (filters combine).
    List(ListArgs),
    /// Show one call.
    Get(GetArgs),
    /// Follow calls as they change: prints each state change as it happens (Ctrl-C stops).
    Tail(TailArgs),
    /// Hang up a live call (BYE, or 480 before it is answered).
    Hangup(GetArgs),
}

#[derive(Debug, Args)]
pub struct Filters {
    /// Only calls handled by this dispatch rule.
    #[arg(long, value_name = "ID")]
    pub rule: Option<String>,
    /// Only calls on this trunk.
    #[arg(long, value_name = "ID")]
    pub trunk: Option<String>,
    /// live, completed, rejected, cancelled, failed or interrupted.
    #[arg(long)]
    pub status: Option<String>,
    /// Calls from or to this number (as received).
    #[arg(long)]
    pub number: Option<String>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub conn: ConnectionArgs,
    #[command(flatten)]
    pub filters: Filters,
    /// Calls created at or after this RFC 3339 instant.
    #[arg(long)]
    pub since: Option<String>,
    /// Calls created before this RFC 3339 instant.
    #[arg(long)]
    pub until: Option<String>,
    /// Page size (1–1000).
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    /// Continue from a previous page's token.
    #[arg(long)]
    pub page_token: Option<String>,
    /// Print the JSON answer.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct GetArgs {
    #[command(flatten)]
    pub conn: ConnectionArgs,
    /// The call id (SCL_…).
    pub id: String,
    /// Print the JSON answer.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct TailArgs {
    #[command(flatten)]
    pub conn: ConnectionArgs,
    #[command(flatten)]
    pub filters: Filters,
    /// Print one JSON object per line.
    #[arg(long)]
    pub json: bool,
    /// Stop after this many seconds (default: run until interrupted).
    #[arg(long, value_name = "SECS")]
    pub duration: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct CallRow {
    id: String,
    caller: String,
    called: String,
    state: String,
    status: String,
    sip_status: Option<u16>,
    reason: Option<String>,
    rule_id: Option<String>,
    created_at: String,
    duration_secs: Option<f64>,
}

#[derive(Debug, Deserialize)]
struct CallList {
    calls: Vec<serde_json::Value>,
    next_page_token: Option<String>,
}

fn columns() -> Table {
    Table::new(&[
        full("CallID"),
        col("Created", 24),
        col("From", 20),
        col("To", 20),
        col("State", 8),
        col("Status", 11),
        col("SIP", 3),
        col("Reason", 18),
        col("Duration", 8),
        full("RuleID"),
    ])
}

fn cells(r: &CallRow) -> Vec<String> {
    vec![
        r.id.clone(),
        r.created_at.clone(),
        r.caller.clone(),
        r.called.clone(),
        r.state.clone(),
        r.status.clone(),
        r.sip_status.map(|s| s.to_string()).unwrap_or_default(),
        r.reason.clone().unwrap_or_default(),
        r.duration_secs
            .map(|d| format!("{d:.1}s"))
            .unwrap_or_default(),
        r.rule_id.clone().unwrap_or_default(),
    ]
}

fn filter_pairs(f: &Filters) -> Vec<(&'static str, String)> {
    let mut q = Vec::new();
    for (k, v) in [
        ("rule_id", &f.rule),
        ("trunk_id", &f.trunk),
        ("status", &f.status),
        ("number", &f.number),
    ] {
        if let Some(v) = v {
            q.push((k, v.clone()));
        }
    }
    q
}

fn parse_list(text: &str) -> Result<CallList, String> {
    serde_json::from_str(text).map_err(|e| format!("unexpected answer from the server: {e}"))
}

pub fn run(cmd: CallsCommand) -> Result<(), String> {
    super::runtime()?.block_on(async move {
        match cmd {
            CallsCommand::List(a) => list(a).await,
            CallsCommand::Get(a) => get(a, Method::GET, "").await,
            CallsCommand::Hangup(a) => get(a, Method::POST, "/hangup").await,
            CallsCommand::Tail(a) => tail(a).await,
        }
    })
}

async fn list(a: ListArgs) -> Result<(), String> {
    let client = Client::connect(&a.conn)?;
    let mut q = filter_pairs(&a.filters);
    q.push(("limit", a.limit.to_string()));
    for (k, v) in [
        ("since", &a.since),
        ("until", &a.until),
        ("page_token", &a.page_token),
    ] {
        if let Some(v) = v {
            q.push((k, v.clone()));
        }
    }
    let pairs: Vec<(&str, &str)> = q.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let text = client
        .native(Method::GET, "api/v1/calls", &pairs, None)
        .await?;
    if a.json {
        println!("{}", output::pretty_raw(&text));
        return Ok(());
    }
    let page = parse_list(&text)?;
    let mut t = columns();
    for v in page.calls {
        let r: CallRow = serde_json::from_value(v).map_err(|e| e.to_string())?;
        t.row(cells(&r));
    }
    print!("{}", t.render());
    if let Some(tok) = page.next_page_token {
        println!("more: --page-token {tok}");
    }
    Ok(())
}

async fn get(a: GetArgs, method: Method, suffix: &str) -> Result<(), String> {
    let client = Client::connect(&a.conn)?;
    let path = format!("api/v1/calls/{}{suffix}", a.id);
    let text = client.native(method, &path, &[], None).await?;
    if a.json {
        println!("{}", output::pretty_raw(&text));
        return Ok(());
    }
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("unexpected answer: {e}"))?;
    let Some(obj) = v.as_object() else {
        return Err("unexpected answer from the server: not an object".into());
    };
    let pairs: Vec<(&str, String)> = obj
        .iter()
        .map(|(k, v)| {
            let s = match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Null => String::new(),
                other => other.to_string(),
            };
            (k.as_str(), s)
        })
        .collect();
    print!("{}", output::details(&pairs));
    Ok(())
}

async fn tail(a: TailArgs) -> Result<(), String> {
    let client = Client::connect(&a.conn)?;
    let stop = a
        .duration
        .map(|s| tokio::time::Instant::now() + std::time::Duration::from_secs(s));
    let base = filter_pairs(&a.filters);
    // Start from now: the tail shows what happens from here on.
    let after = jiff::Timestamp::now().as_millisecond();
    let mut token: Option<String> = None;
    if !a.json {
        print!("{}", columns().render());
    }
    loop {
        if stop.is_some_and(|s| tokio::time::Instant::now() >= s) {
            return Ok(());
        }
        let mut q = base.clone();
        q.push(("limit", "1000".into()));
        // The page token carries the position; the filter (with `updated_after`) stays the same.
        q.push(("updated_after", after.to_string()));
        if let Some(t) = &token {
            q.push(("page_token", t.clone()));
        }
        let pairs: Vec<(&str, &str)> = q.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let text = client
            .native(Method::GET, "api/v1/calls", &pairs, None)
            .await?;
        let page = parse_list(&text)?;
        let n = page.calls.len();
        for v in page.calls {
            if a.json {
                println!("{v}");
            } else {
                let r: CallRow = serde_json::from_value(v).map_err(|e| e.to_string())?;
                let mut t = columns();
                t.row(cells(&r));
                // Print the row without repeating the header.
                if let Some(line) = t.render().lines().nth(1) {
                    println!("{line}");
                }
            }
        }
        if page.next_page_token.is_some() {
            token = page.next_page_token;
        }
        if n < 1000 {
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
    }
}
