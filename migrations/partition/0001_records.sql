-- One database per partition replica: <data-dir>/topics/<topic>/<partition>.sqlite3
-- The records table IS the log: each record is written once, at its offset.

CREATE TABLE records (
    -- Position in the partition: 0, 1, 2, ... with no gaps. An alias of the rowid, so appends
    -- go to the right edge of the table's B-tree and lookups by offset are direct.
    offset       INTEGER PRIMARY KEY,
    -- Leader term (epoch) that wrote the record. 0 on a single broker. A follower truncates a
    -- divergent suffix with one DELETE ... WHERE offset >= ?.
    term         INTEGER NOT NULL DEFAULT 0,
    -- Broker append time, ms since the Unix epoch. Never decreases along the offsets.
    timestamp_ms INTEGER NOT NULL,
    -- TEXT when the bytes are UTF-8 without NUL, BLOB otherwise; NULL when the record has no key.
    key          ANY,
    -- TEXT when the bytes are UTF-8 without NUL, BLOB otherwise.
    value        ANY NOT NULL
) STRICT;

-- Replay by time: OFFSETS ... time=<ms> finds the first record at or after a timestamp.
CREATE INDEX records_by_timestamp ON records (timestamp_ms);

-- For people at the sqlite3 prompt: readable time, key and value as text where they are text,
-- hex literals where they are binary.
CREATE VIEW messages AS
SELECT
    offset,
    strftime('%Y-%m-%dT%H:%M:%fZ', timestamp_ms / 1000.0, 'unixepoch') AS time,
    CASE typeof(key) WHEN 'blob' THEN 'x''' || hex(key) || '''' ELSE key END AS key,
    CASE typeof(value) WHEN 'blob' THEN 'x''' || hex(value) || '''' ELSE value END AS value,
    length(CAST(value AS BLOB)) AS value_bytes,
    timestamp_ms,
    term
FROM records;
