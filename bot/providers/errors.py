"""Encore's provider errors, and the one place where foreign errors become them.

As httpx maps transport exceptions in one module, every provider client raises only these: transport faults
(aiohttp, timeouts), unreadable or oversized JSON, and each provider's own refusal codes are mapped here. A client
declares what its codes mean as data (`AnswerCodes`) and never turns a status into an error itself.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import aiohttp

# The largest answer Encore reads: a task answer is a few kB, so anything near this is broken or hostile.
MAX_ANSWER_BYTES = 1024 * 1024


class ProviderError(Exception):
    """A provider call failed; `retryable` says whether the same call may succeed later.

    `nothing_taken` says the provider certainly made (and billed) nothing: the request never reached it, or it was
    refused by definition (key, credits, rate limit, validation, maintenance). Only such a submission may be sent
    again, or to another provider; any other failure of a submission leaves it in doubt.
    """

    retryable: ClassVar[bool] = False
    nothing_taken: ClassVar[bool] = False

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


class ProviderRejected(ProviderError):
    """The provider refused the request itself (bad input, unknown song): tell the requester why."""

    nothing_taken = True


class ProviderAuthError(ProviderError):
    """The API key was refused: an operator problem, never retried."""

    nothing_taken = True


class ProviderRateLimited(ProviderError):
    """The provider said slow down."""

    retryable = True
    nothing_taken = True


class ProviderUnavailable(ProviderError):
    """A 5xx, a timeout, a reset connection or an unreadable answer: worth another try."""

    retryable = True


class ProviderUnreachable(ProviderUnavailable):
    """The provider certainly took nothing: the connection failed before the request was sent (refused, DNS, TLS,
    connect timeout), or it answered that it is down for maintenance. Safe to send again, or elsewhere."""

    nothing_taken = True


class ProviderAnswerMalformed(ProviderUnavailable):
    """An answer Encore cannot read (wrong types, values out of range): retried, and charged to the task it was about.

    Polling reads it per task (`ProviderTask.malformed`), so one unreadable task never holds up the others.
    """


@dataclass(frozen=True, slots=True)
class AnswerCodes:
    """What a provider's refusal codes mean: HTTP statuses, or the `code` its body carries.

    A code in no set is a refusal of the request itself (`ProviderRejected`), except 500 and above (and no code at
    all), which are the provider's own failure (`ProviderUnavailable`: it may have taken the request). `unavailable`
    codes say the provider is down and took nothing (maintenance: `ProviderUnreachable`).
    """

    auth: frozenset[int] = frozenset({401, 403})
    rate_limited: frozenset[int] = frozenset({429})
    unavailable: frozenset[int] = frozenset()


def answer_error(
    provider: str, code: int | None, detail: str, codes: AnswerCodes, *, retry_after: float | None = None
) -> ProviderError:
    """The error a refusal with `code` stands for, by the provider's own table."""
    if code in codes.auth:
        return ProviderAuthError(f"{provider} refused the API key: {detail}")
    if code in codes.rate_limited:
        return ProviderRateLimited(f"{provider} rate limit: {detail}", retry_after=retry_after)
    if code in codes.unavailable:
        return ProviderUnreachable(f"{provider} is down: {detail}")
    if code is None or code >= 500:
        return ProviderUnavailable(f"{provider} error: {detail}")
    return ProviderRejected(detail)


@contextlib.contextmanager
def transport_errors(provider: str, path: str) -> Iterator[None]:
    """aiohttp's and asyncio's faults on one request: `ProviderUnreachable` when the connection failed before
    anything was sent, else `ProviderUnavailable` (a timeout or a reset after sending: the request may have arrived)."""
    try:
        yield
    except aiohttp.ConnectionTimeoutError:  # before TimeoutError, which it also is
        raise ProviderUnreachable(f"{provider} did not accept a connection in time on {path}") from None
    except aiohttp.ClientConnectorError as error:  # refused, DNS, TLS: nothing was sent
        raise ProviderUnreachable(f"{provider} connection failed on {path}: {type(error).__name__}") from None
    except TimeoutError:
        raise ProviderUnavailable(f"{provider} did not answer {path} in time") from None
    except aiohttp.ClientError as error:
        raise ProviderUnavailable(f"{provider} connection failed on {path}: {type(error).__name__}") from None


def json_answer(provider: str, raw: bytes, status: int, path: str) -> Any:
    """The parsed body; an oversized one is malformed, one that is not JSON (or nested too deep) unavailable."""
    if len(raw) > MAX_ANSWER_BYTES:
        raise ProviderAnswerMalformed(f"{provider} sent an answer over {MAX_ANSWER_BYTES // 1024} kB on {path}")
    try:
        return json.loads(raw) if raw.strip() else {}
    except (ValueError, RecursionError):  # RecursionError: JSON nested too deep to parse
        raise ProviderUnavailable(f"{provider} sent an unreadable answer (HTTP {status}) on {path}") from None


def as_code(value: Any) -> int | None:
    """A `code` field as a whole number, None when it is not one."""
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return None
