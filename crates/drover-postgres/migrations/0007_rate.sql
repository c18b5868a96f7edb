-- A rate of task starts across every worker (GlobalRate): `rate_starts` per `rate_per_ms`,
-- and the generic cell rate algorithm's theoretical arrival time in epoch milliseconds,
-- advanced by the claims that hold this row's lock.
ALTER TABLE drover.queue_settings
    ADD COLUMN rate_starts integer CHECK (rate_starts IS NULL OR rate_starts > 0),
    ADD COLUMN rate_per_ms bigint CHECK (rate_per_ms IS NULL OR rate_per_ms > 0),
    ADD COLUMN rate_tat double precision NOT NULL DEFAULT 0;
