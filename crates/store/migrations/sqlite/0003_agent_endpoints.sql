-- switchboard store, SQLite schema version 3: media-stream agent endpoints (SPEC §5 item 2).
-- Released migrations are never edited (sqlx checks their checksums); add a new file instead.

-- One row per agent name: calls dispatched to that name are streamed to `url` with the
-- Twilio Media Streams protocol instead of being offered to registered workers.
CREATE TABLE agent_endpoints (
    agent_name    TEXT    NOT NULL PRIMARY KEY,
    url           TEXT    NOT NULL,
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL
) STRICT;
