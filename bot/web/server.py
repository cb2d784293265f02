"""apiframe's webhook receiver and `/healthz`: a small aiohttp server that runs beside the Discord client.

apiframe POSTs every status change of a task (body = its fetch result) to the URL Encore submitted it with, and
echoes the install's secret in `x-webhook-secret`. Updates go to the task service, which ignores duplicates and
stale ones, so a result reaches Discord within a second of finishing instead of at the next poll.
Nothing here imports discord: the gateway state comes in as a callable.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Callable
from typing import Any

from aiohttp import web

from bot.providers.apiframe import APIFRAME_WEBHOOK_PATH, parse_task
from bot.service import TaskService
from bot.store import MetaStore

log = logging.getLogger(__name__)

SECRET_META_KEY = "apiframe_webhook_secret"
HEALTH_PATH = "/healthz"


async def webhook_secret(store: MetaStore) -> str:
    """This install's webhook secret: generated once, kept in the database, never logged."""
    secret = await store.get_meta(SECRET_META_KEY)
    if secret is None:
        secret = secrets.token_urlsafe(32)
        await store.set_meta(SECRET_META_KEY, secret)
    return secret


class WebhookServer:
    """Serves `POST /webhooks/apiframe` (when a secret is given) and `GET /healthz`."""

    def __init__(
        self,
        service: TaskService,
        *,
        secret: str | None,
        gateway_connected: Callable[[], bool],
        host: str,
        port: int,
    ) -> None:
        self._service = service
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
        if self._secret is not None:
            app.router.add_post(APIFRAME_WEBHOOK_PATH, self._apiframe_update)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, self._host, self._port).start()
        log.info("webhook and health server listening on %s:%s", self._host, self.port)

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
        """200 when the database answers and the Discord gateway is connected, else 503; JSON either way."""
        try:
            in_flight: int | None = await self._service.store.active_count()
        except Exception:  # any backend's failure (a closed connection, a locked file) means unavailable
            in_flight = None
        gateway = self._gateway_connected()
        healthy = in_flight is not None and gateway
        return web.json_response(
            {
                "status": "ok" if healthy else "unhealthy",
                "database": "ok" if in_flight is not None else "unavailable",
                "gateway": "connected" if gateway else "disconnected",
                "tasks_in_flight": in_flight,
            },
            status=200 if healthy else 503,
        )
