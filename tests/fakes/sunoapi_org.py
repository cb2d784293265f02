"""A strict in-process fake of the sunoapi.org contract (also served by kie.ai and api.box), with its callbacks.

It follows the "sunoapi.org and its resellers" section of /work/shared/PROVIDERS.md. Choices where the docs are
silent are stated here:

* every answer is HTTP 200 with `{code, msg, data}`; clients must judge by `code` (the docs do not give the HTTP
  status of an error);
* `vendor="sunoapi_org"`: 430 is "call frequency too high" and 429 "insufficient credits"; `vendor="kie"`: 429 is
  the rate limit and 402 "insufficient credits";
* auth is checked first, then the rate limit (only authenticated requests count; a refused one does not move
  the window), then the fields; a request the fields refuse (400, 413) still counted against the window;
* fields are typed strictly: booleans are JSON booleans, `continueAt` a JSON number; a field the page does not
  list is refused (400), so a client cannot rely on one being ignored;
* an extend names a clip this account made (`seed_clip` for one made on suno.com), with the model that made it
  ("Model version must be consistent with the source music"), and `0 < continueAt < its duration`;
* `record-info` of a task it never made answers code 400; `response` is null until tracks exist;
* callbacks are POSTed, unsigned, to each task's `callBackUrl` on every change to `TEXT_SUCCESS` ("text"),
  `FIRST_SUCCESS` ("first"), `SUCCESS` ("complete") and on failure (code 501), one worker, in order, 15 s timeout,
  no retries (kie.ai retries after minutes, which no test waits for).
"""

from __future__ import annotations

import io
import json
import math
import time
from collections import deque
from collections.abc import Sequence
from functools import partial
from typing import Any, ClassVar, Literal

from aiohttp import ClientError, ClientSession, ClientTimeout, web
from mutagen import MutagenError
from mutagen.mp3 import MP3

from tests.fakes.providers import (
    Clock,
    FakeProvider,
    FakeTask,
    RequestRecord,
    Step,
    StepLike,
    WebhookDelivery,
    _body,
    _duration,
)

Vendor = Literal["sunoapi_org", "kie"]
MODELS = ("V4", "V4_5", "V4_5PLUS", "V4_5ALL", "V5", "V5_5")
# Custom-mode limits per model (prompt = lyrics, style, title), from the generate page.
LIMITS: dict[str, tuple[int, int, int]] = {
    "V4": (3000, 200, 80),
    "V4_5": (5000, 1000, 100),
    "V4_5PLUS": (5000, 1000, 100),
    "V4_5ALL": (5000, 1000, 80),
    "V5": (5000, 1000, 100),
    "V5_5": (5000, 1000, 100),
}
DESCRIPTION_LIMIT = 500
EXTEND_FIELDS = frozenset(
    {
        "defaultParamFlag",
        "audioId",
        "model",
        "callBackUrl",
        "prompt",
        "style",
        "title",
        "continueAt",
        "negativeTags",
        "vocalGender",
        "styleWeight",
        "weirdnessConstraint",
        "audioWeight",
        "personaId",
    }
)
GENERATE_FIELDS = (EXTEND_FIELDS - {"defaultParamFlag", "audioId", "continueAt"}) | {"customMode", "instrumental"}
UPLOAD_EXTEND_FIELDS = (EXTEND_FIELDS - {"audioId"}) | {"uploadUrl", "instrumental"}
MAX_UPLOAD_SECONDS = 8 * 60
MAX_UPLOAD_BYTES = 32 * 1024 * 1024
# How record-info (camelCase) and callbacks (snake_case) spell a track's fields.
RECORD_KEYS = {
    "id": "id",
    "audio": "audioUrl",
    "source_audio": "sourceAudioUrl",
    "stream": "streamAudioUrl",
    "source_stream": "sourceStreamAudioUrl",
    "image": "imageUrl",
    "source_image": "sourceImageUrl",
    "prompt": "prompt",
    "model": "modelName",
    "title": "title",
    "tags": "tags",
    "created": "createTime",
    "duration": "duration",
}
CALLBACK_KEYS = {
    **RECORD_KEYS,
    "audio": "audio_url",
    "source_audio": "source_audio_url",
    "stream": "stream_audio_url",
    "source_stream": "source_stream_audio_url",
    "image": "image_url",
    "source_image": "source_image_url",
    "model": "model_name",
}
CALLBACK_TYPES = {"TEXT_SUCCESS": "text", "FIRST_SUCCESS": "first", "SUCCESS": "complete"}


class Refused(Exception):
    """A request the contract refuses: its `code` and `msg`."""

    def __init__(self, code: int, msg: str) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg


