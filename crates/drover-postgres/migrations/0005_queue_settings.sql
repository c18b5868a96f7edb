-- Per-queue settings kept by the database, so every worker on every node honours them.
-- `paused`: claims of the queue return nothing (`Pause`, `drover pause`).
CREATE TABLE drover.queue_settings (
    queue      text        PRIMARY KEY,
    paused     boolean     NOT NULL DEFAULT false,
    updated_at timestamptz NOT NULL DEFAULT now()
);
