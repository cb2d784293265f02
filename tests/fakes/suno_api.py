"""A strict in-process fake of a self-hosted gcui-art/suno-api (at a2e6a82), optionally behind a Bearer-key proxy.

It follows "A self-hosted suno-api" in /work/shared/PROVIDERS.md. Choices where the docs are silent are stated here:

* with `proxy_key` set, a request without `Authorization: Bearer <proxy_key>` is 401 `{"error": "Unauthorized"}`
  (the proxy's answer); suno-api itself checks nothing;
* a submission answers HTTP 200 with a list of two clips (the mapped `AudioInfo`, `status` "submitted"); errors are
  `{"error": "..."}` with 400 for bad input, 402 when the account is out of credits (Suno's own status passed on),
  503 while Suno is unreachable (`suno_down`), 500 otherwise;
* fields are typed as suno-api passes them to Suno: strings for text, booleans for the flags, `continue_at` a JSON
  number of seconds (Suno's field); a field the route does not read is refused (400) so a client cannot rely on it;
* `model` is one of Suno's names; an extend names a clip of this account (`seed_clip` for one made on suno.com),
  from a point above 0 and below its duration (Suno refuses others: 400);
* `GET /api/get?ids=a,b` answers the clips it knows, in the order asked, unknown ids left out; each poll of a clip
  moves it one step: submitted → queued → streaming (audio_url the live preview) → complete (the final mp3);
* `GET /api/get_limit` → `{credits_left, period, monthly_limit, monthly_usage}`; each submission costs 10 credits
  (Suno's own price) and is refused (402) with fewer left;
* `POST /api/concat {clip_id}` answers Suno's raw clip object of the whole song of the chain ending at that clip,
  a new clip polled like the others (`concat_supported=False` answers 404, as an instance without the route).
"""

from __future__ import annotations

import math
import time
import urllib.parse
import uuid
from collections.abc import Sequence
from functools import partial
from typing import Any, ClassVar

from aiohttp import web

from tests.fakes.fields import Refused, boolean, json_object, only, text
from tests.fakes.providers import Clock, FakeProvider, FakeTask, RequestRecord, Step, StepLike, _duration

MODELS = ("chirp-fenix", "chirp-crow", "chirp-bluejay", "chirp-auk", "chirp-v4", "chirp-v3-5")
DEFAULT_MODEL = "chirp-v3-5"
EXTEND_FIELDS = frozenset(
    {"audio_id", "prompt", "continue_at", "tags", "negative_tags", "title", "model", "wait_audio"}
)
CUSTOM_FIELDS = frozenset({"prompt", "tags", "title", "make_instrumental", "model", "wait_audio", "negative_tags"})
DESCRIBE_FIELDS = frozenset({"prompt", "make_instrumental", "model", "wait_audio"})
# Suno's text limits (custom mode), per family: lyrics, tags, title.
OLDER = (3000, 200, 80)
NEWER = (5000, 1000, 100)
LIMITS = {model: OLDER if model in ("chirp-v4", "chirp-v3-5") else NEWER for model in MODELS}
DESCRIPTION_LIMIT = 500


