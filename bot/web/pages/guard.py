"""What keeps the pages cheap to serve: a per-address rate limit and a bound on requests in progress."""

from __future__ import annotations

import functools
import ipaddress
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence

from aiohttp import web

from bot.config import LOOPBACK, Network


class AddressLimiter:
    """A token bucket per client address: `burst` requests at once, then `rate` per second.

    At most `max_addresses` buckets are kept (the least recently seen go first), so a scan from many addresses
    cannot grow the table without bound.
    """

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        max_addresses: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._max = max_addresses
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def allow(self, address: str) -> float | None:
        """None when the request may go ahead, else the seconds until it would."""
        now = self._clock()
        tokens, last = self._buckets.pop(address, (self._burst, now))
        tokens = min(self._burst, tokens + (now - last) * self._rate)
        allowed = tokens >= 1.0
        self._buckets[address] = (tokens - 1.0 if allowed else tokens, now)
        while len(self._buckets) > self._max:
            self._buckets.popitem(last=False)
        return None if allowed else (1.0 - tokens) / self._rate


def client_address(request: web.Request, trusted_proxies: Sequence[Network] = LOOPBACK) -> str:
    """Who is asking: the peer, or, when the peer is a trusted proxy, the address it forwards for.

    `X-Forwarded-For` is read from the right, past every trusted proxy, to the first address no trusted proxy
    vouches for; anyone else's header is ignored, so a client cannot pick its own bucket.
    """
    peer = request.remote or ""
    if not _trusted(peer, trusted_proxies):
        return peer
    chain = [hop.strip() for hop in request.headers.get("X-Forwarded-For", "").split(",")]
    address = peer
    for hop in reversed([hop for hop in chain if hop]):
        address = hop[:64]
        if not _trusted(hop, trusted_proxies):
            break
    return address


def _trusted(address: str, trusted_proxies: Sequence[Network]) -> bool:
    ip = _parsed(address)
    return ip is not None and any(ip in network for network in trusted_proxies)


@functools.lru_cache(maxsize=4096)
def _parsed(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An address parsed once: parsing costs as much as the rest of the guard, and the same few addresses ask."""
    try:
        return ipaddress.ip_address(address)
    except ValueError:
        return None
