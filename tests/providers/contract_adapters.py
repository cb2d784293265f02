"""How the provider contract suite drives each provider's fake: one small adapter per registry plug-in.

An adapter knows only its fake (how to start it, where its endpoints are, how it spells an extend, how its pushed
calls are proven) and what the provider legitimately lacks, stated as data the suite checks against the plug-in's
capabilities. Everything the suite asserts goes through the real client, built by the plug-in's own `create`.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from bot.config import PROVIDER_KEY_VARIABLES
from tests.fakes.apiframe_v2 import FakeApiframeV2, signature
from tests.fakes.providers import FakeApiframe, FakeProvider, FakeSunoApi, WebhookDelivery
from tests.fakes.suno_api import FakeSunoApiSelfHosted
from tests.fakes.sunoapi_org import FakeSunoApiOrg


@dataclass(frozen=True, slots=True)
class SentExtend:
    """What an extend's body named, in Encore's terms (None: the field was not sent)."""

    clip_id: Any
    continue_at: Any
    parent_task_id: Any = None
    model: Any = None


@dataclass(frozen=True, slots=True)
class PushedCall:
    """One POST to Encore's receiver: the path below the server's root, its headers, its raw body."""

    path: str
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class Forgery:
    """A pushed call that proves nothing, and the status Encore must refuse it with."""

    what: str
    call: PushedCall
    refused_with: int


class ContractAdapter(ABC):
    """One provider's fake as the contract suite needs it."""

    name: ClassVar[str]
    base_url_variable: ClassVar[str]
    # The endpoint a new song is submitted to, and the one a poll of `task_id` reads (a suffix of its path).
    generate_path: ClassVar[str]
    # What the provider legitimately does not do, said explicitly (the suite checks it against its capabilities).
    gives_durations: ClassVar[bool] = True
    sends_extend_model: ClassVar[bool] = True
    reads_credits: ClassVar[bool] = True
    pushes: ClassVar[bool] = False
    # Why the provider's rate-limit answer is not its fake's own window (None: the fake enforces it as documented).
    rate_limit_undocumented: ClassVar[str | None] = None
    # Why out-of-credits cannot be checked (None: the fake refuses a submission the account cannot pay for).
    out_of_credits_undocumented: ClassVar[str | None] = None

    @property
    def key_variable(self) -> str:
        return PROVIDER_KEY_VARIABLES[self.name]  # type: ignore[index]

    @abstractmethod
    def fake(self, key: str, *, credits: int = 1000, tight_submit_window: bool = False) -> FakeProvider:
        """The provider's fake (not started), taking `key`; `tight_submit_window` allows one submission an hour."""

    def env(self, fake: FakeProvider, key: str) -> dict[str, str]:
        """The environment that points the registry's plug-in at `fake` with `key`."""
        return {
            "DISCORD_TOKEN": "contract-token",
            "SUNO_PROVIDER": self.name,
            self.key_variable: key,
            self.base_url_variable: fake.base_url,
        }

    @abstractmethod
    def poll_path(self, task_id: str) -> str:
        """The path suffix a poll of `task_id` requests."""

    def clip_ids(self, fake: FakeProvider, task_id: str) -> list[str]:
        """The ids of the clips the fake made for the task."""
        return fake.tasks[task_id].clip_ids

    @abstractmethod
    def sent_extend(self, body: Mapping[str, Any]) -> SentExtend:
        """Read an extend's request body."""

    def malformed(self, fake: FakeProvider, task_id: str) -> None:
        """From now on answer polls of `task_id` with an answer of the right shape but wrong types."""
        fake.answer_raw(task_id, self.malformed_answer(task_id))

    @abstractmethod
    def malformed_answer(self, task_id: str) -> Any:
        """A poll answer about `task_id` whose fields have the wrong types."""

    def rate_limit_answer(self) -> Any:
        """The body of an injected HTTP 429, for a provider that documents none of its own."""
        return {}

    # pushed updates (only where `pushes`)

    def public_url(self, fake: FakeProvider, local_url: str) -> str:
        """PUBLIC_WEBHOOK_URL for a receiver at `local_url`, routing the fake's calls there if need be."""
        return local_url

    async def delivered(self, fake: FakeProvider, task_id: str) -> WebhookDelivery:
        """The fake's next finished push about `task_id`."""
        raise NotImplementedError(f"{self.name} pushes nothing")

    def forgeries(self, genuine: WebhookDelivery, other_task_id: str, public_url: str, key: str) -> list[Forgery]:
        """Calls claiming `other_task_id` finished as `genuine` says its task did, none of which proves anything."""
        raise NotImplementedError(f"{self.name} pushes nothing")


