//! A job's media channel: the caller's audio and events in, the agent's audio and commands out.

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, Stream, StreamExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use crate::protocol::{
    self, Attributes, CallStatus, DtmfSource, ErrorCode, HangupReason, JobEndReason, MediaCommand,
    MediaServerMessage, Participant, Room, Start,
};
use crate::worker::Cmd;
use crate::{Error, Ws};

/// Events buffered per job (50 audio frames per second).
pub(crate) const EVENT_BUFFER: usize = 512;
/// Outgoing frames buffered per job before `send_*` waits.
const OUT_BUFFER: usize = 64;
/// Samples per outgoing binary frame (well under the 64 KiB frame limit).
const SAMPLES_PER_FRAME: usize = 16_000;

/// What arrives on a job's media channel.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MediaEvent {
    /// The first event: the call, the caller, the job's metadata.
    Start(Start),
    /// 20 ms of caller audio (PCM16 mono at the registered rate): the mix of every caller,
    /// none of the agent's own audio.
    Audio(Vec<i16>),
    ParticipantJoined(Participant),
    ParticipantLeft {
        identity: String,
    },
    CallStatus(CallStatus),
    /// A DTMF digit from a caller (`participant`: its room identity, when the server
    /// says).
    Dtmf {
        digit: String,
        source: Option<DtmfSource>,
        participant: Option<String>,
    },
    /// The agent audio queued before [`JobSession::mark`] with this name has been played.
    Mark(String),
    /// The call hung up.
    Hangup(Option<HangupReason>),
    /// The server refused a command.
    Error {
        code: ErrorCode,
        message: String,
    },
    /// The control connection reported the job over (`job_ended`).
    Ended(JobEndReason),
}

impl From<MediaServerMessage> for MediaEvent {
    fn from(m: MediaServerMessage) -> Self {
        match m {
            MediaServerMessage::Start(s) => MediaEvent::Start(s),
            MediaServerMessage::ParticipantJoined { participant } => {
                MediaEvent::ParticipantJoined(participant)
            }
            MediaServerMessage::ParticipantLeft { identity } => {
                MediaEvent::ParticipantLeft { identity }
            }
            MediaServerMessage::CallStatus { status } => MediaEvent::CallStatus(status),
            MediaServerMessage::Dtmf {
                digit,
                source,
                participant,
            } => MediaEvent::Dtmf {
                digit,
                source,
                participant,
            },
            MediaServerMessage::Mark { name } => MediaEvent::Mark(name),
            MediaServerMessage::Hangup { reason } => MediaEvent::Hangup(reason),
            MediaServerMessage::Error(e) => MediaEvent::Error {
                code: e.code,
                message: e.message,
            },
        }
    }
}

pub(crate) struct JobInfo {
    pub job_id: String,
    pub agent_name: String,
    pub room: Room,
    pub participant: Participant,
    pub metadata: String,
    pub attributes: Attributes,
    pub sample_rate: u32,
}

/// An accepted job with its open media channel.
///
/// Read events with [`next_event`](JobSession::next_event) (or [`events`](JobSession::events));
/// they end when the media channel closes. Send with the methods here, or from other tasks
/// with a [`MediaSender`] from [`sender`](JobSession::sender). Dropping the session and its
/// senders closes the media channel, which ends the job.
#[derive(Debug)]
pub struct JobSession {
    /// `AJ_…`.
    pub job_id: String,
    pub agent_name: String,
    pub room: Room,
    /// The caller.
    pub participant: Participant,
    /// The dispatch entry's `metadata`, verbatim.
    pub metadata: String,
    /// The dispatch entry's `attributes`.
    pub attributes: Attributes,
    sample_rate: u32,
    sender: MediaSender,
    events: mpsc::Receiver<MediaEvent>,
}

/// The sending half of a job's media channel; cheap to clone.
#[derive(Clone, Debug)]
pub struct MediaSender {
    out: mpsc::Sender<Message>,
    /// Keeps the worker's control connection open while the job runs.
    _control: mpsc::UnboundedSender<Cmd>,
}

pub(crate) fn start(
    ws: Ws,
    info: JobInfo,
    events_tx: mpsc::Sender<MediaEvent>,
    events_rx: mpsc::Receiver<MediaEvent>,
    control: mpsc::UnboundedSender<Cmd>,
) -> JobSession {
    let (sink, stream) = ws.split();
    let (out_tx, out_rx) = mpsc::channel(OUT_BUFFER);
    tokio::spawn(write(sink, out_rx));
    tokio::spawn(read(stream, events_tx));
    JobSession {
        job_id: info.job_id,
        agent_name: info.agent_name,
        room: info.room,
        participant: info.participant,
        metadata: info.metadata,
        attributes: info.attributes,
        sample_rate: info.sample_rate,
        sender: MediaSender {
            out: out_tx,
            _control: control,
        },
        events: events_rx,
    }
}

async fn write(mut sink: SplitSink<Ws, Message>, mut out: mpsc::Receiver<Message>) {
    while let Some(m) = out.recv().await {
        let close = matches!(m, Message::Close(_));
        if sink.send(m).await.is_err() || close {
            break;
        }
    }
    let _ = sink.close().await;
}

