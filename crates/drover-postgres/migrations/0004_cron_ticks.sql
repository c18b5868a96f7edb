-- Recurring schedules (drover-cron): each schedule's last tick and the task pushed for it.
-- A tick is pushed only if it is newer than `last_tick`, under this row's lock and in the
-- same transaction as the task's insert, so every node running a schedule pushes each tick
-- once. The row outlives the task: a finished or pruned tick stays taken.
CREATE TABLE drover.cron_ticks (
    queue      text        NOT NULL,
    schedule   text        NOT NULL,
    last_tick  timestamptz NOT NULL,
    -- The task of the last pushed tick (a tick skipped for overlap keeps the previous one).
    last_task  uuid,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (queue, schedule)
);
