"""Encore's web server: `/healthz`, `/metrics` and the provider's webhook receivers, beside the Discord client.

It runs when `HTTP_PORT` is set (health and metrics for Docker, a service manager or Prometheus) or when
`PUBLIC_WEBHOOK_URL` is (the receivers; then on `WEBHOOK_PORT` unless `HTTP_PORT` says otherwise).

A provider that pushes updates brings its own routes (`WebhookRoute`: the path, how a call proves it comes from
the provider, how its body reads); this server mounts those of every configured provider, and hands each update
to the service as that provider's, so one provider's route can never touch another's tasks. Updates go to the task
service, which ignores duplicates and stale ones, so a result reaches Discord within a second of finishing instead
of at the next poll. Nothing here imports discord: the gateway state comes in as a callable.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from bot.config import HEALTH_PATH
from bot.domain.models import ProviderState
from bot.providers import ProviderAnswerMalformed, WebhookRoute, WebhookUnauthorized
from bot.service import TaskService
from bot.service.health import HealthReport
from bot.store import MetaStore
from bot.web.connections import CappedSite, ConnectionCap
from bot.web.metrics import PrometheusMetrics
from bot.web.pages import SongPages

log = logging.getLogger(__name__)

# A webhook body is one task's fetch result, a few kB: anything larger is refused (413) before it is read whole.
MAX_WEBHOOK_BYTES = 256 * 1024
# Refused calls are counted and logged as one summary line per this many seconds, so a flood cannot flood the log.
REFUSAL_LOG_SECONDS = 60.0
METRICS_PATH = "/metrics"
# A request (its head, and a webhook's body) must arrive within this, and an idle connection closes after it.
REQUEST_TIMEOUT_SECONDS = 10.0
MAX_CONNECTIONS = 256


def providers_health(report: list[HealthReport]) -> dict[str, Any]:
    """`/healthz`'s view of the providers: all up ("ok"), some skipped ("degraded"), or all skipped ("down")."""
    up = sum(1 for state in report if state.up)
    return {
        "providers": "ok" if up == len(report) else "down" if up == 0 else "degraded",
        "provider_health": {
            state.provider: {
                "state": "up" if state.up else "cooling down",
                "failures_in_a_row": state.failures,
                "retry_in_seconds": round(state.retry_in, 1),
                **({"last_error": state.last_error} if state.last_error else {}),
            }
            for state in report
        },
    }


def secret_meta_key(provider: str) -> str:
    """Where a provider's webhook secret is kept: apiframe's is the one earlier versions kept for the install."""
    return f"{provider}_webhook_secret"


async def webhook_secret(store: MetaStore, provider: str) -> str:
    """A provider's webhook secret: generated once, kept in the database, never logged.

    One per provider, because one provider sees its secret (apiframe v1 gets it in every submission, to echo it
    back): shared, it would let that provider forge another's callbacks, whose URLs carry tokens made with it.
    """
    key = secret_meta_key(provider)
    secret = await store.get_meta(key)
    if secret is None:
        secret = secrets.token_urlsafe(32)
        await store.set_meta(key, secret)
    return secret