async fn read(mut stream: SplitStream<Ws>, events: mpsc::Sender<MediaEvent>) {
    while let Some(Ok(m)) = stream.next().await {
        let event = match m {
            Message::Binary(b) => MediaEvent::Audio(protocol::decode_pcm16(&b)),
            // Unknown event types (a newer server) are skipped.
            Message::Text(t) => match serde_json::from_str::<MediaServerMessage>(&t) {
                Ok(m) => m.into(),
                Err(_) => continue,
            },
            Message::Close(_) => break,
            _ => continue,
        };
        if events.send(event).await.is_err() {
            break; // the session is gone
        }
    }
}

impl JobSession {
    /// The PCM rate both ways (the worker's registered rate).
    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// A sender for other tasks.
    pub fn sender(&self) -> MediaSender {
        self.sender.clone()
    }

    /// The next event; `None` once the media channel is closed.
    pub async fn next_event(&mut self) -> Option<MediaEvent> {
        self.events.recv().await
    }

    /// The events as a stream.
    pub fn events(&mut self) -> impl Stream<Item = MediaEvent> + '_ {
        futures_util::stream::poll_fn(move |cx| self.events.poll_recv(cx))
    }

    /// Splits into the events receiver and the sender, e.g. to read and write in two tasks.
    pub fn split(self) -> (mpsc::Receiver<MediaEvent>, MediaSender) {
        (self.events, self.sender)
    }

    /// See [`MediaSender::ready`].
    pub async fn ready(&self) -> Result<(), Error> {
        self.sender.ready().await
    }

    /// See [`MediaSender::send_audio`].
    pub async fn send_audio(&self, samples: &[i16]) -> Result<(), Error> {
        self.sender.send_audio(samples).await
    }

    /// See [`MediaSender::mark`].
    pub async fn mark(&self, name: &str) -> Result<(), Error> {
        self.sender.mark(name).await
    }

    /// See [`MediaSender::clear`].
    pub async fn clear(&self) -> Result<(), Error> {
        self.sender.clear().await
    }

    /// See [`MediaSender::send_dtmf`].
    pub async fn send_dtmf(&self, digits: &str) -> Result<(), Error> {
        self.sender.send_dtmf(digits).await
    }

    /// See [`MediaSender::hangup`].
    pub async fn hangup(&self) -> Result<(), Error> {
        self.sender.hangup().await
    }

    /// See [`MediaSender::set_attributes`].
    pub async fn set_attributes(&self, attributes: Attributes) -> Result<(), Error> {
        self.sender.set_attributes(attributes).await
    }

    /// See [`MediaSender::close`].
    pub async fn close(&self) -> Result<(), Error> {
        self.sender.close().await
    }
}

impl MediaSender {
    /// The agent can talk: the first ready agent of a call answers it (`200 OK`); until
    /// then the caller hears ringing.
    pub async fn ready(&self) -> Result<(), Error> {
        self.command(MediaCommand::Ready).await
    }

    /// Queues agent audio (PCM16 mono at the registered rate) for the caller. Any amount,
    /// faster than real time is fine; up to 60 s is queued, beyond that the oldest is
    /// dropped.
    pub async fn send_audio(&self, samples: &[i16]) -> Result<(), Error> {
        for chunk in samples.chunks(SAMPLES_PER_FRAME) {
            self.frame(Message::binary(protocol::encode_pcm16(chunk)))
                .await?;
        }
        Ok(())
    }

    /// Puts a marker in the outgoing audio queue; [`MediaEvent::Mark`] reports it played.
    pub async fn mark(&self, name: &str) -> Result<(), Error> {
        self.command(MediaCommand::Mark { name: name.into() }).await
    }

    /// Drops the queued agent audio at once (barge-in); pending marks are reported.
    pub async fn clear(&self) -> Result<(), Error> {
        self.command(MediaCommand::Clear).await
    }

    /// Plays digits (`0-9*#A-D`) to the caller as RFC 4733 events.
    pub async fn send_dtmf(&self, digits: &str) -> Result<(), Error> {
        self.command(MediaCommand::SendDtmf {
            digits: digits.into(),
        })
        .await
    }

    /// Ends the call (BYE, or `480` if it was not answered yet).
    pub async fn hangup(&self) -> Result<(), Error> {
        self.command(MediaCommand::Hangup).await
    }

    /// Sets attributes on the agent's participant in the room.
    pub async fn set_attributes(&self, attributes: Attributes) -> Result<(), Error> {
        self.command(MediaCommand::SetAttributes { attributes })
            .await
    }

    /// Closes the media channel, which ends the job from the worker's side.
    pub async fn close(&self) -> Result<(), Error> {
        self.frame(Message::Close(None)).await
    }

    async fn command(&self, c: MediaCommand) -> Result<(), Error> {
        let text = serde_json::to_string(&c).expect("commands serialize");
        self.frame(Message::text(text)).await
    }

    async fn frame(&self, m: Message) -> Result<(), Error> {
        self.out
            .send(m)
            .await
            .map_err(|_| Error::closed("cannot send on the media channel"))
    }
}
