"""Polling and pushed updates: read each task's state at the provider and move it along its lifecycle."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from bot.domain.models import ProviderState, ProviderTask, TaskStatus
from bot.domain.records import TaskRecord
from bot.domain.validation import spoken_duration
from bot.media import is_safe_embed_url
from bot.providers import ProviderAnswerMalformed, ProviderAuthError, ProviderError
from bot.service._context import StageContext, backoff, outcome

log = logging.getLogger("bot.service")

# A finished answer whose every clip id Encore already stores for another song: posting it would repost (or
# overwrite) that song, so the task ends instead. Within one answer a repeated id is already dropped by the parser.
REUSED_CLIPS_MESSAGE = (
    "The provider answered with songs Encore already has from an earlier request, not new ones, so nothing was "
    "posted. Try again; if it keeps happening, the bot's operator should check the provider."
)


def is_stale(task: TaskRecord, result: ProviderTask) -> bool:
    """Whether an in-progress answer is older than what the store holds (running → queued, or less progress)."""
    if result.state not in (ProviderState.QUEUED, ProviderState.RUNNING):
        return False
    answered = result.state is ProviderState.RUNNING
    held = task.status is TaskStatus.RUNNING
    if answered != held:
        return held
    return result.progress is not None and task.progress is not None and result.progress < task.progress


def previews_of(result: ProviderTask) -> dict[str, str] | None:
    """The audio a running task already streams, by clip id (only http(s) links); None when it carries none."""
    if result.state is not ProviderState.RUNNING:
        return None
    found = {clip.id: clip.audio_url for clip in result.clips if clip.id and is_safe_embed_url(clip.audio_url)}
    return {clip_id: url for clip_id, url in found.items() if url} or None


class Poller:
    """The poll loop's step and the webhook entry point; both apply answers under one lock."""

    def __init__(self, context: StageContext, *, stall_timeout: float, succeeded: Callable[[int], None]) -> None:
        self._life = context
        self.stall_timeout = stall_timeout
        self._succeeded = succeeded
        # Poll answers and webhook updates of one task must not interleave: each is applied under this lock.
        self._apply_lock = asyncio.Lock()

    async def poll_due(self) -> float | None:
        """Lease and poll one batch of due tasks; return how long until the next is due."""
        life = self._life
        store, provider = life.store, life.provider
        due = await store.claim_due_polls(provider.name, life.owner, time.time(), provider.batch_size, life.lease)
        if not due:
            next_due = await store.next_active_due_at(provider.name)
            return None if next_due is None else max(0.0, next_due - time.time())
        with life.working_on(task.id for task in due):
            await self._poll(due)
        return 0

    async def _poll(self, due: list[TaskRecord]) -> None:
        store, provider = self._life.store, self._life.provider
        try:
            results = await provider.fetch([task.provider_task_id or "" for task in due])
        except ProviderError as error:
            self._life.metrics.polled(provider.name, outcome(error), len(due))
            self._life.health.failed(provider.name, error)
            if isinstance(error, ProviderAuthError):
                log.error("PROVIDER KEY REFUSED by %s while polling: fix the API key in .env.", provider.name)
            attempts = max(task.attempts for task in due)
            delay = max(error.retry_after or 0.0, backoff(attempts, self._life.poll_interval))
            log.warning("polling %d task(s) failed (%s); retrying in %.1f s", len(due), error.message, delay)
            for task in due:
                if not await self._check_stalled(task, error):
                    await store.defer_poll(task.id, time.time() + delay)
                    await self._life.notify(self._life.events.task_progressed(task, retrying=error.message), task.id)
            return
        self._life.metrics.polled(provider.name, outcome(None), len(due))
        self._life.health.succeeded(provider.name)
        async with self._apply_lock:
            # Re-read the batch in one query: a webhook may have moved or finished a task during the fetch.
            current = await store.active_tasks_by_provider_id(
                provider.name, [task.provider_task_id or "" for task in due]
            )
            by_provider_id = {fresh.provider_task_id: fresh for fresh in current}
            in_flight = await store.active_count()
            for polled, result in zip(due, results, strict=True):
                if fresh_task := by_provider_id.get(polled.provider_task_id):
                    try:
                        await self._apply(fresh_task, result, in_flight)
                    except Exception:
                        # One task Encore cannot move (a stored request it cannot read, a store fault) is backed
                        # off alone; it must not stay the most overdue and starve every other task.
                        delay = backoff(fresh_task.attempts, self._life.poll_interval)
                        log.exception("task %s: applying a poll answer failed; next try in %.1f s", polled.id, delay)
                        await store.defer_poll(fresh_task.id, time.time() + delay)

    async def poll_now(self, task_id: int, *, regularly: bool) -> bool:
        """Make a task due for a poll now (`regularly`: at the usual pace from then on); False when it is not at the
        provider. Under the lock answers are applied under: a poll's answer read before this call is applied
        either before it (and this makes the task due again) or after it (and schedules by the pace it sets)."""
        async with self._apply_lock:
            return await self._life.store.poll_now(
                task_id, self._life.provider.name, time.time(), poll_regularly=regularly
            )

    async def apply_update(self, provider_task_id: str, result: ProviderTask) -> bool:
        """Apply an update the provider pushed (a webhook call); return False when it was ignored.

        Ignored: an unknown task or one no longer at the provider (succeeded, delivered, failed), an update
        Encore already has (webhooks repeat), and one older than what the store holds (they can arrive late).
        """
        store = self._life.store
        async with self._apply_lock:
            found = await store.active_tasks_by_provider_id(self._life.provider.name, [provider_task_id])
            if not found or result.state is ProviderState.UNKNOWN or is_stale(found[0], result):
                return False
            task = found[0]
            previews = previews_of(result)
            if (result.raw_status, result.progress) == (task.provider_status, task.progress) and (
                previews is None or previews == task.previews
            ):
                return False
            await self._apply(task, result, await store.active_count())
            return True

    async def _apply(self, task: TaskRecord, result: ProviderTask, in_flight: int) -> None:
        """Move a task according to what the provider said of it, and schedule its next poll."""
        life = self._life
        now = time.time()
        age = now - (task.submitted_at or task.created_at)
        if result.malformed is not None:
            await self._unreadable(task, ProviderAnswerMalformed(result.malformed))
            return
        if result.state is ProviderState.SUCCEEDED:
            clips = [clip for clip in result.clips if await life.store.get_song(clip.id) is None]
            if not clips:
                await life.fail(task, REUSED_CLIPS_MESSAGE)
                return
            if len(clips) < len(result.clips):
                log.warning(
                    "task %s: skipped %d clip id(s) Encore already had", task.id, len(result.clips) - len(clips)
                )
            if await life.store.mark_succeeded(task, clips):
                log.info("task %s succeeded with %d clip(s)", task.id, len(clips))
                life.poll_policy = life.poll_policy.learned(age)
                self._succeeded(task.id)
            return
        if result.state is ProviderState.FAILED:
            await life.fail(task, f"Suno couldn't make this song: {result.error or 'no reason given'}")
            return
        delay = life.poll_policy.delay(
            age=age,
            state=result.state,
            progress=result.progress,
            in_flight=in_flight,
            by_webhook=task.reports_by_webhook,
        )
        if is_stale(task, result):  # a late answer: keep what the store has, only schedule the next poll
            moved = await life.store.record_poll(
                task,
                status=task.status,
                provider_status=task.provider_status or result.raw_status,
                progress=task.progress,
                next_poll_at=now + delay,
            )
        else:
            moved = await life.store.record_poll(
                task,
                status=TaskStatus.RUNNING if result.state is ProviderState.RUNNING else task.status,
                provider_status=result.raw_status,
                progress=result.progress,
                next_poll_at=now + delay,
                previews=previews_of(result),
            )
        if moved:
            await life.progressed(task.id)
        else:
            await self._check_stalled(task)

    async def _unreadable(self, task: TaskRecord, error: ProviderAnswerMalformed) -> None:
        """An answer about this task could not be read: back off this task alone; give up at the stall timeout.

        The store keeps the task's last change time, so repeated unreadable answers end it after `stall_timeout`,
        while every other task keeps its own schedule.
        """
        if await self._check_stalled(task, error):
            return
        delay = backoff(task.attempts, self._life.poll_interval)
        log.warning("task %s: unreadable answer from the provider (%s); retrying in %.1f s", task.id, error, delay)
        await self._life.store.defer_poll(task.id, time.time() + delay)
        await self._life.events.task_progressed(task, retrying="the provider's answer could not be read")

    async def _check_stalled(self, task: TaskRecord, poll_error: ProviderError | None = None) -> bool:
        """Fail a task that has not moved for `stall_timeout`; return whether it did.

        `poll_error` is why the latest poll failed, if it did: the requester is told that rather than "no progress".
        """
        if time.time() - task.last_change_at < self.stall_timeout:
            return False
        how_long = spoken_duration(self.stall_timeout)
        if isinstance(poll_error, ProviderAuthError):
            reason = (
                f"For {how_long} the provider refused Encore's API key while Encore checked on this song. "
                "This is for the bot's operator to fix; the song may still exist at the provider."
            )
        elif isinstance(poll_error, ProviderAnswerMalformed):
            reason = (
                f"For {how_long} the provider kept sending answers Encore could not read "
                f"({poll_error.message}), so Encore gave up on this song."
            )
        elif poll_error:
            reason = f"Encore could not reach the provider for {how_long} ({poll_error.message}) and gave up."
        else:
            reason = f"The provider showed no progress for {how_long}, so Encore gave up on it."
        await self._life.fail(task, reason)
        return True
