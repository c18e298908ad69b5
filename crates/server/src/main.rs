//! `switchboard`: the self-hosted inbound call router for voice AI agents.
//!
//! This binary wires the crates together: `switchboard-dispatch` routes, `switchboard-store`
//! persists, and the modules here serve the APIs and the CLI.

mod agents;
mod calls;
mod cli;
mod config;
mod convert;
mod dashboard;
mod http;
mod metrics;
mod rooms;
mod serve;
mod service;
mod webhooks;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    match cli.run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
