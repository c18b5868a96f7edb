-- The task table of every queue. One row per task; see the crate docs for the life of a row.
CREATE TABLE IF NOT EXISTS drover_tasks (
    -- TaskId::to_u128, big-endian: ULIDs sort by creation time, so ORDER BY id DESC is newest first.
    id BINARY(16) NOT NULL,
    -- Binary collation: queue names and unique keys compare byte for byte, case included.
    queue VARCHAR(191) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    payload LONGBLOB NOT NULL,
    status ENUM('pending', 'running', 'done', 'dead', 'cancelled') NOT NULL,
    attempt INT UNSIGNED NOT NULL DEFAULT 0,
    max_attempts INT UNSIGNED NOT NULL,
    -- Every time is UTC, from the server's clock (UTC_TIMESTAMP(6)) unless the producer set run_at.
    run_at DATETIME(6) NOT NULL,
    priority INT NOT NULL DEFAULT 0,
    -- Higher priority first, with an ascending index: MariaDB before 10.8 ignores DESC in indexes.
    priority_rank BIGINT AS (0 - priority) STORED,
    unique_key VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    -- The unique key while the task is pending or running, NULL otherwise: MySQL has no partial
    -- indexes, and NULLs never collide in a UNIQUE index.
    unique_live VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    last_error TEXT NULL,
    token BIGINT NULL,
    lease_expires_at DATETIME(6) NULL,
    worker VARCHAR(255) NULL,
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    PRIMARY KEY (id),
    -- The claim: due pending tasks of a queue, highest priority then oldest run_at first.
    KEY drover_tasks_claim (queue, status, priority_rank, run_at),
    -- Expired leases: running tasks of a queue by deadline.
    KEY drover_tasks_lease (queue, status, lease_expires_at),
    -- Listing newest first, by status or not; retention by status and age.
    KEY drover_tasks_status_id (queue, status, id),
    KEY drover_tasks_queue_id (queue, id),
    UNIQUE KEY drover_tasks_unique_live (queue, unique_live)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
