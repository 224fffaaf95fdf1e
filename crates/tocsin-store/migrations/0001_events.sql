-- Every event Tocsin received, normalised, with the original frame.
CREATE TABLE events (
    id                INTEGER PRIMARY KEY,
    dedupe_key        TEXT    NOT NULL UNIQUE,
    account           TEXT    NOT NULL,
    provider          TEXT    NOT NULL,
    kind              TEXT    NOT NULL,
    provider_type     TEXT    NOT NULL,
    provider_event_id TEXT,
    tier              TEXT    NOT NULL,
    inbox             TEXT,
    thread            TEXT,
    message_id        TEXT,
    sender            TEXT,
    subject           TEXT,
    body_text         TEXT,
    body_html         TEXT,
    labels            TEXT    NOT NULL DEFAULT '[]',
    attachments       TEXT    NOT NULL DEFAULT '[]',
    occurred_at_ms    INTEGER,
    received_at_ms    INTEGER NOT NULL,
    read              INTEGER NOT NULL DEFAULT 0,
    replayed          INTEGER NOT NULL DEFAULT 0,
    raw               TEXT    NOT NULL
);

CREATE INDEX events_by_account ON events (account, id DESC);
CREATE INDEX events_unread_tier ON events (tier, read) WHERE read = 0;
CREATE INDEX events_by_received ON events (received_at_ms);

-- Full-text index over what people search for.
CREATE VIRTUAL TABLE events_fts USING fts5(
    subject, sender, body_text,
    content = 'events', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER events_fts_insert AFTER INSERT ON events BEGIN
    INSERT INTO events_fts (rowid, subject, sender, body_text) VALUES (new.id, new.subject, new.sender, new.body_text);
END;
CREATE TRIGGER events_fts_delete AFTER DELETE ON events BEGIN
    INSERT INTO events_fts (events_fts, rowid, subject, sender, body_text)
        VALUES ('delete', old.id, old.subject, old.sender, old.body_text);
END;

-- The replay cursor per account: the last provider event id committed.
CREATE TABLE cursors (
    account        TEXT PRIMARY KEY,
    last_event_id  TEXT    NOT NULL,
    updated_at_ms  INTEGER NOT NULL
);
