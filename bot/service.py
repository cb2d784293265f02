"""The task service: accept requests, submit them at the provider's pace, poll them, and hand results to delivery.

It owns the lifecycle (queued → submitted → running → succeeded → delivered, or failed) and writes every step to
the store, so `start()` after a crash picks each unfinished task up where it was.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from bot.config import ProviderName
from bot.models import GenerateRequest, ProviderState, ProviderTask, QuotaPolicy, Requester, TaskRequest, TaskStatus
from bot.providers import Provider, ProviderAuthError, ProviderError, ProviderRejected
from bot.scheduling import PollPolicy
from bot.store import QuotaExceeded, SongRecord, Store, TaskRecord
from bot.validation import (
    UPLOADS_NOT_SUPPORTED,
    ExtendOptions,
    GenerateOptions,
    InputError,
    parse_song_ref,
    validate_extend,
    validate_generate,
    validate_upload_extend,
)

log = logging.getLogger(__name__)

MAX_TRANSIENT_ATTEMPTS = 8
MAX_BACKOFF_SECONDS = 300.0
BAD_KEY_MESSAGE = (
    "The server's Suno provider refused Encore's API key, so nothing was generated and nothing was charged. "
    "This is for the bot's operator to fix."
)


class TaskEvents(Protocol):
    """What the Discord side does when a task moves; the service calls these, never Discord itself."""

    async def task_progressed(
        self, task: TaskRecord, position: int | None = None, *, retrying: str | None = None
    ) -> None:
        """The task's status, progress or place in the submission queue changed, or a poll of it is being retried."""

    async def task_failed(self, task: TaskRecord) -> None:
        """The task ended without a result; `task.error` says why."""

    async def deliver(self, task: TaskRecord, songs: list[SongRecord]) -> Delivered:
        """Post the finished songs. Raise `DeliveryError` when it cannot."""

    async def task_delivered(self, task: TaskRecord) -> None:
        """The result message is recorded; add what follows it (reactions, the requester's reply)."""

    async def task_undeliverable(self, task: TaskRecord, songs: list[SongRecord]) -> None:
        """The songs exist but cannot be posted where they were asked for; tell the requester another way."""


class DuplicateRequest(InputError):
    """The same member sent the same request moments ago; it is already queued."""


class RerollRefused(InputError):
    """This member may not reroll this result."""


