"""SQLite persistence: every task and every song Encore has seen, migrated by version at start-up.

Each lifecycle step is written here before and after its side effect, so a restart can resume any task.
Nothing in this module knows about Discord.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite

from bot.models import (
    Clip,
    ExtendRequest,
    QuotaPolicy,
    Requester,
    TaskRequest,
    TaskStatus,
    request_from_json,
    task_kind,
)

ACTIVE_STATUSES = (TaskStatus.SUBMITTED, TaskStatus.RUNNING)
UNFINISHED_STATUSES = (TaskStatus.QUEUED, TaskStatus.SUBMITTED, TaskStatus.RUNNING, TaskStatus.SUCCEEDED)

MIGRATIONS: tuple[str, ...] = (
    """
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
    """,
    """
    CREATE INDEX tasks_by_requester ON tasks(requester_id, created_at);
    CREATE INDEX tasks_by_guild ON tasks(guild_id, created_at);
    """,
    """
    ALTER TABLE tasks ADD COLUMN submitted_at REAL;
    CREATE INDEX tasks_by_provider_task ON tasks(provider, provider_task_id) WHERE provider_task_id IS NOT NULL;
    """,
    """
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
    """,
    """
    CREATE TABLE stars (
        task_id INTEGER NOT NULL REFERENCES tasks(id),
        user_id INTEGER NOT NULL,
        created_at REAL NOT NULL,
        PRIMARY KEY (task_id, user_id)
    );
    ALTER TABLE tasks ADD COLUMN showcased_at REAL;
    ALTER TABLE tasks ADD COLUMN showcase_message_id INTEGER;
    CREATE INDEX tasks_by_guild_finished ON tasks(guild_id, finished_at) WHERE result_message_id IS NOT NULL;
    """,
    """
    ALTER TABLE tasks ADD COLUMN reports_by_webhook INTEGER NOT NULL DEFAULT 0;
    """,
)
DAY_SECONDS = 86_400.0
# How far back `song_chain` follows extends: a guard against a cycle in hand-edited data.
MAX_CHAIN_LENGTH = 100
# A task counts against quotas unless it failed or was cancelled before producing a song: those are given back.
CHARGED = "(status NOT IN ('failed', 'cancelled') OR EXISTS (SELECT 1 FROM songs WHERE songs.task_id = tasks.id))"


class QuotaExceeded(Exception):
    """A new task would break `QuotaPolicy`; `retry_at` (epoch seconds) is when it would not, if known."""

    def __init__(self, limit: str, retry_at: float | None) -> None:
        super().__init__(limit)
        self.limit = limit
        self.retry_at = retry_at


@dataclass(frozen=True, slots=True)
class TaskRecord:
    """One row of `tasks`."""

    id: int
    kind: str
    status: TaskStatus
    provider: str
    provider_task_id: str | None
    requester_id: int
    guild_id: int | None
    channel_id: int
    upload_limit: int | None
    request_json: str
    reroll_of: int | None
    provider_status: str | None
    progress: int | None
    error: str | None
    attempts: int
    next_attempt_at: float
    last_change_at: float
    submit_started_at: float | None
    result_message_id: int | None
    created_at: float
    updated_at: float
    finished_at: float | None
    submitted_at: float | None = None  # when the provider accepted it: the poll scheduler's clock
    showcased_at: float | None = None  # when the showcase repost was claimed (exactly once)
    showcase_message_id: int | None = None
    reports_by_webhook: bool = False  # submitted with a webhook URL: polling is only its safety net

    @property
    def request(self) -> TaskRequest:
        return request_from_json(self.kind, self.request_json)

    @classmethod
    def from_row(cls, row: aiosqlite.Row) -> TaskRecord:
        data = {key: row[key] for key in row.keys() if key != "fingerprint"}  # noqa: SIM118 - a Row iterates values
        data["status"] = TaskStatus(data["status"])
        data["reports_by_webhook"] = bool(data["reports_by_webhook"])
        return cls(**data)


@dataclass(frozen=True, slots=True)
class SongRecord:
    """One row of `songs`: a clip Encore has made or been told about."""

    clip_id: str
    provider: str
    provider_task_id: str | None
    task_id: int | None
    owner_id: int | None
    guild_id: int | None
    title: str | None
    duration: float | None
    audio_url: str | None
    image_url: str | None
    parent_clip_id: str | None
    continue_at: float | None
    created_at: float

    @classmethod
    def from_row(cls, row: aiosqlite.Row) -> SongRecord:
        return cls(**{key: row[key] for key in row.keys()})  # noqa: SIM118 - a Row iterates values


@dataclass(frozen=True, slots=True)
class GuildSettings:
    """What a server's managers chose; `None` means the bot-wide default (same channel, `.env` daily limit)."""

    guild_id: int
    results_channel_id: int | None = None
    reroll_anyone: bool = False
    showcase_channel_id: int | None = None
    star_threshold: int = 3
    daily_limit: int | None = None

    @classmethod
    def from_row(cls, row: aiosqlite.Row) -> GuildSettings:
        data = {key: row[key] for key in row.keys() if key != "updated_at"}  # noqa: SIM118 - a Row iterates values
        data["reroll_anyone"] = bool(data["reroll_anyone"])
        return cls(**data)


