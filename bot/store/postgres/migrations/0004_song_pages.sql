-- SQLite's song-pages migration: a server's page settings and gallery id, and one page per posted song.
CREATE TABLE page_settings (
    guild_id BIGINT PRIMARY KEY,
    pages_on BOOLEAN NOT NULL DEFAULT FALSE,
    gallery_id TEXT UNIQUE,
    updated_at DOUBLE PRECISION NOT NULL
);
CREATE TABLE song_pages (
    page_id TEXT PRIMARY KEY,
    clip_id TEXT NOT NULL,
    whole BOOLEAN NOT NULL,
    guild_id BIGINT NOT NULL,
    task_id BIGINT,
    makers_json TEXT NOT NULL,
    model TEXT,
    channel_id BIGINT,
    message_id BIGINT,
    created_at DOUBLE PRECISION NOT NULL,
    taken_down_at DOUBLE PRECISION
);
CREATE UNIQUE INDEX song_pages_by_clip ON song_pages(clip_id, whole);
CREATE INDEX song_pages_by_task ON song_pages(task_id);
CREATE INDEX song_pages_by_guild ON song_pages(guild_id, created_at);
