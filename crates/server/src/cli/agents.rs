//! `switchboard agents list`: the agent workers connected to the server
//! (`GET /api/v1/agents`); `switchboard agents endpoint …`: media-stream endpoints
//! (`agent_endpoints.rs`).

use clap::{Args, Subcommand};
use reqwest::Method;

use super::client::Client;
use super::connection::ConnectionArgs;
use super::output::{self, Table, col, full};
use crate::agents::WorkerView;

/// `switchboard agents …`.
#[derive(Debug, Subcommand)]
pub enum AgentsCommand {
    /// List the connected agent workers, oldest first.
    List(ListArgs),
    /// Media-stream agents: an agent name whose calls dial a URL and speak the Twilio Media
    /// Streams protocol.
    #[command(subcommand)]
    Endpoint(super::agent_endpoints::EndpointCommand),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub conn: ConnectionArgs,
    /// Print the JSON answer.
    #[arg(long)]
    pub json: bool,
}

#[derive(serde::Deserialize)]
struct WorkerList {
    workers: Vec<WorkerView>,
}

fn render(workers: &[WorkerView]) -> String {
    let mut t = Table::new(&[
        full("WorkerID"),
        col("AgentName", 32),
        col("Version", 16),
        col("Load", 5),
        col("Jobs", 9),
        col("Rate", 5),
        col("Connected", 24),
        col("Calls", 60),
    ]);
    for w in workers {
        t.row(vec![
            w.worker_id.clone(),
            if w.agent_name.is_empty() {
                "(automatic)".into()
            } else {
                w.agent_name.clone()
            },
            w.version.clone(),
            format!("{:.2}", w.load),
            format!("{}/{}", w.jobs.len(), w.max_jobs),
            w.sample_rate.to_string(),
            w.connected_at.clone(),
            w.jobs
                .iter()
                .map(|j| j.call_id.as_str())
                .collect::<Vec<_>>()
                .join(","),
        ]);
    }
    t.render()
}

pub fn run(cmd: AgentsCommand) -> Result<(), String> {
    if let AgentsCommand::Endpoint(cmd) = cmd {
        return super::agent_endpoints::run(cmd);
    }
    super::runtime()?.block_on(async move {
        match cmd {
            AgentsCommand::Endpoint(_) => Ok(()),
            AgentsCommand::List(a) => {
                let client = Client::connect(&a.conn)?;
                let text = client
                    .native(Method::GET, "api/v1/agents", &[], None)
                    .await?;
                if a.json {
                    println!("{}", output::pretty_raw(&text));
                    return Ok(());
                }
                let list: WorkerList = serde_json::from_str(&text)
                    .map_err(|e| format!("unexpected answer from the server: {e}"))?;
                if list.workers.is_empty() {
                    println!("no agent workers are connected");
                    return Ok(());
                }
                print!("{}", render(&list.workers));
                Ok(())
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::JobView;

    #[test]
    fn table_shows_name_load_and_jobs() {
        let w = WorkerView {
            worker_id: "AW_1".into(),
            agent_name: String::new(),
            version: "1.0".into(),
            max_jobs: 4,
            sample_rate: 16000,
            load: 0.25,
            reported_load: None,
            jobs: vec![JobView {
                job_id: "AJ_1".into(),
                call_id: "SCL_1".into(),
            }],
            pending_offers: 0,
            connected_at: "2026-01-01T00:00:00Z".into(),
        };
        let out = render(&[w]);
        assert!(out.starts_with("WorkerID"), "{out}");
        for s in ["AW_1", "(automatic)", "0.25", "1/4", "16000", "SCL_1"] {
            assert!(out.contains(s), "{s} in {out}");
        }
    }
}
