CREATE TABLE stars (
    task_id INTEGER NOT NULL REFERENCES tasks(id),
    user_id INTEGER NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (task_id, user_id)
);
ALTER TABLE tasks ADD COLUMN showcased_at REAL;
ALTER TABLE tasks ADD COLUMN showcase_message_id INTEGER;
CREATE INDEX tasks_by_guild_finished ON tasks(guild_id, finished_at) WHERE result_message_id IS NOT NULL;
