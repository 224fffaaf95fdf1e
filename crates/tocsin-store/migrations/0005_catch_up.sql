-- When each account was last known connected: the newest received_at_ms committed
-- for it, or the moment the app stopped while it was connected. At start, what was
-- sent since then may have been missed, and the connection catches up from there
-- (or writes a gap entry where the provider cannot resend).
CREATE TABLE connected_until (
    account TEXT PRIMARY KEY,
    at_ms   INTEGER NOT NULL
);
INSERT INTO connected_until (account, at_ms) SELECT account, MAX(received_at_ms) FROM events GROUP BY account;

-- An edit replaces the edited message's text; the full-text index follows it.
CREATE TRIGGER events_fts_update AFTER UPDATE OF subject, sender, body_text ON events BEGIN
    INSERT INTO events_fts (events_fts, rowid, subject, sender, body_text)
        VALUES ('delete', old.id, old.subject, old.sender, old.body_text);
    INSERT INTO events_fts (rowid, subject, sender, body_text) VALUES (new.id, new.subject, new.sender, new.body_text);
END;

-- Finding the message an edit is for.
CREATE INDEX events_message ON events (account, message_id) WHERE message_id IS NOT NULL;
