-- The full-text index is written by `Store::insert_batch`, one INSERT ... SELECT over a
-- batch's new rows, instead of by a trigger per row. FTS5 flushes its pending terms
-- into a new segment at every statement, so the row trigger wrote a small segment per
-- INSERT statement and then spent its time merging them (BENCHMARKS.md: about 3x
-- fewer events/s). Deletes still go through `events_fts_delete`.
DROP TRIGGER events_fts_insert;
