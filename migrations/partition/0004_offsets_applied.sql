-- Offset commits are applied into `consumer_offsets` when their Raft entry is committed, not when
-- it is persisted (docs/replication.md §4): a replica may persist an entry that a later leader
-- truncates, and an upsert cannot be undone. The apply is its own transaction, written without
-- an fsync, so a crash can lose it; this mark says how far consumer_offsets is known to follow
-- the log, and a reopen applies the committed offset commits above it again.

-- Every offset commit of an entry at or below this index is in consumer_offsets.
ALTER TABLE raft_state ADD COLUMN offsets_applied_index INTEGER NOT NULL DEFAULT 0;

-- The broker before this wrote each offset commit as it persisted the entry, which a group of one
-- voter (every partition until now) commits in the same cycle; and a folder older than that has
-- no offset-commit entry at all. Either way consumer_offsets already holds every committed one.
UPDATE raft_state SET offsets_applied_index = commit_index;

-- What the reopen reads: the offset-commit entries above the mark, found without scanning the
-- record batches (most of the log). Partial, so appending a record batch never touches it.
CREATE INDEX raft_log_offset_commits ON raft_log (raft_index) WHERE kind = 1;
