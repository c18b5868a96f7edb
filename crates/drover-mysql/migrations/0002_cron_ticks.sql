-- Recurring schedules (drover-cron): each schedule's last tick and the task pushed for it.
-- A tick is pushed only if it is newer than `last_tick`, under this row's lock and in the same
-- transaction as the task's insert, so every node running a schedule pushes each tick once.
-- The row outlives the task. A row is created before its first tick with `last_tick` at
-- 1000-01-01 (no tick yet), so the push always locks an existing row, never a gap.
CREATE TABLE IF NOT EXISTS drover_cron_ticks (
    queue VARCHAR(191) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    schedule VARCHAR(191) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    last_tick DATETIME(6) NOT NULL,
    last_task BINARY(16) NULL,
    updated_at DATETIME(6) NOT NULL,
    PRIMARY KEY (queue, schedule)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
