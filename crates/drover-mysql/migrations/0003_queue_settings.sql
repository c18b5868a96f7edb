-- Per-queue settings kept by the database, so every worker on every node honours them.
-- `paused`: claims of the queue return nothing (`Pause`, `drover pause`).
CREATE TABLE IF NOT EXISTS drover_queue_settings (
    queue VARCHAR(191) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    paused BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at DATETIME(6) NOT NULL,
    PRIMARY KEY (queue)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
