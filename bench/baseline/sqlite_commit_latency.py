#!/usr/bin/env python3
"""Why the history's WAL checkpoints run in the background: the time of one single-event
commit (the statements `Store::insert_batch` runs for one event) with SQLite's automatic
checkpoint on (it runs inside the commit that crosses 1 000 pages) and off, on a history
that already holds 50 000 events. Python's sqlite3 (the OS's SQLite), this machine's disk.

    sqlite_commit_latency.py [DIR]      (DIR: where the database goes; default: the temp dir)
"""

import os
import random
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sqlite_ceiling as sc  # noqa: E402

ONE = "(" + ",".join("?" * 20) + ")"


def run(path, data, pragmas):
    c = sc.connect(path)
    for m in sc.MIGRATIONS:
        c.executescript(open(m).read())
    c.execute("DROP TRIGGER IF EXISTS events_fts_insert")
    for p in pragmas:
        c.execute(p)
    for b in range(0, 50_000, 1024):
        batch = data[b:min(b + 1024, 50_000)]
        c.execute("BEGIN")
        ids = []
        for k in range(0, len(batch), 64):
            part = batch[k:k + 64]
            sql = f"INSERT INTO events ({sc.COLS}) VALUES " + ",".join([ONE] * len(part)) + " RETURNING id"
            ids += [r[0] for r in c.execute(sql, [x for r in part for x in r]).fetchall()]
        c.execute("INSERT INTO events_fts (rowid, subject, sender, body_text) SELECT id, subject, sender, body_text "
                  "FROM events WHERE id BETWEEN ? AND ?", (min(ids), max(ids)))
        c.execute("COMMIT")
    ms = []
    for r in data[50_000:55_000]:
        t = time.perf_counter()
        c.execute("BEGIN")
        i = c.execute(f"INSERT INTO events ({sc.COLS}) VALUES {ONE} ON CONFLICT(dedupe_key) DO NOTHING RETURNING id", r).fetchone()[0]
        c.execute("INSERT INTO events_fts (rowid, subject, sender, body_text) SELECT id, subject, sender, body_text "
                  "FROM events WHERE id BETWEEN ? AND ?", (i, i))
        c.execute("INSERT INTO cursors (account, last_event_id, updated_at_ms) VALUES ('bench', ?, 1) "
                  "ON CONFLICT(account) DO UPDATE SET last_event_id = excluded.last_event_id", (r[5],))
        c.execute("COMMIT")
        ms.append((time.perf_counter() - t) * 1000)
    c.close()
    ms.sort()
    return {"p50": ms[len(ms) // 2], "p95": ms[int(len(ms) * 0.95)], "p99": ms[int(len(ms) * 0.99)], "max": ms[-1]}


def main():
    data = sc.rows(55_000, random.Random(3))
    with tempfile.TemporaryDirectory(prefix="tocsin-commit-latency-", dir=sys.argv[1] if len(sys.argv) > 1 else None) as d:
        for name, pragmas in [("automatic checkpoint (SQLite default)", []),
                              ("automatic checkpoint off", ["PRAGMA wal_autocheckpoint=0"])]:
            r = run(os.path.join(d, "h.db"), data, pragmas)
            print(f"{name}: one-event commit p50 {r['p50']:.3f} ms, p95 {r['p95']:.3f} ms, "
                  f"p99 {r['p99']:.3f} ms, max {r['max']:.1f} ms (5 000 commits)")


if __name__ == "__main__":
    main()
