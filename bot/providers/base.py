"""The one interface every Suno provider client implements, its errors, and the shared HTTP plumbing."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, ClassVar

import aiohttp

from bot.domain.capabilities import ProviderCapabilities, capabilities
from bot.domain.models import ExtendRequest, GenerateRequest, ProviderTask, Upload
from bot.domain.pacing import PACING_MARGIN, Pacer

DEFAULT_TIMEOUT = aiohttp.ClientTimeout(total=30, connect=10)
# The largest answer Encore reads: a task answer is a few kB, so anything near this is broken or hostile.
MAX_ANSWER_BYTES = 1024 * 1024


class ProviderError(Exception):
    """A provider call failed; `retryable` says whether the same call may succeed later."""

    retryable: ClassVar[bool] = False

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


class ProviderRejected(ProviderError):
    """The provider refused the request itself (bad input, unknown song): tell the requester why."""


class ProviderAuthError(ProviderError):
    """The API key was refused: an operator problem, never retried."""


class ProviderRateLimited(ProviderError):
    """The provider said slow down."""

    retryable = True


class ProviderUnavailable(ProviderError):
    """A 5xx, a timeout, a reset connection or an unreadable answer: worth another try."""

    retryable = True


class ProviderAnswerMalformed(ProviderUnavailable):
    """An answer Encore cannot read (wrong types, values out of range): retried, and charged to the task it was about.

    Polling reads it per task (`ProviderTask.malformed`), so one unreadable task never holds up the others.
    """


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
    batch_size: ClassVar[int] = 1
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
    async def submit_extend(self, request: ExtendRequest) -> str:
        """Submit an extend; return the provider's task id."""

    @abstractmethod
    async def submit_generate(self, request: GenerateRequest) -> str:
        """Submit a new song; return the provider's task id."""

    @abstractmethod
    async def fetch(self, task_ids: Sequence[str]) -> list[ProviderTask]:
        """Read up to `batch_size` tasks; a task the provider does not return comes back as state UNKNOWN."""

    @property
    def capabilities(self) -> ProviderCapabilities:
        """What this provider accepts (models, text limits, uploads, webhooks), from the domain's one table."""
        return capabilities(self.name)

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

    async def credits(self) -> int | None:
        """Credits left on the account; None when the provider documents no way to ask (sunoapi.co)."""
        return None

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
        try:
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
        except TimeoutError:
            raise ProviderUnavailable(f"{self.name} did not answer {path} in time") from None
        except aiohttp.ClientError as error:
            raise ProviderUnavailable(f"{self.name} connection failed on {path}: {type(error).__name__}") from None
        if status == 429:
            if limiter:
                await limiter.back_off(retry_after)
            raise ProviderRateLimited(f"{self.name} rate limit on {path}", retry_after=retry_after)
        if status >= 500:
            raise ProviderUnavailable(f"{self.name} server error {status} on {path}")
        if len(raw) > MAX_ANSWER_BYTES:
            raise ProviderAnswerMalformed(f"{self.name} sent an answer over {MAX_ANSWER_BYTES // 1024} kB on {path}")
        try:
            data = json.loads(raw) if raw.strip() else {}
        except (ValueError, RecursionError):  # RecursionError: JSON nested too deep to parse
            raise ProviderUnavailable(f"{self.name} sent an unreadable answer (HTTP {status}) on {path}") from None
        return status, data


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