class FakeSunoApiOrg(FakeProvider):
    """Fake of the sunoapi.org contract: generate, extend, record-info, credit, and callbacks."""

    default_script = (Step("PENDING"), Step("TEXT_SUCCESS"), Step("FIRST_SUCCESS"), Step("SUCCESS"))
    failed_status = "GENERATE_AUDIO_FAILED"
    CREDITS_PER_SUBMIT: ClassVar[int] = 12

    def __init__(
        self,
        api_key: str = "test-key",
        *,
        vendor: Vendor = "sunoapi_org",
        script: Sequence[StepLike] | None = None,
        audio_size: int = 200_000,
        clock: Clock = time.monotonic,
        submit_limit: int = 20,
        submit_window: float = 10.0,
        polls_per_task: int = 3,
        poll_window: float = 1.0,
        credits: int = 1000,
        callback_timeout: float = 15.0,
    ) -> None:
        super().__init__(api_key, script=script, audio_size=audio_size, clock=clock)
        self.vendor = vendor
        self.rate_code = 430 if vendor == "sunoapi_org" else 429
        self.credits_code = 429 if vendor == "sunoapi_org" else 402
        self.submit_limit = submit_limit
        self.submit_window = submit_window
        self.polls_per_task = polls_per_task
        self.poll_window = poll_window
        self.credits = credits
        self.rate_limit_violations: list[tuple[str, float]] = []
        # clip id -> (model, duration) of every clip the account has
        self.clips: dict[str, tuple[str, float]] = {}
        self.uploads: list[str] = []  # every uploadUrl fetched for an upload-extend
        self._recent_submits: deque[float] = deque()
        self._recent_polls: dict[str, deque[float]] = {}
        self._callbacks = self._webhook_sender(timeout=callback_timeout)

    # callbacks

    @property
    def callbacks(self) -> list[WebhookDelivery]:
        """Every callback attempt, in delivery order."""
        return self._callbacks.delivered.items

    async def wait_for_callback(self, task_id: str | None = None, timeout: float = 10.0) -> WebhookDelivery:
        """The oldest finished callback (of `task_id`, if given) not yet returned by this method."""
        return await self._callbacks.take(task_id, timeout)

    def seed_clip(self, clip_id: str, *, model: str = "V5", duration: float = 180.0) -> None:
        """A song of this account made elsewhere (on suno.com): extends may name it."""
        self.clips[clip_id] = (model, duration)

    def callback_body(self, task: FakeTask) -> dict[str, Any]:
        """What the provider POSTs about `task` now (snake_case, unlike record-info)."""
        step = task.current
        if task.error is not None:
            return {"code": 501, "msg": task.error, "data": {"callbackType": "error", "task_id": task.task_id}}
        tracks = [self._callback_track(task, step, index, clip) for index, clip in enumerate(task.clip_ids)]
        kind = CALLBACK_TYPES.get(step.status, "text")
        return {"code": 200, "msg": "success", "data": {"callbackType": kind, "task_id": task.task_id, "data": tracks}}

    def _changed(self, task: FakeTask) -> None:
        if task.error is None and task.current.status not in CALLBACK_TYPES:
            return
        url = task.request.get("callBackUrl")
        if isinstance(url, str):
            self._callbacks.send(WebhookDelivery(task.task_id, url, self.callback_body(task), None))

    # the API

    def _routes(self) -> list[web.RouteDef]:
        return [
            web.post("/api/v1/generate", self._endpoint(partial(self._api, self._generate, submit=True))),
            web.post("/api/v1/generate/extend", self._endpoint(partial(self._api, self._extend, submit=True))),
            web.post(
                "/api/v1/generate/upload-extend", self._endpoint(partial(self._api, self._upload_extend, submit=True))
            ),
            web.get("/api/v1/generate/record-info", self._endpoint(partial(self._api, self._record, submit=False))),
            web.get("/api/v1/generate/credit", self._endpoint(partial(self._api, self._credit, submit=None))),
        ]

    async def _api(
        self, handler: Any, request: web.Request, record: RequestRecord, *, submit: bool | None
    ) -> web.Response:
        """Auth, the rate limit, then the handler; every answer is `{code, msg, data}`."""
        try:
            if request.headers.get("Authorization") != f"Bearer {self.api_key}":
                raise Refused(401, "You do not have access permissions")
            if submit is not None:
                self._pace(request, record, submit=submit)
            data = await handler(request, record)
        except Refused as refused:
            return web.json_response({"code": refused.code, "msg": refused.msg, "data": None})
        return web.json_response({"code": 200, "msg": "success", "data": data})

    def _pace(self, request: web.Request, record: RequestRecord, *, submit: bool) -> None:
        """20 new generation requests per 10 s per key; record-info 3 per second per task."""
        if submit:
            window, limit, recent = self.submit_window, self.submit_limit, self._recent_submits
        else:
            task_id = request.query.get("taskId", "")
            window, limit = self.poll_window, self.polls_per_task
            recent = self._recent_polls.setdefault(task_id, deque())
        while recent and record.time - recent[0] >= window:
            recent.popleft()
        if len(recent) >= limit:
            self.rate_limit_violations.append((request.path, record.time))
            raise Refused(self.rate_code, "Call frequency too high")
        recent.append(record.time)

    def _charge(self) -> None:
        if self.credits < self.CREDITS_PER_SUBMIT:
            raise Refused(self.credits_code, "Insufficient credits")
        self.credits -= self.CREDITS_PER_SUBMIT

    async def _generate(self, request: web.Request, record: RequestRecord) -> dict[str, Any]:
        body = _json_object(record)
        _only(body, GENERATE_FIELDS)
        custom, instrumental = _boolean(body, "customMode"), _boolean(body, "instrumental")
        model = _model(body)
        _callback_url(body)
        if custom:
            _custom_texts(body, model, prompt_required=not instrumental)
        else:
            _text(body, "prompt", DESCRIPTION_LIMIT)
            for name in ("style", "title"):
                if body.get(name) not in (None, ""):
                    raise Refused(400, f"{name} is only used in custom mode")
        self._charge()
        return {"taskId": self._make(record, "generate", body, model).task_id}

    async def _extend(self, request: web.Request, record: RequestRecord) -> dict[str, Any]:
        body = _json_object(record)
        _only(body, EXTEND_FIELDS)
        defaults = _boolean(body, "defaultParamFlag")
        audio_id = body.get("audioId")
        if not isinstance(audio_id, str) or not audio_id:
            raise Refused(400, "audioId is required")
        model = _model(body)
        _callback_url(body)
        source = self.clips.get(audio_id)
        if source is None:
            raise Refused(400, "audioId not found")
        if model != source[0]:
            raise Refused(400, "Model version must be consistent with the source music")
        if defaults:
            _custom_texts(body, model)
            _continue_at(self, body, source[1])
        self._charge()
        return {"taskId": self._make(record, "extend", body, model).task_id}

    async def _upload_extend(self, request: web.Request, record: RequestRecord) -> dict[str, Any]:
        """The track is fetched from `uploadUrl` (at most 8 minutes, read as an mp3) and extended like a clip."""
        body = _json_object(record)
        _only(body, UPLOAD_EXTEND_FIELDS)
        defaults, instrumental = _boolean(body, "defaultParamFlag"), _boolean(body, "instrumental")
        model = _model(body)
        _callback_url(body)
        url = body.get("uploadUrl")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise Refused(400, "uploadUrl is required and must be a URL")
        seconds = await _track_length(url)
        if seconds > MAX_UPLOAD_SECONDS:
            raise Refused(400, "the audio must be at most 8 minutes")
        if defaults:
            _custom_texts(body, model, prompt_required=not instrumental)
            _continue_at(self, body, seconds)
        self._charge()
        self.uploads.append(url)
        return {"taskId": self._make(record, "upload-extend", body, model).task_id}

    def _make(self, record: RequestRecord, kind: str, body: dict[str, Any], model: str) -> FakeTask:
        task = self._submit(kind, record.path, body)
        for clip_id in task.clip_ids:
            self.clips[clip_id] = (model, float(_duration(clip_id)))
        return task

    async def _record(self, request: web.Request, record: RequestRecord) -> dict[str, Any]:
        task_id = request.query.get("taskId", "")
        task = self.tasks.get(task_id)
        if task is None:
            raise Refused(400, "taskId not found")
        answer: dict[str, Any] = self._answer(task, partial(self._record_data, task))
        return answer

    def _record_data(self, task: FakeTask, step: Step) -> dict[str, Any]:
        tracks = [self._record_track(task, step, index, clip) for index, clip in enumerate(task.clip_ids)]
        return {
            "taskId": task.task_id,
            "parentMusicId": task.request.get("audioId", ""),
            "param": json.dumps(task.request),
            "response": {"taskId": task.task_id, "sunoData": tracks} if step.status != "PENDING" else None,
            "status": step.status,
            "type": "EXTEND" if task.kind == "extend" else "GENERATE",
            "errorCode": 501 if task.error else None,
            "errorMessage": task.error,
        }

    async def _credit(self, request: web.Request, record: RequestRecord) -> int:
        return self.credits

    # tracks

    def _track(self, task: FakeTask, step: Step, index: int, clip_id: str, keys: dict[str, str]) -> dict[str, Any]:
        """A track at `step`, spelled with `keys`: a stream from TEXT_SUCCESS, the first track final at
        FIRST_SUCCESS, all at SUCCESS."""
        final = step.status == "SUCCESS" or (step.status == "FIRST_SUCCESS" and index == 0)
        model, duration = self.clips.get(clip_id, (str(task.request.get("model")), 0.0))
        audio = self._final_audio_url(clip_id) if final else ""
        values = {
            "id": clip_id,
            "audio": audio,
            "source_audio": audio,
            "stream": self.preview_url(clip_id),
            "source_stream": self.preview_url(clip_id),
            "image": self._cover_url(clip_id),
            "source_image": self._cover_url(clip_id),
            "prompt": task.request.get("prompt") or "",
            "model": model,
            "title": task.request.get("title") or "Untitled",
            "tags": task.request.get("style") or "",
            "created": task.created_at,
            "duration": duration if final else None,
        }
        return {keys[name]: value for name, value in values.items()}

    def _record_track(self, task: FakeTask, step: Step, index: int, clip_id: str) -> dict[str, Any]:
        return self._track(task, step, index, clip_id, RECORD_KEYS)

    def _callback_track(self, task: FakeTask, step: Step, index: int, clip_id: str) -> dict[str, Any]:
        return self._track(task, step, index, clip_id, CALLBACK_KEYS)


