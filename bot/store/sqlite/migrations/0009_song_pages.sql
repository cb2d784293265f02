-- Song pages: a server's choice to publish them (off by default) and its gallery's id, and one page per posted song
-- or whole song, under an unguessable id that is not the clip id. Makers are kept as the names shown when posted.
CREATE TABLE page_settings (
    guild_id INTEGER PRIMARY KEY,
    pages_on INTEGER NOT NULL DEFAULT 0,
    gallery_id TEXT UNIQUE,
    updated_at REAL NOT NULL
);
CREATE TABLE song_pages (
    page_id TEXT PRIMARY KEY,
    clip_id TEXT NOT NULL,
    whole INTEGER NOT NULL,
    guild_id INTEGER NOT NULL,
    task_id INTEGER,
    makers_json TEXT NOT NULL,
    model TEXT,
    channel_id INTEGER,
    message_id INTEGER,
    created_at REAL NOT NULL,
    taken_down_at REAL
);
CREATE UNIQUE INDEX song_pages_by_clip ON song_pages(clip_id, whole);
CREATE INDEX song_pages_by_task ON song_pages(task_id);
CREATE INDEX song_pages_by_guild ON song_pages(guild_id, created_at);
