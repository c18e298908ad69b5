//! The agents of one room (SPEC §5): one job per `room_config.agents` entry (or one
//! automatic-dispatch job for workers registered without a name), their events merged into
//! one stream for the room's hub, and the agents' places in the room.
//!
//! The hub task ([`super::hub_task`]) owns an [`AgentJobs`]; dropping it ends every job
//! (the registry sends `job_ended` to the workers).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use switchboard_dispatch::RoomAssignment;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::CallPath;
use super::room_audio::RoomAudio;
use crate::agents::{JobControl, JobEvent, JobRequest, OutputSink, ParticipantInfo};
use crate::rooms::{Joining, ParticipantKind};

/// Where the jobs' events are read.
enum Events {
    /// The usual single job, read directly (no forwarding task in between).
    One(mpsc::Receiver<JobEvent>),
    /// `(job index, event)` of every job, merged by one forwarding task per job.
    Many(mpsc::Receiver<(usize, JobEvent)>),
}

/// The jobs of one room.
pub(super) struct AgentJobs {
    events: Events,
    controls: Vec<JobControl>,
    ids: Vec<String>,
    /// Each job's agent name (empty for automatic dispatch).
    names: Vec<String>,
    call_id: String,
    /// The room identity of each job's agent while one is assigned.
    identities: Vec<Option<String>>,
    forwarders: Vec<JoinHandle<()>>,
    created: Instant,
    room: String,
    ready: bool,
}

impl Drop for AgentJobs {
    fn drop(&mut self) {
        for f in &self.forwarders {
            f.abort();
        }
    }
}

impl AgentJobs {
    /// Dispatches the room's jobs (one per agents entry, or one for automatic dispatch)
    /// for `participant`, the caller opening the room; their output goes to `output`.
    pub fn start(
        path: &Arc<CallPath>,
        call_id: &str,
        room: &RoomAssignment,
        participant: &ParticipantInfo,
        output: &Arc<RoomAudio>,
    ) -> AgentJobs {
        let sid = path
            .rooms
            .get(&room.room_name)
            .map(|r| r.sid)
            .unwrap_or_default();
        let entries: Vec<(String, String, BTreeMap<String, String>)> = if room.agents.is_empty() {
            vec![(String::new(), String::new(), BTreeMap::new())]
        } else {
            room.agents
                .iter()
                .map(|a| {
                    (
                        a.agent_name.clone(),
                        a.metadata.clone(),
                        a.attributes.clone(),
                    )
                })
                .collect()
        };
        let (tx, merged) = mpsc::channel(256);
        let single = entries.len() == 1;
        let mut jobs = AgentJobs {
            events: Events::Many(merged),
            controls: Vec::new(),
            ids: Vec::new(),
            names: Vec::new(),
            call_id: call_id.to_string(),
            identities: Vec::new(),
            forwarders: Vec::new(),
            created: Instant::now(),
            room: room.room_name.clone(),
            ready: false,
        };
        for (i, (agent_name, metadata, attributes)) in entries.into_iter().enumerate() {
            jobs.names.push(agent_name.clone());
            let job = path.agents.dispatch(JobRequest {
                call_id: call_id.to_string(),
                agent_name,
                metadata,
                attributes,
                room_name: room.room_name.clone(),
                room_sid: sid.clone(),
                participant: participant.clone(),
                output: Some(OutputSink {
                    job: i,
                    output: output.clone(),
                }),
            });
            jobs.controls.push(job.control.clone());
            jobs.ids.push(job.id.clone());
            jobs.identities.push(None);
            if single {
                // The job ends when its receiver is dropped (with `self`).
                jobs.events = Events::One(job.events);
                continue;
            }
            let mut job = job;
            let tx = tx.clone();
            jobs.forwarders.push(tokio::spawn(async move {
                while let Some(ev) = job.events.recv().await {
                    if tx.send((i, ev)).await.is_err() {
                        break;
                    }
                }
                // `job` (and its control) drops here, ending the job.
            }));
        }
        output.set_jobs(jobs.controls.clone());
        jobs
    }

    /// The next event of any job, with the job's index; `None` once every job is over.
    pub async fn next_event(&mut self) -> Option<(usize, JobEvent)> {
        match &mut self.events {
            Events::One(rx) => rx.recv().await.map(|ev| (0, ev)),
            Events::Many(rx) => rx.recv().await,
        }
    }

    /// Every job's control.
    pub fn each(&self, f: impl Fn(&JobControl)) {
        for c in &self.controls {
            f(c);
        }
    }

    /// Book-keeping of an event that concerns the room (an agent assigned, lost, its
    /// attributes); returns `true` when this is the call's first `Ready`.
    pub fn note(&mut self, path: &CallPath, i: usize, ev: &JobEvent) -> bool {
        match ev {
            JobEvent::Assigned { worker_id } => {
                self.leave(path, i);
                let job_id = self.ids.get(i).cloned().unwrap_or_default();
                path.webhooks.emit("agent.dispatched", || {
                    serde_json::json!({
                        "call_id": self.call_id,
                        "job_id": job_id,
                        "agent_name": self.names.get(i).cloned().unwrap_or_default(),
                        "worker_id": worker_id,
                    })
                });
                let identity = path.rooms.join(
                    &self.room,
                    Joining {
                        base_identity: format!("agent-{job_id}"),
                        name: format!("agent {worker_id}"),
                        kind: ParticipantKind::Agent,
                        metadata: String::new(),
                        attributes: BTreeMap::new(),
                        call_id: None,
                    },
                    jiff::Timestamp::now(),
                );
                if let Some(slot) = self.identities.get_mut(i) {
                    *slot = Some(identity);
                }
                false
            }
            JobEvent::Lost => {
                self.leave(path, i);
                false
            }
            JobEvent::SetAttributes(attrs) => {
                if let Some(Some(identity)) = self.identities.get(i) {
                    for (k, v) in attrs {
                        path.rooms.set_attribute(&self.room, identity, k, v);
                    }
                }
                false
            }
            JobEvent::Ready if !self.ready => {
                self.ready = true;
                path.metrics.dispatch_latency(self.created.elapsed());
                true
            }
            _ => false,
        }
    }

    fn leave(&mut self, path: &CallPath, i: usize) {
        if let Some(Some(identity)) = self.identities.get_mut(i).map(Option::take) {
            path.rooms.leave(&self.room, &identity);
        }
    }

    /// The call is over: tell every agent, and take the agents out of the room.
    pub fn end(&mut self, path: &CallPath, reason: &str) {
        self.each(|c| c.hangup(reason));
        for i in 0..self.identities.len() {
            self.leave(path, i);
        }
    }
}
