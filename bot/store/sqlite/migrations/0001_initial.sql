CREATE TABLE tasks (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    provider TEXT NOT NULL,
    provider_task_id TEXT,
    requester_id INTEGER NOT NULL,
    guild_id INTEGER,
    channel_id INTEGER NOT NULL,
    upload_limit INTEGER,
    request_json TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    reroll_of INTEGER REFERENCES tasks(id),
    provider_status TEXT,
    progress INTEGER,
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL DEFAULT 0,
    last_change_at REAL NOT NULL,
    submit_started_at REAL,
    result_message_id INTEGER,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    finished_at REAL
);
CREATE INDEX tasks_unfinished ON tasks(status, next_attempt_at)
    WHERE status IN ('queued', 'submitted', 'running', 'succeeded');
CREATE UNIQUE INDEX tasks_by_message ON tasks(result_message_id) WHERE result_message_id IS NOT NULL;
CREATE INDEX tasks_by_fingerprint ON tasks(requester_id, fingerprint, created_at);
CREATE TABLE songs (
    clip_id TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    provider_task_id TEXT,
    task_id INTEGER REFERENCES tasks(id),
    owner_id INTEGER,
    guild_id INTEGER,
    title TEXT,
    duration REAL,
    audio_url TEXT,
    image_url TEXT,
    parent_clip_id TEXT,
    continue_at REAL,
    created_at REAL NOT NULL
);
CREATE INDEX songs_by_owner ON songs(owner_id, created_at DESC);
CREATE INDEX songs_by_task ON songs(task_id);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
