"""What every stage of a task (intake, submit, poll, deliver) shares: the store, the provider, the events, the
lease owner, and the moves that end or report a task. Internal to the service."""

from __future__ import annotations

import contextlib
import copy
import logging
import random
from collections.abc import Coroutine, Iterable, Iterator, Mapping
from typing import Any

from bot.domain.records import TaskRecord
from bot.providers import (
    Provider,
    ProviderAuthError,
    ProviderError,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
)
from bot.service._scheduling import PollPolicy
from bot.service.health import ProviderHealth
from bot.service.ports import Metrics, TaskEvents
from bot.store import Store

log = logging.getLogger("bot.service")

MAX_TRANSIENT_ATTEMPTS = 8
MAX_BACKOFF_SECONDS = 300.0
BAD_KEY_MESSAGE = (
    "The server's Suno provider refused Encore's API key, so nothing was generated and nothing was charged. "
    "This is for the bot's operator to fix."
)


def backoff(attempt: int, base: float) -> float:
    """Exponential backoff with jitter, capped: the n-th retry waits between half and all of base·2ⁿ seconds.

    The random half spreads retries of many tasks apart; the fixed half keeps each retry from coming too soon.
    """
    ceiling = min(MAX_BACKOFF_SECONDS, base * 2.0 ** max(0, attempt))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def outcome(error: ProviderError | None) -> str:
    """A provider call's outcome as a metrics label: "ok", or the kind of error."""
    kinds: tuple[tuple[type[ProviderError], str], ...] = (
        (ProviderAuthError, "bad_key"),
        (ProviderRateLimited, "rate_limited"),
        (ProviderUnavailable, "unavailable"),
        (ProviderRejected, "rejected"),
    )
    if error is None:
        return "ok"
    return next((label for kind, label in kinds if isinstance(error, kind)), "error")


def task_context(task: TaskRecord) -> dict[str, int]:
    """`extra=` for a log line about a task: JSON logs carry its id and the member's."""
    return {"task_id": task.id, "user_id": task.requester_id}


class StageContext:
    """What the stages share; each stage (intake, submit, poll, deliver) holds the same one.

    `owner` names this process in the leases it takes for `lease` seconds; `working` is the set of tasks whose
    lease it is using right now, the ones it renews. `providers` are every configured provider in the operator's
    order, with their `health`. A `lane` is the context of one provider's submit and poll loops: only it has a
    `provider` and a `poll_policy`.
    """

    provider: Provider
    # Learns how long tasks take; with webhooks (`webhook_interval` set) polling is only a safety net.
    poll_policy: PollPolicy

    def __init__(
        self,
        store: Store,
        providers: Mapping[str, Provider],
        events: TaskEvents,
        *,
        poll_interval: float,
        owner: str,
        lease: float,
        metrics: Metrics,
        health: ProviderHealth,
    ) -> None:
        self.store = store
        self.providers = providers
        self.health = health
        self.events = events
        self.metrics = metrics
        self.poll_interval = poll_interval
        self.owner = owner
        self.lease = lease
        self.working: set[int] = set()

    def lane(self, provider: Provider, poll_policy: PollPolicy) -> StageContext:
        """The context of one provider's loops: the same store, events, owner and leases in use."""
        lane = copy.copy(self)
        lane.provider, lane.poll_policy = provider, poll_policy
        return lane

    @contextlib.contextmanager
    def working_on(self, task_ids: Iterable[int]) -> Iterator[None]:
        """Mark claimed tasks as in use for the block, so their leases are renewed while it runs."""
        ids = set(task_ids)
        self.working |= ids
        try:
            yield
        finally:
            self.working -= ids

    async def fail(self, task: TaskRecord, reason: str, *, in_doubt: bool = False) -> None:
        """End the task without a result and tell the requester, unless it ended some other way meanwhile.

        `in_doubt`: only because its submission may have reached the provider; a late answer resumes it.
        """
        if not await self.store.mark_failed(task.id, reason, in_doubt=in_doubt):
            return
        log.warning("task %s failed (member %s): %s", task.id, task.requester_id, reason, extra=task_context(task))
        if failed := await self.store.get_task(task.id):
            await self.notify(self.events.task_failed(failed), task.id)

    async def progressed(self, task_id: int) -> None:
        if task := await self.store.get_task(task_id):
            await self.notify(self.events.task_progressed(task), task_id)

    @staticmethod
    async def notify(call: Coroutine[Any, Any, None], task_id: int) -> None:
        """Tell the Discord side about a recorded step; its failure must neither undo the step nor stop a loop."""
        try:
            await call
        except Exception:
            log.exception("task %s: telling Discord about it failed", task_id)
