//! Command-line interface: `serve` runs the server; every other command is a client of a
//! running server (connection settings from flags, `LIVEKIT_URL` / `LIVEKIT_API_KEY` /
//! `LIVEKIT_API_SECRET`, or a `.env` file).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::{Config, Overrides};

pub mod agent_endpoints;
pub mod agents;
pub mod call;
pub mod calls;
pub mod client;
pub mod connection;
pub mod dispatch;
pub mod explain;
pub mod json_input;
pub mod output;
pub mod sip;
pub mod sip_dispatch;
pub mod sip_inbound;
pub mod token;

/// switchboard — inbound call router for voice AI agents.
///
/// A call arrives from a SIP trunk; switchboard authenticates the trunk, picks a dispatch
/// rule, puts the caller in a room and dispatches the right AI agent into it.
#[derive(Debug, Parser)]
#[command(name = "switchboard", version, about, long_about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server: SIP (UDP and TCP), RTP media and the HTTP APIs.
    Serve(ServeArgs),
    /// API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Inbound trunks and dispatch rules (LiveKit `lk sip` compatible).
    #[command(subcommand)]
    Sip(sip::SipCommand),
    /// Route a number to an agent in one step; find or delete a number's rules (SIPHON's Dispatch).
    #[command(subcommand)]
    Dispatch(dispatch::DispatchCommand),
    /// Why would a call be routed or rejected? Evaluates a call without placing it.
    Explain(explain::ExplainArgs),
    /// Call records: list, follow, show, hang up.
    #[command(subcommand)]
    Calls(calls::CallsCommand),
    /// Agent workers connected to the server, and media-stream agent endpoints.
    #[command(subcommand)]
    Agents(agents::AgentsCommand),
    /// Place a test call: send a WAV and DTMF digits, record what comes back.
    Call(call::CallArgs),
    /// Print the version.
    Version,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Mint an API token carrying the sip.admin grant.
    Create(token::TokenCreateArgs),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Development defaults: API key `devkey`, secret `secret`, SQLite `./switchboard.db`,
    /// HTTP on 127.0.0.1:7880, SIP on 127.0.0.1:5060 UDP and TCP (each overridable).
    #[arg(long)]
    pub dev: bool,
    /// TOML configuration file.
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// HTTP listen address, e.g. 127.0.0.1:7880 (port 0 picks a free port).
    #[arg(long, value_name = "ADDR")]
    pub http: Option<String>,
    /// Database: a SQLite file path, or a postgres:// URL.
    #[arg(long, value_name = "URL")]
    pub database: Option<String>,
    /// SIP listen address for both UDP and TCP, e.g. 0.0.0.0:5060 (port 0 picks free ports).
    #[arg(long, value_name = "ADDR")]
    pub sip: Option<String>,
    /// RTP port range, e.g. 10000-20000.
    #[arg(long, value_name = "MIN-MAX")]
    pub rtp_ports: Option<String>,
    /// Log format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

impl Cli {
    pub fn run(self) -> Result<(), String> {
        match self.command {
            Some(Command::Serve(args)) => {
                init_logging(args.log_format);
                let config = match &args.config {
                    Some(path) => Config::from_file(path)?,
                    None => Config::default(),
                };
                let settings =
                    config
                        .with_env(|k| std::env::var(k).ok())?
                        .settings(&Overrides {
                            dev: args.dev,
                            listen: args.http,
                            database: args.database,
                            call_path: crate::config::CallPathOverrides {
                                sip: args.sip,
                                rtp_ports: args.rtp_ports,
                                ..Default::default()
                            },
                        })?;
                runtime()?.block_on(crate::serve::run(settings))
            }
            Some(Command::Token(TokenCommand::Create(args))) => token::run(args),
            Some(Command::Sip(cmd)) => cmd.run(),
            Some(Command::Dispatch(cmd)) => dispatch::run(cmd),
            Some(Command::Explain(args)) => explain::run(args),
            Some(Command::Calls(cmd)) => calls::run(cmd),
            Some(Command::Agents(cmd)) => agents::run(cmd),
            Some(Command::Call(args)) => call::run(args),
            Some(Command::Version) => {
                println!("switchboard {}", env!("CARGO_PKG_VERSION"));
                Ok(())
            }
            None => {
                use clap::CommandFactory;
                Cli::command().print_help().map_err(|e| e.to_string())?;
                println!();
                Ok(())
            }
        }
    }
}

/// The async runtime commands run on.
pub fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}
