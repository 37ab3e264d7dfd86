-- Committed consumer-group positions, in the same database (and the same transactions) as the
-- records they point into, so `SELECT` shows lag next to the data and a commit is as durable as
-- a record.

CREATE TABLE consumer_offsets (
    -- The consumer group.
    group_name   TEXT PRIMARY KEY,
    -- The next offset the group will read (Kafka's convention: last processed + 1).
    next_offset  INTEGER NOT NULL CHECK (next_offset >= 0),
    -- Group generation and member that made the commit, for forensics.
    generation   INTEGER NOT NULL,
    member       TEXT NOT NULL,
    committed_ms INTEGER NOT NULL
) STRICT;

-- Lag per group, in records and in time (age of the oldest record the group has not consumed).
CREATE VIEW consumer_lag AS
SELECT
    c.group_name,
    c.next_offset AS committed_offset,
    e.end_offset,
    max(e.end_offset - c.next_offset, 0) AS lag_records,
    CASE WHEN o.timestamp_ms IS NULL THEN 0
         ELSE CAST(strftime('%s', 'now') AS INTEGER) * 1000 - o.timestamp_ms END AS lag_ms,
    strftime('%Y-%m-%dT%H:%M:%fZ', o.timestamp_ms / 1000.0, 'unixepoch') AS oldest_unconsumed_time,
    strftime('%Y-%m-%dT%H:%M:%fZ', c.committed_ms / 1000.0, 'unixepoch') AS committed_time,
    c.generation,
    c.member
FROM consumer_offsets AS c
CROSS JOIN (SELECT coalesce(max(offset) + 1, 0) AS end_offset FROM records) AS e
LEFT JOIN records AS o ON o.offset = c.next_offset;
