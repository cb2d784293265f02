"""What every backend shares: rows into records, status groups as SQL, and numbered migration scripts.

Both drivers hand back rows that read by column name (`sqlite3.Row`, `asyncpg.Record`), so one set of
converters serves them, and a query fragment written once cannot drift between backends.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import fields
from importlib import resources
from typing import Any, Protocol, overload

from bot.domain.models import TaskStatus
from bot.domain.records import (
    GuildSettings,
    ListenSessionRecord,
    SavedTrack,
    SongRecord,
    TaskRecord,
    WholeSongRecord,
    WholeSongState,
)
from bot.store import StoreUnavailable

TASK_COLUMNS = tuple(field.name for field in fields(TaskRecord))
SONG_COLUMNS = tuple(field.name for field in fields(SongRecord))
SETTINGS_COLUMNS = tuple(field.name for field in fields(GuildSettings))
WHOLE_SONG_COLUMNS = tuple(field.name for field in fields(WholeSongRecord))
# Settings kept as 0/1 by SQLite and as BOOLEAN by PostgreSQL.
BOOLEAN_SETTINGS = frozenset({"reroll_anyone", "whole_song_auto"})

# A task counts against quotas unless it failed or was cancelled before producing a song: those are given back.
CHARGED = "(status NOT IN ('failed', 'cancelled') OR EXISTS (SELECT 1 FROM songs WHERE songs.task_id = tasks.id))"

# How far back `song_chain` follows extends: a guard against a cycle in hand-edited data.
MAX_CHAIN_LENGTH = 100


class Row(Protocol):
    """A database row read by column name."""

    @overload
    def __getitem__(self, key: str, /) -> Any: ...
    @overload
    def __getitem__(self, key: int, /) -> Any: ...


def in_list(statuses: Iterable[TaskStatus]) -> str:
    """`('submitted', 'running')`: a status group as SQL, from the enum (its values are fixed identifiers)."""
    return "(" + ", ".join(f"'{status.value}'" for status in statuses) + ")"


def escape_like(text: str) -> str:
    """`text` as a literal inside a LIKE pattern (with `ESCAPE '\\'`)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def task_from_row(row: Row) -> TaskRecord:
    """A task from its row; backend-only columns (such as leases) are left out."""
    data = {name: row[name] for name in TASK_COLUMNS}
    data["status"] = TaskStatus(data["status"])
    data["reports_by_webhook"] = bool(data["reports_by_webhook"])
    data["bound"] = bool(data["bound"])
    return TaskRecord(**data)


def song_from_row(row: Row) -> SongRecord:
    return SongRecord(**{name: row[name] for name in SONG_COLUMNS})


def settings_from_row(row: Row) -> GuildSettings:
    data = {name: bool(row[name]) if name in BOOLEAN_SETTINGS else row[name] for name in SETTINGS_COLUMNS}
    return GuildSettings(**data)


def whole_song_from_row(row: Row) -> WholeSongRecord:
    data = {name: row[name] for name in WHOLE_SONG_COLUMNS}
    data["state"] = WholeSongState(data["state"])
    return WholeSongRecord(**data)


def newer_schema(current: int, known: int) -> StoreUnavailable:
    """The refusal to open a database that a newer Encore migrated past the migrations this one has."""
    return StoreUnavailable(
        f"the database is at schema version {current}, written by a newer Encore than this one "
        f"(which knows {known}): run that version, or restore a backup made by this one"
    )


def numbered_scripts(package: str, backend: str) -> list[tuple[int, str, str]]:
    """The numbered `.sql` files in a backend package's `migrations/`, in order: (version, name, script)."""
    found = []
    for entry in resources.files(package).joinpath("migrations").iterdir():
        if entry.name.endswith(".sql"):
            number, _, name = entry.name.removesuffix(".sql").partition("_")
            found.append((int(number), name, entry.read_text(encoding="utf-8")))
    found.sort()
    if [version for version, _, _ in found] != list(range(1, len(found) + 1)):
        raise RuntimeError(f"{backend} migrations must be numbered 0001, 0002, … without gaps")
    return found


def listen_tracks_json(tracks: Iterable[SavedTrack]) -> str:
    """A saved `/listen` queue as the `tracks_json` column holds it."""
    return json.dumps([[track.clip_id, track.requester_id, track.whole] for track in tracks])


def listen_session_from_row(row: Row) -> ListenSessionRecord:
    tracks = tuple(
        SavedTrack(str(clip), int(requester), bool(whole)) for clip, requester, whole in json.loads(row["tracks_json"])
    )
    return ListenSessionRecord(
        guild_id=int(row["guild_id"]),
        voice_channel_id=int(row["voice_channel_id"]),
        text_channel_id=int(row["text_channel_id"]),
        starter_id=int(row["starter_id"]),
        tracks=tracks,
        position=float(row["position"]),
    )
