-- SQLite's 0008: a task failed only as in doubt, and the posted parts of a result (the claim indexes of 0008 were
-- here since 0001).
-- A task failed only because its submission was in doubt (its process stopped or froze mid-call): should the
-- provider's answer still arrive, the task is tracked after all.
ALTER TABLE tasks ADD COLUMN failed_in_doubt BOOLEAN NOT NULL DEFAULT FALSE;
-- Each message of a result as it is posted, so a delivery retried after a long outage skips the posted ones.
CREATE TABLE result_parts (
    task_id BIGINT NOT NULL REFERENCES tasks(id),
    part INTEGER NOT NULL,
    message_id BIGINT NOT NULL,
    posted_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (task_id, part)
);
