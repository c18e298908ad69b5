//! `switchboard agents endpoint set|list|delete`: media-stream agent endpoints
//! (`/api/v1/agent-endpoints`): calls dispatched to the agent name dial the URL and speak the
//! Twilio Media Streams protocol.

use clap::{Args, Subcommand};
use reqwest::Method;
use serde::Deserialize;

use super::client::Client;
use super::connection::ConnectionArgs;
use super::output::{self, Table, col, full};

/// `switchboard agents endpoint …`.
#[derive(Debug, Subcommand)]
pub enum EndpointCommand {
    /// Create or replace the endpoint of an agent name: its calls dial URL (ws:// or wss://)
    /// and speak the Twilio Media Streams protocol.
    Set(SetArgs),
    /// List the media-stream endpoints.
    List(ListArgs),
    /// Delete the endpoint of an agent name (its calls go to registered workers again).
    Delete(DeleteArgs),
}

#[derive(Debug, Args)]
pub struct SetArgs {
    #[command(flatten)]
    pub conn: ConnectionArgs,
    /// The agent name (as in the dispatch rules' room_config.agents).
    pub name: String,
    /// The bot's WebSocket URL, e.g. wss://bot.example.com/media.
    #[arg(value_name = "URL")]
    pub endpoint_url: String,
    /// Print the JSON answer.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub conn: ConnectionArgs,
    /// Print the JSON answer.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    #[command(flatten)]
    pub conn: ConnectionArgs,
    /// The agent name.
    pub name: String,
    /// Print the JSON answer.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Deserialize)]
struct Endpoint {
    agent_name: String,
    url: String,
    updated_at: String,
}

#[derive(Debug, Deserialize)]
struct EndpointList {
    endpoints: Vec<Endpoint>,
}

/// `name` as one URL path segment.
fn segment(name: &str) -> String {
    let mut out = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn render(list: &[Endpoint]) -> String {
    let mut t = Table::new(&[col("AgentName", 32), full("URL"), col("Updated", 24)]);
    for e in list {
        t.row(vec![
            e.agent_name.clone(),
            e.url.clone(),
            e.updated_at.clone(),
        ]);
    }
    t.render()
}

fn parse<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, String> {
    serde_json::from_str(text).map_err(|e| format!("unexpected answer from the server: {e}"))
}

pub fn run(cmd: EndpointCommand) -> Result<(), String> {
    super::runtime()?.block_on(async move {
        match cmd {
            EndpointCommand::Set(a) => {
                let client = Client::connect(&a.conn)?;
                let text = client
                    .native(
                        Method::PUT,
                        &format!("api/v1/agent-endpoints/{}", segment(&a.name)),
                        &[],
                        Some(&serde_json::json!({"url": a.endpoint_url})),
                    )
                    .await?;
                if a.json {
                    println!("{}", output::pretty_raw(&text));
                    return Ok(());
                }
                let e: Endpoint = parse(&text)?;
                println!("AgentEndpoint: {} -> {}", e.agent_name, e.url);
                Ok(())
            }
            EndpointCommand::List(a) => {
                let client = Client::connect(&a.conn)?;
                let text = client
                    .native(Method::GET, "api/v1/agent-endpoints", &[], None)
                    .await?;
                if a.json {
                    println!("{}", output::pretty_raw(&text));
                    return Ok(());
                }
                let list: EndpointList = parse(&text)?;
                if list.endpoints.is_empty() {
                    println!("no media-stream agent endpoints");
                    return Ok(());
                }
                print!("{}", render(&list.endpoints));
                Ok(())
            }
            EndpointCommand::Delete(a) => {
                let client = Client::connect(&a.conn)?;
                let text = client
                    .native(
                        Method::DELETE,
                        &format!("api/v1/agent-endpoints/{}", segment(&a.name)),
                        &[],
                        None,
                    )
                    .await?;
                if a.json {
                    println!("{}", output::pretty_raw(&text));
                    return Ok(());
                }
                let e: Endpoint = parse(&text)?;
                println!("deleted the endpoint of {} ({})", e.agent_name, e.url);
                Ok(())
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        crate::cli::Cli::command().debug_assert();
    }

    #[test]
    fn names_become_one_path_segment() {
        assert_eq!(segment("bot-1_x.y~"), "bot-1_x.y~");
        assert_eq!(segment("a b/c?"), "a%20b%2Fc%3F");
    }

    #[test]
    fn table_lists_name_and_url() {
        let out = render(&[Endpoint {
            agent_name: "bot".into(),
            url: "wss://bot.example/media".into(),
            updated_at: "2026-01-01T00:00:00Z".into(),
        }]);
        assert!(out.starts_with("AgentName"), "{out}");
        assert!(out.contains("wss://bot.example/media"), "{out}");
    }
}
