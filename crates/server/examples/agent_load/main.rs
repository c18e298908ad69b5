//! Load tool for calls answered by agent workers (docs/benchmarks.md, "Agents"): SIP callers
//! over UDP with G.711 audio both ways, echo workers over the worker protocol, and the
//! server's own CPU and memory read from `/proc`. Run it as separate processes so that only
//! the server's usage is counted (`scripts/bench-agents.sh` does it all):
//!
//! ```text
//! agent_load worker --url http://127.0.0.1:7880 --connections 2 --max-jobs 1000 \
//!     --rate 16000 --out onsets.log [--seconds 900]
//! agent_load setup  --sip 127.0.0.1:5060 --number +15550100000 --calls 3000 --cps 100 \
//!     --hold 1 --worker-log onsets.log
//! agent_load load   --sip 127.0.0.1:5060 --number +15550100000 --calls 500 --cps 50 \
//!     --settle 10 --window 30 --server-pid PID [--worker-pid PID] [--clk-tck 100] \
//!     --worker-log onsets.log
//! ```
//!
//! * `worker`: echo workers (agent name `echo`); each job is accepted and made ready at once,
//!   and every caller frame is sent straight back. The worker notes, per job, the wall-clock
//!   time at which each tone burst's first frame arrived and the time its echo had been
//!   handed to the SDK, and writes them to `--out` when the job ends.
//! * `setup`: `--calls` calls at `--cps` calls per second, each held `--hold` seconds with
//!   audio both ways, then BYE. Reports INVITE → 100 / 180 / 200 latency.
//! * `load`: `--calls` calls opened at `--cps`, all held together; after `--settle` seconds
//!   the server's `/proc/<pid>/stat` (utime + stime) and `/proc/<pid>/status` (VmRSS) are
//!   read at the start and end of a `--window`-second steady window (RSS every second), then
//!   every call hangs up. Reports CPU and memory per call against the idle server.
//!
//! Both caller modes send 20 ms µ-law packets: a quiet 500 Hz tone, and every 2 s one
//! packet of a loud 1 kHz burst. The added latency of each burst is (caller receives the
//! echo − caller sent it) − (the worker's own time: echo handed to the SDK − burst
//! received), matched per call through the caller number (the room identity `sip_<number>`).
//! Timestamps are the system's wall clock (one clock for every process on the machine).
//!
//! Bounded: at most 10,000 calls per run, holds and windows of at most 10 minutes.

mod caller;
mod stats;
mod worker;

use std::time::{SystemTime, UNIX_EPOCH};

/// Agent name of the echo workers (the rule dispatches it).
pub const AGENT_NAME: &str = "echo";
/// Peak (PCM16) above which a frame is part of a burst.
pub const LOUD: i16 = 3000;

/// Microseconds since the Unix epoch: comparable between processes on one machine.
pub fn wall_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// The largest absolute sample.
pub fn peak(samples: &[i16]) -> i16 {
    samples
        .iter()
        .map(|s| s.saturating_abs())
        .max()
        .unwrap_or(0)
}

/// `--flag value` pairs after the mode.
pub struct Flags(Vec<(String, String)>);

impl Flags {
    fn parse(args: &[String]) -> Result<Flags, String> {
        let mut out = Vec::new();
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let Some(name) = flag.strip_prefix("--") else {
                return Err(format!("unexpected argument {flag:?}"));
            };
            let value = it.next().ok_or(format!("{flag} needs a value"))?;
            out.push((name.to_string(), value.clone()));
        }
        Ok(Flags(out))
    }

    pub fn str(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn need(&self, name: &str) -> Result<&str, String> {
        self.str(name).ok_or(format!("--{name} is required"))
    }

    pub fn num<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T, String>
    where
        T::Err: std::fmt::Display,
    {
        match self.str(name) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|e| format!("--{name} {v:?}: {e}")),
        }
    }
}

const USAGE: &str = "usage: agent_load worker|setup|load --flag value …  (see the header of crates/server/examples/agent_load/main.rs)";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(mode) = args.first() else {
        eprintln!("{USAGE}");
        std::process::exit(2);
    };
    let flags = match Flags::parse(&args[1..]) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("agent_load: {e}\n{USAGE}");
            std::process::exit(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(flags.num("threads", 2).unwrap_or(2))
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let result = runtime.block_on(async {
        match mode.as_str() {
            "worker" => worker::run(&flags).await,
            "setup" => caller::run(&flags, caller::Mode::Setup).await,
            "load" => caller::run(&flags, caller::Mode::Load).await,
            _ => Err(USAGE.to_string()),
        }
    });
    if let Err(e) = result {
        eprintln!("agent_load {mode}: {e}");
        std::process::exit(1);
    }
}
