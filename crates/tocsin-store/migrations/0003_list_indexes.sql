-- One index per list view the window filters by, each ending in id so pages walk
-- newest first without sorting.
CREATE INDEX events_by_provider ON events (provider, id DESC);
CREATE INDEX events_by_kind ON events (kind, id DESC);
CREATE INDEX events_by_tier ON events (tier, id DESC);
CREATE INDEX events_by_read ON events (read, id DESC);
