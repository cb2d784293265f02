-- /listen: a server's voice session and its queue, so a restart resumes it (one row per server).
CREATE TABLE listen_sessions (
    guild_id INTEGER PRIMARY KEY,
    voice_channel_id INTEGER NOT NULL,
    text_channel_id INTEGER NOT NULL,
    starter_id INTEGER NOT NULL,
    tracks_json TEXT NOT NULL,
    position REAL NOT NULL DEFAULT 0,
    updated_at REAL NOT NULL
);
