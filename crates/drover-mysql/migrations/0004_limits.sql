-- Limits across every worker and node, kept in the queue's settings row and enforced in the
-- claim (see claim.rs): `max_running` caps the queue's tasks holding live leases
-- (GlobalConcurrency); `rate_starts` per `rate_per_ms` is a rate of starts (GlobalRate), and
-- `rate_tat` the generic cell rate algorithm's theoretical arrival time in epoch
-- milliseconds, advanced by the claims holding the row's lock. NULL: no such limit.
-- One statement, so it is applied whole or not at all (InnoDB's DDL is atomic); a run cut
-- short after it, before its version was recorded, finds the columns there (see migrate.rs).
ALTER TABLE drover_queue_settings
    ADD COLUMN max_running INT NULL,
    ADD COLUMN rate_starts INT NULL,
    ADD COLUMN rate_per_ms BIGINT NULL,
    ADD COLUMN rate_tat DOUBLE NOT NULL DEFAULT 0;
