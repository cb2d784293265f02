-- The claims read these in order and stop at their LIMIT, as on PostgreSQL: a claim of due polls finds the most
-- overdue task of its provider in the index, however many others are due, without sorting them or reading their
-- rows (every column it filters and orders on is in the index, the status in its WHERE).
CREATE INDEX tasks_due_polls ON tasks(provider, next_attempt_at) WHERE status IN ('submitted', 'running');
CREATE INDEX tasks_queued ON tasks(provider, id) WHERE status = 'queued';
-- A task failed only because its submission was in doubt (its process stopped or froze mid-call): should the
-- provider's answer still arrive, the task is tracked after all.
ALTER TABLE tasks ADD COLUMN failed_in_doubt INTEGER NOT NULL DEFAULT 0;
-- Each message of a result as it is posted, so a delivery retried after a long outage skips the posted ones.
CREATE TABLE result_parts (
    task_id INTEGER NOT NULL REFERENCES tasks(id),
    part INTEGER NOT NULL,
    message_id INTEGER NOT NULL,
    posted_at REAL NOT NULL,
    PRIMARY KEY (task_id, part)
);
