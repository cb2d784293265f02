"""The one interface every Suno provider client implements, and the shared HTTP plumbing and pacing."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, ClassVar, NoReturn

import aiohttp

from bot.domain.capabilities import ProviderCapabilities
from bot.domain.models import ExtendRequest, GenerateRequest, ProviderState, ProviderTask, Upload
from bot.domain.pacing import PACING_MARGIN, Pacer
from bot.providers import answers
from bot.providers.errors import (
    MAX_ANSWER_BYTES,
    AnswerCodes,
    ProviderAnswerMalformed,
    ProviderError,
    ProviderRateLimited,
    ProviderRejected,
    answer_error,
    json_answer,
    transport_errors,
)
from bot.providers.webhooks import WebhookRoute

DEFAULT_TIMEOUT = aiohttp.ClientTimeout(total=30, connect=10)
# What an HTTP status says before the body is read, for every provider: 429 slow down, 5xx the provider's fault.
HTTP_CODES = AnswerCodes(auth=frozenset())


class RateLimiter:
    """A sliding-window limiter: at most `calls` starts in any `period` seconds, per process (a `Pacer`).

    `margin` widens the window a little so that network jitter cannot make two requests arrive closer together
    at the provider than the documented limit.
    """

    def __init__(self, calls: int, period: float, *, margin: float = PACING_MARGIN) -> None:
        self.calls = calls
        self.period = period * (1 + margin)
        self._starts: collections.deque[float] = collections.deque()
        self._blocked_until = 0.0
        self._lock = asyncio.Lock()

    @classmethod
    def per_second(cls, rate: float) -> RateLimiter:
        return cls(*per_second(rate))

    @property
    def rate(self) -> float:
        return self.calls / self.period

    def delay(self, now: float) -> float:
        """Seconds until the next call may start."""
        while self._starts and now - self._starts[0] >= self.period:
            self._starts.popleft()
        wait = self._blocked_until - now
        if len(self._starts) >= self.calls:
            wait = max(wait, self._starts[0] + self.period - now)
        return max(0.0, wait)

    async def acquire(self) -> float:
        """Wait for a free slot and take it; return the moment it was taken."""
        async with self._lock:
            while (wait := self.delay(time.monotonic())) > 0:  # noqa: ASYNC110 - a time window, not an event
                await asyncio.sleep(wait)
            taken = time.monotonic()
            self._starts.append(taken)
            return taken

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Take a slot, run the call, and count the call from its end.

        However long the request took to reach the provider, the next one leaves a whole window after this one
        was answered, so the two can never arrive closer together than the limit (a loaded machine delays sends).
        """
        taken = await self.acquire()
        try:
            yield
        finally:
            with contextlib.suppress(ValueError):  # already out of the window
                self._starts.remove(taken)
            self._starts.append(time.monotonic())

    def remember(self, seconds_ago: float) -> None:
        """Count a call made `seconds_ago` (by an earlier run of the bot), so a restart cannot send early."""
        self._starts.appendleft(time.monotonic() - max(0.0, seconds_ago))

    async def back_off(self, seconds: float | None = None) -> None:
        """After a rate-limit answer, keep every caller out for `seconds` (a whole window when None)."""
        self._blocked_until = max(self._blocked_until, time.monotonic() + (seconds or self.period))


def per_second(rate: float) -> tuple[int, float]:
    """`rate` requests per second as a window of whole calls (2/s → 2 per 1 s, 0.25/s → 1 per 4 s)."""
    calls = max(1, int(rate))
    return calls, calls / rate


