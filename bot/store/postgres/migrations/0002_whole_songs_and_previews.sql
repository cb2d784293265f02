-- SQLite's 0007: the one whole-song post of a clip, a server's auto mode, and a task's preview audio.
CREATE TABLE whole_songs (
    clip_id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    guild_id BIGINT,
    channel_id BIGINT,
    message_id BIGINT,
    requested_by BIGINT,
    claimed_at DOUBLE PRECISION NOT NULL,
    posted_at DOUBLE PRECISION,
    error TEXT,
    timeline_json TEXT,
    updated_at DOUBLE PRECISION NOT NULL
);
CREATE UNIQUE INDEX whole_songs_by_message ON whole_songs(message_id) WHERE message_id IS NOT NULL;
ALTER TABLE guild_settings ADD COLUMN whole_song_auto BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE tasks ADD COLUMN previews_json TEXT;