class DeliveryError(Exception):
    """Posting failed; `permanent` when trying again cannot help (channel gone, no permission)."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True, slots=True)
class Delivered:
    """A posted result, and the song lengths measured from the audio where the provider gave none."""

    message_id: int
    durations: dict[str, float]


@dataclass(frozen=True, slots=True)
class Accepted:
    """A request that became a task, and its place in the submission queue."""

    task: TaskRecord
    position: int


def quota_message(refused: QuotaExceeded) -> str:
    """Why a request was refused and when the member can try again (a Discord relative timestamp)."""
    when = f"<t:{math.ceil(refused.retry_at)}:R>" if refused.retry_at else None
    if refused.limit == "active":
        return "You already have the most tasks running at once that this server allows; try again when one finishes."
    if refused.limit == "cooldown":
        return f"Slow down a little: you can send the next request {when}."
    if refused.limit == "guild_daily":
        return f"This server has used its songs for today; the next one frees up {when}."
    return f"You have used your songs for today; the next one frees up {when}."


def is_stale(task: TaskRecord, result: ProviderTask) -> bool:
    """Whether an in-progress answer is older than what the store holds (running → queued, or less progress)."""
    if result.state not in (ProviderState.QUEUED, ProviderState.RUNNING):
        return False
    answered = result.state is ProviderState.RUNNING
    held = task.status is TaskStatus.RUNNING
    if answered != held:
        return held
    return result.progress is not None and task.progress is not None and result.progress < task.progress


def backoff(attempt: int, base: float) -> float:
    """Exponential backoff with jitter, capped: the n-th retry waits between half and all of base·2ⁿ seconds.

    The random half spreads retries of many tasks apart; the fixed half keeps each retry from coming too soon.
    """
    ceiling = min(MAX_BACKOFF_SECONDS, base * 2.0 ** max(0, attempt))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


class TaskService:
    """Runs the submit loop, the poll loop and deliveries for one provider."""

    def __init__(
        self,
        store: Store,
        provider: Provider,
        events: TaskEvents,
        *,
        poll_interval: float,
        stall_timeout: float,
        quota: QuotaPolicy | None = None,
        allowed_guild_ids: frozenset[int] = frozenset(),
        max_deliveries: int = 4,
        webhook_poll_interval: float | None = None,
    ) -> None:
        self.store = store
        self.provider = provider
        self.events = events
        self.poll_interval = poll_interval
        self.stall_timeout = stall_timeout
        self.quota = quota
        self.allowed_guild_ids = allowed_guild_ids
        self._submit_wakeup = asyncio.Event()
        self._poll_wakeup = asyncio.Event()
        self._delivery_slots = asyncio.Semaphore(max_deliveries)
        self._delivering: dict[int, asyncio.Task[None]] = {}
        self._loops: list[asyncio.Task[None]] = []
        self._stopping = False
        # With webhooks (`webhook_poll_interval` set) polling is only the safety net for a lost update.
        self.poll_policy = PollPolicy(poll_interval, provider.poll_budget, webhook_poll_interval)
        # Poll answers and webhook updates of one task must not interleave: each is applied under this lock.
        self._apply_lock = asyncio.Lock()

    @property
    def provider_name(self) -> ProviderName:
        return "sunoapi" if self.provider.name == "sunoapi" else "apiframe"

    async def start(self) -> None:
        """Resume every unfinished task and start the loops."""
        if (last_submit := await self.store.last_submit_at()) is not None:
            self.provider.remember_submit(time.time() - last_submit)
        for task in await self.store.tasks_with_status(TaskStatus.SUCCEEDED):
            self._start_delivery(task.id)
        self._loops = [
            asyncio.create_task(self._run_forever(self._submit_next, self._submit_wakeup), name="encore-submit"),
            asyncio.create_task(self._run_forever(self._poll_due, self._poll_wakeup), name="encore-poll"),
        ]

    async def stop(self, grace: float = 20.0) -> None:
        """Take no new work, let the step and deliveries in flight finish (up to `grace` seconds), park the rest.

        Whatever is parked is still a row in the store, so the next `start()` resumes it.
        """
        self._stopping = True
        self._submit_wakeup.set()
        self._poll_wakeup.set()
        running = [*self._loops, *self._delivering.values()]
        if running:
            _, late = await asyncio.wait(running, timeout=grace)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        self._loops = []

    async def request_extend(self, requester: Requester, options: ExtendOptions) -> Accepted:
        """Validate an `/extend` and queue it; `InputError` says what to fix, and nothing is spent."""
        self._check_open(requester.guild_id)
        known = await self.store.get_song(parse_song_ref(options.song)) if options.song else None
        request = validate_extend(self.provider_name, options, known)
        return await self._accepted(await self._create(requester, request))

    async def request_upload_extend(
        self, requester: Requester, options: ExtendOptions, audio: Path, filename: str, duration: float | None
    ) -> Accepted:
        """Validate an `/extend audio:`, upload the track (free, but slow), and queue the extend of the upload.

        `InputError` says what to fix, or that the upload failed; nothing is spent either way.
        """
        self._check_open(requester.guild_id)
        if not self.provider.supports_uploads:
            raise InputError(UPLOADS_NOT_SUPPORTED)
        request = validate_upload_extend(self.provider_name, options, duration)
        try:
            upload_task_id, audio_url = await self.provider.upload_audio(audio, filename)
        except ProviderAuthError:
            log.error("PROVIDER KEY REFUSED by %s on an upload: fix the API key in .env.", self.provider.name)
            raise InputError(BAD_KEY_MESSAGE) from None
        except ProviderError as error:
            log.warning("upload of %s to %s failed: %s", filename, self.provider.name, error.message)
            raise InputError(
                f"Encore could not upload your track to {self.provider.name} ({error.message}). "
                "Nothing was spent: try again in a minute, or with another file."
            ) from None
        request = replace(request, parent_task_id=upload_task_id, upload_name=filename, upload_url=audio_url or None)
        return await self._accepted(await self._create(requester, request))

    async def request_generate(self, requester: Requester, options: GenerateOptions) -> Accepted:
        """Validate a `/generate` and queue it; `InputError` says what to fix, and nothing is spent."""
        self._check_open(requester.guild_id)
        return await self._accepted(await self._create(requester, validate_generate(self.provider_name, options)))

    async def reroll(self, task_id: int, user_id: int) -> Accepted:
        """Submit a finished task's request again as a new task.

        Raises `RerollRefused` when the member may not reroll it, `DuplicateRequest` for a repeat click, and
        `InputError` for quotas.
        """
        original = await self.store.get_task(task_id)
        if original is None or original.status is not TaskStatus.DELIVERED:
            raise RerollRefused("This song is not a finished Encore result, so there is nothing to reroll.")
        if original.requester_id != user_id and not await self._anyone_may_reroll(original.guild_id):
            raise RerollRefused("Only the member who asked for this song can reroll it.")
        self._check_open(original.guild_id)
        requester = Requester(
            user_id=user_id,
            channel_id=original.channel_id,
            guild_id=original.guild_id,
            upload_limit=original.upload_limit,
        )
        return await self._accepted(await self._create(requester, original.request, reroll_of=original.id))

    async def _anyone_may_reroll(self, guild_id: int | None) -> bool:
        return guild_id is not None and (await self.store.guild_settings(guild_id)).reroll_anyone

    def _check_open(self, guild_id: int | None) -> None:
        """Refuse new work while shutting down, or from a server that is not allowed."""
        if self._stopping:
            raise InputError("Encore is restarting; nothing was queued. Try again in a minute.")
        if self.allowed_guild_ids and guild_id not in self.allowed_guild_ids:
            raise InputError("Encore is not enabled on this server; ask the bot's operator to allow it.")

    async def _create(self, requester: Requester, request: TaskRequest, *, reroll_of: int | None = None) -> TaskRecord:
        """Queue a request under the server's settings: its daily limit, and its results channel for new requests.

        The same request from the same member moments ago (a double click, a repeated command) is one task.
        """
        quota = self.quota
        if requester.guild_id is not None:
            settings = await self.store.guild_settings(requester.guild_id)
            if settings.daily_limit is not None:
                quota = replace(quota or QuotaPolicy(), daily_per_guild=settings.daily_limit)
            if settings.results_channel_id and reroll_of is None:
                requester = replace(requester, channel_id=settings.results_channel_id)
        try:
            task = await self.store.create_task(
                requester, self.provider.name, request, reroll_of=reroll_of, quota=quota
            )
        except QuotaExceeded as refused:
            raise InputError(quota_message(refused)) from None
        if task is None:
            raise DuplicateRequest("You sent this same request a moment ago; it is already in the queue.")
        return task

    async def _accepted(self, task: TaskRecord) -> Accepted:
        self._submit_wakeup.set()
        log.info("task %s queued for user %s in channel %s", task.id, task.requester_id, task.channel_id)
        return Accepted(task=task, position=await self.store.queue_position(task.id))

    async def _run_forever(self, step: Callable[[], Coroutine[Any, Any, float | None]], wakeup: asyncio.Event) -> None:
        """Run `step` until the service stops; it returns how long to wait for new work (None: until woken)."""
        while not self._stopping:
            wakeup.clear()
            try:
                wait = await step()
            except Exception:
                log.exception("%s failed; retrying in %.1f s", step.__name__, self.poll_interval)
                wait = self.poll_interval
            if (wait is None or wait > 0) and not self._stopping:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wakeup.wait(), timeout=wait)

    async def _submit_next(self) -> float | None:
        """Submit the oldest queued task; return how long to wait before looking again."""
        task = await self.store.next_queued()
        if task is None:
            return None
        now = time.time()
        if task.next_attempt_at > now:
            return task.next_attempt_at - now
        if task.submit_started_at is not None:
            await self._fail(
                task,
                "Encore stopped while submitting this request, so it may or may not have reached the provider. "
                "It was not sent again to avoid paying twice: check the channel, and extend again if nothing came.",
            )
            return 0
        if (wait := self.provider.submit_delay()) > 0:
            return wait  # wait here, not inside the provider call: a task still waiting is not in doubt
        if not await self.store.begin_submit(task.id):
            return 0
        try:
            provider_task_id = await self._submit(task.request)
        except ProviderError as error:
            await self._submit_failed(task, error)
            return 0
        in_flight = await self.store.active_count() + 1
        by_webhook = self.poll_policy.webhook_interval is not None
        first_poll = self.poll_policy.delay(
            age=0.0, state=ProviderState.QUEUED, progress=None, in_flight=in_flight, by_webhook=by_webhook
        )
        await self.store.mark_submitted(
            task.id, provider_task_id, next_poll_at=time.time() + first_poll, by_webhook=by_webhook
        )
        log.info("task %s submitted to %s as %s", task.id, self.provider.name, provider_task_id)
        await self._progressed(task.id)
        self._poll_wakeup.set()
        for position, waiting in enumerate(await self.store.tasks_with_status(TaskStatus.QUEUED), start=1):
            await self.events.task_progressed(waiting, position)
        return 0

    async def _submit(self, request: TaskRequest) -> str:
        """Send a request to the provider's endpoint for its kind; return the provider's task id."""
        if isinstance(request, GenerateRequest):
            return await self.provider.submit_generate(request)
        return await self.provider.submit_extend(request)

    async def _submit_failed(self, task: TaskRecord, error: ProviderError) -> None:
        if isinstance(error, ProviderAuthError):
            log.error(
                "PROVIDER KEY REFUSED by %s: fix the API key in .env. Task %s failed.", self.provider.name, task.id
            )
            await self._fail(task, BAD_KEY_MESSAGE)
        elif error.retryable and task.attempts + 1 < MAX_TRANSIENT_ATTEMPTS:
            delay = max(error.retry_after or 0.0, backoff(task.attempts, self.poll_interval))
            log.warning("task %s: submission failed (%s); retrying in %.1f s", task.id, error.message, delay)
            await self.store.defer_submit(task.id, time.time() + delay, f"retrying: {error.message}")
            await self._progressed(task.id)
        elif error.retryable:
            await self._fail(task, f"The provider kept failing ({error.message}). Nothing was made; try again later.")
        else:
            reason = error.message if isinstance(error, ProviderRejected) else str(error)
            await self._fail(task, f"The provider refused this request: {reason}")

    async def _poll_due(self) -> float | None:
        """Poll one batch of due tasks; return how long until the next is due."""
        due = await self.store.due_active_tasks(time.time(), self.provider.batch_size)
        if not due:
            next_due = await self.store.next_active_due_at()
            return None if next_due is None else max(0.0, next_due - time.time())
        try:
            results = await self.provider.fetch([task.provider_task_id or "" for task in due])
        except ProviderError as error:
            if isinstance(error, ProviderAuthError):
                log.error("PROVIDER KEY REFUSED by %s while polling: fix the API key in .env.", self.provider.name)
            attempts = max(task.attempts for task in due)
            delay = max(error.retry_after or 0.0, backoff(attempts, self.poll_interval))
            log.warning("polling %d task(s) failed (%s); retrying in %.1f s", len(due), error.message, delay)
            for task in due:
                if not await self._check_stalled(task, error):
                    await self.store.defer_poll(task.id, time.time() + delay)
                    await self.events.task_progressed(task, retrying=error.message)
            return 0
        async with self._apply_lock:
            # Re-read the batch in one query: a webhook may have moved or finished a task during the fetch.
            current = await self.store.active_tasks_by_provider_id(
                self.provider.name, [task.provider_task_id or "" for task in due]
            )
            by_provider_id = {fresh.provider_task_id: fresh for fresh in current}
            in_flight = await self.store.active_count()
            for polled, result in zip(due, results, strict=True):
                if fresh_task := by_provider_id.get(polled.provider_task_id):
                    await self._apply(fresh_task, result, in_flight)
        return 0

    async def apply_update(self, provider_task_id: str, result: ProviderTask) -> bool:
        """Apply an update the provider pushed (a webhook call); return False when it was ignored.

        Ignored: an unknown task or one no longer at the provider (succeeded, delivered, failed), an update
        Encore already has (webhooks repeat), and one older than what the store holds (they can arrive late).
        """
        async with self._apply_lock:
            found = await self.store.active_tasks_by_provider_id(self.provider.name, [provider_task_id])
            if not found or result.state is ProviderState.UNKNOWN or is_stale(found[0], result):
                return False
            task = found[0]
            if (result.raw_status, result.progress) == (task.provider_status, task.progress):
                return False
            await self._apply(task, result, await self.store.active_count())
            return True

    async def _apply(self, task: TaskRecord, result: ProviderTask, in_flight: int) -> None:
        """Move a task according to what the provider said of it, and schedule its next poll."""
        now = time.time()
        age = now - (task.submitted_at or task.created_at)
        if result.state is ProviderState.SUCCEEDED:
            await self.store.mark_succeeded(task, result.clips)
            log.info("task %s succeeded with %d clip(s)", task.id, len(result.clips))
            self.poll_policy = self.poll_policy.learned(age)
            self._start_delivery(task.id)
            return
        if result.state is ProviderState.FAILED:
            await self._fail(task, f"Suno couldn't make this song: {result.error or 'no reason given'}")
            return
        delay = self.poll_policy.delay(
            age=age,
            state=result.state,
            progress=result.progress,
            in_flight=in_flight,
            by_webhook=task.reports_by_webhook,
        )
        if is_stale(task, result):  # a late answer: keep what the store has, only schedule the next poll
            moved = await self.store.record_poll(
                task,
                status=task.status,
                provider_status=task.provider_status or result.raw_status,
                progress=task.progress,
                next_poll_at=now + delay,
            )
        else:
            moved = await self.store.record_poll(
                task,
                status=TaskStatus.RUNNING if result.state is ProviderState.RUNNING else task.status,
                provider_status=result.raw_status,
                progress=result.progress,
                next_poll_at=now + delay,
            )
        if moved:
            await self._progressed(task.id)
        else:
            await self._check_stalled(task)

    async def _check_stalled(self, task: TaskRecord, poll_error: ProviderError | None = None) -> bool:
        """Fail a task that has not moved for `stall_timeout`; return whether it did.

        `poll_error` is why the latest poll failed, if it did: the requester is told that rather than "no progress".
        """
        if time.time() - task.last_change_at < self.stall_timeout:
            return False
        minutes = max(1, round(self.stall_timeout / 60))
        if isinstance(poll_error, ProviderAuthError):
            reason = (
                f"For {minutes} minute(s) the provider refused Encore's API key while Encore checked on this song. "
                "This is for the bot's operator to fix; the song may still exist at the provider."
            )
        elif poll_error:
            reason = f"Encore could not reach the provider for {minutes} minute(s) ({poll_error.message}) and gave up."
        else:
            reason = f"The provider showed no progress for {minutes} minute(s), so Encore gave up on it."
        await self._fail(task, reason)
        return True

    async def _fail(self, task: TaskRecord, reason: str) -> None:
        await self.store.mark_failed(task.id, reason)
        log.warning("task %s failed: %s", task.id, reason)
        failed = await self.store.get_task(task.id)
        if failed:
            await self.events.task_failed(failed)

    async def _progressed(self, task_id: int) -> None:
        task = await self.store.get_task(task_id)
        if task:
            await self.events.task_progressed(task)

    def _start_delivery(self, task_id: int) -> None:
        if task_id not in self._delivering:
            delivery = asyncio.create_task(self._deliver(task_id), name=f"encore-deliver-{task_id}")
            self._delivering[task_id] = delivery
            delivery.add_done_callback(lambda _: self._delivering.pop(task_id, None))

    async def _deliver(self, task_id: int) -> None:
        """Post a succeeded task's songs, retrying transient faults; the store says when it is done."""
        attempt = 0
        async with self._delivery_slots:
            while (task := await self.store.get_task(task_id)) and task.status is TaskStatus.SUCCEEDED:
                try:
                    delivered = await self.events.deliver(task, await self.store.songs_of_task(task_id))
                except DeliveryError as error:
                    if error.permanent or attempt + 1 >= MAX_TRANSIENT_ATTEMPTS:
                        await self.store.mark_undeliverable(task_id, f"Encore could not post the result: {error}")
                        log.warning("task %s is undeliverable: %s", task_id, error)
                        if undeliverable := await self.store.get_task(task_id):
                            await self.events.task_undeliverable(undeliverable, await self.store.songs_of_task(task_id))
                        return
                    delay = backoff(attempt, self.poll_interval)
                    log.warning("task %s: delivery failed (%s); retrying in %.1f s", task_id, error, delay)
                    attempt += 1
                    await asyncio.sleep(delay)
                else:
                    await self.store.mark_delivered(task_id, delivered.message_id, delivered.durations)
                    log.info("task %s delivered as message %s", task_id, delivered.message_id)
                    if done := await self.store.get_task(task_id):
                        await self.events.task_delivered(done)
                    return