def _json_object(record: RequestRecord) -> dict[str, Any]:
    if not isinstance(record.json, dict):
        raise Refused(400, "the body must be a JSON object")
    return _body(record)


def _only(body: dict[str, Any], allowed: frozenset[str]) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise Refused(400, f"unknown parameter {unknown[0]}")


def _boolean(body: dict[str, Any], name: str) -> bool:
    value = body.get(name)
    if not isinstance(value, bool):
        raise Refused(400, f"{name} is required and must be a boolean")
    return value


def _model(body: dict[str, Any]) -> str:
    model = body.get("model")
    if model not in MODELS:
        raise Refused(400, f"model must be one of {', '.join(MODELS)}")
    return str(model)


def _callback_url(body: dict[str, Any]) -> None:
    url = body.get("callBackUrl")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise Refused(400, "callBackUrl is required and must be a URL")


def _text(body: dict[str, Any], name: str, limit: int, *, required: bool = True) -> None:
    value = body.get(name)
    if value in (None, "") and not required:
        return
    if not isinstance(value, str) or not value.strip():
        raise Refused(400, f"{name} is required")
    if len(value) > limit:
        raise Refused(413, f"{name} is longer than {limit} characters")


def _custom_texts(body: dict[str, Any], model: str, *, prompt_required: bool = True) -> None:
    """The texts of custom mode (and of an extend with its own parameters), each within the model's limit."""
    prompt_limit, style_limit, title_limit = LIMITS[model]
    _text(body, "prompt", prompt_limit, required=prompt_required)
    _text(body, "style", style_limit)
    _text(body, "title", title_limit)


