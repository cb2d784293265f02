CREATE INDEX tasks_by_requester ON tasks(requester_id, created_at);
CREATE INDEX tasks_by_guild ON tasks(guild_id, created_at);
