"""Saved `/listen` sessions on every backend: one per server, rewritten as the queue moves, gone once deleted."""

from __future__ import annotations

from bot.domain.records import ListenSessionRecord, SavedTrack
from bot.store import Store

SONG_A = "aaaaaaaa-1111-4222-8333-444455556666"
SONG_B = "bbbbbbbb-1111-4222-8333-444455556666"


async def test_a_session_is_saved_rewritten_and_deleted_per_server(store: Store) -> None:
    assert await store.listen_sessions() == []
    first = ListenSessionRecord(
        guild_id=2**62 + 1,
        voice_channel_id=2**62 + 2,
        text_channel_id=2**62 + 3,
        starter_id=2**62 + 4,
        tracks=(SavedTrack(SONG_A, 11), SavedTrack(SONG_B, 12, whole=True)),
        position=12.5,
    )
    other = ListenSessionRecord(guild_id=7, voice_channel_id=8, text_channel_id=9, starter_id=10, tracks=())
    await store.save_listen_session(first)
    await store.save_listen_session(other)
    assert await store.listen_sessions() == [other, first]  # by server id; 64-bit snowflakes kept whole
    moved = ListenSessionRecord(first.guild_id, 5, 6, first.starter_id, (SavedTrack(SONG_B, 12, whole=True),), 0.0)
    await store.save_listen_session(moved)
    assert await store.listen_sessions() == [other, moved]
    await store.delete_listen_session(first.guild_id)
    await store.delete_listen_session(first.guild_id)  # twice is harmless
    assert await store.listen_sessions() == [other]
