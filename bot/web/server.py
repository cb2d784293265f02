"""Encore's web server: `/healthz`, `/metrics` and apiframe's webhook receiver, beside the Discord client.

It runs when `HTTP_PORT` is set (health and metrics for Docker, a service manager or Prometheus) or when
`PUBLIC_WEBHOOK_URL` is (the receiver; then on `WEBHOOK_PORT` unless `HTTP_PORT` says otherwise).

apiframe POSTs every status change of a task (body = its fetch result) to the URL Encore submitted it with, and
echoes the install's secret in `x-webhook-secret`. Updates go to the task service, which ignores duplicates and
stale ones, so a result reaches Discord within a second of finishing instead of at the next poll.
Nothing here imports discord: the gateway state comes in as a callable.
"""

from __future__ import annotations

import functools
import hmac
import logging
import secrets
from collections.abc import Callable
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from bot.providers.apiframe import APIFRAME_WEBHOOK_PATH, parse_task
from bot.service import TaskService
from bot.store import MetaStore
from bot.web.metrics import PrometheusMetrics

log = logging.getLogger(__name__)

SECRET_META_KEY = "apiframe_webhook_secret"
HEALTH_PATH = "/healthz"
METRICS_PATH = "/metrics"


async def webhook_secret(store: MetaStore) -> str:
    """This install's webhook secret: generated once, kept in the database, never logged."""
    secret = await store.get_meta(SECRET_META_KEY)
    if secret is None:
        secret = secrets.token_urlsafe(32)
        await store.set_meta(SECRET_META_KEY, secret)
    return secret


class WebhookServer:
    """Serves `GET /healthz`, `GET /metrics` (when given metrics) and `POST /webhooks/apiframe` (given a secret)."""

    def __init__(
        self,
        service: TaskService,
        *,
        secret: str | None,
        gateway_connected: Callable[[], bool],
        host: str,
        port: int,
        metrics: PrometheusMetrics | None = None,
    ) -> None:
        self._service = service
        self._metrics = metrics
        self._secret = secret.encode() if secret else None
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
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_get(HEALTH_PATH, self._health)
        if self._metrics is not None:
            app.router.add_get(METRICS_PATH, functools.partial(self._metrics_page, self._metrics))
        if self._secret is not None:
            app.router.add_post(APIFRAME_WEBHOOK_PATH, self._apiframe_update)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, self._host, self._port).start()
        log.info("web server listening on %s:%s", self._host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _apiframe_update(self, request: web.Request) -> web.Response:
        """Check the secret in constant time, then hand the update to the task service."""
        supplied = request.headers.get("x-webhook-secret", "").encode()
        if self._secret is None or not hmac.compare_digest(supplied, self._secret):
            log.warning("webhook refused: missing or wrong x-webhook-secret from %s", request.remote)
            return web.json_response({"error": "unauthorized"}, status=401)
        try:
            body: Any = await request.json()
        except ValueError:
            return web.json_response({"error": "the body is not JSON"}, status=400)
        if not isinstance(body, dict) or not body.get("task_id"):
            return web.json_response({"error": "no task_id"}, status=400)
        update = parse_task(body)
        applied = await self._service.apply_update(update.task_id, update)
        log.debug("webhook for %s (%s): %s", update.task_id, update.raw_status, "applied" if applied else "ignored")
        return web.json_response({"applied": applied})

    async def _health(self, request: web.Request) -> web.Response:
        """200 when the database answers, the Discord gateway is connected and the loops run, else 503; JSON.

        The provider is reported but does not make Encore unhealthy: restarting the bot cannot fix it.
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
