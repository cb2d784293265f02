CREATE TABLE guild_settings (
    guild_id INTEGER PRIMARY KEY,
    results_channel_id INTEGER,
    reroll_anyone INTEGER NOT NULL DEFAULT 0,
    showcase_channel_id INTEGER,
    star_threshold INTEGER NOT NULL DEFAULT 3,
    daily_limit INTEGER,
    updated_at REAL NOT NULL
);
CREATE INDEX songs_by_guild_owner ON songs(guild_id, owner_id, created_at DESC);
