-- Worker self-registration (drover_core::WorkerRegistry): one row per running worker, written
-- by its own heartbeats every few seconds (last_seen by the server's clock) and deleted when
-- it stops; rows not seen within the age-out are dead workers' and listings delete them.
-- Queues are a JSON array.
CREATE TABLE IF NOT EXISTS drover_workers (
    id          VARCHAR(64)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    name        VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    host        VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    pid         BIGINT       NOT NULL,
    queues      TEXT         CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    concurrency BIGINT       NOT NULL,
    running     BIGINT       NOT NULL,
    started_at  DATETIME(6)  NOT NULL,
    last_seen   DATETIME(6)  NOT NULL,
    KEY drover_workers_last_seen (last_seen)
) ENGINE = InnoDB;
