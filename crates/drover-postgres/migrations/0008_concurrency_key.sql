-- Per-key concurrency (KeyConcurrency): a task's concurrency key, given at push, and the
-- queue's limit per key. A claim of a queue with a per-key limit runs under the settings
-- row's lock (like a cap or a rate) and takes a keyed task only while fewer than
-- `max_per_key` tasks of its key pushed before it are unfinished and fewer than
-- `max_per_key` of its key hold live leases; the index below answers both, bounded by the
-- limit.
ALTER TABLE drover.tasks ADD COLUMN concurrency_key text;
ALTER TABLE drover.queue_settings
    ADD COLUMN max_per_key integer CHECK (max_per_key IS NULL OR max_per_key > 0);
CREATE INDEX tasks_concurrency_key_idx ON drover.tasks (queue, concurrency_key, id)
    WHERE concurrency_key IS NOT NULL AND status IN ('pending', 'running');