class WebServer:
    """Serves `GET /healthz`, `GET /metrics` (when given metrics) and a POST receiver per webhook route of the
    service's providers (they have routes when built with a webhook secret)."""

    def __init__(
        self,
        service: TaskService,
        *,
        gateway_connected: Callable[[], bool],
        host: str,
        port: int,
        clock: Callable[[], float] = time.monotonic,
        metrics: PrometheusMetrics | None = None,
        pages: SongPages | None = None,
        max_connections: int = MAX_CONNECTIONS,
        request_timeout: float = REQUEST_TIMEOUT_SECONDS,
    ) -> None:
        self._service = service
        self._pages = pages
        self._connections = ConnectionCap(max_connections, clock)
        self._request_timeout = request_timeout
        self._metrics = metrics
        self._routes = [
            (name, route) for name, provider in service.providers.items() for route in provider.webhook_routes()
        ]
        self._clock = clock
        self._refused = 0
        self._refused_from: str | None = None
        self._refusals_logged_at: float | None = None
        self._gateway_connected = gateway_connected
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None

    @property
    def port(self) -> int:
        """The bound port (useful when configured as 0: any free port)."""
        if self._runner is None or not self._runner.addresses:
            raise RuntimeError("the webhook server is not running")
        return int(self._runner.addresses[0][1])

    async def start(self) -> None:
        app = web.Application(client_max_size=MAX_WEBHOOK_BYTES)
        app.router.add_get(HEALTH_PATH, self._health)
        if self._metrics is not None:
            app.router.add_get(METRICS_PATH, functools.partial(self._metrics_page, self._metrics))
        for provider, route in self._routes:
            app.router.add_post(route.path, functools.partial(self._receive, provider, route))
        if self._pages is not None:
            self._pages.register(app)
        # aiohttp closes a connection whose request has not arrived within its keep-alive timeout (counted from
        # the connection's start, or from the last answer), and stops reading a body nobody reads after lingering.
        self._runner = web.AppRunner(
            app,
            access_log=None,
            shutdown_timeout=2.0,
            keepalive_timeout=self._request_timeout,
            lingering_time=self._request_timeout,
        )
        await self._runner.setup()
        await CappedSite(self._runner, self._host, self._port, cap=self._connections).start()
        log.info(
            "web server listening on %s:%s (at most %d connections, %g s per request)",
            self._host,
            self.port,
            self._connections.limit,
            self._request_timeout,
        )

    async def stop(self) -> None:
        self._log_refusals(stopping=True)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _receive(self, provider: str, route: WebhookRoute, request: web.Request) -> web.Response:
        """Authenticate first (before the body is read), then read, verify a body signature before parsing, parse
        and hand the update on.

        Every answer is a small JSON one: 401 for a call that proves nothing, 413 for a body over
        `MAX_WEBHOOK_BYTES`, 408 for a body still incomplete after the request timeout, 400 for a body that is not
        JSON (or nested too deep) or not a task Encore can read, 404 for a task URL that reports on another task,
        200 otherwise. A route that confirms by polling has its task polled now instead (`_poll_now`).
        """
        try:
            bound = route.authenticate(request.match_info, request.raw_headers)
        except WebhookUnauthorized:
            return self._unauthorized(request)
        try:
            async with asyncio.timeout(self._request_timeout):
                raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return web.json_response({"error": f"the body is over {MAX_WEBHOOK_BYTES // 1024} kB"}, status=413)
        except TimeoutError:
            return web.json_response({"error": "the body did not arrive in time"}, status=408)
        except ConnectionError:  # the caller went away (or was closed to make room) mid-body: nobody to answer
            log.debug("webhook: the connection closed before its body arrived")
            return web.json_response({"error": "the connection closed mid-body"}, status=400)
        try:
            route.verify(raw, request.raw_headers)
        except WebhookUnauthorized:
            return self._unauthorized(request)
        if route.confirm_by_polling:
            return await self._poll_now(provider, route, bound, raw)
        try:
            body: Any = json.loads(raw)
        except (ValueError, RecursionError):  # not JSON (or not UTF-8), or nested deeper than Python parses
            return web.json_response({"error": "the body is not JSON"}, status=400)
        try:
            update = route.parse(body)
        except ProviderAnswerMalformed as error:
            log.debug("webhook refused: %s", error.message)
            return web.json_response({"error": f"not a task Encore can read: {error.message}"}, status=400)
        if bound is not None and not await self._service.is_provider_task(bound, update.task_id, provider):
            return web.json_response({"error": "no such task at this URL"}, status=404)
        applied = await self._service.apply_update(update.task_id, update, provider)
        log.debug("webhook for %s (%s): %s", update.task_id, update.raw_status, "applied" if applied else "ignored")
        return web.json_response({"applied": applied})

    async def _poll_now(self, provider: str, route: WebhookRoute, bound: int | None, raw: bytes) -> web.Response:
        """A call whose proof is only its URL: the URL's task is polled now, and its body read only for whether it
        says the task finished (then the task is polled at the usual pace until the answer says so too). Nothing
        in the body is applied, so a body Encore cannot read still has the task polled."""
        if bound is None:  # such a route names its task in its URL
            return web.json_response({"error": "no such task at this URL"}, status=404)
        try:
            said = route.parse(json.loads(raw)).state
        except (ValueError, RecursionError, ProviderAnswerMalformed):
            said = ProviderState.UNKNOWN
        finished = said in (ProviderState.SUCCEEDED, ProviderState.FAILED)
        polling = await self._service.poll_now(bound, provider, said_finished=finished)
        log.debug("call for task %s (says %s): %s", bound, said, "polling now" if polling else "not at the provider")
        return web.json_response({"polling": polling})

    def _unauthorized(self, request: web.Request) -> web.Response:
        """401 for a call that proves nothing (counted and logged in summary)."""
        self._refused += 1
        self._refused_from = request.remote
        self._log_refusals()
        return web.json_response({"error": "unauthorized"}, status=401)

    def _log_refusals(self, *, stopping: bool = False) -> None:
        """Log the refused calls counted so far, at most once per `REFUSAL_LOG_SECONDS`, and what is left at stop."""
        now = self._clock()
        due = self._refusals_logged_at is None or now - self._refusals_logged_at >= REFUSAL_LOG_SECONDS
        if self._refused and (due or stopping):
            log.warning(
                "webhook: refused %d call(s) with a missing or wrong secret in the last minute (latest from %s)",
                self._refused,
                self._refused_from,
            )
            self._refused, self._refusals_logged_at = 0, now

    async def _health(self, request: web.Request) -> web.Response:
        """200 when the database answers, the Discord gateway is connected and the loops run, else 503; JSON.

        The providers are reported (each one's state, and "providers": "ok", "degraded" when some are skipped for a
        cool-down, "down" when all are) but do not make Encore unhealthy: restarting the bot cannot fix them.
        """
        try:
            in_flight: int | None = await self._service.store.active_count()
        except Exception:  # any backend's failure (a closed connection, a locked file) means unavailable
            in_flight = None
        gateway = self._gateway_connected()
        loops = self._service.loops_state()
        healthy = in_flight is not None and gateway and loops != "stopped"
        body: dict[str, Any] = {
            "status": "ok" if healthy else "unhealthy",
            "database": "ok" if in_flight is not None else "unavailable",
            "gateway": "connected" if gateway else "disconnected",
            "tasks_in_flight": in_flight,
            "loops": loops,
            "provider": self._metrics.provider_state if self._metrics else "unknown",
            **providers_health(self._service.health.report()),
        }
        if self._metrics and self._metrics.provider_error:
            body["provider_error"] = self._metrics.provider_error
        return web.json_response(body, status=200 if healthy else 503)

    async def _metrics_page(self, metrics: PrometheusMetrics, request: web.Request) -> web.Response:
        """Prometheus' text format; the task gauges are read from the store at each scrape."""
        try:
            text = await metrics.render(self._service.store)
        except Exception:  # the database is down: /healthz says so; a scrape error keeps the series' gaps honest
            log.warning("/metrics: could not read the task counts from the store", exc_info=True)
            return web.Response(status=503, text="the database is unavailable\n")
        return web.Response(body=text, headers={"Content-Type": CONTENT_TYPE_LATEST})
