-- The broker's own metadata: <data-dir>/broker.sqlite3

CREATE TABLE topics (
    name        TEXT PRIMARY KEY,
    partitions  INTEGER NOT NULL CHECK (partitions > 0),
    replication INTEGER NOT NULL DEFAULT 1 CHECK (replication > 0),
    created_ms  INTEGER NOT NULL
) STRICT;