class SunoApiCoAdapter(ContractAdapter):
    """sunoapi.co: polled only, no credits endpoint, no uploads; its documented windows are enforced by its fake."""

    name = "sunoapi"
    base_url_variable = "SUNOAPI_BASE_URL"
    generate_path = "/suno/music/generate-music"
    sends_extend_model = False  # one fixed model (v3.5): an extend names none
    reads_credits = False
    out_of_credits_undocumented = "sunoapi.co documents no out-of-credits answer (only that a non-200 `code` fails)"

    def fake(self, key: str, *, credits: int = 1000, tight_submit_window: bool = False) -> FakeProvider:
        return FakeSunoApi(key, submit_interval=3600.0 if tight_submit_window else 0.2)

    def env(self, fake: FakeProvider, key: str) -> dict[str, str]:
        return {**super().env(fake, key), "SUNOAPI_SUBMIT_INTERVAL_SECONDS": "0.2"}

    def poll_path(self, task_id: str) -> str:
        return "/suno/music/get-task"

    def sent_extend(self, body: Mapping[str, Any]) -> SentExtend:
        return SentExtend(body.get("continue_clip_id"), body.get("continue_at"))

    def malformed_answer(self, task_id: str) -> Any:
        return {"code": 200, "task_id": task_id, "status": "complete", "clips": "two clips"}


class ApiframeAdapter(ContractAdapter):
    """apiframe v1: webhooks with the install's secret echoed back; no title or length per song."""

    name = "apiframe"
    base_url_variable = "APIFRAME_BASE_URL"
    generate_path = "/suno-imagine"
    gives_durations = False
    pushes = True
    rate_limit_undocumented = "apiframe documents no rate limit: a proxy's HTTP 429 is injected"

    def fake(self, key: str, *, credits: int = 1000, tight_submit_window: bool = False) -> FakeProvider:
        return FakeApiframe(key, credits=credits)

    def poll_path(self, task_id: str) -> str:
        return "/fetch"

    def sent_extend(self, body: Mapping[str, Any]) -> SentExtend:
        return SentExtend(body.get("song_id"), body.get("continue_at"), body.get("parent_task_id"), body.get("model"))

    def malformed_answer(self, task_id: str) -> Any:
        return {"task_id": task_id, "status": "finished", "songs": 2}

    async def delivered(self, fake: FakeProvider, task_id: str) -> WebhookDelivery:
        assert isinstance(fake, FakeApiframe)
        while (delivery := await fake.wait_for_webhook(task_id)).body.get("status") != "finished":
            pass
        return delivery

    def forgeries(self, genuine: WebhookDelivery, other_task_id: str, public_url: str, key: str) -> list[Forgery]:
        path = genuine.url.removeprefix(public_url)
        body = json.dumps({**genuine.body, "task_id": other_task_id}).encode()
        json_type = {"Content-Type": "application/json"}
        return [
            Forgery("no secret", PushedCall(path, json_type, body), 401),
            Forgery("a wrong secret", PushedCall(path, {**json_type, "x-webhook-secret": "guessed"}, body), 401),
        ]


class SunoApiOrgAdapter(ContractAdapter):
    """sunoapi.org: unsigned callbacks to a per-task URL; out of credits is `code` 429, slow down is 430."""

    name = "sunoapi_org"
    base_url_variable = "SUNOAPI_ORG_BASE_URL"
    generate_path = "/api/v1/generate"
    pushes = True

    def fake(self, key: str, *, credits: int = 1000, tight_submit_window: bool = False) -> FakeProvider:
        if tight_submit_window:
            return FakeSunoApiOrg(key, credits=credits, submit_limit=1, submit_window=3600.0)
        return FakeSunoApiOrg(key, credits=credits)

    def poll_path(self, task_id: str) -> str:
        return "/api/v1/generate/record-info"

    def sent_extend(self, body: Mapping[str, Any]) -> SentExtend:
        return SentExtend(body.get("audioId"), body.get("continueAt"), model=body.get("model"))

    def malformed_answer(self, task_id: str) -> Any:
        return {"taskId": task_id, "status": "SUCCESS", "response": ["not", "an", "object"]}

    async def delivered(self, fake: FakeProvider, task_id: str) -> WebhookDelivery:
        assert isinstance(fake, FakeSunoApiOrg)
        while (delivery := await fake.wait_for_callback(task_id)).body["data"].get("callbackType") != "complete":
            pass
        return delivery

    def forgeries(self, genuine: WebhookDelivery, other_task_id: str, public_url: str, key: str) -> list[Forgery]:
        path = genuine.url.removeprefix(public_url)
        prefix, task, token = path.rsplit("/", 2)
        body = json.dumps({**genuine.body, "data": {**genuine.body["data"], "task_id": other_task_id}}).encode()
        unsigned = ({"Content-Type": "application/json"}, body)
        return [
            # Taken, as every call at a task's URL is, but it only has this (finished) task polled: no change.
            Forgery("another task's update at this task's URL", PushedCall(path, *unsigned), 200),
            Forgery("a guessed token", PushedCall(f"{prefix}/{task}/{'0' * len(token)}", *unsigned), 401),
            Forgery(
                "this URL's token on another task",
                PushedCall(f"{prefix}/{int(task) + 1}/{token}", *unsigned),
                401,
            ),
        ]


