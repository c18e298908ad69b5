//! The room registry (SPEC §5): which rooms exist on this node and who is in them.
//!
//! A room is created when its first participant joins and closed when its last one leaves.
//! Participants are the SIP callers and the agents assigned to their calls. Identities are
//! unique within a room: a second caller with the same identity gets `_2`, `_3`… (the same
//! rule as `switchboard_dispatch::room::unique_identity`).
//!
//! The registry is a plain map behind a mutex: rooms change a few times per call, never per
//! packet, and every operation is a short critical section.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use serde::Serialize;
use switchboard_dispatch::room::unique_identity;

/// What kind of participant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ParticipantKind {
    Sip,
    Agent,
}

/// One participant of a room.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Participant {
    pub identity: String,
    pub name: String,
    pub kind: ParticipantKind,
    pub metadata: String,
    pub attributes: BTreeMap<String, String>,
    /// The switchboard call id of a SIP participant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call_id: Option<String>,
    /// RFC 3339.
    pub joined_at: String,
}

/// One room.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Room {
    pub name: String,
    pub sid: String,
    /// RFC 3339.
    pub created_at: String,
    pub num_participants: usize,
    pub participants: Vec<Participant>,
}

/// Who joins.
pub struct Joining {
    pub base_identity: String,
    pub name: String,
    pub kind: ParticipantKind,
    pub metadata: String,
    pub attributes: BTreeMap<String, String>,
    pub call_id: Option<String>,
}

/// A room opening or closing, for [`Rooms::set_observer`].
pub enum RoomChange<'a> {
    Started { name: &'a str, sid: &'a str },
    Finished { name: &'a str, sid: &'a str },
}

type Observer = Box<dyn Fn(RoomChange<'_>) + Send + Sync>;

/// All rooms of this node.
#[derive(Default)]
pub struct Rooms {
    rooms: Mutex<HashMap<String, Room>>,
    /// Told when a room starts or finishes (the webhooks), outside the lock.
    observer: std::sync::OnceLock<Observer>,
}

impl Rooms {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Room>> {
        // A panic while holding the lock cannot leave a room half-written in a way that
        // matters more than losing the registry, so carry on with the data.
        self.rooms.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets the observer told of every room that starts or finishes (once; later calls
    /// are ignored).
    pub fn set_observer(&self, observer: impl Fn(RoomChange<'_>) + Send + Sync + 'static) {
        let _ = self.observer.set(Box::new(observer));
    }

    fn notify(&self, change: RoomChange<'_>) {
        if let Some(observer) = self.observer.get() {
            observer(change);
        }
    }

    /// Adds a participant, creating the room if needed; returns the identity it got.
    pub fn join(&self, room_name: &str, who: Joining, now: jiff::Timestamp) -> String {
        let mut rooms = self.lock();
        let mut started = None;
        let room = rooms.entry(room_name.to_string()).or_insert_with(|| {
            let sid = switchboard_dispatch::ids::new_id("RM_", rand::random());
            started = Some(sid.clone());
            Room {
                name: room_name.to_string(),
                sid,
                created_at: now.to_string(),
                num_participants: 0,
                participants: Vec::new(),
            }
        });
        let identity = unique_identity(&who.base_identity, |id| {
            room.participants.iter().any(|p| p.identity == id)
        });
        room.participants.push(Participant {
            identity: identity.clone(),
            name: who.name,
            kind: who.kind,
            metadata: who.metadata,
            attributes: who.attributes,
            call_id: who.call_id,
            joined_at: now.to_string(),
        });
        room.num_participants = room.participants.len();
        drop(rooms);
        if let Some(sid) = started {
            self.notify(RoomChange::Started {
                name: room_name,
                sid: &sid,
            });
        }
        identity
    }

    /// Sets one attribute of a participant (e.g. `sip.callStatus`).
    pub fn set_attribute(&self, room_name: &str, identity: &str, key: &str, value: &str) {
        let mut rooms = self.lock();
        if let Some(p) = rooms
            .get_mut(room_name)
            .and_then(|r| r.participants.iter_mut().find(|p| p.identity == identity))
        {
            p.attributes.insert(key.to_string(), value.to_string());
        }
    }

    /// Removes a participant; the room closes with its last participant. Returns whether
    /// the room closed.
    pub fn leave(&self, room_name: &str, identity: &str) -> bool {
        let mut rooms = self.lock();
        let Some(room) = rooms.get_mut(room_name) else {
            return false;
        };
        room.participants.retain(|p| p.identity != identity);
        room.num_participants = room.participants.len();
        if room.participants.is_empty() {
            let closed = rooms.remove(room_name);
            drop(rooms);
            if let Some(closed) = closed {
                self.notify(RoomChange::Finished {
                    name: room_name,
                    sid: &closed.sid,
                });
            }
            true
        } else {
            false
        }
    }

    pub fn get(&self, room_name: &str) -> Option<Room> {
        self.lock().get(room_name).cloned()
    }

    /// Every room, by name.
    pub fn list(&self) -> Vec<Room> {
        let mut v: Vec<Room> = self.lock().values().cloned().collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(id: &str) -> Joining {
        Joining {
            base_identity: id.into(),
            name: format!("Phone {id}"),
            kind: ParticipantKind::Sip,
            metadata: String::new(),
            attributes: BTreeMap::new(),
            call_id: Some("SCL_x".into()),
        }
    }

    #[test]
    fn created_on_first_join_closed_on_last_leave() {
        let rooms = Rooms::default();
        let now = jiff::Timestamp::UNIX_EPOCH;
        assert_eq!(rooms.join("r", caller("sip_1"), now), "sip_1");
        assert_eq!(rooms.join("r", caller("sip_1"), now), "sip_1_2");
        assert_eq!(rooms.join("r", caller("sip_1"), now), "sip_1_3");
        assert_eq!(rooms.get("r").map(|r| r.num_participants), Some(3));
        assert!(!rooms.leave("r", "sip_1_2"));
        assert!(!rooms.leave("r", "sip_1"));
        assert!(rooms.leave("r", "sip_1_3"));
        assert!(rooms.get("r").is_none());
        assert_eq!(rooms.len(), 0);
    }

    #[test]
    fn attributes_change_in_place() {
        let rooms = Rooms::default();
        let now = jiff::Timestamp::UNIX_EPOCH;
        let id = rooms.join("r", caller("sip_1"), now);
        rooms.set_attribute("r", &id, "sip.callStatus", "active");
        let room = rooms.get("r").expect("room");
        assert_eq!(
            room.participants[0]
                .attributes
                .get("sip.callStatus")
                .map(String::as_str),
            Some("active")
        );
        // Unknown room or participant: nothing happens.
        rooms.set_attribute("nope", &id, "k", "v");
        assert!(!rooms.leave("nope", "x"));
    }
}
