-- Drover's task table, its indexes and the lease-token sequence.
-- Every statement the storage runs on the hot path is served by one of these indexes; see the
-- crate docs ("Schema") for which query uses which.

CREATE TABLE drover.tasks (
    -- A ULID stored as uuid: the 48-bit millisecond timestamp comes first, so ORDER BY id is
    -- creation order and `TaskId::from_u128(uuid.as_u128())` gives the task id back.
    id               uuid        PRIMARY KEY,
    queue            text        NOT NULL,
    -- The encoded job (JSON by default); bytes so that any codec works.
    payload          bytea       NOT NULL,
    status           text        NOT NULL DEFAULT 'pending'
                                 CHECK (status IN ('pending', 'running', 'done', 'dead', 'cancelled')),
    attempt          integer     NOT NULL DEFAULT 0,
    max_attempts     integer     NOT NULL DEFAULT 25 CHECK (max_attempts >= 1),
    run_at           timestamptz NOT NULL DEFAULT now(),
    priority         integer     NOT NULL DEFAULT 0,
    unique_key       text,
    last_error       text,
    -- The current claim: its fencing token and deadline (NULL unless running).
    lease_token      bigint,
    lease_expires_at timestamptz,
    -- The worker holding (or last holding) the claim, for inspection.
    worker           text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
) WITH (
    -- A queue table turns over fast: vacuum it early so dead index entries do not pile up.
    autovacuum_vacuum_scale_factor = 0.02,
    autovacuum_vacuum_insert_scale_factor = 0.02,
    autovacuum_analyze_scale_factor = 0.05
);

-- The claim's first half: due pending tasks in claim order (priority, then run_at, then id).
CREATE INDEX tasks_pending_claim_idx ON drover.tasks (queue, priority DESC, run_at, id)
    WHERE status = 'pending';

-- The claim's second half: running tasks by lease deadline, so expired leases are found
-- without scanning live claims.
CREATE INDEX tasks_running_lease_idx ON drover.tasks (queue, lease_expires_at)
    WHERE status = 'running';

-- Inspection: counts and pages by status, newest first; retention by age.
CREATE INDEX tasks_queue_status_id_idx ON drover.tasks (queue, status, id);

-- Unique keys hold only while a task is pending or running.
CREATE UNIQUE INDEX tasks_unique_key_idx ON drover.tasks (queue, unique_key)
    WHERE unique_key IS NOT NULL AND status IN ('pending', 'running');

-- Lease tokens: a sequence never hands out the same token twice.
CREATE SEQUENCE drover.lease_token_seq AS bigint CACHE 64;
