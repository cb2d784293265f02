"""How a provider takes pushed updates: routes the web server mounts without knowing whose they are.

Each provider that can push (a webhook, a callback) brings its route: the path, how a call proves it comes from
the provider, and how its body reads as a task update. The web server only reads, bounds and hands on.
"""

from __future__ import annotations

import hashlib
import hmac
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from bot.domain.models import ProviderTask

RawHeaders = Sequence[tuple[bytes, bytes]]


class WebhookUnauthorized(Exception):
    """The call does not prove it comes from the provider (a wrong secret or signature, a forged task URL)."""


class WebhookRoute(ABC):
    """One receiver: `path` is an aiohttp route pattern below the server's root (`{name}` parts are parameters)."""

    path: str
    # A receiver whose calls prove only where they were sent (a per-task URL, which proxies and access logs keep)
    # sets this: a call then only makes the task its URL names due for a poll now, and Encore applies the
    # provider's own answer, read with its key, never the call's body.
    confirm_by_polling: ClassVar[bool] = False

    @abstractmethod
    def authenticate(self, parameters: Mapping[str, str], headers: RawHeaders) -> int | None:
        """Check the call before its body is read; raise `WebhookUnauthorized` when it proves nothing.

        Returns Encore's id of the task when the URL itself names one (a per-task callback URL): the update is then
        applied to that task only. Headers are raw bytes, so a header that is not UTF-8 is refused like any
        wrong secret, never a crash.
        """

    def verify(self, body: bytes, headers: RawHeaders) -> None:
        """Check a signature over the raw body, before it is parsed; raise `WebhookUnauthorized` when it fails.

        Nothing to check by default: a route whose proof is in the URL or a header has done it in `authenticate`.
        """
        return None

    @abstractmethod
    def parse(self, body: Any) -> ProviderTask:
        """The update the (JSON) body carries; raises `ProviderAnswerMalformed` for one Encore cannot read."""


def single_header(headers: RawHeaders, name: bytes) -> bytes | None:
    """The value of header `name` when it appears exactly once, else None (a repeated header proves nothing)."""
    values = [value for key, value in headers if key.lower() == name]
    return values[0] if len(values) == 1 else None


def task_token(secret: str, scope: str, task_id: int) -> str:
    """The unguessable part of a per-task callback URL: an HMAC of the task under the install's secret."""
    return hmac.new(secret.encode(), f"{scope}:{task_id}".encode(), hashlib.sha256).hexdigest()


def signature_matches(supplied: bytes | None, key: bytes, body: bytes) -> bool:
    """Constant-time check of a lowercase hex HMAC-SHA256 of `body` under `key`."""
    return matches(supplied, hmac.new(key, body, hashlib.sha256).hexdigest())


def matches(supplied: bytes | str | None, expected: str) -> bool:
    """Constant-time comparison of what a caller supplied with what proves it."""
    if supplied is None:
        return False
    given = supplied if isinstance(supplied, bytes) else supplied.encode("utf-8", "surrogateescape")
    return hmac.compare_digest(given, expected.encode())
