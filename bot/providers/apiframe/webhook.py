"""apiframe's webhook: every status change of a task, POSTed with the install's secret echoed verbatim."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.domain.models import ProviderTask
from bot.providers.apiframe.tasks import parse_task
from bot.providers.webhooks import RawHeaders, WebhookRoute, WebhookUnauthorized, matches, single_header

# Where Encore's receiver takes apiframe's webhook calls, below PUBLIC_WEBHOOK_URL.
APIFRAME_WEBHOOK_PATH = "/webhooks/apiframe"
SECRET_HEADER = b"x-webhook-secret"


class ApiframeWebhook(WebhookRoute):
    """`POST /webhooks/apiframe`: exactly one `x-webhook-secret` equal to the secret (not an HMAC: apiframe echoes
    the secret it was given), compared in constant time; the body is a fetch result."""

    path = APIFRAME_WEBHOOK_PATH

    def __init__(self, secret: str) -> None:
        self._secret = secret

    def authenticate(self, parameters: Mapping[str, str], headers: RawHeaders) -> int | None:
        if not matches(single_header(headers, SECRET_HEADER), self._secret):
            raise WebhookUnauthorized("a missing or wrong x-webhook-secret")
        return None

    def parse(self, body: Any) -> ProviderTask:
        return parse_task(body)
