"""The task lifecycle: intake with quotas, submission claims, poll answers, results, and the queue.

Every change is conditional on the status it expects, so no interleaving (a webhook and a poll, a cancel and a
submission, two processes) can overwrite one outcome with another.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

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
from bot.store.sql.backend import SqlBackend
from bot.store.sql.connector import Session

DUE_POLL = f"status IN {in_list(AT_PROVIDER)} AND provider = $1"
QUEUED = "status = 'queued' AND provider = $1"


class TaskQueries(SqlBackend):
    async def create_task(
        self,
        requester: Requester,
        provider: str,
        request: TaskRequest,
        *,
        reroll_of: int | None = None,
        quota: QuotaPolicy | None = None,
        dedupe_seconds: float = 10.0,
        bound: bool = True,
    ) -> TaskRecord | None:
        """Insert a queued task; `None` if the same requester sent the same request just now.

        `bound`: it must go to `provider` (see `TaskRecord.bound`).

        The duplicate check, the quota check and the insert are one transaction holding the member's (then the
        server's) turn, so two clicks at once, in one process or two, cannot both pass.
        """
        now = time.time()
        request_json = request.to_json()
        fingerprint = f"{provider}|reroll:{reroll_of}|{request_json}" if reroll_of else f"{provider}|{request_json}"
        async with self._db.transaction() as db:
            await self._serialize(db, f"encore:requester:{requester.user_id}")
            if requester.guild_id is not None:
                await self._serialize(db, f"encore:guild:{requester.guild_id}")
            if await db.value(
                "SELECT 1 FROM tasks WHERE requester_id = $1 AND fingerprint = $2 AND created_at > $3",
                requester.user_id,
                fingerprint,
                now - dedupe_seconds,
            ):
                return None
            if quota:
                check_quota(quota, await _quota_usage(db, requester, quota, now), now)
            inserted = await db.one(
                """
                INSERT INTO tasks (kind, status, provider, requester_id, guild_id, channel_id, upload_limit,
                                   request_json, fingerprint, reroll_of, last_change_at, created_at, updated_at, bound)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $11, $12)
                RETURNING *
                """,
                task_kind(request),
                TaskStatus.QUEUED.value,
                provider,
                requester.user_id,
                requester.guild_id,
                requester.channel_id,
                requester.upload_limit,
                request_json,
                fingerprint,
                reroll_of,
                now,
                bound,
            )
            if inserted:
                await self._notify(db, TaskStatus.QUEUED, int(inserted["id"]))
        return task_from_row(inserted) if inserted else None

    async def get_task(self, task_id: int) -> TaskRecord | None:
        row = await self._db.one("SELECT * FROM tasks WHERE id = $1", task_id)
        return task_from_row(row) if row else None

    async def task_by_message(self, message_id: int) -> TaskRecord | None:
        row = await self._db.one("SELECT * FROM tasks WHERE result_message_id = $1", message_id)
        return task_from_row(row) if row else None

    async def tasks_with_status(self, *statuses: TaskStatus) -> list[TaskRecord]:
        rows = await self._db.all(f"SELECT * FROM tasks WHERE status IN {in_list(statuses)} ORDER BY id")
        return [task_from_row(row) for row in rows]

    async def last_submit_at(self) -> float | None:
        """When the latest submission went out (epoch seconds), for pacing across restarts."""
        value = await self._db.value("SELECT MAX(submit_started_at) FROM tasks")
        return float(value) if value is not None else None

    async def claim_next_queued(self, provider: str, owner: str, now: float, lease: float) -> TaskRecord | None:
        """Lease the oldest due queued task of `provider` that nobody leases: submissions go out in order."""
        tasks = await self._claim(f"{QUEUED} AND next_attempt_at <= $2", "id", 1, owner, lease, provider, now)
        return tasks[0] if tasks else None

    async def claim_next_waiting(
        self, provider: str, owner: str, now: float, lease: float, *, created_before: float, movable: bool
    ) -> TaskRecord | None:
        """While `provider` is down: lease its oldest due queued task that has waited since before `created_before`
        (to be given up) or, when `movable` (another provider is up), that may go elsewhere (is not bound)."""
        condition = f"{QUEUED} AND next_attempt_at <= $2 AND (created_at <= $3{' OR NOT bound' if movable else ''})"
        tasks = await self._claim(condition, "id", 1, owner, lease, provider, now, created_before)
        return tasks[0] if tasks else None

    async def next_queued_due_at(self, provider: str) -> float | None:
        return await self._earliest_unleased(QUEUED, provider)

    async def queue_position(self, task_id: int) -> int:
        """1 for the next task to be submitted."""
        return int(
            await self._db.value(
                "SELECT COUNT(*) FROM tasks WHERE status = 'queued' AND submit_started_at IS NULL AND id <= $1",
                task_id,
            )
        )

    async def claim_due_polls(
        self, provider: str, owner: str, now: float, limit: int, lease: float
    ) -> list[TaskRecord]:
        """Lease up to `limit` tasks at the provider whose next poll is due, the most overdue first."""
        return await self._claim(
            f"{DUE_POLL} AND next_attempt_at <= $2", "next_attempt_at", limit, owner, lease, provider, now
        )

    async def active_tasks_by_provider_id(self, provider: str, provider_task_ids: Sequence[str]) -> list[TaskRecord]:
        """The submitted or running tasks behind these provider task ids, in one query (webhooks and poll answers)."""
        if not provider_task_ids:
            return []
        marks = ", ".join(f"${index}" for index in range(2, len(provider_task_ids) + 2))
        rows = await self._db.all(
            f"SELECT * FROM tasks WHERE {DUE_POLL} AND provider_task_id IN ({marks})", provider, *provider_task_ids
        )
        return [task_from_row(row) for row in rows]

    async def active_count(self) -> int:
        """Tasks at the provider (submitted or running): the poll scheduler shares the provider's budget among them."""
        return int(await self._db.value(f"SELECT COUNT(*) FROM tasks WHERE status IN {in_list(AT_PROVIDER)}"))

    async def task_counts(self) -> dict[TaskStatus, int]:
        rows = await self._db.all("SELECT status, COUNT(*) FROM tasks GROUP BY status")
        return {TaskStatus(row[0]): int(row[1]) for row in rows}

    async def next_active_due_at(self, provider: str) -> float | None:
        return await self._earliest_unleased(DUE_POLL, provider)

    async def begin_submit(self, task_id: int, owner: str | None = None) -> bool:
        """Claim a queued task for submission; False when it is no longer queued (a member cancelled it), or when
        `owner` (if given) no longer holds its lease (this process was paused past it, and another took the task).

        Recorded before the provider call, so a crash in the middle is known to be in doubt. One conditional
        UPDATE, like `cancel_task`'s, so a cancel and a submission can never both win.
        """
        sql = (
            "UPDATE tasks SET submit_started_at = $2, updated_at = $2 "
            "WHERE id = $1 AND status = 'queued' AND submit_started_at IS NULL"
        )
        if owner is None:
            return await self._db.execute(sql, task_id, time.time()) == 1
        return await self._execute_if_leased(task_id, owner, sql, task_id, time.time()) == 1

    async def mark_submitted(
        self, task_id: int, provider_task_id: str, next_poll_at: float, *, by_webhook: bool = False
    ) -> bool:
        """The provider accepted the task; `by_webhook` when it will report on it by webhook.

        Only a task still queued moves: False when it was failed or cancelled meanwhile.
        """
        return await self._submitted(task_id, provider_task_id, next_poll_at, by_webhook, "status = 'queued'")

    async def resume_in_doubt(
        self, task_id: int, provider_task_id: str, next_poll_at: float, *, by_webhook: bool = False
    ) -> bool:
        """The provider accepted a task that was failed only because its submission was in doubt: track it after all.

        False for any other task (queued, cancelled, failed for another reason, or already resumed).
        """
        return await self._submitted(
            task_id, provider_task_id, next_poll_at, by_webhook, "status = 'failed' AND failed_in_doubt"
        )

    async def _submitted(
        self, task_id: int, provider_task_id: str, next_poll_at: float, by_webhook: bool, condition: str
    ) -> bool:
        now = time.time()
        changed = await self._db.execute(
            f"""
            UPDATE tasks SET status = 'submitted', provider_task_id = $2, provider_status = NULL, attempts = 0,
                             next_attempt_at = $3, last_change_at = $4, submitted_at = $4, reports_by_webhook = $5,
                             error = NULL, finished_at = NULL, failed_in_doubt = FALSE, updated_at = $4{self.END_LEASE}
            WHERE id = $1 AND {condition}
            """,
            task_id,
            provider_task_id,
            float(next_poll_at),
            now,
            by_webhook,
        )
        return self._moved(task_id, changed)

    async def defer_submit(self, task_id: int, retry_at: float, note: str, *, counted: bool = True) -> bool:
        """A transient submission failure: the task stays queued and is tried again at `retry_at`.

        `counted` False: it only waits for its provider to come back, which spends none of its attempts.
        """
        changed = await self._db.execute(
            f"""
            UPDATE tasks SET attempts = attempts + $5, next_attempt_at = $2, provider_status = $3,
                             submit_started_at = NULL, updated_at = $4{self.END_LEASE}
            WHERE id = $1 AND status = 'queued'
            """,
            task_id,
            float(retry_at),
            note,
            time.time(),
            1 if counted else 0,
        )
        return self._moved(task_id, changed)

    async def move_to_provider(self, task_id: int, owner: str, provider: str, request: TaskRequest) -> bool:
        """Hand a queued task that is not bound to another provider, as `request` (the same one, as that provider
        takes it), due now.

        Only while `owner` leases it. The caller knows the task certainly did not reach its provider (it was never
        sent, or its submission was refused or never connected): a request that may have reached a provider is
        failed as in doubt instead, never sent to a second one.
        """
        changed = await self._execute_if_leased(
            task_id,
            owner,
            f"""
            UPDATE tasks SET provider = $2, request_json = $3, next_attempt_at = $4, provider_status = NULL,
                             submit_started_at = NULL, updated_at = $4{self.END_LEASE}
            WHERE id = $1 AND status = 'queued' AND NOT bound
            """,
            task_id,
            provider,
            request.to_json(),
            time.time(),
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
            status=status.value,
            provider_status=provider_status,
            progress=progress,
            attempts=0,
            next_attempt_at=float(next_poll_at),
            last_change_at=now if moved else task.last_change_at,
            **extra,
        )
        return moved and applied

    async def poll_now(self, task_id: int, provider: str, now: float, *, poll_regularly: bool = False) -> bool:
        """Make a task at `provider` due for a poll by `now` (its attempts and lease stay); with `poll_regularly`, it
        is polled at the usual pace from then on, no longer at the slow pace of a task that reports by webhook.
        False when it is not at that provider."""
        regularly = ", reports_by_webhook = $4" if poll_regularly else ""
        changed = await self._db.execute(
            "UPDATE tasks SET next_attempt_at = CASE WHEN next_attempt_at > $3 THEN $3 ELSE next_attempt_at END"
            f"{regularly} WHERE id = $1 AND provider = $2 AND status IN {in_list(AT_PROVIDER)}",
            task_id,
            provider,
            float(now),
            *([False] if poll_regularly else []),
        )
        return changed == 1

    async def defer_poll(self, task_id: int, retry_at: float) -> None:
        changed = await self._db.execute(
            f"UPDATE tasks SET attempts = attempts + 1, next_attempt_at = $2, updated_at = $3{self.END_LEASE} "
            f"WHERE id = $1 AND status IN {in_list(AT_PROVIDER)}",
            task_id,
            float(retry_at),
            time.time(),
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
        async with self._db.transaction() as db:
            changed = await db.execute(
                f"""
                UPDATE tasks SET status = 'succeeded', progress = 100, provider_status = 'complete',
                                 updated_at = $2, last_change_at = $2{self.END_LEASE}
                WHERE id = $1 AND status IN {in_list(AT_PROVIDER)}
                """,
                task.id,
                now,
            )
            if not self._moved(task.id, changed):
                return False
            await self._notify(db, TaskStatus.SUCCEEDED, task.id)
            await db.executemany(
                """
                INSERT INTO songs (clip_id, provider, provider_task_id, task_id, owner_id, guild_id, title,
                                   duration, audio_url, image_url, parent_clip_id, continue_at, created_at, model)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
                ON CONFLICT (clip_id) DO NOTHING
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
                        # The model Encore asked for, in the provider's own names (what an extend must send again).
                        request.model,
                    )
                    for clip in clips
                ],
            )
        return True

    async def mark_delivered(self, task_id: int, message_id: int, durations: Mapping[str, float]) -> bool:
        """Record the result message, and song lengths measured from the audio where none were known."""
        now = time.time()
        async with self._db.transaction() as db:
            changed = await db.execute(
                f"""
                UPDATE tasks SET status = 'delivered', result_message_id = $2, finished_at = $3,
                                 updated_at = $3{self.END_LEASE}
                WHERE id = $1 AND status = 'succeeded'
                """,
                task_id,
                message_id,
                now,
            )
            if not self._moved(task_id, changed):
                return False
            await db.executemany(
                "UPDATE songs SET duration = $1 WHERE clip_id = $2 AND duration IS NULL",
                [(seconds, clip_id) for clip_id, seconds in durations.items()],
            )
        return True

    async def mark_undeliverable(self, task_id: int, error: str) -> bool:
        """The songs were made but cannot be posted; they stay in `songs` for `/song` and the requester."""
        return await self._update_task(
            task_id,
            (TaskStatus.SUCCEEDED,),
            status=TaskStatus.UNDELIVERABLE.value,
            error=error,
            finished_at=time.time(),
        )

    async def mark_failed(self, task_id: int, error: str, *, in_doubt: bool = False) -> bool:
        """End a task without a result; False when it had already ended (or made its songs) meanwhile.

        `in_doubt`: it failed only because its submission may or may not have reached the provider, so a late
        answer from the provider resumes it (`resume_in_doubt`).
        """
        return await self._update_task(
            task_id,
            IN_PROGRESS,
            status=TaskStatus.FAILED.value,
            error=error,
            finished_at=time.time(),
            failed_in_doubt=in_doubt,
        )

    async def result_parts(self, task_id: int) -> dict[int, int]:
        """The messages of a task's result posted so far: part number (0 first) → message id."""
        rows = await self._db.all("SELECT part, message_id FROM result_parts WHERE task_id = $1", task_id)
        return {int(row[0]): int(row[1]) for row in rows}

    async def record_result_part(self, task_id: int, part: int, message_id: int) -> None:
        """One message of a result is posted: a retried delivery skips it, however long after."""
        await self._db.execute(
            """
            INSERT INTO result_parts (task_id, part, message_id, posted_at) VALUES ($1, $2, $3, $4)
            ON CONFLICT (task_id, part) DO UPDATE SET message_id = excluded.message_id, posted_at = excluded.posted_at
            """,
            task_id,
            part,
            message_id,
            time.time(),
        )

    async def unfinished_tasks(self, guild_id: int, requester_id: int | None = None) -> list[TaskRecord]:
        """A server's tasks that have not ended (one member's when `requester_id` is given), oldest first."""
        sql = f"SELECT * FROM tasks WHERE guild_id = $1 AND status IN {in_list(UNFINISHED)}"
        args: list[Any] = [guild_id]
        if requester_id is not None:
            sql += " AND requester_id = $2"
            args.append(requester_id)
        rows = await self._db.all(sql + " ORDER BY id", *args)
        return [task_from_row(row) for row in rows]

    async def cancel_task(self, task_id: int, requester_id: int | None = None) -> bool:
        """Cancel a task that is still queued and not being submitted; False when it is too late (or not theirs).

        One conditional UPDATE: the submit loop claims a task the same way (`begin_submit`), so exactly one wins.
        A cancelled task is not charged against quotas.
        """
        sql = (
            "UPDATE tasks SET status = 'cancelled', error = 'Cancelled before it was submitted.', "
            f"finished_at = $2, updated_at = $2{self.END_LEASE} "
            "WHERE id = $1 AND status = 'queued' AND submit_started_at IS NULL"
        )
        args: list[Any] = [task_id, time.time()]
        if requester_id is not None:
            sql += " AND requester_id = $3"
            args.append(requester_id)
        return self._moved(task_id, await self._db.execute(sql, *args))


async def _quota_usage(db: Session, requester: Requester, quota: QuotaPolicy, now: float) -> QuotaUsage:
    """Count what the quota rules read, skipping the counts of limits that are off."""
    active = 0
    if quota.max_active_per_user:
        active = int(
            await db.value(
                f"SELECT COUNT(*) FROM tasks WHERE requester_id = $1 AND status IN {in_list(IN_PROGRESS)}",
                requester.user_id,
            )
        )
    last = None
    if quota.cooldown_seconds:
        value = await db.value("SELECT MAX(created_at) FROM tasks WHERE requester_id = $1", requester.user_id)
        last = float(value) if value is not None else None
    user_day = await _charged_since(db, "requester_id", requester.user_id, now, quota.daily_per_user)
    guild_day: list[float] = []
    if requester.guild_id is not None:
        guild_day = await _charged_since(db, "guild_id", requester.guild_id, now, quota.daily_per_guild)
    return QuotaUsage(active=active, last_request_at=last, user_day=user_day, guild_day=guild_day)


async def _charged_since(db: Session, column: str, owner: int, now: float, limit: int) -> list[float]:
    if not limit:
        return []
    rows = await db.all(
        f"SELECT created_at FROM tasks WHERE {column} = $1 AND created_at > $2 AND {CHARGED} "
        "ORDER BY created_at DESC LIMIT $3",
        owner,
        now - DAY_SECONDS,
        limit,
    )
    return [float(row[0]) for row in rows]
