"""The task lifecycle: intake with quotas, submission claims, poll answers, results, and the queue.

Every change is conditional on the status it expects, so no interleaving (a webhook and a poll, a cancel and a
submission, two processes) can overwrite one outcome with another.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import aiosqlite

from bot.domain.models import (
    AT_PROVIDER,
    IN_PROGRESS,
    UNFINISHED,
    Clip,
    ExtendRequest,
    Requester,
    TaskRequest,
    TaskStatus,
    task_kind,
)
from bot.domain.quota import DAY_SECONDS, QuotaPolicy, QuotaUsage, check_quota
from bot.domain.records import TaskRecord
from bot.store.rows import CHARGED, in_list, task_from_row
from bot.store.sqlite.connection import SqliteConnection


class SqliteTasks(SqliteConnection):
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
                check_quota(quota, await self._quota_usage(requester, quota, now), now)
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
        return task_from_row(inserted) if inserted else None

    async def _quota_usage(self, requester: Requester, quota: QuotaPolicy, now: float) -> QuotaUsage:
        """Count what the quota rules read, skipping the counts of limits that are off."""
        active = 0
        if quota.max_active_per_user:
            row = await self._one(
                f"SELECT COUNT(*) FROM tasks WHERE requester_id = ? AND status IN {in_list(IN_PROGRESS)}",
                (requester.user_id,),
            )
            active = int(row[0]) if row else 0
        last = None
        if quota.cooldown_seconds:
            row = await self._one("SELECT MAX(created_at) FROM tasks WHERE requester_id = ?", (requester.user_id,))
            last = float(row[0]) if row and row[0] is not None else None
        user_day = await self._charged_since("requester_id", requester.user_id, now, quota.daily_per_user)
        guild_day: list[float] = []
        if requester.guild_id is not None:
            guild_day = await self._charged_since("guild_id", requester.guild_id, now, quota.daily_per_guild)
        return QuotaUsage(active=active, last_request_at=last, user_day=user_day, guild_day=guild_day)

    async def _charged_since(self, column: str, owner: int, now: float, limit: int) -> list[float]:
        if not limit:
            return []
        rows = await self._all(
            f"SELECT created_at FROM tasks WHERE {column} = ? AND created_at > ? AND {CHARGED} "
            "ORDER BY created_at DESC LIMIT ?",
            (owner, now - DAY_SECONDS, limit),
        )
        return [float(row[0]) for row in rows]

    async def get_task(self, task_id: int) -> TaskRecord | None:
        row = await self._one("SELECT * FROM tasks WHERE id = ?", (task_id,))
        return task_from_row(row) if row else None

    async def task_by_message(self, message_id: int) -> TaskRecord | None:
        row = await self._one("SELECT * FROM tasks WHERE result_message_id = ?", (message_id,))
        return task_from_row(row) if row else None

    async def tasks_with_status(self, *statuses: TaskStatus) -> list[TaskRecord]:
        rows = await self._all(f"SELECT * FROM tasks WHERE status IN {in_list(statuses)} ORDER BY id")
        return [task_from_row(row) for row in rows]

    async def last_submit_at(self) -> float | None:
        """When the latest submission went out (epoch seconds), for pacing across restarts."""
        row = await self._one("SELECT MAX(submit_started_at) FROM tasks")
        return float(row[0]) if row and row[0] is not None else None

    async def claim_next_queued(self, provider: str, owner: str, now: float, lease: float) -> TaskRecord | None:
        """Lease the oldest due queued task of `provider` that nobody leases: submissions go out in order."""
        async with self._leases.claiming:
            rows = await self._all(
                "SELECT * FROM tasks WHERE status = 'queued' AND provider = ? AND next_attempt_at <= ? "
                "ORDER BY id LIMIT ?",
                (provider, now, len(self._leases) + 1),
            )
            return next(iter(self._take([task_from_row(row) for row in rows], owner, lease, 1)), None)

    async def next_queued_due_at(self, provider: str) -> float | None:
        rows = await self._all(
            "SELECT id, next_attempt_at FROM tasks WHERE status = 'queued' AND provider = ? "
            "ORDER BY next_attempt_at LIMIT ?",
            (provider, len(self._leases) + 1),
        )
        return self._earliest_free(rows)

    async def queue_position(self, task_id: int) -> int:
        """1 for the next task to be submitted."""
        row = await self._one(
            "SELECT COUNT(*) FROM tasks WHERE status = 'queued' AND submit_started_at IS NULL AND id <= ?", (task_id,)
        )
        return int(row[0]) if row else 0

    async def claim_due_polls(
        self, provider: str, owner: str, now: float, limit: int, lease: float
    ) -> list[TaskRecord]:
        """Lease up to `limit` tasks at the provider whose next poll is due, the most overdue first."""
        async with self._leases.claiming:
            rows = await self._all(
                f"""
                SELECT * FROM tasks WHERE status IN {in_list(AT_PROVIDER)} AND provider = ? AND next_attempt_at <= ?
                ORDER BY next_attempt_at LIMIT ?
                """,
                (provider, now, limit + len(self._leases)),
            )
            return self._take([task_from_row(row) for row in rows], owner, lease, limit)

    async def active_tasks_by_provider_id(self, provider: str, provider_task_ids: Sequence[str]) -> list[TaskRecord]:
        """The submitted or running tasks behind these provider task ids, in one query (webhooks and poll answers)."""
        marks = ", ".join("?" for _ in provider_task_ids)
        rows = await self._all(
            f"""
            SELECT * FROM tasks WHERE provider = ? AND provider_task_id IN ({marks})
              AND status IN {in_list(AT_PROVIDER)}
            """,
            (provider, *provider_task_ids),
        )
        return [task_from_row(row) for row in rows]

    async def active_count(self) -> int:
        """Tasks at the provider (submitted or running): the poll scheduler shares the provider's budget among them."""
        row = await self._one(f"SELECT COUNT(*) FROM tasks WHERE status IN {in_list(AT_PROVIDER)}")
        return int(row[0]) if row else 0

    async def task_counts(self) -> dict[TaskStatus, int]:
        rows = await self._all("SELECT status, COUNT(*) FROM tasks GROUP BY status")
        return {TaskStatus(row[0]): int(row[1]) for row in rows}

    async def next_active_due_at(self, provider: str) -> float | None:
        rows = await self._all(
            f"SELECT id, next_attempt_at FROM tasks WHERE status IN {in_list(AT_PROVIDER)} AND provider = ? "
            "ORDER BY next_attempt_at LIMIT ?",
            (provider, len(self._leases) + 1),
        )
        return self._earliest_free(rows)

    async def claim_delivery(self, task_id: int, owner: str, lease: float) -> bool:
        async with self._leases.claiming:
            row = await self._one("SELECT status FROM tasks WHERE id = ?", (task_id,))
            if row is None or row[0] != TaskStatus.SUCCEEDED or not self._leases.free([task_id]):
                return False
            self._leases.take(task_id, owner, lease)
            return True

    async def renew_leases(self, owner: str, task_ids: Iterable[int], lease: float) -> None:
        self._leases.renew(owner, task_ids, lease)

    async def release_leases(self, owner: str) -> None:
        self._leases.release_all(owner)

    async def listen(self, wake: Callable[[TaskStatus, int], None]) -> None:
        """Nothing to hear: no other process shares an SQLite file, and this one wakes its own loops."""

    def _take(self, tasks: list[TaskRecord], owner: str, lease: float, limit: int) -> list[TaskRecord]:
        """Lease the first `limit` of `tasks` that nobody holds; return them."""
        free = set(self._leases.free(task.id for task in tasks))
        taken = [task for task in tasks if task.id in free][:limit]
        for task in taken:
            self._leases.take(task.id, owner, lease)
        return taken

    def _earliest_free(self, rows: Iterable[aiosqlite.Row]) -> float | None:
        """The first `next_attempt_at` of rows (id, next_attempt_at), in that order, on a task nobody leases."""
        due = {int(row[0]): float(row[1]) for row in rows}
        free = self._leases.free(due)
        return min((due[task_id] for task_id in free), default=None)

    async def begin_submit(self, task_id: int) -> bool:
        """Claim a queued task for submission; False when it is no longer queued (a member cancelled it).

        Recorded before the provider call, so a crash in the middle is known to be in doubt. One conditional
        UPDATE, like `cancel_task`'s, so a cancel and a submission can never both win.
        """
        now = time.time()
        changed = await self._write(
            "UPDATE tasks SET submit_started_at = ?, updated_at = ? "
            "WHERE id = ? AND status = 'queued' AND submit_started_at IS NULL",
            (now, now, task_id),
        )
        return changed == 1

    async def mark_submitted(
        self, task_id: int, provider_task_id: str, next_poll_at: float, *, by_webhook: bool = False
    ) -> bool:
        """The provider accepted the task; `by_webhook` when it will report on it by webhook.

        Only a task still queued moves: False when it was failed or cancelled meanwhile.
        """
        now = time.time()
        changed = await self._write(
            """
            UPDATE tasks SET status = 'submitted', provider_task_id = ?, provider_status = NULL, attempts = 0,
                             next_attempt_at = ?, last_change_at = ?, submitted_at = ?, reports_by_webhook = ?,
                             updated_at = ?
            WHERE id = ? AND status = 'queued'
            """,
            (provider_task_id, next_poll_at, now, now, int(by_webhook), now, task_id),
        )
        return self._moved(task_id, changed)

    async def defer_submit(self, task_id: int, retry_at: float, note: str) -> bool:
        """A transient submission failure: the task stays queued and is tried again at `retry_at`."""
        changed = await self._write(
            """
            UPDATE tasks SET attempts = attempts + 1, next_attempt_at = ?, provider_status = ?,
                             submit_started_at = NULL, updated_at = ?
            WHERE id = ? AND status = 'queued'
            """,
            (retry_at, note, time.time(), task_id),
        )
        return self._moved(task_id, changed)

    async def record_poll(
        self,
        task: TaskRecord,
        *,
        status: TaskStatus,
        provider_status: str,
        progress: int | None,
        next_poll_at: float,
        previews: Mapping[str, str] | None = None,
    ) -> bool:
        """Store a poll answer; return whether it moved the task (status, progress or preview audio changed).

        `previews` (clip id → streaming audio URL) replaces the known ones when given; None keeps them.
        Applied only while the task is still at the provider: an answer cannot revive a finished task.
        """
        new_previews = previews is not None and dict(previews) != task.previews
        answer = (status, provider_status, progress)
        moved = new_previews or answer != (task.status, task.provider_status, task.progress)
        now = time.time()
        extra = {"previews_json": json.dumps(dict(previews or {}), sort_keys=True)} if new_previews else {}
        applied = await self._update_task(
            task.id,
            AT_PROVIDER,
            status=status,
            provider_status=provider_status,
            progress=progress,
            attempts=0,
            next_attempt_at=next_poll_at,
            last_change_at=now if moved else task.last_change_at,
            **extra,
        )
        return moved and applied

    async def defer_poll(self, task_id: int, retry_at: float) -> None:
        changed = await self._write(
            f"UPDATE tasks SET attempts = attempts + 1, next_attempt_at = ?, updated_at = ? "
            f"WHERE id = ? AND status IN {in_list(AT_PROVIDER)}",
            (retry_at, time.time(), task_id),
        )
        self._moved(task_id, changed)

    async def mark_succeeded(self, task: TaskRecord, clips: Sequence[Clip]) -> bool:
        """Record the finished clips as songs and the task as ready to deliver, in one transaction.

        False (and nothing written) when the task is no longer at the provider. A clip whose id is already stored
        is not written: a stored song (another task's, already posted) is never overwritten.
        """
        now = time.time()
        request = task.request
        parent = request if isinstance(request, ExtendRequest) else None
        async with self._transaction() as db:
            cursor = await db.execute(
                f"""
                UPDATE tasks SET status = ?, progress = 100, provider_status = ?, updated_at = ?, last_change_at = ?
                WHERE id = ? AND status IN {in_list(AT_PROVIDER)}
                """,
                (TaskStatus.SUCCEEDED, "complete", now, now, task.id),
            )
            if not self._moved(task.id, cursor.rowcount):
                return False
            await db.executemany(
                """
                INSERT INTO songs (clip_id, provider, provider_task_id, task_id, owner_id, guild_id, title,
                                   duration, audio_url, image_url, parent_clip_id, continue_at, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(clip_id) DO NOTHING
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
        return True

    async def mark_delivered(self, task_id: int, message_id: int, durations: Mapping[str, float]) -> bool:
        """Record the result message, and song lengths measured from the audio where none were known."""
        now = time.time()
        async with self._transaction() as db:
            cursor = await db.execute(
                """
                UPDATE tasks SET status = ?, result_message_id = ?, finished_at = ?, updated_at = ?
                WHERE id = ? AND status = 'succeeded'
                """,
                (TaskStatus.DELIVERED, message_id, now, now, task_id),
            )
            if not self._moved(task_id, cursor.rowcount):
                return False
            await db.executemany(
                "UPDATE songs SET duration = ? WHERE clip_id = ? AND duration IS NULL",
                [(seconds, clip_id) for clip_id, seconds in durations.items()],
            )
        return True

    async def mark_undeliverable(self, task_id: int, error: str) -> bool:
        """The songs were made but cannot be posted; they stay in `songs` for `/song` and the requester."""
        return await self._update_task(
            task_id, (TaskStatus.SUCCEEDED,), status=TaskStatus.UNDELIVERABLE, error=error, finished_at=time.time()
        )

    async def mark_failed(self, task_id: int, error: str) -> bool:
        """End a task without a result; False when it had already ended (or made its songs) meanwhile."""
        return await self._update_task(
            task_id, IN_PROGRESS, status=TaskStatus.FAILED, error=error, finished_at=time.time()
        )

    async def unfinished_tasks(self, guild_id: int, requester_id: int | None = None) -> list[TaskRecord]:
        """A server's tasks that have not ended (one member's when `requester_id` is given), oldest first."""
        sql = f"SELECT * FROM tasks WHERE guild_id = ? AND status IN {in_list(UNFINISHED)}"
        params: list[Any] = [guild_id]
        if requester_id is not None:
            sql += " AND requester_id = ?"
            params.append(requester_id)
        rows = await self._all(sql + " ORDER BY id", params)
        return [task_from_row(row) for row in rows]

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
        return self._moved(task_id, await self._write(sql, params))
