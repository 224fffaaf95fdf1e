-- User settings that travel with the history (rules, attention policy, pause).
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
