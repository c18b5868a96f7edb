-- Per-key concurrency: a key's live leases from an index of its unfinished tasks by lease
-- deadline (pending tasks have none, and sort after every deadline). Unlike the index of
-- migration 9, which it replaces, its predicate does not imply the lease index's, so the
-- planner cannot count a key's leases by reading every live lease of the queue (measured at
-- 60-120 ms a claim with a thousand running), whatever its statistics say.
DROP INDEX IF EXISTS drover.tasks_running_key_idx;
CREATE INDEX tasks_key_lease_idx ON drover.tasks (queue, concurrency_key, lease_expires_at)
    WHERE concurrency_key IS NOT NULL AND status IN ('pending', 'running');
