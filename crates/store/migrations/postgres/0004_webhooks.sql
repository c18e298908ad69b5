-- switchboard store, PostgreSQL schema version 4: the webhook delivery queue.
-- Released migrations are never edited (sqlx checks their checksums); add a new file instead.

-- One row per (event, receiver URL). A row is due while `delivered_at_ms` is NULL and
-- `next_attempt_at_ms` has passed; the server gives up on a row after its last attempt by
-- pushing `next_attempt_at_ms` out of reach (see the server's webhooks module).
CREATE TABLE webhook_deliveries (
    id                 TEXT COLLATE "C" PRIMARY KEY,
    url                TEXT    NOT NULL,
    event              TEXT    NOT NULL,
    body               TEXT    NOT NULL,
    attempts           BIGINT  NOT NULL,
    next_attempt_at_ms BIGINT  NOT NULL,
    delivered_at_ms    BIGINT,
    last_error         TEXT,
    created_at_ms      BIGINT  NOT NULL
);

CREATE INDEX webhook_deliveries_due ON webhook_deliveries (delivered_at_ms, next_attempt_at_ms);
