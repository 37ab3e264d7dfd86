-- The partition's Raft log (docs/replication.md §4). Records are still stored once, as rows of
-- `records` keyed by offset; the log has one small row per Raft entry. A record batch's row points
-- at its records (first_offset, record_count); every other kind keeps its payload here.

CREATE TABLE raft_log (
    -- Raft log index: 1, 2, 3, ... (the rowid, so max() and range scans are direct).
    raft_index   INTEGER PRIMARY KEY,
    -- Term of the leader that created the entry.
    term         INTEGER NOT NULL,
    -- EntryKind: 0 record batch, 1 offset commit, 2 configuration, 3 no-op.
    kind         INTEGER NOT NULL CHECK (kind BETWEEN 0 AND 3),
    -- Record batches: offset of the batch's first record in `records`; NULL for other kinds.
    first_offset INTEGER,
    -- Record batches: how many records (offsets first_offset ..< first_offset + record_count).
    record_count INTEGER NOT NULL DEFAULT 0,
    -- Other kinds: the entry's payload; NULL for record batches (their bytes are in `records`).
    payload      BLOB,
    CHECK ((kind = 0) = (first_offset IS NOT NULL))
) STRICT;

-- Exactly one row: what Raft must remember besides the log.
CREATE TABLE raft_state (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    -- Hard state (Raft Figure 2): current term, vote in that term (node id, 0 = none), and the
    -- highest index known committed.
    term           INTEGER NOT NULL,
    vote           INTEGER NOT NULL,
    commit_index   INTEGER NOT NULL,
    -- The snapshot: the last index it covers and that entry's term. The log starts at
    -- snapshot_index + 1; raft_log holds no row at or below snapshot_index.
    snapshot_index INTEGER NOT NULL,
    snapshot_term  INTEGER NOT NULL,
    -- Voters of the group at snapshot_index, as comma-separated node ids ('' = not yet known).
    voters         TEXT NOT NULL,
    -- The snapshot's application data (opaque to Raft).
    snapshot_data  BLOB NOT NULL
) STRICT;

-- A partition written before this migration: every record it holds was acknowledged by a
-- single broker, so it all becomes the state covered by one snapshot at index 1, term 1,
-- committed. The records stay where they are (term 0 in `records` marks them as written before
-- replication); the log proper starts empty at index 2. An empty partition starts from nothing.
INSERT INTO raft_state (id, term, vote, commit_index, snapshot_index, snapshot_term, voters, snapshot_data)
SELECT 1, n, 0, n, n, n, '', x''
FROM (SELECT CASE WHEN EXISTS (SELECT 1 FROM records) THEN 1 ELSE 0 END AS n);