def _continue_at(fake: FakeSunoApiOrg, body: dict[str, Any], duration: float) -> None:
    """`continueAt`: a JSON number of seconds, above 0 and below the source's length."""
    at = body.get("continueAt")
    fake.continue_at_types.append(type(at).__name__)
    if not isinstance(at, int | float) or isinstance(at, bool) or not (math.isfinite(at) and 0 < at < duration):
        raise Refused(400, f"continueAt must be a number of seconds above 0 and below {duration:g}")


async def _track_length(url: str) -> float:
    """Fetch an uploaded track, as the provider does, and measure it; a refusal when it cannot be had or read."""
    try:
        async with ClientSession(timeout=ClientTimeout(total=10)) as session, session.get(url) as response:
            if response.status != 200:
                raise Refused(400, "uploadUrl could not be downloaded")
            audio = bytearray()
            async for chunk in response.content.iter_chunked(64 * 1024):
                audio += chunk
                if len(audio) > MAX_UPLOAD_BYTES:
                    raise Refused(400, "the audio file is too large")
    except (ClientError, TimeoutError):
        raise Refused(400, "uploadUrl could not be downloaded") from None
    try:
        return float(MP3(io.BytesIO(bytes(audio))).info.length)  # type: ignore[no-untyped-call, attr-defined]
    except MutagenError:
        raise Refused(400, "the audio could not be read") from None