@dataclass(frozen=True, slots=True)
class UsageCounts:
    """Tasks asked for, how many reached the provider (those cost credits), and how many failed."""

    tasks: int
    submitted: int
    failed: int


@dataclass(frozen=True, slots=True)
class Usage:
    """A server's usage over a period: per member id, and per UTC day (`YYYY-MM-DD`, only days with tasks)."""

    by_member: dict[int, UsageCounts]
    by_day: dict[str, UsageCounts]


GUILD_SETTING_COLUMNS = frozenset(
    {"results_channel_id", "reroll_anyone", "showcase_channel_id", "star_threshold", "daily_limit"}
)


class Store:
    """The one SQLite connection of the process; writes are serialized and each is one transaction."""

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._db = connection
        self._db.row_factory = aiosqlite.Row
        self._write_lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path) -> Store:
        """Open (creating the folder and file if needed) and migrate the database."""
        if str(path) != ":memory:":
            path.parent.mkdir(parents=True, exist_ok=True)
        connection = await aiosqlite.connect(path, isolation_level=None)
        store = cls(connection)
        await store._db.execute("PRAGMA journal_mode=WAL")
        await store._db.execute("PRAGMA synchronous=NORMAL")
        await store._db.execute("PRAGMA foreign_keys=ON")
        await store._db.execute("PRAGMA busy_timeout=5000")
        await store.migrate()
        return store

    async def close(self) -> None:
        await self._db.close()

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._write_lock:
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                await self._db.execute("ROLLBACK")
                raise
            await self._db.execute("COMMIT")

    async def migrate(self) -> int:
        """Apply every migration newer than the database's `user_version`; return the resulting version."""
        async with self._db.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        current = int(row[0]) if row else 0
        for version, script in enumerate(MIGRATIONS[current:], start=current + 1):
            async with self._transaction() as db:
                for statement in _statements(script):
                    await db.execute(statement)
                await db.execute(f"PRAGMA user_version = {version}")
        return len(MIGRATIONS)

    async def _one(self, sql: str, params: Sequence[Any] = ()) -> aiosqlite.Row | None:
        rows = await self._all(sql, params)
        return next(iter(rows), None)

    async def _all(self, sql: str, params: Sequence[Any] = ()) -> Iterable[aiosqlite.Row]:
        """Run a query and fetch its rows in one trip to the database thread (the hot path's main cost)."""
        return await self._db.execute_fetchall(sql, params)

    async def _update_task(self, task_id: int, **fields: Any) -> None:
        fields["updated_at"] = time.time()
        assignments = ", ".join(f"{name} = ?" for name in fields)
        async with self._transaction() as db:
            await db.execute(f"UPDATE tasks SET {assignments} WHERE id = ?", (*fields.values(), task_id))

    async def create_task(
        self,
        requester: Requester,
        provider: str,
        request: TaskRequest,
        *,
        reroll_of: int | None = None,
        quota: QuotaPolicy | None = None,
        dedupe_seconds: float = 10.0,
    ) -> TaskRecord | None:
        """Insert a queued task; `None` if the same requester sent the same request just now.

        The duplicate check, the quota check and the insert are one transaction, so two clicks at once
        cannot both pass.
        """
        now = time.time()
        request_json = request.to_json()
        fingerprint = f"{provider}|reroll:{reroll_of}|{request_json}" if reroll_of else f"{provider}|{request_json}"
        async with self._transaction():
            if await self._one(
                "SELECT 1 FROM tasks WHERE requester_id = ? AND fingerprint = ? AND created_at > ?",
                (requester.user_id, fingerprint, now - dedupe_seconds),
            ):
                return None
            if quota:
                await self._check_quota(requester, quota, now)
            inserted = await self._one(
                """
                INSERT INTO tasks (kind, status, provider, requester_id, guild_id, channel_id, upload_limit,
                                   request_json, fingerprint, reroll_of, last_change_at, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                RETURNING *
                """,
                (
                    task_kind(request),
                    TaskStatus.QUEUED,
                    provider,
                    requester.user_id,
                    requester.guild_id,
                    requester.channel_id,
                    requester.upload_limit,
                    request_json,
                    fingerprint,
                    reroll_of,
                    now,
                    now,
                    now,
                ),
            )
        return TaskRecord.from_row(inserted) if inserted else None

    async def _check_quota(self, requester: Requester, quota: QuotaPolicy, now: float) -> None:
        """Raise `QuotaExceeded` for the first limit a new task would break."""
        if quota.max_active_per_user:
            row = await self._one(
                "SELECT COUNT(*) FROM tasks WHERE requester_id = ? AND status IN ('queued', 'submitted', 'running')",
                (requester.user_id,),
            )
            if row and row[0] >= quota.max_active_per_user:
                raise QuotaExceeded("active", None)
        if quota.cooldown_seconds:
            row = await self._one("SELECT MAX(created_at) FROM tasks WHERE requester_id = ?", (requester.user_id,))
            if row and row[0] is not None and now - row[0] < quota.cooldown_seconds:
                raise QuotaExceeded("cooldown", row[0] + quota.cooldown_seconds)
        windows = [("user_daily", "requester_id", requester.user_id, quota.daily_per_user)]
        if requester.guild_id is not None:
            windows.append(("guild_daily", "guild_id", requester.guild_id, quota.daily_per_guild))
        for limit_name, column, owner, limit in windows:
            if not limit:
                continue
            rows = list(
                await self._all(
                    f"SELECT created_at FROM tasks WHERE {column} = ? AND created_at > ? AND {CHARGED} "
                    "ORDER BY created_at DESC LIMIT ?",
                    (owner, now - DAY_SECONDS, limit),
                )
            )
            if len(rows) >= limit:
                raise QuotaExceeded(limit_name, rows[-1][0] + DAY_SECONDS)

    async def get_task(self, task_id: int) -> TaskRecord | None:
        row = await self._one("SELECT * FROM tasks WHERE id = ?", (task_id,))
        return TaskRecord.from_row(row) if row else None

    async def task_by_message(self, message_id: int) -> TaskRecord | None:
        row = await self._one("SELECT * FROM tasks WHERE result_message_id = ?", (message_id,))
        return TaskRecord.from_row(row) if row else None

    async def tasks_with_status(self, *statuses: TaskStatus) -> list[TaskRecord]:
        marks = ", ".join("?" for _ in statuses)
        rows = await self._all(f"SELECT * FROM tasks WHERE status IN ({marks}) ORDER BY id", statuses)
        return [TaskRecord.from_row(row) for row in rows]

    async def last_submit_at(self) -> float | None:
        """When the latest submission went out (epoch seconds), for pacing across restarts."""
        row = await self._one("SELECT MAX(submit_started_at) FROM tasks")
        return float(row[0]) if row and row[0] is not None else None

    async def next_queued(self) -> TaskRecord | None:
        """The oldest queued task: submissions go out in the order they were accepted."""
        row = await self._one("SELECT * FROM tasks WHERE status = 'queued' ORDER BY id LIMIT 1")
        return TaskRecord.from_row(row) if row else None

    async def queue_position(self, task_id: int) -> int:
        """1 for the next task to be submitted."""
        row = await self._one(
            "SELECT COUNT(*) FROM tasks WHERE status = 'queued' AND submit_started_at IS NULL AND id <= ?", (task_id,)
        )
        return int(row[0]) if row else 0

    async def due_active_tasks(self, now: float, limit: int) -> list[TaskRecord]:
        """Submitted or running tasks whose next poll is due, the most overdue first."""
        rows = await self._all(
            """
            SELECT * FROM tasks WHERE status IN ('submitted', 'running') AND next_attempt_at <= ?
            ORDER BY next_attempt_at LIMIT ?
            """,
            (now, limit),
        )
        return [TaskRecord.from_row(row) for row in rows]

    async def active_tasks_by_provider_id(self, provider: str, provider_task_ids: Sequence[str]) -> list[TaskRecord]:
        """The submitted or running tasks behind these provider task ids, in one query (webhooks and poll answers)."""
        marks = ", ".join("?" for _ in provider_task_ids)
        rows = await self._all(
            f"""
            SELECT * FROM tasks WHERE provider = ? AND provider_task_id IN ({marks})
              AND status IN ('submitted', 'running')
            """,
            (provider, *provider_task_ids),
        )
        return [TaskRecord.from_row(row) for row in rows]

    async def active_count(self) -> int:
        """Tasks at the provider (submitted or running): the poll scheduler shares the provider's budget among them."""
        row = await self._one("SELECT COUNT(*) FROM tasks WHERE status IN ('submitted', 'running')")
        return int(row[0]) if row else 0

    async def next_active_due_at(self) -> float | None:
        row = await self._one("SELECT MIN(next_attempt_at) FROM tasks WHERE status IN ('submitted', 'running')")
        return float(row[0]) if row and row[0] is not None else None

    async def begin_submit(self, task_id: int) -> bool:
        """Claim a queued task for submission; False when it is no longer queued (a member cancelled it).

        Recorded before the provider call, so a crash in the middle is known to be in doubt. One conditional
        UPDATE, like `cancel_task`'s, so a cancel and a submission can never both win.
        """
        now = time.time()
        async with self._transaction() as db:
            cursor = await db.execute(
                "UPDATE tasks SET submit_started_at = ?, updated_at = ? WHERE id = ? AND status = 'queued'",
                (now, now, task_id),
            )
            return cursor.rowcount == 1

    async def mark_submitted(
        self, task_id: int, provider_task_id: str, next_poll_at: float, *, by_webhook: bool = False
    ) -> None:
        """The provider accepted the task; `by_webhook` when it will report on it by webhook."""
        now = time.time()
        await self._update_task(
            task_id,
            status=TaskStatus.SUBMITTED,
            provider_task_id=provider_task_id,
            provider_status=None,
            attempts=0,
            next_attempt_at=next_poll_at,
            last_change_at=now,
            submitted_at=now,
            reports_by_webhook=by_webhook,
        )

    async def defer_submit(self, task_id: int, retry_at: float, note: str) -> None:
        """A transient submission failure: the task stays queued and is tried again at `retry_at`."""
        async with self._transaction() as db:
            await db.execute(
                """
                UPDATE tasks SET attempts = attempts + 1, next_attempt_at = ?, provider_status = ?,
                                 submit_started_at = NULL, updated_at = ?
                WHERE id = ?
                """,
                (retry_at, note, time.time(), task_id),
            )

    async def record_poll(
        self,
        task: TaskRecord,
        *,
        status: TaskStatus,
        provider_status: str,
        progress: int | None,
        next_poll_at: float,
    ) -> bool:
        """Store a poll answer; return whether it moved the task (status or progress changed)."""
        moved = (status, provider_status, progress) != (task.status, task.provider_status, task.progress)
        now = time.time()
        await self._update_task(
            task.id,
            status=status,
            provider_status=provider_status,
            progress=progress,
            attempts=0,
            next_attempt_at=next_poll_at,
            last_change_at=now if moved else task.last_change_at,
        )
        return moved

    async def defer_poll(self, task_id: int, retry_at: float) -> None:
        async with self._transaction() as db:
            await db.execute(
                "UPDATE tasks SET attempts = attempts + 1, next_attempt_at = ?, updated_at = ? WHERE id = ?",
                (retry_at, time.time(), task_id),
            )

    async def mark_succeeded(self, task: TaskRecord, clips: Sequence[Clip]) -> None:
        """Record the finished clips as songs and the task as ready to deliver, in one transaction."""
        now = time.time()
        request = task.request
        parent = request if isinstance(request, ExtendRequest) else None
        async with self._transaction() as db:
            await db.executemany(
                """
                INSERT INTO songs (clip_id, provider, provider_task_id, task_id, owner_id, guild_id, title,
                                   duration, audio_url, image_url, parent_clip_id, continue_at, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(clip_id) DO UPDATE SET
                    title = excluded.title, duration = excluded.duration,
                    audio_url = excluded.audio_url, image_url = excluded.image_url
                """,
                [
                    (
                        clip.id,
                        task.provider,
                        task.provider_task_id,
                        task.id,
                        task.requester_id,
                        task.guild_id,
                        clip.title or request.title,
                        clip.duration,
                        clip.audio_url,
                        clip.image_url,
                        parent.clip_id if parent else None,
                        parent.continue_at if parent else None,
                        now,
                    )
                    for clip in clips
                ],
            )
            await db.execute(
                """
                UPDATE tasks SET status = ?, progress = 100, provider_status = ?, updated_at = ?, last_change_at = ?
                WHERE id = ?
                """,
                (TaskStatus.SUCCEEDED, "complete", now, now, task.id),
            )

    async def mark_delivered(self, task_id: int, message_id: int, durations: Mapping[str, float]) -> None:
        """Record the result message, and song lengths measured from the audio where none were known."""
        now = time.time()
        async with self._transaction() as db:
            await db.executemany(
                "UPDATE songs SET duration = ? WHERE clip_id = ? AND duration IS NULL",
                [(seconds, clip_id) for clip_id, seconds in durations.items()],
            )
            await db.execute(
                """
                UPDATE tasks SET status = ?, result_message_id = ?, finished_at = ?, updated_at = ?
                WHERE id = ?
                """,
                (TaskStatus.DELIVERED, message_id, now, now, task_id),
            )

    async def mark_undeliverable(self, task_id: int, error: str) -> None:
        """The songs were made but cannot be posted; they stay in `songs` for `/song` and the requester."""
        await self._update_task(task_id, status=TaskStatus.UNDELIVERABLE, error=error, finished_at=time.time())

    async def mark_failed(self, task_id: int, error: str) -> None:
        await self._update_task(task_id, status=TaskStatus.FAILED, error=error, finished_at=time.time())

    async def songs_of_task(self, task_id: int) -> list[SongRecord]:
        rows = await self._all("SELECT * FROM songs WHERE task_id = ? ORDER BY rowid", (task_id,))
        return [SongRecord.from_row(row) for row in rows]

    async def get_song(self, clip_id: str) -> SongRecord | None:
        row = await self._one("SELECT * FROM songs WHERE clip_id = ?", (clip_id,))
        return SongRecord.from_row(row) if row else None

    async def recent_songs(self, owner_id: int, search: str = "", limit: int = 25) -> list[SongRecord]:
        """The owner's newest songs whose title or id contains `search`, for autocomplete."""
        pattern = f"%{_escape_like(search.strip().lower())}%"
        rows = await self._all(
            """
            SELECT * FROM songs WHERE owner_id = ?
              AND (lower(coalesce(title, '')) LIKE ? ESCAPE '\\' OR clip_id LIKE ? ESCAPE '\\')
            ORDER BY created_at DESC LIMIT ?
            """,
            (owner_id, pattern, pattern, limit),
        )
        return [SongRecord.from_row(row) for row in rows]

    async def song_chain(self, clip_id: str) -> list[SongRecord]:
        """The song and every song it extends that Encore knows, the original first."""
        rows = await self._all(
            """
            WITH RECURSIVE chain(clip_id, parent_clip_id, depth) AS (
                SELECT clip_id, parent_clip_id, 0 FROM songs WHERE clip_id = ?
                UNION ALL
                SELECT songs.clip_id, songs.parent_clip_id, chain.depth + 1
                FROM chain JOIN songs ON songs.clip_id = chain.parent_clip_id
                WHERE chain.depth < ?
            )
            SELECT songs.* FROM chain JOIN songs ON songs.clip_id = chain.clip_id ORDER BY chain.depth DESC
            """,
            (clip_id, MAX_CHAIN_LENGTH),
        )
        return [SongRecord.from_row(row) for row in rows]

    async def songs_page(self, guild_id: int, owner_id: int, offset: int, limit: int) -> tuple[list[SongRecord], int]:
        """One page of a member's songs made in a server, newest first, and how many there are in all."""
        rows = await self._all(
            """
            SELECT * FROM songs WHERE guild_id = ? AND owner_id = ?
            ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?
            """,
            (guild_id, owner_id, limit, offset),
        )
        total = await self._one("SELECT COUNT(*) FROM songs WHERE guild_id = ? AND owner_id = ?", (guild_id, owner_id))
        return [SongRecord.from_row(row) for row in rows], int(total[0]) if total else 0

    async def unfinished_tasks(self, guild_id: int, requester_id: int | None = None) -> list[TaskRecord]:
        """A server's tasks that have not ended (one member's when `requester_id` is given), oldest first."""
        marks = ", ".join("?" for _ in UNFINISHED_STATUSES)
        sql = f"SELECT * FROM tasks WHERE guild_id = ? AND status IN ({marks})"
        params: list[Any] = [guild_id, *UNFINISHED_STATUSES]
        if requester_id is not None:
            sql += " AND requester_id = ?"
            params.append(requester_id)
        rows = await self._all(sql + " ORDER BY id", params)
        return [TaskRecord.from_row(row) for row in rows]

    async def cancel_task(self, task_id: int, requester_id: int | None = None) -> bool:
        """Cancel a task that is still queued and not being submitted; False when it is too late (or not theirs).

        One conditional UPDATE: the submit loop claims a task the same way (`begin_submit`), so exactly one wins.
        A cancelled task is not charged against quotas.
        """
        now = time.time()
        sql = (
            "UPDATE tasks SET status = 'cancelled', error = 'Cancelled before it was submitted.', "
            "finished_at = ?, updated_at = ? WHERE id = ? AND status = 'queued' AND submit_started_at IS NULL"
        )
        params: list[Any] = [now, now, task_id]
        if requester_id is not None:
            sql += " AND requester_id = ?"
            params.append(requester_id)
        async with self._transaction() as db:
            cursor = await db.execute(sql, params)
            return cursor.rowcount == 1

    async def guild_settings(self, guild_id: int) -> GuildSettings:
        """A server's settings, the defaults when its managers never changed any."""
        row = await self._one("SELECT * FROM guild_settings WHERE guild_id = ?", (guild_id,))
        return GuildSettings.from_row(row) if row else GuildSettings(guild_id)

    async def update_guild_settings(self, guild_id: int, changes: Mapping[str, Any]) -> GuildSettings:
        """Change some of a server's settings (a `None` value resets that one) and return them all."""
        if unknown := set(changes) - GUILD_SETTING_COLUMNS:
            raise ValueError(f"unknown guild settings: {sorted(unknown)}")
        if changes:
            names = list(changes)
            assignments = ", ".join(f"{name} = excluded.{name}" for name in names)
            async with self._transaction() as db:
                await db.execute(
                    f"""
                    INSERT INTO guild_settings (guild_id, {", ".join(names)}, updated_at)
                    VALUES (?, {", ".join("?" for _ in names)}, ?)
                    ON CONFLICT(guild_id) DO UPDATE SET {assignments}, updated_at = excluded.updated_at
                    """,
                    (guild_id, *changes.values(), time.time()),
                )
        return await self.guild_settings(guild_id)

    async def add_star(self, task_id: int, user_id: int) -> int:
        """Count a member's ⭐ on a result once, whatever Discord repeats; return how many members starred it."""
        async with self._transaction() as db:
            await db.execute(
                "INSERT INTO stars (task_id, user_id, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                (task_id, user_id, time.time()),
            )
        return await self.star_count(task_id)

    async def remove_star(self, task_id: int, user_id: int) -> int:
        """A member took their ⭐ back; return how many members still star the result."""
        async with self._transaction() as db:
            await db.execute("DELETE FROM stars WHERE task_id = ? AND user_id = ?", (task_id, user_id))
        return await self.star_count(task_id)

    async def star_count(self, task_id: int) -> int:
        row = await self._one("SELECT COUNT(*) FROM stars WHERE task_id = ?", (task_id,))
        return int(row[0]) if row else 0

    async def claim_showcase(self, task_id: int) -> bool:
        """Take the one right to repost a result in the showcase; False when someone already has it.

        One conditional UPDATE before posting, so two stars arriving at once cannot both repost.
        """
        async with self._transaction() as db:
            cursor = await db.execute(
                "UPDATE tasks SET showcased_at = ? WHERE id = ? AND showcased_at IS NULL", (time.time(), task_id)
            )
            return cursor.rowcount == 1

    async def record_showcase(self, task_id: int, message_id: int) -> None:
        await self._update_task(task_id, showcase_message_id=message_id)

    async def release_showcase(self, task_id: int) -> None:
        """The repost failed: give the claim back, so a later star can try again."""
        await self._update_task(task_id, showcased_at=None)

    async def top_starred(self, guild_id: int, since: float | None, limit: int) -> list[tuple[TaskRecord, int]]:
        """A server's posted results with the most ⭐ (posted since `since`, if given), and their star counts.

        Ties go to the result that reached its count first.
        """
        rows = await self._all(
            """
            SELECT tasks.id, COUNT(*) AS stars FROM tasks JOIN stars ON stars.task_id = tasks.id
            WHERE tasks.guild_id = ? AND tasks.result_message_id IS NOT NULL AND tasks.finished_at >= ?
            GROUP BY tasks.id ORDER BY stars DESC, MAX(stars.created_at) LIMIT ?
            """,
            (guild_id, since or 0.0, limit),
        )
        ranked = []
        for row in rows:
            if task := await self.get_task(int(row[0])):
                ranked.append((task, int(row[1])))
        return ranked

    async def usage(self, guild_id: int, since: float) -> Usage:
        """A server's tasks since `since`: per member and per UTC day, how many were asked, submitted, failed."""
        counts = (
            "COUNT(*), COUNT(submitted_at), SUM(status = 'failed') FROM tasks WHERE guild_id = ? AND created_at >= ?"
        )
        members = await self._all(
            f"SELECT requester_id, {counts} GROUP BY requester_id ORDER BY COUNT(*) DESC, requester_id",
            (guild_id, since),
        )
        days = await self._all(
            f"SELECT strftime('%Y-%m-%d', created_at, 'unixepoch'), {counts} GROUP BY 1 ORDER BY 1",
            (guild_id, since),
        )
        return Usage(
            by_member={int(row[0]): UsageCounts(int(row[1]), int(row[2]), int(row[3])) for row in members},
            by_day={str(row[0]): UsageCounts(int(row[1]), int(row[2]), int(row[3])) for row in days},
        )

    async def get_meta(self, key: str) -> str | None:
        row = await self._one("SELECT value FROM meta WHERE key = ?", (key,))
        return str(row[0]) if row else None

    async def set_meta(self, key: str, value: str) -> None:
        async with self._transaction() as db:
            await db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )


def _statements(script: str) -> list[str]:
    return [statement.strip() for statement in script.split(";") if statement.strip()]


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
