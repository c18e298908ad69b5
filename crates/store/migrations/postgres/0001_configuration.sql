-- switchboard configuration store, PostgreSQL schema version 1.
-- Released migrations are never edited (sqlx checks their checksums); add a new file instead.
-- Ids use the "C" collation so that "ascending id order" is byte order, as in SQLite,
-- whatever the database's default collation.

-- The configuration version: a single row, bumped by every configuration write.
CREATE TABLE config_meta (
    id      SMALLINT PRIMARY KEY CHECK (id = 1),
    version BIGINT   NOT NULL
);

INSERT INTO config_meta (id, version) VALUES (1, 0);

-- Trunks and dispatch rules: opaque encoded bodies (LiveKit protobuf) plus what we index.
CREATE TABLE trunks (
    id            TEXT COLLATE "C" PRIMARY KEY,
    name          TEXT   NOT NULL,
    body          BYTEA  NOT NULL,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);

CREATE TABLE dispatch_rules (
    id            TEXT COLLATE "C" PRIMARY KEY,
    name          TEXT   NOT NULL,
    body          BYTEA  NOT NULL,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);

-- Route policies (JSON), keyed by the dispatch rule they govern. No foreign key: the store
-- keeps records opaque and the server validates references; deleting a rule deletes its
-- policy explicitly, in the same transaction.
CREATE TABLE route_policies (
    rule_id       TEXT COLLATE "C" PRIMARY KEY,
    body_json     TEXT   NOT NULL,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);
