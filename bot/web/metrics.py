"""Encore's measurements as Prometheus metrics, served at `/metrics`, and what `/healthz` knows of the provider.

One registry per `PrometheusMetrics` (never prometheus-client's global one), so several bots can run in one test
process. The service reports through the `Metrics` protocol; HTTP latencies come from aiohttp trace hooks on the
provider's session and on discord.py's, labelled by route shape only (ids and interaction tokens never appear).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from types import SimpleNamespace

import aiohttp
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from yarl import URL

from bot.domain.models import TaskStatus
from bot.store import TaskStore

# (method, url, result: the HTTP status or the exception's name, seconds)
Observer = Callable[[str, URL, str, float], None]

# Path segments kept in Discord route labels; anything else (ids, tokens, emoji) becomes ":id".
DISCORD_ROUTE_WORDS = frozenset(
    {
        "@me",
        "@original",
        "applications",
        "callback",
        "channels",
        "commands",
        "gateway",
        "guilds",
        "interactions",
        "members",
        "messages",
        "oauth2",
        "reactions",
        "typing",
        "users",
        "webhooks",
    }
)
API_VERSION = re.compile(r"^/api/v\d+")


def discord_route(path: str) -> str:
    """`/api/v10/channels/123/messages` → `/channels/:id/messages`."""
    segments = API_VERSION.sub("", path).strip("/").split("/")
    return "/" + "/".join(segment if segment in DISCORD_ROUTE_WORDS else ":id" for segment in segments)


class PrometheusMetrics:
    """Counters and histograms of one bot process; implements the service's `Metrics` protocol."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self._submissions = Counter(
            "encore_submissions", "Submissions to the provider, by outcome", ["provider", "outcome"], registry=registry
        )
        self._polls = Counter(
            "encore_polls", "Poll requests to the provider, by outcome", ["provider", "outcome"], registry=registry
        )
        self._polled_tasks = Counter(
            "encore_polled_tasks", "Tasks covered by poll requests", ["provider", "outcome"], registry=registry
        )
        self._deliveries = Counter("encore_deliveries", "Result posts, by outcome", ["outcome"], registry=registry)
        self._delivery_seconds = Histogram(
            "encore_delivery_seconds",
            "Time to post a result (audio download and Discord upload)",
            ["outcome"],
            buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
            registry=registry,
        )
        self._rate_limit_waits = Histogram(
            "encore_rate_limit_wait_seconds",
            "Waits the submit loop scheduled for the provider's documented pace",
            ["provider"],
            buckets=(0.1, 0.5, 1, 2, 4, 8, 16, 60),
            registry=registry,
        )
        self._provider_seconds = Histogram(
            "encore_provider_request_seconds",
            "Provider HTTP requests, by endpoint and result",
            ["provider", "endpoint", "result"],
            registry=registry,
        )
        self._discord_seconds = Histogram(
            "encore_discord_request_seconds",
            "Discord REST requests, by route and result",
            ["method", "route", "result"],
            registry=registry,
        )
        self._whole_songs = Counter(
            "encore_whole_songs",
            "Whole songs started (claimed), posted or failed, by how they were asked for (button or auto)",
            ["outcome", "trigger"],
            registry=registry,
        )
        self._whole_song_seconds = Histogram(
            "encore_whole_song_seconds",
            "Time to build and post a whole song, by outcome",
            ["outcome"],
            buckets=(1, 2, 5, 10, 20, 30, 60, 120, 240),
            registry=registry,
        )
        self._whole_song_parts = Counter(
            "encore_whole_song_parts",
            "Parts of whole songs, by where their audio came from (cache or download)",
            ["source"],
            registry=registry,
        )
        self._tasks = Gauge("encore_tasks", "Tasks by status (read from the store)", ["status"], registry=registry)
        self._queue = Gauge("encore_queue_length", "Tasks waiting to be submitted", registry=registry)
        self._provider_up = Gauge(
            "encore_provider_up",
            "0 from a provider's cool-down (several failed calls in a row) until it answers again, else 1",
            ["provider"],
            registry=registry,
        )
        self._provider_cooldowns = Counter(
            "encore_provider_cooldowns", "Times a provider was skipped for a cool-down", ["provider"], registry=registry
        )
        # For /healthz: why the last provider request failed (a 5xx or a transport error), None if it did not.
        self.provider_error: str | None = None
        self.provider_seen = False

    def submitted(self, provider: str, outcome: str) -> None:
        self._submissions.labels(provider, outcome).inc()

    def polled(self, provider: str, outcome: str, tasks: int) -> None:
        self._polls.labels(provider, outcome).inc()
        self._polled_tasks.labels(provider, outcome).inc(tasks)

    def delivered(self, outcome: str, seconds: float) -> None:
        self._deliveries.labels(outcome).inc()
        self._delivery_seconds.labels(outcome).observe(seconds)

    def rate_limit_wait(self, provider: str, seconds: float) -> None:
        self._rate_limit_waits.labels(provider).observe(seconds)

    def provider_health(self, provider: str, *, up: bool) -> None:
        self._provider_up.labels(provider).set(1 if up else 0)
        if not up:
            self._provider_cooldowns.labels(provider).inc()

    def providers_configured(self, providers: Iterable[str]) -> None:
        """Show every configured provider as up from the start, so a dashboard sees each series."""
        for provider in providers:
            self._provider_up.labels(provider).set(1)
            self._provider_cooldowns.labels(provider)

    def whole_song(self, outcome: str, trigger: str, seconds: float | None = None) -> None:
        self._whole_songs.labels(outcome, trigger).inc()
        if seconds is not None:
            self._whole_song_seconds.labels(outcome).observe(seconds)

    def whole_song_part(self, source: str) -> None:
        self._whole_song_parts.labels(source).inc()

    @property
    def provider_state(self) -> str:
        """ "reachable", "unreachable" or "unknown" (no request yet), from the last provider request."""
        if not self.provider_seen:
            return "unknown"
        return "unreachable" if self.provider_error else "reachable"

    def provider_trace(self, provider: str, base_url: str) -> aiohttp.TraceConfig:
        """Times the session's requests to `base_url` (the session also downloads media: those are not counted)."""
        prefix = base_url.rstrip("/")

        def observe(method: str, url: URL, result: str, seconds: float) -> None:
            if not str(url).startswith(prefix):
                return
            self.provider_seen = True
            self.provider_error = None if result.isdigit() and int(result) < 500 else result
            endpoint = str(url.with_query(None)).removeprefix(prefix) or "/"
            self._provider_seconds.labels(provider, endpoint, result).observe(seconds)

        return _timing_trace(observe)

    def discord_trace(self) -> aiohttp.TraceConfig:
        """Times discord.py's REST requests (give it to the client as `http_trace`); the gateway is not REST."""

        def observe(method: str, url: URL, result: str, seconds: float) -> None:
            if API_VERSION.match(url.path):
                self._discord_seconds.labels(method, discord_route(url.path), result).observe(seconds)

        return _timing_trace(observe)

    async def render(self, store: TaskStore) -> bytes:
        """The exposition text, with the task gauges read from the store now."""
        counts = await store.task_counts()
        for status in TaskStatus:
            self._tasks.labels(status.value).set(counts.get(status, 0))
        self._queue.set(counts.get(TaskStatus.QUEUED, 0))
        return generate_latest(self.registry)


def _timing_trace(observe: Observer) -> aiohttp.TraceConfig:
    """An aiohttp trace that measures each request from its start to the response headers, or to its failure."""

    async def on_start(_: aiohttp.ClientSession, context: SimpleNamespace, __: aiohttp.TraceRequestStartParams) -> None:
        context.started = time.perf_counter()

    async def on_end(_: aiohttp.ClientSession, context: SimpleNamespace, params: aiohttp.TraceRequestEndParams) -> None:
        observe(params.method, params.url, str(params.response.status), time.perf_counter() - context.started)

    async def on_error(
        _: aiohttp.ClientSession, context: SimpleNamespace, params: aiohttp.TraceRequestExceptionParams
    ) -> None:
        result = type(params.exception).__name__
        observe(params.method, params.url, result, time.perf_counter() - context.started)

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_start)
    trace.on_request_end.append(on_end)
    trace.on_request_exception.append(on_error)
    return trace  # the session freezes it; until then others may observe the same requests
