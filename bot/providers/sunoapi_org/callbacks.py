"""sunoapi.org's callbacks: unsigned, so the URL is the proof. Each task is given its own unguessable URL, and a
call is taken only at the URL of the task it reports on. A URL is a weak secret (a reverse proxy logs it), so a
call only says "look now": Encore polls the task with its key and applies what the API answers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.domain.models import ProviderTask
from bot.providers.sunoapi_org.tasks import parse_callback
from bot.providers.webhooks import RawHeaders, WebhookRoute, WebhookUnauthorized, matches, task_token

NAME = "sunoapi_org"
CALLBACK_PREFIX = f"/webhooks/{NAME}"


def callback_path(secret: str, task_id: int) -> str:
    """The path of Encore's task `task_id`'s callback URL, below PUBLIC_WEBHOOK_URL."""
    return f"{CALLBACK_PREFIX}/{task_id}/{task_token(secret, NAME, task_id)}"


class SunoApiOrgCallbacks(WebhookRoute):
    """`POST /webhooks/sunoapi_org/{task}/{token}`: the token must be the task's own (HMAC under the install's
    secret, compared in constant time); the call then has that task polled now (`confirm_by_polling`)."""

    path = CALLBACK_PREFIX + "/{task}/{token}"
    confirm_by_polling = True

    def __init__(self, secret: str) -> None:
        self._secret = secret

    def authenticate(self, parameters: Mapping[str, str], headers: RawHeaders) -> int | None:
        task = parameters.get("task", "")
        if not (task.isascii() and task.isdigit() and len(task) <= 18):
            raise WebhookUnauthorized("not a task's callback URL")
        if not matches(parameters.get("token"), task_token(self._secret, NAME, int(task))):
            raise WebhookUnauthorized("a wrong callback token")
        return int(task)

    def parse(self, body: Any) -> ProviderTask:
        return parse_callback(body)
