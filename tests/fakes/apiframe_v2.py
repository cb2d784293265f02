"""A strict in-process fake of apiframe's v2 music API, with the signed webhooks it sends.

It follows the "apiframe v2" section of /work/shared/PROVIDERS.md. Choices where the docs are silent are stated here:

* auth first: no `X-API-Key` is 401 "API key is required", an unknown one 401 "Invalid API key", a key made
  inactive (`inactive`) 403; every error is `{"error": "..."}`;
* fields are typed strictly and a field the page does not list is refused (400), so a client cannot rely on one
  being ignored: `model_version` is not an extend field (extends inherit the parent's model);
* `prompt` is 1–5000 characters; without `custom_mode` it is a description of at most 500 (400);
* an extend names a COMPLETED suno job (404 for an unknown one, 400 for one not completed) and exactly one of
  `index` (1 or 2) or `trackId` (one of that job's tracks); `continueAt` is a JSON number above 0 and below the
  track's duration, else 409;
* credits (11 per generate or extend) are checked after validation; too few is 402; a failed job refunds them;
* `GET /v2/me` answers `{"email", "credits", "plan"}` (the page shows the call, not the body);
* jobs move QUEUED → PROCESSING → COMPLETED, one step per poll; `webhookUrl` must be HTTPS (400 otherwise) and gets
  the events asked for (default completed and failed), signed: `X-Webhook-Signature` is the lowercase hex
  HMAC-SHA256 of the raw body under the lowercase hex SHA-256 of the API key; `X-Webhook-Event` names the event.
  A test can route the HTTPS URL to a local plain-HTTP receiver (`route_webhooks`), as a TLS proxy would.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import time
import urllib.parse
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any, ClassVar

from aiohttp import web

from tests.fakes.fields import Refused, boolean, json_object, only, text
from tests.fakes.providers import (
    Clock,
    FakeProvider,
    FakeTask,
    RequestRecord,
    Step,
    StepLike,
    WebhookDelivery,
    _duration,
)

MODELS = ("V4", "V4_5", "V4_5ALL", "V4_5PLUS", "V5", "V5_5")
DEFAULT_MODEL = "V4_5PLUS"
PROMPT_LIMIT, DESCRIPTION_LIMIT, TITLE_LIMIT, STYLE_LIMIT, NEGATIVE_LIMIT = 5000, 500, 80, 1000, 500
EVENTS = frozenset({"progress", "completed", "failed"})
DEFAULT_EVENTS = ("completed", "failed")
GENERATE_FIELDS = frozenset({"prompt", "model", "sunoParams", "webhookUrl", "webhookEvents"})
SUNO_PARAMS = frozenset(
    {
        "custom_mode",
        "instrumental",
        "model_version",
        "title",
        "style",
        "negative_tags",
        "vocal_gender",
        "style_weight",
        "weirdness_constraint",
        "auto_lyrics",
    }
)
ACTION_FIELDS = frozenset(
    {
        "parentJobId",
        "action",
        "index",
        "trackId",
        "continueAt",
        "prompt",
        "title",
        "style",
        "negative_tags",
        "webhookUrl",
        "webhookEvents",
    }
)
STATUS_PROGRESS = {"QUEUED": 0, "PROCESSING": 50, "COMPLETED": 100, "FAILED": 0}


def signature(api_key: str, body: bytes) -> str:
    """What apiframe v2 sends in `X-Webhook-Signature` for `body`."""
    key = hashlib.sha256(api_key.encode()).hexdigest().encode()
    return hmac.new(key, body, hashlib.sha256).hexdigest()


class FakeApiframeV2(FakeProvider):
    """Fake of apiframe v2: `/v2/music/generate`, `/v2/music/suno/action`, `/v2/jobs/:id`, `/v2/me`, webhooks."""

    default_script = (Step("QUEUED"), Step("PROCESSING", 50), Step("COMPLETED", 100))
    failed_status = "FAILED"
    CREDITS_PER_JOB: ClassVar[int] = 11

    def __init__(
        self,
        api_key: str = "afk_test-key",
        *,
        script: Sequence[StepLike] | None = None,
        audio_size: int = 200_000,
        clock: Clock = time.monotonic,
        credits: int = 1000,
    ) -> None:
        super().__init__(api_key, script=script, audio_size=audio_size, clock=clock)
        self.credits = credits
        self.inactive = False
        # track id -> (job id, model, duration) of every track the account's jobs made
        self.tracks: dict[str, tuple[str, str, float]] = {}
        self._webhook_routes: dict[str, str] = {}
        self._webhooks = self._webhook_sender(timeout=15, route=self._local)

    # webhooks

    def route_webhooks(self, public: str, local: str) -> None:
        """Deliver webhooks for URLs under `public` (https) to the same path under `local`: a TLS proxy's job."""
        self._webhook_routes[public.rstrip("/")] = local.rstrip("/")

    @property
    def webhooks(self) -> list[WebhookDelivery]:
        return self._webhooks.delivered.items

    async def wait_for_webhook(self, job_id: str | None = None, timeout: float = 10.0) -> WebhookDelivery:
        return await self._webhooks.take(job_id, timeout)

    def seed_job(self, *, model: str = "V5", durations: Sequence[float] = (180.0, 150.0)) -> FakeTask:
        """A completed generate job made elsewhere (on apiframe's dashboard): extends may name it."""
        task = self._create_task("seed", {"model": "suno", "sunoParams": {"model_version": model}})
        task.steps, task.index = [Step("COMPLETED", 100)], 0
        for clip_id, seconds in zip(task.clip_ids, durations, strict=False):
            self.tracks[clip_id] = (task.task_id, model, seconds)
        return task

    def webhook_body(self, task: FakeTask, event: str) -> dict[str, Any]:
        """What apiframe v2 POSTs about `task` for `event`."""
        job = self.job(task)
        body: dict[str, Any] = {"event": event, "jobId": task.task_id, "status": job["status"], "model": "suno"}
        if event == "completed":
            body |= {k: job[k] for k in ("progress", "result", "creditCost", "completedAt")}
        elif event == "failed":
            body["error"] = job["error"]
        else:
            body["progress"] = job["progress"]
        return body

    def _changed(self, task: FakeTask) -> None:
        url = task.request.get("webhookUrl")
        if not isinstance(url, str):
            return
        status = task.current.status
        event = {"COMPLETED": "completed", "FAILED": "failed"}.get(status, "progress")
        if task.error is not None:
            event = "failed"
        if event not in task.request.get("webhookEvents", DEFAULT_EVENTS):
            return
        raw = json.dumps(self.webhook_body(task, event)).encode()
        headers = {"X-Webhook-Signature": signature(self.api_key, raw), "X-Webhook-Event": event}
        delivery = WebhookDelivery(task.task_id, url, json.loads(raw), None)
        self._webhooks.send(delivery, raw=raw, headers=headers)

    def _local(self, url: str) -> str:
        for public, local in self._webhook_routes.items():
            if url.startswith(public):
                return local + url[len(public) :]
        return url

    # the API

    def _routes(self) -> list[web.RouteDef]:
        return [
            web.post("/v2/music/generate", self._endpoint(partial(self._api, self._generate))),
            web.post("/v2/music/suno/action", self._endpoint(partial(self._api, self._action))),
            web.get("/v2/jobs/{job_id}", self._endpoint(partial(self._api, self._job))),
            web.get("/v2/me", self._endpoint(partial(self._api, self._me))),
        ]

    async def _api(self, handler: Any, request: web.Request, record: RequestRecord) -> web.Response:
        try:
            key = request.headers.get("X-API-Key")
            if not key:
                raise Refused(401, "API key is required")
            if key != self.api_key:
                raise Refused(401, "Invalid API key")
            if self.inactive:
                raise Refused(403, "API key is inactive")
            status, data = await handler(request, record)
        except Refused as refused:
            return web.json_response({"error": refused.error}, status=refused.status)
        return web.json_response(data, status=status)

    def _charge(self) -> None:
        if self.credits < self.CREDITS_PER_JOB:
            raise Refused(402, "Insufficient credits")
        self.credits -= self.CREDITS_PER_JOB

    async def _generate(self, request: web.Request, record: RequestRecord) -> tuple[int, Any]:
        body = json_object(record.json)
        only(body, GENERATE_FIELDS)
        if body.get("model") != "suno":
            raise Refused(400, "model must be suno")
        params = json_object(body.get("sunoParams", {}), "sunoParams")
        only(params, SUNO_PARAMS)
        custom = boolean(params, "custom_mode")
        boolean(params, "instrumental")
        version = params.get("model_version", DEFAULT_MODEL)
        if version not in MODELS:
            raise Refused(400, f"model_version must be one of {', '.join(MODELS)}")
        text(body, "prompt", PROMPT_LIMIT if custom else DESCRIPTION_LIMIT, required=True)
        text(params, "title", TITLE_LIMIT)
        text(params, "style", STYLE_LIMIT)
        text(params, "negative_tags", NEGATIVE_LIMIT)
        if params.get("vocal_gender") not in (None, "m", "f"):
            raise Refused(400, "vocal_gender must be m or f")
        _webhook(body)
        self._charge()
        task = self._submit("generate", record.path, body)
        for clip_id in task.clip_ids:
            self.tracks[clip_id] = (task.task_id, str(version), float(_duration(clip_id)))
        return 202, {"jobId": task.task_id, "status": "QUEUED"}

    async def _action(self, request: web.Request, record: RequestRecord) -> tuple[int, Any]:
        body = json_object(record.json)
        only(body, ACTION_FIELDS)
        if body.get("action") != "extend":
            raise Refused(400, "action must be one of extend, cover, add_vocals, stems")
        parent_id = body.get("parentJobId")
        if not isinstance(parent_id, str) or not parent_id:
            raise Refused(400, "parentJobId is required")
        parent = self.tasks.get(parent_id)
        if parent is None:
            raise Refused(404, "Parent job not found")
        if parent.current.status != "COMPLETED" or parent.error is not None:
            raise Refused(400, "Parent job is not completed")
        if ("index" in body) == ("trackId" in body):
            raise Refused(400, "Give exactly one of index or trackId")
        if "index" in body:
            index = body["index"]
            if index not in (1, 2) or isinstance(index, bool):
                raise Refused(400, "index must be 1 or 2")
            track_id = parent.clip_ids[index - 1]
        else:
            track_id = body["trackId"]
            if not isinstance(track_id, str) or track_id not in parent.clip_ids:
                raise Refused(400, "trackId is not a track of the parent job")
        text(body, "prompt", PROMPT_LIMIT)
        text(body, "title", TITLE_LIMIT)
        text(body, "style", STYLE_LIMIT)
        text(body, "negative_tags", NEGATIVE_LIMIT)
        _webhook(body)
        _, model, duration = self.tracks[track_id]
        if "continueAt" in body:
            at = body["continueAt"]
            self.continue_at_types.append(type(at).__name__)
            if not isinstance(at, int | float) or isinstance(at, bool) or not math.isfinite(at) or at <= 0:
                raise Refused(400, "continueAt must be a positive number of seconds")
            if at >= duration:
                raise Refused(409, f"continueAt {at:g} is past the end of the track ({duration:g} s)")
        self._charge()
        task = self._submit("extend", record.path, body)
        for clip_id in task.clip_ids:
            self.tracks[clip_id] = (task.task_id, model, float(_duration(clip_id)))
        return 202, {"jobId": task.task_id, "status": "QUEUED"}

    async def _job(self, request: web.Request, record: RequestRecord) -> tuple[int, Any]:
        task = self.tasks.get(request.match_info["job_id"])
        if task is None:
            raise Refused(404, "Job not found")
        return 200, self._answer(task, lambda step: self.job(task, step))

    async def _me(self, request: web.Request, record: RequestRecord) -> tuple[int, Any]:
        return 200, {"email": "operator@example.com", "credits": self.credits, "plan": "pro"}

    def fail(self, task_id: str, message: str = "generation failed") -> None:
        """Fail the job and refund its credits, as the page says."""
        self.credits += self.CREDITS_PER_JOB
        super().fail(task_id, message)

    def job(self, task: FakeTask, step: Step | None = None) -> dict[str, Any]:
        """`GET /v2/jobs/:id`'s answer about `task` at `step` (its current one by default)."""
        step = step or task.current
        status = "FAILED" if task.error is not None else step.status
        completed = status == "COMPLETED"
        tracks = [self._track(clip_id) for clip_id in task.clip_ids] if completed else None
        done_at = datetime.now(UTC).isoformat(timespec="milliseconds") if status in ("COMPLETED", "FAILED") else None
        return {
            "id": task.task_id,
            "status": status,
            "model": "suno",
            "progress": step.percentage if step.percentage is not None else STATUS_PROGRESS.get(status, 0),
            "result": {"tracks": tracks} if tracks is not None else None,
            "error": task.error,
            "creditCost": self.CREDITS_PER_JOB,
            "webhookStatus": None,
            "createdAt": task.created_at,
            "completedAt": done_at,
        }

    def _track(self, clip_id: str) -> dict[str, Any]:
        job_id, _, duration = self.tracks.get(clip_id, ("", "", 0.0))
        return {
            "id": clip_id,
            "audioUrl": self._final_audio_url(clip_id),
            "imageUrl": self._cover_url(clip_id),
            "title": str(self.tasks[job_id].request.get("sunoParams", {}).get("title") or "Untitled")
            if job_id in self.tasks
            else "Untitled",
            "tags": "",
            "duration": duration,
        }


def _webhook(body: dict[str, Any]) -> None:
    url = body.get("webhookUrl")
    if url is not None and (not isinstance(url, str) or urllib.parse.urlsplit(url).scheme != "https"):
        raise Refused(400, "webhookUrl must be an HTTPS URL")
    events = body.get("webhookEvents")
    if events is not None and (
        not isinstance(events, list) or not events or not all(isinstance(e, str) and e in EVENTS for e in events)
    ):
        raise Refused(400, "webhookEvents must be a list of progress, completed, failed")
