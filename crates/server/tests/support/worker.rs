//! Agent workers of the end-to-end tests (the `switchboard-agent` client): the options of
//! a worker registered with the test server's keys, and a runtime for a worker's thread.

use switchboard_agent::WorkerOptions;

/// A worker named `agent_name` at `sample_rate`, taking up to 4 jobs.
pub fn options(url: &str, agent_name: &str, sample_rate: u32) -> WorkerOptions {
    WorkerOptions {
        url: url.to_owned(),
        api_key: super::API_KEY.into(),
        api_secret: super::API_SECRET.into(),
        agent_name: agent_name.into(),
        sample_rate,
        max_jobs: 4,
        version: "test".into(),
        ..Default::default()
    }
}

/// The runtime of one worker thread.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime")
}
