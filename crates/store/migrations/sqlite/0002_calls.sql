-- switchboard store, SQLite schema version 2: call records and capacity slots.
-- Released migrations are never edited (sqlx checks their checksums); add a new file instead.

-- One row per INVITE dialog (SPEC §8), written at arrival, closed at the end. `state` and
-- `final_status` hold stable lowercase names (see switchboard_store::CallState and
-- FinalStatus); `final_status IS NULL` means the call is live. Writes are upserts that never
-- replace a row with an older `updated_at_ms`.
CREATE TABLE calls (
    id                  TEXT    NOT NULL PRIMARY KEY,
    sip_call_id         TEXT    NOT NULL,
    node_id             TEXT    NOT NULL,
    trunk_id            TEXT,
    rule_id             TEXT,
    routed_from_rule_id TEXT,
    room_name           TEXT,
    caller              TEXT    NOT NULL,
    called              TEXT    NOT NULL,
    source_ip           TEXT    NOT NULL,
    transport           TEXT    NOT NULL,
    state               TEXT    NOT NULL,
    final_status        TEXT,
    sip_status          INTEGER,
    reason              TEXT,
    hangup_by           TEXT,
    pin_attempts        INTEGER NOT NULL,
    created_at_ms       INTEGER NOT NULL,
    answered_at_ms      INTEGER,
    ended_at_ms         INTEGER,
    updated_at_ms       INTEGER NOT NULL
) STRICT;

-- Listing is newest first by (created_at_ms, id), optionally filtered; each filter has an
-- index that yields that order directly, so a page reads about `limit` rows.
CREATE INDEX calls_by_created ON calls (created_at_ms, id);
CREATE INDEX calls_by_rule ON calls (rule_id, created_at_ms, id);
CREATE INDEX calls_by_trunk ON calls (trunk_id, created_at_ms, id);
CREATE INDEX calls_by_status ON calls (final_status, created_at_ms, id);
CREATE INDEX calls_by_caller ON calls (caller, created_at_ms, id);
CREATE INDEX calls_by_called ON calls (called, created_at_ms, id);
-- `calls tail`: changes in (updated_at_ms, id) order.
CREATE INDEX calls_by_updated ON calls (updated_at_ms, id);
-- Dashboard counts per rule (index-only).
CREATE INDEX calls_rule_status ON calls (rule_id, final_status);
-- Live calls of a node, for closing them as interrupted when it restarts (small: only
-- live calls are in it).
CREATE INDEX calls_open_by_node ON calls (node_id) WHERE final_status IS NULL;

-- Capacity slots (SPEC §6): one row per call holding a slot of a rule's
-- max_concurrent_calls. Taken by count-and-insert inside one write transaction.
CREATE TABLE call_slots (
    call_id     TEXT    NOT NULL PRIMARY KEY,
    rule_id     TEXT    NOT NULL,
    node_id     TEXT    NOT NULL,
    taken_at_ms INTEGER NOT NULL
) STRICT;

CREATE INDEX call_slots_by_rule ON call_slots (rule_id);
CREATE INDEX call_slots_by_node ON call_slots (node_id);
