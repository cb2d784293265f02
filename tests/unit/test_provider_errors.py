"""The one place foreign errors become Encore's: each provider's code table, transport faults, unreadable JSON."""

from __future__ import annotations

import aiohttp
import pytest

from bot.providers import (
    ProviderAnswerMalformed,
    ProviderAuthError,
    ProviderError,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
    ProviderUnreachable,
)
from bot.providers.errors import MAX_ANSWER_BYTES, AnswerCodes, answer_error, json_answer, transport_errors
from bot.providers.sunoapi_org.client import KIE_CODES, SUNOAPI_ORG_CODES


@pytest.mark.parametrize(
    ("codes", "code", "error"),
    [
        (SUNOAPI_ORG_CODES, 401, ProviderAuthError),
        (SUNOAPI_ORG_CODES, 430, ProviderRateLimited),
        (SUNOAPI_ORG_CODES, 405, ProviderRateLimited),
        (SUNOAPI_ORG_CODES, 429, ProviderRejected),  # insufficient credits: a refusal, never retried
        (SUNOAPI_ORG_CODES, 413, ProviderRejected),
        (SUNOAPI_ORG_CODES, 455, ProviderUnreachable),  # maintenance: down, and took nothing
        (SUNOAPI_ORG_CODES, 500, ProviderUnavailable),
        (SUNOAPI_ORG_CODES, None, ProviderUnavailable),
        (KIE_CODES, 429, ProviderRateLimited),
        (KIE_CODES, 402, ProviderRejected),
        (AnswerCodes(), 403, ProviderAuthError),
    ],
)
def test_a_code_means_what_the_vendor_s_table_says(
    codes: AnswerCodes, code: int | None, error: type[ProviderError]
) -> None:
    mapped = answer_error("vendor", code, "why", codes, retry_after=3.0)
    assert type(mapped) is error and "why" in mapped.message
    assert mapped.retryable == error.retryable
    if error is ProviderRateLimited:
        assert mapped.retry_after == 3.0


def test_transport_faults_are_unavailable_and_name_the_path() -> None:
    with pytest.raises(ProviderUnavailable, match="did not answer /x in time"), transport_errors("p", "/x"):
        raise TimeoutError
    refused = pytest.raises(ProviderUnavailable, match="connection failed on /x: ClientConnectionError")
    with refused, transport_errors("p", "/x"):
        raise aiohttp.ClientConnectionError("reset")


@pytest.mark.parametrize(
    ("error", "nothing_taken"),
    [
        (ProviderRejected("bad input"), True),
        (ProviderAuthError("bad key"), True),
        (ProviderRateLimited("slow down"), True),
        (ProviderUnreachable("connection refused"), True),
        (ProviderUnavailable("HTTP 502 after sending"), False),
        (ProviderAnswerMalformed("unreadable 200"), False),
    ],
)
def test_only_a_refusal_or_a_connection_that_never_opened_certainly_took_nothing(
    error: ProviderError, nothing_taken: bool
) -> None:
    assert error.nothing_taken is nothing_taken


async def test_a_refused_connection_took_nothing_but_a_timeout_after_sending_may_have() -> None:
    async with aiohttp.ClientSession() as session:
        # Port 9 (discard) on the loopback: nothing listens, the connection is refused before anything is sent.
        refused = pytest.raises(ProviderUnreachable, match="connection failed on /x: ClientConnectorError")
        with refused, transport_errors("p", "/x"):
            await session.get("http://127.0.0.1:9/x")
    with pytest.raises(ProviderUnreachable, match="did not accept a connection"), transport_errors("p", "/x"):
        raise aiohttp.ConnectionTimeoutError
    with pytest.raises(ProviderUnavailable) as timed_out, transport_errors("p", "/x"):
        raise aiohttp.SocketTimeoutError  # the request was sent; the answer did not come
    assert not timed_out.value.nothing_taken


def test_answers_that_are_not_json_or_too_big() -> None:
    assert json_answer("p", b"  ", 200, "/x") == {}
    assert json_answer("p", b'{"a": 1}', 200, "/x") == {"a": 1}
    with pytest.raises(ProviderUnavailable, match="unreadable answer"):
        json_answer("p", b"<html>", 502, "/x")
    with pytest.raises(ProviderUnavailable):
        json_answer("p", b"[" * 100_000 + b"]" * 100_000, 200, "/x")
    with pytest.raises(ProviderAnswerMalformed, match="over 1024 kB"):
        json_answer("p", b" " * (MAX_ANSWER_BYTES + 1), 200, "/x")
