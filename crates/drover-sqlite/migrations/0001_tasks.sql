-- drover-sqlite migration 1: the task table and the indexes its queries use.
--
-- Times are integer milliseconds since the Unix epoch (UTC), so comparisons are integer
-- comparisons. A task has a lease token exactly while it is running: every transition out of
-- running clears it, so completions match on (id, lease_token) alone. Ids are 16-byte big-endian ULIDs: byte order is creation order, so
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

-- Finished tasks, for inspection and retention. Pending and running tasks are found through
-- the two indexes above, so a task enters this index once, when it finishes, instead of
-- moving within a status index on every claim and completion. Queries repeat the WHERE
-- term below word for word so SQLite knows it may use this partial index.
CREATE INDEX drover_tasks_finished
    ON drover_tasks (queue, status, id)
    WHERE status IN ('done', 'dead', 'cancelled');