class Provider(ABC):
    """A Suno API provider: submit extends and new songs, read tasks back in Encore's normalized model."""

    name: ClassVar[str]
    # What this provider accepts (models, text limits, uploads, webhooks): its package's one entry, which the
    # registry also hands to validation.
    capabilities: ClassVar[ProviderCapabilities]
    batch_size: ClassVar[int] = 1
    # What an HTTP status says before the body is read (the rest is the provider's own judging of the answer).
    http_codes: ClassVar[AnswerCodes] = HTTP_CODES
    submit_limiter: Pacer | None = None

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        key: str,
        *,
        timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
    ) -> None:
        self._session = session
        self._base_url = base_url.rstrip("/")
        self._key = key
        self._timeout = timeout

    @abstractmethod
    async def submit_extend(self, request: ExtendRequest, *, reference: int | None = None) -> str:
        """Submit an extend; return the provider's task id.

        `reference` is Encore's own id of the task, for a provider that gives each task its own callback URL.
        """

    @abstractmethod
    async def submit_generate(self, request: GenerateRequest, *, reference: int | None = None) -> str:
        """Submit a new song; return the provider's task id (`reference` as for `submit_extend`)."""

    @abstractmethod
    async def fetch(self, task_ids: Sequence[str]) -> list[ProviderTask]:
        """Read up to `batch_size` tasks; a task the provider does not return comes back as state UNKNOWN."""

    @property
    def poll_budget(self) -> float | None:
        """Tasks per second the provider lets Encore poll, or None when it documents no limit."""
        return None

    def submit_slot(self) -> AbstractAsyncContextManager[None]:
        """Wait until the documented limits allow one more submission; submit inside the block.

        The submit calls themselves do not wait: the caller waits here first, before it records the task as being
        submitted, so that a task still waiting for its turn is never in doubt.
        """
        return self.submit_limiter.slot() if self.submit_limiter else contextlib.nullcontext()

    def remember_submit(self, seconds_ago: float) -> None:
        """An earlier run of the bot submitted `seconds_ago`: the documented limits count it too."""
        if self.submit_limiter:
            self.submit_limiter.remember(seconds_ago)

    async def _refused(self, error: ProviderError, limiter: Pacer | None) -> NoReturn:
        """Raise a mapped refusal; a rate-limit answer first keeps `limiter`'s callers out for a while."""
        if isinstance(error, ProviderRateLimited) and limiter:
            await limiter.back_off(error.retry_after)
        raise error

    async def credits(self) -> int | None:
        """Credits left on the account; None when the provider documents no way to ask (sunoapi.co)."""
        return None

    def webhook_routes(self) -> Sequence[WebhookRoute]:
        """Where this provider's pushed updates arrive, for the web server to mount; none when it only polls."""
        return ()

    async def upload_audio(self, audio_url: str) -> Upload:
        """Hand the provider a member's track at a public URL, to extend it (see `capabilities.uploads`)."""
        raise ProviderRejected(f"{self.name} cannot extend uploaded audio")

    @abstractmethod
    def _headers(self) -> Mapping[str, str]:
        """The auth headers; the key appears nowhere else."""

    async def _post(
        self,
        path: str,
        body: Mapping[str, Any],
        limiter: Pacer | None = None,
        *,
        paced: bool = True,
        client_timeout: aiohttp.ClientTimeout | None = None,
    ) -> tuple[int, Any]:
        """POST JSON and return (HTTP status, parsed JSON); transport faults and bad JSON raise ProviderUnavailable."""
        return await self._request(
            "POST", path, json_body=body, limiter=limiter, paced=paced, client_timeout=client_timeout
        )

    async def _request(
        self,
        method: str,
        path: str,
        *,
        json_body: Mapping[str, Any] | None = None,
        form: aiohttp.FormData | None = None,
        limiter: Pacer | None = None,
        paced: bool = True,
        client_timeout: aiohttp.ClientTimeout | None = None,
    ) -> tuple[int, Any]:
        """Send one request (JSON, a multipart form, or nothing) and return (HTTP status, parsed JSON).

        It first waits for `limiter`'s next slot, unless `paced` is False (the caller took the slot already); a
        429 makes `limiter` back off either way. Transport faults and bad JSON raise ProviderUnavailable; 429
        raises ProviderRateLimited.
        """
        with transport_errors(self.name, path):
            async with (
                limiter.slot() if limiter and paced else contextlib.nullcontext(),
                self._session.request(
                    method,
                    f"{self._base_url}{path}",
                    json=dict(json_body) if json_body is not None else None,
                    data=form,
                    headers=self._headers(),
                    timeout=client_timeout or self._timeout,
                ) as response,
            ):
                raw = await _read_at_most(response.content, MAX_ANSWER_BYTES + 1)
                status = response.status
                retry_after = _retry_after(response.headers)
        if status in self.http_codes.rate_limited or status >= 500:
            await self._refused(
                answer_error(self.name, status, f"HTTP {status} on {path}", self.http_codes, retry_after=retry_after),
                limiter,
            )
        data = json_answer(self.name, raw, status, path)
        return status, data


class PacedProvider(Provider):
    """A provider with documented limits: each submission waits for `submit_limiter`, each poll for
    `poll_limiter`, and the poll scheduler spreads its polls over the poll budget."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        key: str,
        *,
        submit_limiter: Pacer | None,
        poll_limiter: Pacer,
        timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
    ) -> None:
        super().__init__(session, base_url, key, timeout=timeout)
        self.submit_limiter = submit_limiter
        self.poll_limiter = poll_limiter

    @property
    def poll_budget(self) -> float:
        return self.poll_limiter.rate * self.batch_size


async def fetch_each(
    task_ids: Sequence[str],
    answer: Callable[[str], Awaitable[Mapping[str, Any]]],
    read: Callable[[str, Mapping[str, Any]], ProviderTask],
) -> list[ProviderTask]:
    """One call a task (`answer`), read by `read`: a task the provider refuses to tell about comes back UNKNOWN
    with its reason, an unreadable answer UNKNOWN as malformed, and the batch's other tasks are still read."""
    results = []
    for task_id in task_ids:
        try:
            data = await answer(task_id)
        except ProviderRejected as error:
            results.append(ProviderTask(task_id, ProviderState.UNKNOWN, raw_status=error.message))
            continue
        try:
            results.append(read(task_id, data))
        except ProviderAnswerMalformed as error:
            results.append(answers.unreadable(task_id, error))
    return results


async def _read_at_most(content: aiohttp.StreamReader, limit: int) -> bytes:
    """The body up to `limit` bytes: a provider cannot make Encore hold more than that in memory."""
    body = bytearray()
    async for chunk in content.iter_chunked(64 * 1024):
        body += chunk[: limit - len(body)]
        if len(body) >= limit:
            break
    return bytes(body)


def _retry_after(headers: Mapping[str, str]) -> float | None:
    try:
        return max(0.0, float(headers.get("Retry-After", "")))
    except ValueError:
        return None


def optional_fields(**fields: Any) -> dict[str, Any]:
    """A request body without the fields the member left out."""
    return {name: value for name, value in fields.items() if value is not None}
