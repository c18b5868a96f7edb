-- drover-sqlite migration 1: the task table and the indexes its queries use.
--
-- Times are integer milliseconds since the Unix epoch (UTC), so comparisons are integer
-- comparisons. Ids are 16-byte big-endian ULIDs: byte order is creation order, so
-- `ORDER BY id DESC` lists newest first.

CREATE TABLE drover_tasks (
    id               BLOB    NOT NULL PRIMARY KEY,
    queue            TEXT    NOT NULL,
    payload          BLOB    NOT NULL,
    status           TEXT    NOT NULL
                     CHECK (status IN ('pending', 'running', 'done', 'dead', 'cancelled')),
    attempt          INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL,
    run_at           INTEGER NOT NULL,
    priority         INTEGER NOT NULL DEFAULT 0,
    unique_key       TEXT,
    last_error       TEXT,
    lease_token      INTEGER,
    lease_expires_at INTEGER,
    claimed_by       TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
) WITHOUT ROWID;

-- The claim: due pending tasks of a queue in claim order, read straight off the index.
CREATE INDEX drover_tasks_claim
    ON drover_tasks (queue, priority DESC, run_at, id)
    WHERE status = 'pending';

-- Lease expiry: running tasks of a queue by deadline.
CREATE INDEX drover_tasks_leases
    ON drover_tasks (queue, lease_expires_at)
    WHERE status = 'running';

-- Unique keys hold only while a task is pending or running.
CREATE UNIQUE INDEX drover_tasks_unique
    ON drover_tasks (queue, unique_key)
    WHERE unique_key IS NOT NULL AND status IN ('pending', 'running');

-- Inspection (counts, pages by status newest first) and retention.
CREATE INDEX drover_tasks_status
    ON drover_tasks (queue, status, id);
