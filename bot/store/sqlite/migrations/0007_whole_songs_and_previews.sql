CREATE TABLE whole_songs (
    clip_id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    guild_id INTEGER,
    channel_id INTEGER,
    message_id INTEGER,
    requested_by INTEGER,
    claimed_at REAL NOT NULL,
    posted_at REAL,
    error TEXT,
    timeline_json TEXT,
    updated_at REAL NOT NULL
);
CREATE UNIQUE INDEX whole_songs_by_message ON whole_songs(message_id) WHERE message_id IS NOT NULL;
ALTER TABLE guild_settings ADD COLUMN whole_song_auto INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN previews_json TEXT;