class FakeSunoApiSelfHosted(FakeProvider):
    """Fake of suno-api: every clip is its own task here; a submission creates two."""

    default_script = (Step("submitted"), Step("queued"), Step("streaming"), Step("complete"))
    failed_status = "error"
    CREDITS_PER_SUBMIT: ClassVar[int] = 10

    def __init__(
        self,
        proxy_key: str = "",
        *,
        script: Sequence[StepLike] | None = None,
        audio_size: int = 200_000,
        clock: Clock = time.monotonic,
        credits: int = 500,
        concat_supported: bool = True,
    ) -> None:
        super().__init__(proxy_key, script=script, audio_size=audio_size, clock=clock)
        self.credits = credits
        self.suno_down = False
        self.concat_supported = concat_supported
        # clip id -> (model, duration, the clip it extends and from where, or None)
        self.clips: dict[str, tuple[str, float, tuple[str, float] | None]] = {}

    def seed_clip(self, clip_id: str, *, model: str = "chirp-crow", duration: float = 180.0) -> None:
        """A finished song of this account made on suno.com: extends may name it."""
        task = self._create_task("seed", {}, clip_ids=[clip_id], steps=[Step("complete")], task_id=clip_id)
        task.held = True
        self.clips[clip_id] = (model, duration, None)

    # A task id here is Encore's: the clip ids of one submission, joined by commas; each clip moves on its own.

    def advance(self, task_id: str) -> None:
        for clip_id in task_id.split(","):
            super().advance(clip_id)

    def finish(self, task_id: str) -> None:
        for clip_id in task_id.split(","):
            super().finish(clip_id)

    def fail(self, task_id: str, message: str = "generation failed") -> None:
        for clip_id in task_id.split(","):
            super().fail(clip_id, message)

    # the API

    def _routes(self) -> list[web.RouteDef]:
        return [
            web.post("/api/extend_audio", self._endpoint(partial(self._api, self._extend))),
            web.post("/api/custom_generate", self._endpoint(partial(self._api, self._custom))),
            web.post("/api/generate", self._endpoint(partial(self._api, self._describe))),
            web.get("/api/get", self._endpoint(partial(self._api, self._get))),
            web.get("/api/get_limit", self._endpoint(partial(self._api, self._limit))),
            web.post("/api/concat", self._endpoint(partial(self._api, self._concat))),
        ]

    async def _api(self, handler: Any, request: web.Request, record: RequestRecord) -> web.Response:
        try:
            if self.api_key and request.headers.get("Authorization") != f"Bearer {self.api_key}":
                raise Refused(401, "Unauthorized")
            if self.suno_down:
                raise Refused(503, "Suno is unreachable")
            data = await handler(request, record)
        except Refused as refused:
            return web.json_response({"error": refused.error}, status=refused.status)
        return web.json_response(data)

    async def _extend(self, request: web.Request, record: RequestRecord) -> Any:
        body = json_object(record.json)
        only(body, EXTEND_FIELDS)
        audio_id = body.get("audio_id")
        if not isinstance(audio_id, str) or not audio_id:
            raise Refused(400, "Audio ID is required")
        model = _model(body)
        source = self.clips.get(audio_id)
        if source is None or self._task(audio_id).current.status != "complete":
            raise Refused(400, "The clip to extend is not a finished clip of this account")
        lyrics, tags, title = LIMITS[model]
        text(body, "prompt", lyrics)
        text(body, "tags", tags)
        text(body, "negative_tags", tags)
        text(body, "title", title)
        boolean(body, "wait_audio")
        at = body.get("continue_at")
        self.continue_at_types.append(type(at).__name__)
        if not isinstance(at, int | float) or isinstance(at, bool) or not math.isfinite(at) or not 0 < at < source[1]:
            raise Refused(400, f"continue_at must be a number of seconds above 0 and below {source[1]:g}")
        return self._make(record, "extend", body, model, (audio_id, float(at)))

    async def _custom(self, request: web.Request, record: RequestRecord) -> Any:
        body = json_object(record.json)
        only(body, CUSTOM_FIELDS)
        model = _model(body)
        lyrics, tags, title = LIMITS[model]
        instrumental = boolean(body, "make_instrumental")
        text(body, "prompt", lyrics, required=not instrumental)
        text(body, "tags", tags)
        text(body, "negative_tags", tags)
        text(body, "title", title)
        boolean(body, "wait_audio")
        return self._make(record, "generate", body, model, None)

    async def _describe(self, request: web.Request, record: RequestRecord) -> Any:
        body = json_object(record.json)
        only(body, DESCRIBE_FIELDS)
        model = _model(body)
        text(body, "prompt", DESCRIPTION_LIMIT, required=True)
        boolean(body, "make_instrumental")
        boolean(body, "wait_audio")
        return self._make(record, "generate", body, model, None)

    def _make(
        self, record: RequestRecord, kind: str, body: dict[str, Any], model: str, parent: tuple[str, float] | None
    ) -> list[dict[str, Any]]:
        if self.credits < self.CREDITS_PER_SUBMIT:
            raise Refused(402, "Insufficient credits")
        self.credits -= self.CREDITS_PER_SUBMIT
        # The submission is recorded under the joined clip ids (the only handle suno-api gives); each clip is a task.
        submit = self._submit(kind, record.path, body)
        del self.tasks[submit.task_id]
        self.submits[-1].task_id = ",".join(submit.clip_ids)
        clips = []
        for clip_id in submit.clip_ids:
            clip = self._create_task(kind, body, clip_ids=[clip_id], steps=list(submit.steps), task_id=clip_id)
            self.clips[clip_id] = (model, float(_duration(clip_id)), parent)
            clips.append(self.clip(clip, clip.current))
        return clips

    async def _get(self, request: web.Request, record: RequestRecord) -> Any:
        ids = [clip_id for clip_id in urllib.parse.unquote(request.query.get("ids", "")).split(",") if clip_id]
        if not ids:
            raise Refused(400, "ids is required")
        known = [self.tasks[clip_id] for clip_id in ids if clip_id in self.tasks]
        return [self._answer(task, partial(self.clip, task)) for task in known]

    async def _limit(self, request: web.Request, record: RequestRecord) -> Any:
        return {
            "credits_left": self.credits,
            "period": "month",
            "monthly_limit": 2500,
            "monthly_usage": 2500 - self.credits,
        }

    async def _concat(self, request: web.Request, record: RequestRecord) -> Any:
        if not self.concat_supported:
            raise Refused(404, "Not found")
        body = json_object(record.json)
        clip_id = body.get("clip_id")
        if not isinstance(clip_id, str) or not clip_id:
            raise Refused(400, "Clip id is required")
        if clip_id not in self.clips or self.clips[clip_id][2] is None:
            raise Refused(400, "Only an extension can be joined into a whole song")
        whole_id = str(uuid.uuid4())
        whole = self._create_task("concat", body, clip_ids=[whole_id], task_id=whole_id)
        self.clips[whole.task_id] = (self.clips[clip_id][0], float(_duration(whole.task_id)), None)
        raw = self.clip(whole, whole.current)
        raw["concat_history"] = self.chain(clip_id)
        return raw

    def chain(self, clip_id: str) -> list[dict[str, Any]]:
        """The parts of the chain ending at `clip_id`, oldest first, each with where the next continues."""
        parts: list[dict[str, Any]] = []
        current: str | None = clip_id
        at: float | None = None
        while current is not None:
            parts.append({"id": current, "continue_at": at})
            parent = self.clips.get(current, ("", 0.0, None))[2]
            current, at = parent if parent else (None, None)
        return parts[::-1]

    def clip(self, task: FakeTask, step: Step) -> dict[str, Any]:
        """A clip as suno-api maps it, at `step`."""
        clip_id = task.task_id
        status = "error" if task.error is not None else step.status
        model, duration, _ = self.clips.get(clip_id, (DEFAULT_MODEL, 0.0, None))
        complete, streaming = status == "complete", status == "streaming"
        audio = self._final_audio_url(clip_id) if complete else self.preview_url(clip_id) if streaming else ""
        return {
            "id": clip_id,
            "title": task.request.get("title") or "",
            "image_url": self._cover_url(clip_id) if complete or streaming else None,
            "lyric": task.request.get("prompt") or "",
            "audio_url": audio,
            "video_url": "",
            "created_at": task.created_at,
            "model_name": model,
            "status": status,
            "gpt_description_prompt": task.request.get("prompt") if task.kind == "generate" else None,
            "prompt": task.request.get("prompt") or "",
            "type": "gen",
            "tags": task.request.get("tags") or "",
            "negative_tags": task.request.get("negative_tags") or "",
            "duration": duration if complete else None,
            "error_message": task.error,
        }


def _model(body: dict[str, Any]) -> str:
    model = body.get("model", DEFAULT_MODEL)
    if model not in MODELS:
        raise Refused(400, f"Unknown model {model!r}")
    return str(model)
