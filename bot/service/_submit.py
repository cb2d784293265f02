"""Submission: send queued tasks to the provider one at a time, at its documented pace, each at most once.

A process leases the oldest queued task (`claim_next_queued`), waits for the provider's submit slot, then records
the submission as started (`begin_submit`) before the provider call, so a crash mid-call leaves it marked as in
doubt. Whoever claims such a task next (this process after a restart, or another one once the lease has run out)
fails it with an explanation and never resends it, because neither provider offers idempotency keys. Should the
provider's answer still reach the process that sent it (it was paused past its lease, as a frozen VM is), the task
is resumed and tracked, and the requester told so: the credit was spent, so the song must arrive.

With several providers each runs this loop over its own tasks. A submission is sent again (here, or to another
provider) only when it certainly made nothing: the connection failed before sending, or the answer is a refusal by
definition (key, credits, rate limit, validation, maintenance). A timeout or reset after sending, a 5xx and an
unreadable answer may each have been accepted and billed (no provider offers idempotency keys), so such a task is
failed as in doubt and never sent anywhere again. Only a task bound to no provider (a new song, an extend of a song
Encore never made) may go to another one; the rest wait for their own provider while it is down.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from bot.domain.errors import InputError
from bot.domain.models import GenerateRequest, ProviderState, TaskStatus
from bot.domain.records import TaskRecord
from bot.domain.validation import carry_over
from bot.providers import (
    ProviderAnswerMalformed,
    ProviderAuthError,
    ProviderError,
    ProviderRejected,
    ProviderUnreachable,
)
from bot.service._context import (
    BAD_KEY_MESSAGE,
    MAX_TRANSIENT_ATTEMPTS,
    StageContext,
    backoff,
    outcome,
    task_context,
)

log = logging.getLogger("bot.service")

IN_DOUBT_MESSAGE = (
    "Encore stopped while submitting this request, so it may or may not have reached the provider. "
    "It was not sent again to avoid paying twice: check the channel, and extend again if nothing came."
)

IN_DOUBT_ANSWER_MESSAGE = (
    "The provider answered this request in a way Encore could not read, so it may or may not have been accepted. "
    "It was not sent again to avoid paying twice: check the channel, and extend again if nothing came."
)

IN_DOUBT_FAILURE_MESSAGE = (
    "The provider failed while taking this request ({reason}), so it may or may not have been accepted. It was not "
    "sent again, to this provider or another, to avoid paying twice: check the channel, and try again if nothing "
    "came."
)


class Submitter:
    """One provider's submit loop step: its oldest queued task, when its limits allow and it answers."""

    def __init__(
        self,
        context: StageContext,
        *,
        submitted: Callable[[], None],
        moved: Callable[[], None] = lambda: None,
        stall_timeout: float = 900.0,
    ) -> None:
        self._life = context
        self._submitted = submitted
        self._moved = moved  # a task went to another provider: wake the submit loops
        self.stall_timeout = stall_timeout
        # Held from the provider call until its answer is recorded: the provider may report on the new task (a
        # webhook) before Encore has written its id down, and such a report waits for that (`TaskService`).
        self.recording = asyncio.Lock()

    async def remember_last_submit(self) -> None:
        """Count the previous run's last submission against the provider's pace, so a restart cannot send early."""
        if (last_submit := await self._life.store.last_submit_at()) is not None:
            self._life.provider.remember_submit(time.time() - last_submit)

    async def submit_next(self) -> float | None:
        """Submit the oldest queued task; return how long to wait before looking again (None: until woken)."""
        life = self._life
        store, provider = life.store, life.provider
        if life.health.is_down(provider.name):
            return await self._while_down()
        task = await store.claim_next_queued(provider.name, life.owner, time.time(), life.lease)
        if task is None:
            due = await store.next_queued_due_at(provider.name)
            return None if due is None else max(0.0, due - time.time())
        with life.working_on([task.id]):
            return await self._submit_claimed(task)

    async def _while_down(self) -> float:
        """The provider is skipped for a cool-down: nothing is sent to it. Its tasks bound to no provider go to
        another healthy one (if any is up), those that waited past the stall timeout are given up, and the rest
        stay queued (and due) until the cool-down ends; return how long until then."""
        life = self._life
        now = time.time()
        others_up = any(not life.health.is_down(name) for name in life.providers if name != life.provider.name)
        task = await life.store.claim_next_waiting(
            life.provider.name, life.owner, now, life.lease, created_before=now - self.stall_timeout, movable=others_up
        )
        if task is None:
            return life.health.retry_in(life.provider.name)
        with life.working_on([task.id]):
            if task.submit_started_at is not None:
                await life.fail(task, IN_DOUBT_MESSAGE, in_doubt=True)
            else:
                await self._wait_for_provider(task)
        return 0

    async def _submit_claimed(self, task: TaskRecord) -> float:
        store, provider = self._life.store, self._life.provider
        if task.submit_started_at is not None:
            await self._life.fail(task, IN_DOUBT_MESSAGE, in_doubt=True)
            return 0
        in_flight = await store.active_count() + 1
        by_webhook = self._life.poll_policy.webhook_interval is not None
        first_poll = self._life.poll_policy.delay(
            age=0.0, state=ProviderState.QUEUED, progress=None, in_flight=in_flight, by_webhook=by_webhook
        )
        # Wait for the slot before `begin_submit`: a task still waiting for its turn is not in doubt.
        asked = time.monotonic()
        async with provider.submit_slot():
            if (waited := time.monotonic() - asked) > 0.001:
                self._life.metrics.rate_limit_wait(provider.name, waited)
            async with self.recording:
                # Checks the lease too: a process paused past it while waiting must leave the task to its new owner.
                if not await store.begin_submit(task.id, self._life.owner):
                    return 0
                failure: ProviderError | None = None
                recorded = False
                try:
                    provider_task_id = await self._submit(task)
                except ProviderError as error:
                    failure = error
                else:
                    recorded = await self._record(task, provider_task_id, time.time() + first_poll, by_webhook)
        if failure is not None:
            self._life.metrics.submitted(provider.name, outcome(failure))
            self._life.health.failed(provider.name, failure)
            await self._submit_failed(task, failure)
            return 0
        self._life.health.succeeded(provider.name)
        if not recorded:
            return 0
        await self._life.progressed(task.id)
        self._submitted()
        for position, waiting in enumerate(await store.tasks_with_status(TaskStatus.QUEUED), start=1):
            await self._life.notify(self._life.events.task_progressed(waiting, position), waiting.id)
        return 0

    async def _record(self, task: TaskRecord, provider_task_id: str, next_poll_at: float, by_webhook: bool) -> bool:
        """Write the accepted submission down; False when the task is no longer claimed (it is then not tracked)."""
        provider = self._life.provider
        # Logged before anything else can fail: if recording it does, the operator can still find the paid task.
        log.info(
            "task %s submitted to %s as %s (member %s)",
            task.id,
            provider.name,
            provider_task_id,
            task.requester_id,
            extra=task_context(task),
        )
        self._life.metrics.submitted(provider.name, outcome(None))
        store = self._life.store
        if await store.mark_submitted(task.id, provider_task_id, next_poll_at=next_poll_at, by_webhook=by_webhook):
            return True
        if await store.resume_in_doubt(task.id, provider_task_id, next_poll_at=next_poll_at, by_webhook=by_webhook):
            # This process was paused past its lease mid-call, and another failed the task as in doubt meanwhile.
            log.warning("task %s: the provider's answer came after it was failed as in doubt; resumed", task.id)
            if resumed := await store.get_task(task.id):
                await self._life.notify(self._life.events.task_resumed(resumed), task.id)
            return True
        log.error("task %s: submitted as %s but no longer claimed; not tracked", task.id, provider_task_id)
        return False

    async def _submit(self, task: TaskRecord) -> str:
        """Send a task's request to the provider's endpoint for its kind; return the provider's task id."""
        if isinstance(task.request, GenerateRequest):
            return await self._life.provider.submit_generate(task.request, reference=task.id)
        return await self._life.provider.submit_extend(task.request, reference=task.id)

    async def _submit_failed(self, task: TaskRecord, error: ProviderError) -> None:
        name = self._life.provider.name
        if not error.nothing_taken:
            # The provider may have accepted (and charged) it: it is never sent again, here or elsewhere, exactly
            # like a submission interrupted by a crash.
            log.error("task %s: %s; not resubmitted, to avoid paying twice", task.id, error.message)
            if isinstance(error, ProviderAnswerMalformed):
                await self._life.fail(task, IN_DOUBT_ANSWER_MESSAGE)
            else:
                await self._life.fail(task, IN_DOUBT_FAILURE_MESSAGE.format(reason=error.message))
        elif isinstance(error, ProviderUnreachable):
            await self._wait_for_provider(task, error)
        elif not task.bound and await self._send_elsewhere(task, error):
            return
        elif isinstance(error, ProviderAuthError):
            log.error("PROVIDER KEY REFUSED by %s: fix the API key in .env. Task %s failed.", name, task.id)
            await self._life.fail(task, BAD_KEY_MESSAGE)
        elif error.retryable and task.attempts + 1 < MAX_TRANSIENT_ATTEMPTS:
            delay = max(error.retry_after or 0.0, backoff(task.attempts, self._life.poll_interval))
            log.warning("task %s: submission failed (%s); retrying in %.1f s", task.id, error.message, delay)
            await self._life.store.defer_submit(task.id, time.time() + delay, f"retrying: {error.message}")
            await self._life.progressed(task.id)
        elif error.retryable:
            await self._life.fail(
                task, f"The provider kept failing ({error.message}). Nothing was made; try again later."
            )
        else:
            reason = error.message if isinstance(error, ProviderRejected) else str(error)
            await self._life.fail(task, f"The provider refused this request: {reason}")

    async def _wait_for_provider(self, task: TaskRecord, error: ProviderUnreachable | None = None) -> None:
        """The task's provider is down (in cool-down, or `error` says it took nothing): a task bound to no provider
        goes to another healthy one that takes it; any other waits in the queue, spending none of its attempts, up
        to the stall timeout (the submit loop sends nothing to a provider in cool-down)."""
        life = self._life
        provider = life.provider
        if not task.bound and await self._send_elsewhere(task, error):
            return
        if time.time() - task.created_at >= self.stall_timeout:
            minutes = max(1, round(self.stall_timeout / 60))
            await life.fail(
                task,
                f"{provider.capabilities.label} could not be reached for {minutes} minute(s), so this request was "
                "dropped. Nothing was sent or spent: try again later.",
            )
            return
        delay = backoff(task.attempts, life.poll_interval)
        why = error.message if error else f"{provider.name} is not answering"
        log.warning("task %s waits for %s (%s); next try in %.1f s", task.id, provider.name, why, delay)
        note = f"retrying once {provider.capabilities.label} answers again"
        if await life.store.defer_submit(task.id, time.time() + delay, note, counted=False):
            await life.progressed(task.id)

    async def _send_elsewhere(self, task: TaskRecord, error: ProviderError | None) -> bool:
        """Hand a task bound to no provider, which certainly did not reach this one, to the first other healthy
        provider that takes it; whether it is handled (moved, or no longer this process's to move).

        After a refusal of the request itself (bad input, a bad key) only providers later in the operator's order
        are tried, so a request every provider refuses ends instead of going round.
        """
        life = self._life
        names = list(life.providers)
        here = names.index(life.provider.name)
        forward_only = error is not None and not error.retryable
        for name in names[here + 1 :] if forward_only else names[:here] + names[here + 1 :]:
            if life.health.is_down(name):
                continue
            target = life.providers[name]
            try:
                request = carry_over(target.capabilities, life.provider.capabilities, task.request)
            except InputError:
                continue
            if await life.store.move_to_provider(task.id, life.owner, name, request):
                why = error.message if error else f"{life.provider.name} is not answering"
                log.info("task %s goes to %s instead of %s (%s)", task.id, name, life.provider.name, why)
                self._moved()
            return True
        return False
