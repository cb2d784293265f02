"""apiframe v2's signed webhooks: `X-Webhook-Signature` is the HMAC-SHA256 of the raw body under the SHA-256 of the
API key, checked in constant time before the body is parsed."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from bot.domain.models import ProviderTask
from bot.providers.apiframe_v2.jobs import parse_job
from bot.providers.webhooks import RawHeaders, WebhookRoute, WebhookUnauthorized, signature_matches, single_header

# Where Encore's receiver takes apiframe v2's webhook calls, below PUBLIC_WEBHOOK_URL.
WEBHOOK_PATH = "/webhooks/apiframe_v2"
SIGNATURE_HEADER = b"x-webhook-signature"


def signing_key(api_key: str) -> bytes:
    """The documented signing key, the SHA-256 of the API key, taken as its lowercase hex (the common Node form:
    the encoding is not shown in what was read)."""
    return hashlib.sha256(api_key.encode()).hexdigest().encode()


class ApiframeV2Webhook(WebhookRoute):
    """`POST /webhooks/apiframe_v2`: exactly one `X-Webhook-Signature`, the lowercase hex HMAC of the raw body."""

    path = WEBHOOK_PATH

    def __init__(self, api_key: str) -> None:
        self._key = signing_key(api_key)

    def authenticate(self, parameters: Mapping[str, str], headers: RawHeaders) -> int | None:
        if single_header(headers, SIGNATURE_HEADER) is None:
            raise WebhookUnauthorized("a missing or repeated X-Webhook-Signature")
        return None

    def verify(self, body: bytes, headers: RawHeaders) -> None:
        if not signature_matches(single_header(headers, SIGNATURE_HEADER), self._key, body):
            raise WebhookUnauthorized("a wrong X-Webhook-Signature")

    def parse(self, body: Any) -> ProviderTask:
        return parse_job(body, id_key="jobId")
