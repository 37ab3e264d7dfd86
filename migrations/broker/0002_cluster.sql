-- Which cluster this data folder belongs to, and as which node (docs/cluster.md, "What the data
-- folder remembers"). One row, written at the first start of a binary that knows clusters; a later
-- start whose --cluster-id, --node-id or --peers disagree is refused. A folder of a single broker
-- started without --peers records node 1, no peers and an empty cluster id.

CREATE TABLE cluster (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    cluster_id TEXT NOT NULL,
    node_id    INTEGER NOT NULL CHECK (node_id > 0),
    -- Every voter, sorted by id: '1=127.0.0.1:7171,2=127.0.0.1:7172' ('' for a single broker).
    peers      TEXT NOT NULL,
    created_ms INTEGER NOT NULL
) STRICT;
