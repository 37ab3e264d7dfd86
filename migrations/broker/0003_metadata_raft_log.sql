-- The cluster's metadata group (docs/replication.md §10-§11): its Raft log and hard state, in the
-- broker's own database. The same two tables as a partition's (migrations/partition/0003), without
-- records: the group's entries are commands (kind 2, configuration) and leader no-ops, each with
-- its payload here. A single broker, which runs no metadata group, leaves them empty.

CREATE TABLE raft_log (
    raft_index   INTEGER PRIMARY KEY,
    term         INTEGER NOT NULL,
    -- EntryKind: 0 record batch (never in this group), 1 offset commit (never), 2 configuration
    -- (a metadata command), 3 no-op.
    kind         INTEGER NOT NULL CHECK (kind BETWEEN 0 AND 3),
    first_offset INTEGER,
    record_count INTEGER NOT NULL DEFAULT 0,
    payload      BLOB,
    CHECK ((kind = 0) = (first_offset IS NOT NULL))
) STRICT;

CREATE TABLE raft_state (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    term           INTEGER NOT NULL,
    vote           INTEGER NOT NULL,
    commit_index   INTEGER NOT NULL,
    snapshot_index INTEGER NOT NULL,
    snapshot_term  INTEGER NOT NULL,
    voters         TEXT NOT NULL,
    snapshot_data  BLOB NOT NULL
) STRICT;

INSERT INTO raft_state (id, term, vote, commit_index, snapshot_index, snapshot_term, voters, snapshot_data)
VALUES (1, 0, 0, 0, 0, 0, '', x'');
