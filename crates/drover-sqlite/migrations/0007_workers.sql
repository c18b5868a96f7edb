-- drover-sqlite migration 7: worker self-registration (drover_core::WorkerRegistry). One row
-- per running worker, written by its own heartbeats every few seconds and deleted when it
-- stops; rows not seen within the age-out are dead workers' and listings delete them. Times
-- in epoch milliseconds, queues a JSON array.
CREATE TABLE drover_workers (
    id          TEXT    NOT NULL PRIMARY KEY,
    name        TEXT    NOT NULL,
    host        TEXT    NOT NULL,
    pid         INTEGER NOT NULL,
    queues      TEXT    NOT NULL,
    concurrency INTEGER NOT NULL,
    running     INTEGER NOT NULL,
    started_at  INTEGER NOT NULL,
    last_seen   INTEGER NOT NULL
);
CREATE INDEX drover_workers_last_seen ON drover_workers (last_seen);
