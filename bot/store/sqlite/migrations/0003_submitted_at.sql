ALTER TABLE tasks ADD COLUMN submitted_at REAL;
CREATE INDEX tasks_by_provider_task ON tasks(provider, provider_task_id) WHERE provider_task_id IS NOT NULL;
