-- drover-sqlite migration 4: a cap on a queue's running tasks and a rate of starts across
-- every process (GlobalConcurrency, GlobalRate). A limited queue's claims take the limited
-- path: an immediate transaction reads these, counts the live leases, claims at most what
-- they allow and records the rate's arrival time (epoch ms).
ALTER TABLE drover_queue_settings ADD COLUMN max_running INTEGER;
ALTER TABLE drover_queue_settings ADD COLUMN rate_starts INTEGER;
ALTER TABLE drover_queue_settings ADD COLUMN rate_per_ms INTEGER;
ALTER TABLE drover_queue_settings ADD COLUMN rate_tat REAL NOT NULL DEFAULT 0;