class ApiframeV2Adapter(ContractAdapter):
    """apiframe v2: webhooks signed with the SHA-256 of the key, to an HTTPS URL only; extends inherit the model."""

    name = "apiframe_v2"
    base_url_variable = "APIFRAME_V2_BASE_URL"
    generate_path = "/v2/music/generate"
    sends_extend_model = False  # "Suno requires extends to use the same model": the parent job's
    pushes = True
    rate_limit_undocumented = "apiframe v2 documents no rate limit: a proxy's HTTP 429 is injected"
    PUBLIC: ClassVar[str] = "https://encore.example"

    def fake(self, key: str, *, credits: int = 1000, tight_submit_window: bool = False) -> FakeProvider:
        return FakeApiframeV2(key, credits=credits)

    def poll_path(self, task_id: str) -> str:
        return f"/v2/jobs/{task_id}"

    def sent_extend(self, body: Mapping[str, Any]) -> SentExtend:
        return SentExtend(body.get("trackId"), body.get("continueAt"), body.get("parentJobId"), body.get("model"))

    def malformed_answer(self, task_id: str) -> Any:
        return {"id": task_id, "status": "COMPLETED", "progress": 100, "result": {"tracks": {"id": "x"}}}

    def rate_limit_answer(self) -> Any:
        return {"error": "Too many requests"}

    def public_url(self, fake: FakeProvider, local_url: str) -> str:
        """apiframe v2 calls HTTPS URLs only: the fake routes them to the local receiver, as a TLS proxy would."""
        assert isinstance(fake, FakeApiframeV2)
        fake.route_webhooks(self.PUBLIC, local_url)
        return self.PUBLIC

    async def delivered(self, fake: FakeProvider, task_id: str) -> WebhookDelivery:
        assert isinstance(fake, FakeApiframeV2)
        return await fake.wait_for_webhook(task_id)

    def forgeries(self, genuine: WebhookDelivery, other_task_id: str, public_url: str, key: str) -> list[Forgery]:
        path = genuine.url.removeprefix(public_url)
        body = json.dumps({**genuine.body, "jobId": other_task_id}).encode()
        json_type = {"Content-Type": "application/json"}
        genuine_raw = json.dumps(genuine.body).encode()
        return [
            Forgery("no signature", PushedCall(path, json_type, body), 401),
            Forgery(
                "signed with another key",
                PushedCall(path, {**json_type, "X-Webhook-Signature": signature("guessed", body)}, body),
                401,
            ),
            Forgery(
                "the signature of another body",
                PushedCall(path, {**json_type, "X-Webhook-Signature": signature(key, genuine_raw)}, body),
                401,
            ),
        ]


class SunoApiSelfHostedAdapter(ContractAdapter):
    """A self-hosted suno-api behind a Bearer-key proxy: polled only, no uploads; the task is its clips' ids."""

    name = "suno_api"
    base_url_variable = "SUNO_API_BASE_URL"
    generate_path = "/api/custom_generate"
    rate_limit_undocumented = "suno-api documents no limits (the Suno account's own apply): a proxy's 429 is injected"

    def fake(self, key: str, *, credits: int = 1000, tight_submit_window: bool = False) -> FakeProvider:
        return FakeSunoApiSelfHosted(key, credits=credits)

    def poll_path(self, task_id: str) -> str:
        return "/api/get"

    def clip_ids(self, fake: FakeProvider, task_id: str) -> list[str]:
        return task_id.split(",")

    def sent_extend(self, body: Mapping[str, Any]) -> SentExtend:
        return SentExtend(body.get("audio_id"), body.get("continue_at"), model=body.get("model"))

    def malformed(self, fake: FakeProvider, task_id: str) -> None:
        """Each clip is polled on its own: every clip of the task answers wrongly."""
        for clip_id in self.clip_ids(fake, task_id):
            fake.answer_raw(clip_id, self.malformed_answer(clip_id))

    def malformed_answer(self, task_id: str) -> Any:
        return {"id": task_id, "status": ["complete"], "audio_url": 5}

    def rate_limit_answer(self) -> Any:
        return {"error": "Too many requests"}


ADAPTERS: dict[str, ContractAdapter] = {
    adapter.name: adapter
    for adapter in (
        SunoApiCoAdapter(),
        ApiframeAdapter(),
        SunoApiOrgAdapter(),
        ApiframeV2Adapter(),
        SunoApiSelfHostedAdapter(),
    )
}
