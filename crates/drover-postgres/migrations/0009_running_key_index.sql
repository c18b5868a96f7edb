-- Per-key concurrency: a key's live leases, counted by every claim of a queue with a per-key
-- limit for each keyed candidate, from an index of running tasks by key (the lease index
-- would scan every live lease of the queue per candidate).
CREATE INDEX tasks_running_key_idx ON drover.tasks (queue, concurrency_key)
    WHERE status = 'running' AND concurrency_key IS NOT NULL;
