"""The task service: the one object the Discord side talks to, composing intake, submit, poll and deliver.

Each use case has one door on it: `intake` (requests, rerolls), `community` (stars, showcase, cancels, rankings),
`library` (songs and queues, read-only), `admin` (a server's settings and usage), `whole_songs`; the loops run
behind them.

It owns the lifecycle (queued → submitted → running → succeeded → delivered, or failed) and writes every step to
the store, so `start()` after a crash picks each unfinished task up where it was.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import secrets
import socket
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any

from bot.domain.models import ProviderTask, TaskStatus
from bot.domain.quota import QuotaPolicy
from bot.providers import Provider
from bot.service._context import StageContext
from bot.service._deliver import Deliverer
from bot.service._poll import Poller
from bot.service._scheduling import PollPolicy
from bot.service._submit import Submitter
from bot.service.admin import ServerAdmin
from bot.service.community import Community
from bot.service.health import ProviderHealth
from bot.service.intake import Intake
from bot.service.library import Library
from bot.service.pages import SongPageChoices
from bot.service.ports import Metrics, NoMetrics, TaskEvents
from bot.service.result_media import ResultMedia
from bot.service.wholesong import WholeSongs
from bot.store import Store

log = logging.getLogger("bot.service")


class TaskService:
    """Runs a submit loop and a poll loop per provider, and the deliveries.

    `providers` are the configured providers in the operator's order (one alone for the one-provider form); each
    task runs on its own provider's loops. `health` tracks which of them answer (one is made when not given).
    """

    def __init__(
        self,
        store: Store,
        providers: Provider | Sequence[Provider],
        events: TaskEvents,
        *,
        poll_interval: float,
        stall_timeout: float,
        quota: QuotaPolicy | None = None,
        allowed_guild_ids: frozenset[int] = frozenset(),
        max_deliveries: int = 4,
        webhook_poll_interval: float | None = None,
        whole_songs: WholeSongs | None = None,
        metrics: Metrics | None = None,
        media: ResultMedia | None = None,
        owner: str | None = None,
        lease_seconds: float = 30.0,
        rescan_interval: float | None = None,
        health: ProviderHealth | None = None,
    ) -> None:
        every = [providers] if isinstance(providers, Provider) else list(providers)
        self.providers = {provider.name: provider for provider in every}
        self.provider = every[0]  # the first: where new songs go while it is healthy
        self.store = store
        self.poll_interval = poll_interval
        # Other processes share the store: look for the work they leave (lost notifications, expired leases).
        self.rescan_interval = rescan_interval
        # One wake-up per loop: a loop that clears its own cannot make another miss it.
        self._submit_wakeups = {name: asyncio.Event() for name in self.providers}
        self._poll_wakeups = {name: asyncio.Event() for name in self.providers}
        self._stop_wakeup = asyncio.Event()
        self._loops: list[asyncio.Task[None]] = []
        self._stopping = False
        metrics = metrics or NoMetrics()
        self.health = health or ProviderHealth(self.providers, metrics=metrics)
        self.context = StageContext(
            store,
            self.providers,
            events,
            poll_interval=poll_interval,
            owner=owner or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}",
            lease=lease_seconds,
            metrics=metrics,
            health=self.health,
        )
        self.intake = Intake(
            self.context,
            quota=quota,
            allowed_guild_ids=allowed_guild_ids,
            queued=self._wake_submitters,
            media=media,
        )
        self.media = media
        self.deliverer = Deliverer(self.context, max_deliveries=max_deliveries, whole_songs=whole_songs, media=media)
        self.whole_songs = whole_songs
        self.submitters: dict[str, Submitter] = {}
        self.pollers: dict[str, Poller] = {}
        for name, provider in self.providers.items():
            # Polling is only a safety net for a provider that pushes updates (it has routes when it does).
            pushes = webhook_poll_interval if provider.webhook_routes() else None
            lane = self.context.lane(provider, PollPolicy(poll_interval, provider.poll_budget, pushes))
            self.submitters[name] = Submitter(
                lane,
                submitted=self._poll_wakeups[name].set,
                moved=self._wake_submitters,
                stall_timeout=stall_timeout,
            )
            self.pollers[name] = Poller(lane, stall_timeout=stall_timeout, succeeded=self.deliverer.start)
        self.submitter = self.submitters[self.provider.name]
        self.poller = self.pollers[self.provider.name]
        self.community = Community(store)
        self.library = Library(store)
        self.admin = ServerAdmin(store, every, default_daily_limit=quota.daily_per_guild if quota else 0)
        self.pages = SongPageChoices(store)

    async def start(self) -> None:
        """Resume every unfinished task nobody else is working on, and start the loops."""
        for submitter in self.submitters.values():
            await submitter.remember_last_submit()
        await self.store.listen(self._heard)
        await self.deliverer.resume()
        self._loops = [
            asyncio.create_task(self._run_forever(self._keep_leases, self._stop_wakeup), name="encore-leases"),
        ]
        for name in self.providers:
            submit, poll = self.submitters[name].submit_next, self.pollers[name].poll_due
            self._loops += [
                asyncio.create_task(
                    self._run_forever(submit, self._submit_wakeups[name]), name=f"encore-submit-{name}"
                ),
                asyncio.create_task(self._run_forever(poll, self._poll_wakeups[name]), name=f"encore-poll-{name}"),
            ]

    async def stop(self, grace: float = 20.0) -> None:
        """Take no new work, let the step and deliveries in flight finish (up to `grace` seconds), park the rest.

        Whatever is parked is still a row in the store, so the next `start()` resumes it.
        """
        self._stopping = True
        self.intake.stopping = True
        for wakeup in (*self._submit_wakeups.values(), *self._poll_wakeups.values(), self._stop_wakeup):
            wakeup.set()
        started = asyncio.get_running_loop().time()
        deadline = started + grace
        # The loops first: a poll step still finishing may start a delivery, which must be waited for too.
        for running in (self._loops, list(self.deliverer.running.values())):
            if running:
                _, late = await asyncio.wait(running, timeout=max(0.0, deadline - asyncio.get_running_loop().time()))
                for task in late:
                    task.cancel()
                await asyncio.gather(*late, return_exceptions=True)
            self.deliverer.stopping = True
        self._loops = []
        if self.whole_songs:
            await self.whole_songs.stop(max(0.0, grace - (asyncio.get_running_loop().time() - started)))
        if self.media:
            self.media.close()
        await self.store.release_leases(self.context.owner)

    def loops_state(self) -> str:
        """For `/healthz`: "running", "stopped" (after `stop`, or a loop ended: restart the bot) or "not started"."""
        if not self._loops:
            return "stopped" if self._stopping else "not started"
        return "stopped" if any(loop.done() for loop in self._loops) else "running"

    async def apply_update(self, provider_task_id: str, result: ProviderTask, provider: str | None = None) -> bool:
        """Apply an update `provider` (the first when None) pushed about one of its tasks; one for a task whose
        submission is being recorded right now waits for the record and is applied then. Unknown providers'
        updates are ignored."""
        return await self._once_recorded(
            provider, lambda name: self.pollers[name].apply_update(provider_task_id, result)
        )

    async def poll_now(self, task_id: int, provider: str | None = None, *, said_finished: bool = False) -> bool:
        """Make Encore's task `task_id` at `provider` (the first when None) due for a poll now and wake its poll loop:
        a call from a provider whose calls prove only where they were sent says something happened, and the poll's
        answer (read with Encore's key) is what is applied. A call that `said_finished` has the task polled at the
        usual pace from then on, so an answer that lags the call is not left to the slow safety-net poll. A call
        for a submission being recorded right now waits for the record. False for a task that is not, or no
        longer, at the provider."""

        async def made_due(name: str) -> bool:
            if not await self.pollers[name].poll_now(task_id, regularly=said_finished):
                return False
            self._poll_wakeups[name].set()
            return True

        return await self._once_recorded(provider, made_due)

    async def is_provider_task(self, task_id: int, provider_task_id: str, provider: str | None = None) -> bool:
        """Whether Encore's task `task_id` is `provider`'s (the first when None) `provider_task_id`: a per-task
        callback URL reports on its own task only. A submission being recorded right now is waited for."""

        async def matches(name: str) -> bool:
            task = await self.store.get_task(task_id)
            return task is not None and task.provider == name and task.provider_task_id == provider_task_id

        return await self._once_recorded(provider, matches)

    async def _once_recorded(self, provider: str | None, attempt: Callable[[str], Awaitable[bool]]) -> bool:
        """`attempt` on `provider` (the first when None; False for one this service does not run), and if it fails
        while a submission to it is being recorded, once more after the record: a provider can report on a task
        before Encore has written down its answer."""
        name = provider or self.provider.name
        if name not in self.providers:
            return False
        if await attempt(name):
            return True
        recording = self.submitters[name].recording
        if not recording.locked():
            return False
        async with recording:
            pass
        return await attempt(name)

    def _wake_submitters(self) -> None:
        for wakeup in self._submit_wakeups.values():
            wakeup.set()

    def _heard(self, status: TaskStatus, task_id: int) -> None:
        """Another process (or this one) queued a task, or one succeeded: act now rather than at the next scan."""
        if status is TaskStatus.QUEUED:
            self._wake_submitters()
        elif status is TaskStatus.SUCCEEDED and not self._stopping:
            self.deliverer.start(task_id)

    async def _keep_leases(self) -> float:
        """Renew the leases in use well before they run out; with a shared store, also pick up left work."""
        life = self.context
        await self.store.renew_leases(life.owner, list(life.working), life.lease)
        if self.rescan_interval is not None:
            await self.deliverer.resume()
        return min(life.lease / 3, self.rescan_interval or math.inf)

    async def _run_forever(self, step: Callable[[], Coroutine[Any, Any, float | None]], wakeup: asyncio.Event) -> None:
        """Run `step` until the service stops; it returns how long to wait for new work (None: until woken).

        With a shared store no wait is longer than `rescan_interval`: another process's work may need taking over.
        """
        while not self._stopping:
            wakeup.clear()
            try:
                wait = await step()
            except Exception:
                log.exception("%s failed; retrying in %.1f s", step.__name__, self.poll_interval)
                wait = self.poll_interval
            if self.rescan_interval is not None:
                wait = min(wait if wait is not None else math.inf, self.rescan_interval)
            if (wait is None or wait > 0) and not self._stopping:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wakeup.wait(), timeout=wait)
