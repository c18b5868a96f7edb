-- drover-sqlite migration 5: per-key concurrency (KeyConcurrency). A task's concurrency key,
-- given at push, and the queue's limit per key. A queue with a per-key limit takes the
-- limited path (an immediate transaction); its claim takes a keyed task only while fewer than
-- `max_per_key` tasks of its key pushed before it are unfinished and fewer than
-- `max_per_key` of its key hold live leases, both answered by the index below.
ALTER TABLE drover_tasks ADD COLUMN concurrency_key TEXT;
ALTER TABLE drover_queue_settings ADD COLUMN max_per_key INTEGER;
CREATE INDEX drover_tasks_concurrency_key
    ON drover_tasks (queue, concurrency_key, id)
    WHERE concurrency_key IS NOT NULL AND status IN ('pending', 'running');
