-- A cap on a queue's running tasks across every worker (GlobalConcurrency). A claim of a
-- capped queue locks this row, counts the live leases, and claims at most the free slots.
ALTER TABLE drover.queue_settings
    ADD COLUMN max_running integer CHECK (max_running IS NULL OR max_running > 0);
