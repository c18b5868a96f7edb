-- Attempt history (TaskInfo::attempts): `attempts` holds the task's failed attempts as a JSON
-- array, oldest first, at most 20 (drover_core::ATTEMPT_HISTORY_LIMIT), each {"n": attempt,
-- "s": start, "f": end, "e": error} in epoch milliseconds (a null error is an expired lease);
-- NULL for none. Only failing completions and expired leases append to it, so a successful
-- completion writes nothing more. `started_at` is the current attempt's claim time, set by the
-- claim's own UPDATE. One ALTER, idempotent (MySQL commits DDL at once).
ALTER TABLE drover_tasks
    ADD COLUMN IF NOT EXISTS attempts MEDIUMTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    ADD COLUMN IF NOT EXISTS started_at DATETIME(6) NULL;
