-- drover-sqlite migration 2: recurring schedules (drover-cron). Each schedule's last tick
-- (integer milliseconds, UTC) and the task pushed for it. A tick is pushed only if it is
-- newer than `last_tick`, in the same immediate transaction as the task's insert, so every
-- process running a schedule pushes each tick once. The row outlives the task.
CREATE TABLE drover_cron_ticks (
    queue      TEXT    NOT NULL,
    schedule   TEXT    NOT NULL,
    last_tick  INTEGER NOT NULL,
    last_task  BLOB,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (queue, schedule)
) WITHOUT ROWID;
