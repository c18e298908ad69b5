-- switchboard configuration store, SQLite schema version 1.
-- Released migrations are never edited (sqlx checks their checksums); add a new file instead.
-- STRICT tables enforce the declared column types. `TEXT PRIMARY KEY` needs an explicit
-- NOT NULL in SQLite (a legacy quirk otherwise allows NULL keys).

-- The configuration version: a single row, bumped by every configuration write.
CREATE TABLE config_meta (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
) STRICT;

INSERT INTO config_meta (id, version) VALUES (1, 0);

-- Trunks and dispatch rules: opaque encoded bodies (LiveKit protobuf) plus what we index.
CREATE TABLE trunks (
    id            TEXT    NOT NULL PRIMARY KEY,
    name          TEXT    NOT NULL,
    body          BLOB    NOT NULL,
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL
) STRICT;

CREATE TABLE dispatch_rules (
    id            TEXT    NOT NULL PRIMARY KEY,
    name          TEXT    NOT NULL,
    body          BLOB    NOT NULL,
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL
) STRICT;

-- Route policies (JSON), keyed by the dispatch rule they govern. No foreign key: the store
-- keeps records opaque and the server validates references; deleting a rule deletes its
-- policy explicitly, in the same transaction.
CREATE TABLE route_policies (
    rule_id       TEXT    NOT NULL PRIMARY KEY,
    body_json     TEXT    NOT NULL,
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL
) STRICT;
