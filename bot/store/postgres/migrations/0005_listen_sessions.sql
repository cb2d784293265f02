-- SQLite's 0010: a server's /listen session and its queue, so a restart resumes it (one row per server).
CREATE TABLE listen_sessions (
    guild_id BIGINT PRIMARY KEY,
    voice_channel_id BIGINT NOT NULL,
    text_channel_id BIGINT NOT NULL,
    starter_id BIGINT NOT NULL,
    tracks_json TEXT NOT NULL,
    position DOUBLE PRECISION NOT NULL DEFAULT 0,
    updated_at DOUBLE PRECISION NOT NULL
);
