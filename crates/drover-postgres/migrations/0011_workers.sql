-- Worker self-registration (drover_core::WorkerRegistry): one row per running worker, written
-- by its own heartbeats every few seconds (last_seen by the server's clock) and deleted when
-- it stops; rows not seen within the age-out are dead workers' and are deleted by listings.
CREATE TABLE drover.workers (
    id          text        PRIMARY KEY,
    name        text        NOT NULL,
    host        text        NOT NULL,
    pid         bigint      NOT NULL,
    queues      text[]      NOT NULL,
    concurrency bigint      NOT NULL,
    running     bigint      NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now(),
    last_seen   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX workers_last_seen_idx ON drover.workers (last_seen);
