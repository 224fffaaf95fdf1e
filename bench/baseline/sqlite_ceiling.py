#!/usr/bin/env python3
"""The ingest ceiling of SQLite itself: what Tocsin's history schema accepts per second
with no application around it.

The schema is `crates/tocsin-store/migrations/*.sql` applied verbatim; the statements are
the ones `Store::insert_batch` runs (multi-row INSERT ... ON CONFLICT DO NOTHING in chunks
of 64 rows, one FTS5 INSERT ... SELECT over the batch's new rows, one cursor upsert, in
one transaction of 1024 events), in WAL mode with synchronous=NORMAL, on a file next to
the harness's. Rows are shaped like the harness's AgentMail events (a 3-8 word subject
with a unique number, a 20-60 word body, the ~1 KB original frame). Python's sqlite3
module (the OS's SQLite, not the one bundled into Tocsin) drives it; the Python cost per
row is part of the figure, so it is a lower bound of the ceiling.

Three runs, each into a fresh file:
  full         what the store does
  no_fts       the same without the full-text index
  fts_only     the full-text index alone (a bare FTS5 table, one INSERT per batch)

    sqlite_ceiling.py OUT.json [EVENTS]
"""

import glob
import json
import os
import random
import sqlite3
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MIGRATIONS = sorted(glob.glob(os.path.join(ROOT, "crates/tocsin-store/migrations/*.sql")))
WORDS = ("invoice payment failed deploy deployment customer report prometheus grace zebra "
         "migration server alert urgent database backup review meeting schedule quarterly "
         "release ticket outage latency budget contract renewal security audit").split()
COLS = ("dedupe_key, account, provider, kind, provider_type, provider_event_id, tier, inbox, thread, "
        "message_id, sender, subject, body_text, body_html, labels, attachments, occurred_at_ms, "
        "received_at_ms, replayed, raw")
BATCH, CHUNK = 1024, 64


def rows(n, rng):
    out = []
    for i in range(n):
        subject = " ".join(rng.choice(WORDS) for _ in range(rng.randrange(3, 8))) + f" #{i}"
        body = " ".join(rng.choice(WORDS) for _ in range(rng.randrange(20, 60)))
        sender = f"user{rng.randrange(50)}@example.com"
        raw = json.dumps({"type": "event", "event_type": "message.received", "message": {
            "inbox_id": "agent@agentmail.to", "message_id": f"msg_{i}", "thread_id": f"thr_{i}",
            "from": sender, "to": ["agent@agentmail.to"], "subject": subject, "text": body,
            "preview": body[:120], "labels": ["received"], "attachments": [],
            "timestamp": "2026-11-23T10:00:00.000Z", "created_at": "2026-11-23T10:00:00.000Z"}})
        out.append((f"agentmail:ev_{i}", "bench", "agentmail", "message_received", "message.received",
                    f"ev_{i}", "normal", "agent@agentmail.to", f"thr_{i}", f"msg_{i}", sender, subject,
                    body, None, '["received"]', "[]", 1, 2, 0, raw))
    return out


def connect(path):
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    c = sqlite3.connect(path, isolation_level=None)
    c.execute("PRAGMA journal_mode=WAL")
    c.execute("PRAGMA synchronous=NORMAL")
    return c


def store_like(path, data, fts):
    c = connect(path)
    for m in MIGRATIONS:
        c.executescript(open(m).read())
    # Older migrations kept the index by a row trigger; the store no longer has one.
    c.execute("DROP TRIGGER IF EXISTS events_fts_insert")
    one = "(" + ",".join("?" * 20) + ")"
    full_chunk = f"INSERT INTO events ({COLS}) VALUES " + ",".join([one] * CHUNK) + \
        " ON CONFLICT(dedupe_key) DO NOTHING RETURNING id"
    started = time.perf_counter()
    for b in range(0, len(data), BATCH):
        batch = data[b:b + BATCH]
        c.execute("BEGIN")
        ids = []
        for k in range(0, len(batch), CHUNK):
            part = batch[k:k + CHUNK]
            sql = full_chunk if len(part) == CHUNK else \
                f"INSERT INTO events ({COLS}) VALUES " + ",".join([one] * len(part)) + \
                " ON CONFLICT(dedupe_key) DO NOTHING RETURNING id"
            ids.extend(r[0] for r in c.execute(sql, [x for row in part for x in row]).fetchall())
        if fts and ids:
            c.execute("INSERT INTO events_fts (rowid, subject, sender, body_text) "
                      "SELECT id, subject, sender, body_text FROM events WHERE id BETWEEN ? AND ?",
                      (min(ids), max(ids)))
        c.execute("INSERT INTO cursors (account, last_event_id, updated_at_ms) VALUES (?,?,?) "
                  "ON CONFLICT(account) DO UPDATE SET last_event_id = excluded.last_event_id, "
                  "updated_at_ms = excluded.updated_at_ms", ("bench", batch[-1][5], 2))
        c.execute("COMMIT")
    took = time.perf_counter() - started
    c.close()
    return len(data) / took


def fts_only(path, data):
    c = connect(path)
    c.execute("CREATE VIRTUAL TABLE f USING fts5(subject, sender, body_text, "
              "tokenize = 'unicode61 remove_diacritics 2')")
    started = time.perf_counter()
    for b in range(0, len(data), BATCH):
        c.execute("BEGIN")
        c.executemany("INSERT INTO f (subject, sender, body_text) VALUES (?,?,?)",
                      [(r[11], r[10], r[12]) for r in data[b:b + BATCH]])
        c.execute("COMMIT")
    took = time.perf_counter() - started
    c.close()
    return len(data) / took


def main():
    out = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
    data = rows(n, random.Random(7))
    with tempfile.TemporaryDirectory(prefix="tocsin-sqlite-ceiling-", dir=os.environ.get("TMPDIR")) as d:
        result = {
            "what": "SQLite alone, Tocsin's schema and insert statements, driven from Python's sqlite3",
            "sqlite_version": sqlite3.sqlite_version,
            "events": n,
            "batch": BATCH,
            "events_per_s": {
                "full": store_like(os.path.join(d, "full.db"), data, True),
                "no_fts": store_like(os.path.join(d, "nofts.db"), data, False),
                "fts_only": fts_only(os.path.join(d, "fts.db"), data),
            },
        }
    with open(out, "w") as f:
        json.dump(result, f, indent=2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
