"""In-process fakes of the two Suno API providers (sunoapi.co and apiframe) and their CDN.

They follow the contracts in /work/shared/PROVIDERS.md and the seed pages and serve as the "real
peer" in integration tests. Choices made where the docs are silent are stated in the docstring of
the class or method that makes them.

Shared behaviour (`FakeProvider`):

* one aiohttp server on 127.0.0.1, random port; `start()`/`close()` or `async with`;
* every request is recorded (`requests`, `calls(path_suffix)`), including unknown paths (404);
* `inject()` queues canned answers (status + body, malformed JSON, delay, connection reset);
* a CDN: `/cdn/audio/{id}.mp3`, `/cdn/stream/{id}` (preview), `/cdn/image/{id}.jpeg`, `/cdn/redirect/{n}` (302);
* status scripts: a task's poll returns its current step, then advances one step.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import io
import json
import struct
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from functools import partial
from typing import Any, ClassVar, Generic, Self, TypeVar

import av
import numpy as np
from aiohttp import BodyPartReader, ClientError, ClientSession, ClientTimeout, web
from mutagen import MutagenError

from tests.fakes.fields import Refused, boolean, json_object, only, text
from tests.support.audio import mp3_header

Clock = Callable[[], float]
Percentage = int | float | str

CHUNK_SIZE = 64 * 1024
ANY_LENGTH = 1 << 31  # a string field with no documented length limit: only its type is checked
# A 1x1 JFIF image (125 bytes); enough for anything that sniffs or forwards a cover.
JPEG_BYTES = bytes.fromhex(
    "FFD8FFE000104A46494600010100000100010000FFDB004300030202020202030202020303030304060404040404"
    "080606050609080A0A090809090A0C0F0C0A0B0E0B09090D110D0E0F101011100A0C12131210130F101010FFC900"
    "0B080001000101011100FFCC000600101005FFDA0008010100003F00D2CF20FFD9"
)


@dataclass(frozen=True)
class Step:
    """One step of a status script: a provider status and an optional percentage."""

    status: str
    percentage: Percentage | None = None


StepLike = Step | str | tuple[str, Percentage | None]


def as_steps(steps: Sequence[StepLike]) -> list[Step]:
    """Normalise `["queued", ("processing", 20), Step("finished")]` into Steps."""
    normalised = [s if isinstance(s, Step) else Step(s) if isinstance(s, str) else Step(*s) for s in steps]
    if not normalised:
        raise ValueError("a status script needs at least one step")
    return normalised


@dataclass
class RequestRecord:
    """A request as the fake saw it; `headers` has lower-cased names, `json` keeps JSON types."""

    method: str
    path: str
    headers: dict[str, str]
    json: Any | None
    time: float
    status: int | None = None  # HTTP status answered; None for a reset connection


Handler = Callable[[web.Request, RequestRecord], Awaitable[web.StreamResponse]]


@dataclass
class SubmitRecord:
    """A job submit (extend/generate) that created a task."""

    task_id: str
    path: str
    json: dict[str, Any]
    time: float


@dataclass
class PollRecord:
    """One poll of one task and the step it was answered with."""

    task_id: str
    status: str
    percentage: Percentage | None
    time: float


@dataclass
class WebhookDelivery:
    """One webhook POST attempt and its outcome."""

    task_id: str
    url: str
    body: dict[str, Any]
    secret: str | None
    time: float = 0.0  # when the POST started
    response_status: int | None = None
    error: str | None = None


@dataclass
class Fault:
    """A canned answer for the next `times` requests whose path ends with a suffix."""

    status: int | None
    body: dict[str, Any] | list[Any] | str | bytes | None
    times: int
    delay: float | None
    reset_connection: bool
    raw: bytes | None


@dataclass
class FakeTask:
    """A provider task: its request, clip/song ids and status script position."""

    task_id: str
    kind: str  # "extend", "generate", "upload" or "seed"
    request: dict[str, Any]
    clip_ids: list[str]
    steps: list[Step]
    created_at: str
    index: int = 0
    held: bool = False
    error: str | None = None

    @property
    def current(self) -> Step:
        """The step the next poll answers with."""
        return self.steps[self.index]


T = TypeVar("T")


class _Feed(Generic[T]):
    """An append-only list whose items waiters take once each, oldest first."""

    def __init__(self) -> None:
        self.items: list[T] = []
        self._taken: set[int] = set()
        self._added = asyncio.Event()

    def append(self, item: T) -> None:
        self.items.append(item)
        self._added.set()
        self._added = asyncio.Event()

    async def take(self, match: Callable[[T], bool], timeout: float) -> T:
        """Return the oldest untaken matching item, waiting up to `timeout` seconds for one."""
        async with asyncio.timeout(timeout):
            while True:
                for i, item in enumerate(self.items):
                    if i not in self._taken and match(item):
                        self._taken.add(i)
                        return item
                await self._added.wait()


class WebhookSender:
    """POSTs a fake's webhooks (callbacks) one at a time in the order they were sent, as the providers do: each
    attempt is timed by `clock` when it starts and recorded with its answer's status (or its error) when done."""

    def __init__(self, clock: Clock, *, timeout: float, route: Callable[[str], str] = lambda url: url) -> None:
        self.clock = clock
        self.timeout = timeout
        self.route = route  # the URL actually POSTed to, from the one the task names (looked up at delivery)
        self.delivered: _Feed[WebhookDelivery] = _Feed()
        self._queue: asyncio.Queue[tuple[WebhookDelivery, bytes, dict[str, str]]] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._worker = asyncio.create_task(self._deliver())

    async def close(self) -> None:
        """Stop sending; deliveries still queued are dropped."""
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None

    def send(
        self, delivery: WebhookDelivery, *, raw: bytes | None = None, headers: dict[str, str] | None = None
    ) -> None:
        """Queue `delivery`: its body as JSON, or `raw` (the exact bytes a signature was made over)."""
        body = raw if raw is not None else json.dumps(delivery.body).encode()
        self._queue.put_nowait((delivery, body, {**(headers or {}), "Content-Type": "application/json"}))

    async def take(self, task_id: str | None, timeout: float) -> WebhookDelivery:
        """The oldest finished delivery (of `task_id`, if given) not yet taken."""
        return await self.delivered.take(lambda delivery: task_id in (None, delivery.task_id), timeout)

    async def _deliver(self) -> None:
        async with ClientSession(timeout=ClientTimeout(total=self.timeout)) as session:
            while True:
                delivery, body, headers = await self._queue.get()
                delivery.time = self.clock()
                try:
                    async with session.post(self.route(delivery.url), data=body, headers=headers) as response:
                        await response.read()
                        delivery.response_status = response.status
                except (ClientError, TimeoutError) as error:
                    delivery.error = repr(error)
                self.delivered.append(delivery)


@functools.cache
def _tone_block() -> bytes:
    """One second of a real 128 kbit/s mono MP3 (a 440 Hz tone), without a header frame, so blocks can be chained."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp3", options={"write_xing": "0", "id3v2_version": "0"}) as container:
        stream = container.add_stream("libmp3lame", rate=44_100)
        stream.bit_rate = 128_000
        stream.layout = "mono"
        stream.format = "fltp"
        wave = 0.3 * np.sin(2 * np.pi * 440 * np.arange(44_100) / 44_100)
        frame = av.AudioFrame.from_ndarray(wave.astype(np.float32).reshape(1, -1), format="fltp", layout="mono")
        frame.sample_rate = 44_100
        frame.pts = 0
        frame.time_base = Fraction(1, 44_100)
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return buffer.getvalue()


def _fake_mp3(seed: str, size: int) -> bytes:
    """Deterministic, playable mp3 bytes of `size`: an ID3 tag naming `seed` (so every clip's bytes differ), then
    real MPEG frames (about `size` / 16,000 seconds of a tone), as a decoder and Discord's player would take them.
    """
    text = b"\x03encore-fake\x00" + seed.encode()
    frame = b"TXXX" + struct.pack(">I", len(text)) + b"\x00\x00" + text
    length = len(frame)
    syncsafe = bytes([(length >> 21) & 0x7F, (length >> 14) & 0x7F, (length >> 7) & 0x7F, length & 0x7F])
    data = bytearray(b"ID3\x04\x00\x00" + syncsafe + frame)
    block = _tone_block()
    while len(data) < size:
        data += block
    return bytes(data[:size])


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class FakeProvider:
    """Base fake: server lifecycle, recording, fault injection, CDN and status scripts.

    Faults are applied before anything else (auth, rate limits), like a proxy in front of the
    API. Tasks created by a submit get the script queued with `set_script(None, ...)`, else
    the constructor's `script`, else the class default.
    """

    default_script: ClassVar[tuple[Step, ...]]
    failed_status: ClassVar[str]

    def __init__(
        self,
        api_key: str = "test-key",
        *,
        script: Sequence[StepLike] | None = None,
        audio_size: int = 200_000,
        clock: Clock = time.monotonic,
    ) -> None:
        self.api_key = api_key
        self.script = as_steps(script) if script is not None else list(self.default_script)
        self.audio_size = audio_size
        self.clock = clock
        self.requests: list[RequestRecord] = []
        self.tasks: dict[str, FakeTask] = {}
        self.continue_at_types: list[str] = []  # type name of every continue_at received
        self._submits: _Feed[SubmitRecord] = _Feed()
        self._polls: _Feed[PollRecord] = _Feed()
        self._faults: list[tuple[str, Fault]] = []
        self._next_scripts: deque[list[Step]] = deque()
        self._next_clip_ids: deque[list[str]] = deque()
        self._raw_answers: dict[str, Any] = {}
        self._audio: dict[str, bytes] = {}
        self.audio_factory: Callable[[str], bytes] | None = None  # real audio per clip, made on first request
        self._media_urls: dict[str, dict[str, str]] = {}
        self._trickles: dict[str, float] = {}
        self._redirects: list[str] = []
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None
        self._senders: list[WebhookSender] = []
        self._port = 0  # any free port at first, then the same one

    # lifecycle

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:PORT`, available once started."""
        if self._base_url is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return self._base_url

    async def start(self) -> Self:
        """Bind 127.0.0.1 on a free port and serve; started again after `close()`, it serves on the same port (a
        provider that comes back)."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.add_routes(self._routes())
        app.add_routes(
            [
                web.get("/cdn/audio/{clip_id}.mp3", self._endpoint(self._cdn_audio)),
                web.get("/cdn/stream/{clip_id}", self._endpoint(self._cdn_stream)),
                web.get("/cdn/image/{clip_id}.jpeg", self._endpoint(self._cdn_image)),
                web.get("/cdn/redirect/{number}", self._endpoint(self._cdn_redirect)),
                web.route("*", "/{tail:.*}", self._endpoint(self._not_found)),
            ]
        )
        self._closing.clear()
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", self._port).start()
        host, port = runner.addresses[0][:2]
        self._runner, self._port = runner, port
        self._base_url = f"http://{host}:{port}"
        for sender in self._senders:
            sender.start()
        return self

    async def close(self) -> None:
        """Stop serving; requests held by an injected delay get their connection reset, webhooks still queued are
        dropped."""
        for sender in self._senders:
            await sender.close()
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    def _webhook_sender(self, *, timeout: float, route: Callable[[str], str] = lambda url: url) -> WebhookSender:
        """A sender of this fake's webhooks (callbacks), started and stopped with the fake."""
        sender = WebhookSender(self.clock, timeout=timeout, route=route)
        self._senders.append(sender)
        return sender

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def _routes(self) -> list[web.RouteDef]:
        """The provider's API routes (wrapped with `_endpoint`)."""
        raise NotImplementedError

    # recording and fault injection

    def calls(self, path_suffix: str) -> list[RequestRecord]:
        """Recorded requests whose path ends with `path_suffix`."""
        return [r for r in self.requests if r.path.endswith(path_suffix)]

    @property
    def submits(self) -> list[SubmitRecord]:
        """Every submit that created a task, oldest first."""
        return self._submits.items

    @property
    def polls(self) -> list[PollRecord]:
        """Every poll of a known task, oldest first."""
        return self._polls.items

    def inject(
        self,
        path_suffix: str,
        *,
        status: int | None = 500,
        body: dict[str, Any] | list[Any] | str | bytes | None = None,
        times: int = 1,
        delay: float | None = None,
        reset_connection: bool = False,
        raw: bytes | None = None,
    ) -> None:
        """Answer the next `times` requests whose path ends with `path_suffix` with a fault.

        After the optional `delay` (cut short by `close()`): `reset_connection` closes the
        socket without answering; else `raw` is sent verbatim as `application/json` (malformed
        JSON); else `body` is sent (dict/list as JSON, str as text/plain, bytes as
        application/octet-stream, None as an empty body) with `status`. `status=None` means
        "answer normally": combine it with `delay` to make a slow but successful answer.
        Faults on one path are used in the order injected. aiohttp's client silently retries
        an idempotent request (GET) once when a reused connection is reset: use `times=2`.
        """
        if status is None and (body is not None or raw is not None):
            raise ValueError("status=None answers normally: it cannot carry a body")
        self._faults.append((path_suffix, Fault(status, body, times, delay, reset_connection, raw)))

    def _take_fault(self, path: str) -> Fault | None:
        for i, (suffix, fault) in enumerate(self._faults):
            if path.endswith(suffix):
                fault.times -= 1
                if fault.times <= 0:
                    del self._faults[i]
                return fault
        return None

    def _endpoint(self, handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        """Wrap a handler with recording and fault injection."""

        async def endpoint(request: web.Request) -> web.StreamResponse:
            record = RequestRecord(
                method=request.method,
                path=request.path,
                headers={k.lower(): v for k, v in request.headers.items()},
                json=await _read_json(request),
                time=self.clock(),
            )
            self.requests.append(record)
            fault = self._take_fault(request.path)
            if fault is not None and fault.delay is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), fault.delay)
            if self._closing.is_set() or (fault is not None and fault.reset_connection):
                if request.transport is not None:
                    request.transport.abort()
                return web.Response(status=500)  # never reaches the aborted socket
            if fault is not None and fault.status is not None:
                response: web.StreamResponse = _fault_response(fault, fault.status)
            else:
                response = await handler(request, record)
            record.status = response.status
            return response

        return endpoint

    async def _not_found(self, request: web.Request, record: RequestRecord) -> web.Response:
        return web.json_response({"message": "not found"}, status=404)

    # CDN

    def audio_url(self, clip_id: str) -> str:
        """The final mp3 of a clip."""
        return f"{self.base_url}/cdn/audio/{clip_id}.mp3"

    def preview_url(self, clip_id: str) -> str:
        """The preview stream served while a clip is still being generated."""
        return f"{self.base_url}/cdn/stream/{clip_id}"

    def image_url(self, clip_id: str) -> str:
        """A clip's cover."""
        return f"{self.base_url}/cdn/image/{clip_id}.jpeg"

    def video_url(self, clip_id: str) -> str:
        """A clip's video; listed for fidelity, the CDN does not serve it (404)."""
        return f"{self.base_url}/cdn/video/{clip_id}.mp4"

    def serve_media(self, clip_id: str, *, audio_url: str | None = None, image_url: str | None = None) -> None:
        """Answer with these URLs for a clip's final audio or cover instead of the fake's own CDN (hostile media)."""
        urls = self._media_urls.setdefault(clip_id, {})
        if audio_url is not None:
            urls["audio_url"] = audio_url
        if image_url is not None:
            urls["image_url"] = image_url

    def redirect_url(self, target: str) -> str:
        """A CDN URL that answers 302 to `target`: a trusted origin pointing somewhere else."""
        self._redirects.append(target)
        return f"{self.base_url}/cdn/redirect/{len(self._redirects) - 1}"

    async def _cdn_redirect(self, request: web.Request, record: RequestRecord) -> web.Response:
        raise web.HTTPFound(self._redirects[int(request.match_info["number"])])

    def trickle(self, clip_id: str, interval: float) -> None:
        """Serve a clip's audio one byte every `interval` seconds: a CDN too slow to be worth waiting for."""
        self._trickles[clip_id] = interval

    def _final_audio_url(self, clip_id: str) -> str:
        return self._media_urls.get(clip_id, {}).get("audio_url", self.audio_url(clip_id))

    def _cover_url(self, clip_id: str) -> str:
        return self._media_urls.get(clip_id, {}).get("image_url", self.image_url(clip_id))

    def cdn_bytes(self, clip_id: str) -> bytes:
        """The exact bytes served at `audio_url(clip_id)`: `set_audio`'s, else `audio_factory`'s, else seeded noise."""
        if clip_id not in self._audio:
            make = self.audio_factory or (lambda clip: _fake_mp3(clip, self.audio_size))
            self._audio[clip_id] = make(clip_id)
        return self._audio[clip_id]

    def set_audio(self, clip_id: str, data: bytes) -> None:
        """Serve `data` (e.g. a real MP3 made in the test) as the clip's final audio."""
        self._audio[clip_id] = data

    async def _cdn_audio(self, request: web.Request, record: RequestRecord) -> web.StreamResponse:
        clip_id = request.match_info["clip_id"]
        data = self.cdn_bytes(clip_id)
        if (interval := self._trickles.get(clip_id)) is not None:
            response = web.StreamResponse(headers={"Content-Type": "audio/mpeg"})
            response.content_length = len(data)
            await response.prepare(request)
            for byte in data:
                await response.write(bytes([byte]))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), interval)
                if self._closing.is_set():
                    break
            return response
        return await _stream(request, data, "audio/mpeg", with_length=True)

    async def _cdn_stream(self, request: web.Request, record: RequestRecord) -> web.StreamResponse:
        """A preview: different bytes from the final mp3, chunked without Content-Length."""
        clip_id = request.match_info["clip_id"]
        data = _fake_mp3(f"{clip_id}/preview", self.audio_size // 4)
        return await _stream(request, data, "audio/mpeg", with_length=False)

    async def _cdn_image(self, request: web.Request, record: RequestRecord) -> web.Response:
        return web.Response(body=JPEG_BYTES, content_type="image/jpeg")

    # tasks and status scripts

    def set_script(
        self,
        task_id: str | None,
        steps: Sequence[StepLike],
    ) -> None:
        """Give a task a new script from its first step, or queue one for the next task created.

        Scripts queued with `task_id=None` are used one per new task, in order.
        """
        script = as_steps(steps)
        if task_id is None:
            self._next_scripts.append(script)
            return
        task = self._task(task_id)
        task.steps, task.index, task.error = script, 0, None

    def set_next_clips(self, clip_ids: Sequence[str]) -> None:
        """Make the next task created answer with exactly these clip (song) ids, however many or odd they are."""
        self._next_clip_ids.append(list(clip_ids))

    def answer_raw(self, task_id: str, answer: Any) -> None:
        """From now on answer polls of this task with `answer`, any JSON value (NaN included), verbatim.

        On sunoapi.co it is the whole get-task body; on apiframe the `/fetch` body and the task's entry in a
        `/fetch-many` answer, so the other tasks of a batch are answered normally. Polls still count and advance.
        """
        self._task(task_id)
        self._raw_answers[task_id] = answer

    def _answer(self, task: FakeTask, normal: Callable[[Step], Any]) -> Any:
        """A poll's answer: the raw one set with `answer_raw`, else `normal(step)`; the poll is recorded either way."""
        step = self._poll(task)
        return self._raw_answers[task.task_id] if task.task_id in self._raw_answers else normal(step)

    def seed_in_flight(self, count: int) -> list[str]:
        """`count` tasks submitted earlier (by a previous run), held at their first step: polls read, none finish."""
        tasks = [self._create_task("seed", {}) for _ in range(count)]
        for task in tasks:
            task.held = True
        return [task.task_id for task in tasks]

    def hold(self, task_id: str) -> None:
        """Stop polls from advancing the task (`advance`/`finish`/`fail` still act)."""
        self._task(task_id).held = True

    def release(self, task_id: str) -> None:
        """Let polls advance the task again."""
        self._task(task_id).held = False

    def advance(self, task_id: str) -> None:
        """Move the task one step on without a poll (no-op on the last step)."""
        self._advance(self._task(task_id))

    def finish(self, task_id: str) -> None:
        """Jump to the script's final step."""
        task = self._task(task_id)
        if task.index != len(task.steps) - 1:
            task.index = len(task.steps) - 1
            self._changed(task)

    def fail(self, task_id: str, message: str = "generation failed") -> None:
        """Make the task fail: the provider's failure status, with `message`."""
        task = self._task(task_id)
        task.steps, task.index, task.error = [Step(self.failed_status)], 0, message
        self._changed(task)

    async def wait_for_submit(self, timeout: float = 10.0) -> SubmitRecord:
        """The oldest submit not yet returned by this method (waits for one if needed)."""
        return await self._submits.take(lambda s: True, timeout)

    async def wait_for_poll(self, task_id: str | None = None, timeout: float = 10.0) -> PollRecord:
        """The oldest poll (of `task_id`, if given) not yet returned by this method."""
        return await self._polls.take(lambda p: task_id in (None, p.task_id), timeout)

    def _task(self, task_id: str) -> FakeTask:
        try:
            return self.tasks[task_id]
        except KeyError:
            raise KeyError(f"unknown task {task_id!r}") from None

    def _create_task(
        self,
        kind: str,
        request: dict[str, Any],
        *,
        clip_ids: list[str] | None = None,
        steps: list[Step] | None = None,
        task_id: str | None = None,
    ) -> FakeTask:
        if steps is None:
            steps = self._next_scripts.popleft() if self._next_scripts else list(self.script)
        if clip_ids is None and self._next_clip_ids:
            clip_ids = self._next_clip_ids.popleft()
        task = FakeTask(
            task_id=task_id or str(uuid.uuid4()),
            kind=kind,
            request=request,
            clip_ids=clip_ids or [str(uuid.uuid4()), str(uuid.uuid4())],
            steps=steps,
            created_at=datetime.now(UTC).isoformat(timespec="milliseconds"),
        )
        self.tasks[task.task_id] = task
        return task

    def _submit(self, kind: str, path: str, body: dict[str, Any]) -> FakeTask:
        """Create a task for a job submit and record it."""
        task = self._create_task(kind, body)
        self._submits.append(SubmitRecord(task.task_id, path, body, self.clock()))
        return task

    def _poll(self, task: FakeTask) -> Step:
        """Answer a poll: the current step, then advance unless held."""
        step = task.current
        self._polls.append(PollRecord(task.task_id, step.status, step.percentage, self.clock()))
        if not task.held:
            self._advance(task)
        return step

    def _advance(self, task: FakeTask) -> None:
        if task.index < len(task.steps) - 1:
            task.index += 1
            self._changed(task)

    def _changed(self, task: FakeTask) -> None:
        """Called whenever a task's current step changes."""

    def _check_continue_at(self, body: dict[str, Any]) -> str | None:
        """Record continue_at's JSON type; an error unless it is absent or a number >= 0."""
        if "continue_at" not in body:
            return None
        value = body["continue_at"]
        self.continue_at_types.append(type(value).__name__)
        if not _is_number(value) or value < 0:
            return "continue_at must be a non-negative number of seconds"
        return None


async def _read_json(request: web.Request) -> Any | None:
    """The JSON body, or None when not `application/json` or not valid JSON."""
    if request.content_type != "application/json" or not request.body_exists:
        return None
    try:
        return json.loads(await request.read())
    except ValueError:
        return None


def _body(record: RequestRecord) -> dict[str, Any]:
    return record.json if isinstance(record.json, dict) else {}


def _fault_response(fault: Fault, status: int) -> web.Response:
    if fault.raw is not None:
        return web.Response(status=status, body=fault.raw, content_type="application/json")
    if isinstance(fault.body, dict | list):
        return web.json_response(fault.body, status=status)
    if isinstance(fault.body, str):
        return web.Response(status=status, text=fault.body, content_type="text/plain")
    if isinstance(fault.body, bytes):
        return web.Response(status=status, body=fault.body, content_type="application/octet-stream")
    return web.Response(status=status)


async def _stream(request: web.Request, data: bytes, content_type: str, *, with_length: bool) -> web.StreamResponse:
    """Serve in chunks; a client that hangs up mid-download (a stopped bot) ends the answer quietly, as a CDN does."""
    response = web.StreamResponse(headers={"Content-Type": content_type})
    if with_length:
        response.content_length = len(data)
    await response.prepare(request)
    try:
        for start in range(0, len(data), CHUNK_SIZE):
            await response.write(data[start : start + CHUNK_SIZE])
        await response.write_eof()
    except ConnectionError:  # reset by the peer, or "Connection lost" while waiting to write more
        pass
    return response


def _duration(clip_id: str) -> str:
    """A deterministic clip length between 120.0 and 239.9 seconds, as a string."""
    tenths = int.from_bytes(hashlib.sha256(clip_id.encode()).digest()[:4], "big") % 1200
    return f"{120 + tenths / 10:.1f}"


# sunoapi.co's documented fields (extend-music, generate-music; `is_custom` is in the page's sample), its one model
# and Suno's v3.5 text limits.
SUNOAPI_GENERATE_FIELDS = frozenset({"prompt", "tags", "title", "model", "is_custom"})
SUNOAPI_EXTEND_FIELDS = SUNOAPI_GENERATE_FIELDS | {"continue_clip_id", "continue_at"}
SUNOAPI_MODEL = "v3.5"
SUNOAPI_LIMITS = {"prompt": 3000, "tags": 200, "title": 80}


class FakeSunoApi(FakeProvider):
    """Fake of sunoapi.co (`/suno/music/...`): answers carry `code`, judged by it.

    Choices where the docs are silent:
    * bad key, validation errors and unknown tasks answer HTTP 200 with a non-200 `code`;
      rate limit violations answer HTTP 429 with `code` 429;
    * fields are read strictly (as the page's table types them): a field it does not list is
      refused, strings are JSON strings, `continue_at` a JSON number of seconds (the samples
      send one), `is_custom` (in the page's sample) a boolean, `model` only `v3.5`; texts are
      held to Suno's v3.5 limits (prompt 3000, tags 200, title 80 characters);
    * extend and generate share one submit window; only authenticated requests count, and a
      rejected (429) request does not move the window; 400s do;
    * `continue_clip_id` must be a clip of one of its tasks or one seeded with `seed_clip` (a
      song the account made elsewhere): the page says it is the id of "the music generated in
      the previous generation task"; `continue_at` must be below a known clip's duration;
    * a submit with fewer `credits` left than `credits_per_submit` answers `code` 402
      "Insufficient credits" (no credits answer is documented);
    * before `streaming` a clip has empty urls, while `streaming` the audio url is the preview
      stream and covers exist, on `complete` audio/video urls are final and `duration` is
      set (null before); `fail()` adds `error_message` to the task and to each clip.
    """

    default_script = (Step("submitted"), Step("queued"), Step("streaming"), Step("complete"))
    failed_status = "error"
    BAD_KEY: ClassVar[dict[str, Any]] = {
        "code": 401,
        "message": "Key verification failed, please check whether the key is correct",
    }

    def __init__(
        self,
        api_key: str = "test-key",
        *,
        script: Sequence[StepLike] | None = None,
        audio_size: int = 200_000,
        clock: Clock = time.monotonic,
        legacy_clip_ids: bool = False,
        submit_interval: float = 4.0,
        poll_per_second: int | None = 2,
        poll_window: float = 1.0,
        credits: int = 1000,
        credits_per_submit: int = 10,
        clips: Sequence[str] = (),
    ) -> None:
        super().__init__(api_key, script=script, audio_size=audio_size, clock=clock)
        self.legacy_clip_ids = legacy_clip_ids
        self.credits = credits
        self.credits_per_submit = credits_per_submit
        # Clips the account made elsewhere (`clips`, `seed_clip`) -> duration in seconds (None: unknown).
        self.seeded_clips: dict[str, float | None] = dict.fromkeys(clips)
        self.submit_interval = submit_interval
        self.poll_per_second = poll_per_second
        self.poll_window = poll_window
        self.rate_limit_violations: list[tuple[str, float]] = []
        self._last_submit: float | None = None
        self._recent_polls: deque[float] = deque()

    def _routes(self) -> list[web.RouteDef]:
        return [
            web.post("/suno/music/extend-music", self._endpoint(self._extend)),
            web.post("/suno/music/generate-music", self._endpoint(self._generate)),
            web.post("/suno/music/get-task", self._endpoint(self._get_task)),
        ]

    def _gate(self, request: web.Request, record: RequestRecord, *, submit: bool) -> web.Response | None:
        """Auth, then the sliding-window rate limit; an answer when the request is refused."""
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return web.json_response(self.BAD_KEY)
        now = record.time
        if submit:
            last = self._last_submit
            limited = last is not None and now - last < self.submit_interval
            if not limited:
                self._last_submit = now
        else:
            recent = self._recent_polls
            while recent and now - recent[0] >= self.poll_window:
                recent.popleft()
            limited = self.poll_per_second is not None and len(recent) >= self.poll_per_second
            if not limited:
                recent.append(now)
        if limited:
            self.rate_limit_violations.append((request.path, now))
            return web.json_response({"code": 429, "message": "Too many requests"}, status=429)
        return None

    def seed_clip(self, clip_id: str, duration: float | None = None) -> None:
        """A clip the account made elsewhere (on suno.com, or before this run), which an extend may name."""
        self.seeded_clips[clip_id] = duration

    async def _extend(self, request: web.Request, record: RequestRecord) -> web.Response:
        refused = self._gate(request, record, submit=True)
        if refused is not None:
            return refused
        return self._submit_answer("extend", request.path, record, self._extend_fields)

    async def _generate(self, request: web.Request, record: RequestRecord) -> web.Response:
        refused = self._gate(request, record, submit=True)
        if refused is not None:
            return refused
        return self._submit_answer("generate", request.path, record, self._song_fields)

    @staticmethod
    def _song_fields(body: dict[str, Any]) -> None:
        """The fields extend and generate share: prompt (required), tags, title, model, is_custom."""
        text(body, "prompt", SUNOAPI_LIMITS["prompt"], required=True)
        text(body, "tags", SUNOAPI_LIMITS["tags"])
        text(body, "title", SUNOAPI_LIMITS["title"])
        boolean(body, "is_custom")
        if "model" in body and body["model"] != SUNOAPI_MODEL:
            raise Refused(400, f"model must be {SUNOAPI_MODEL}")

    def _extend_fields(self, body: dict[str, Any]) -> None:
        self._song_fields(body)
        clip_id = body.get("continue_clip_id")
        if not isinstance(clip_id, str) or not clip_id:
            raise Refused(400, "continue_clip_id is required")
        if "continue_at" not in body:
            raise Refused(400, "continue_at is required")
        error = self._check_continue_at(body)
        if error is not None:
            raise Refused(400, error)
        known = self._known_clips()
        if clip_id not in known:
            raise Refused(400, "continue_clip_id not found")
        duration = known[clip_id]
        if duration is not None and body["continue_at"] >= duration:
            raise Refused(400, f"continue_at must be below the clip's duration ({duration:g} s)")

    def _known_clips(self) -> dict[str, float | None]:
        """Clips an extend may name: those of its tasks (with their duration once complete) and seeded ones."""
        known = dict(self.seeded_clips)
        for task in self.tasks.values():
            for clip_id in task.clip_ids:
                known[clip_id] = float(_duration(clip_id)) if task.current.status == "complete" else None
        return known

    def _submit_answer(
        self, kind: str, path: str, record: RequestRecord, check: Callable[[dict[str, Any]], None]
    ) -> web.Response:
        """`check` the body (a refusal is HTTP 200 with its `code` and `message`), then charge and make a task."""
        try:
            body = json_object(record.json)
            only(body, SUNOAPI_EXTEND_FIELDS if kind == "extend" else SUNOAPI_GENERATE_FIELDS)
            check(body)
            if self.credits < self.credits_per_submit:
                raise Refused(402, "Insufficient credits")
        except Refused as refused:
            return web.json_response({"code": refused.status, "message": refused.error})
        self.credits -= self.credits_per_submit
        task = self._submit(kind, path, body)
        return web.json_response({"code": 200, "task_id": task.task_id})

    async def _get_task(self, request: web.Request, record: RequestRecord) -> web.Response:
        refused = self._gate(request, record, submit=False)
        if refused is not None:
            return refused
        try:
            body = json_object(record.json)
            only(body, frozenset({"task_id"}))
            text(body, "task_id", ANY_LENGTH, required=True)
        except Refused as bad:
            return web.json_response({"code": bad.status, "message": bad.error})
        task = self.tasks.get(body["task_id"])
        if task is None:
            return web.json_response({"code": 404, "message": "task not found"})
        return web.json_response(self._answer(task, partial(self._task_answer, task)))

    def _task_answer(self, task: FakeTask, step: Step) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "code": 200,
            "task_id": task.task_id,
            "status": step.status,
            "prompt": task.request,
            "clips": [self._clip(task, step, clip_id) for clip_id in task.clip_ids],
        }
        if task.error is not None:
            answer["error_message"] = task.error
        return answer

    def _clip(self, task: FakeTask, step: Step, clip_id: str) -> dict[str, Any]:
        complete = step.status == "complete"
        audible = complete or step.status == "streaming"
        preview = self.preview_url(clip_id) if audible else ""
        clip: dict[str, Any] = {
            "id" if self.legacy_clip_ids else "continue_clip_id": clip_id,
            "title": task.request.get("title") or "",
            "status": step.status,
            "audio_url": self._final_audio_url(clip_id) if complete else preview,
            "image_url": self._cover_url(clip_id) if audible else "",
            "image_large_url": self.image_url(f"{clip_id}_large") if audible else "",
            "video_url": self.video_url(clip_id) if complete else "",
            "duration": _duration(clip_id) if complete else None,
            "created_at": task.created_at,
            "model_name": task.request.get("model") or "chirp-v3-5",
            "major_model_version": "v3",
        }
        if task.error is not None:
            clip["error_message"] = task.error
        return clip


APIFRAME_MODELS = frozenset({"V4", "V4_5", "V4_5PLUS", "V4_5ALL", "V5"})
APIFRAME_MODEL_ALIASES = {
    "chirp-v4": "V4",
    "chirp-auk": "V4_5",
    "chirp-bluejay": "V4_5PLUS",
    "chirp-crow": "V5",
}
# The documented fields of suno-imagine and suno-extend (`from_upload` from the newer page and the SDK).
APIFRAME_IMAGINE_FIELDS = frozenset(
    {"prompt", "lyrics", "model", "make_instrumental", "title", "tags", "webhook_url", "webhook_secret"}
)
APIFRAME_EXTEND_FIELDS = (APIFRAME_IMAGINE_FIELDS - {"make_instrumental"}) | {
    "parent_task_id",
    "song_id",
    "continue_at",
    "from_upload",
}
# Suno's text limits per model (V4 and an extend naming no model: v4's; newer models: v4.5's); `prompt` is a
# description of the song.
APIFRAME_V4_LIMITS = {"prompt": 500, "lyrics": 3000, "tags": 200, "title": 80}
APIFRAME_V45_LIMITS = {"prompt": 500, "lyrics": 5000, "tags": 1000, "title": 80}
APIFRAME_MAX_UPLOAD = 10 * 1024 * 1024
APIFRAME_MAX_MEDIA_UPLOAD = 2 * 1024 * 1024
APIFRAME_MAX_MEDIA_SECONDS = 60.0


def _errors(message: str) -> web.Response:
    """apiframe's documented 400 shape."""
    return web.json_response({"errors": [{"msg": message}]}, status=400)


class FakeApiframe(FakeProvider):
    """Fake of apiframe's Suno endpoints, with webhooks.

    Choices where the docs are silent:
    * `/fetch` of an unknown task answers 400 `{"errors": [...]}`; `/fetch-many` omits unknown
      ids from `tasks` (a batch poller must cope with missing entries);
    * fields are read strictly (as the pages type them): a field the page does not list is
      refused, strings are JSON strings, `continue_at` a JSON number, `make_instrumental` and
      `from_upload` booleans; texts are held to Suno's limits for the model named (V4's, and
      for an extend naming none: prompt 500, lyrics 3000, tags 200, title 80; newer models:
      lyrics 5000, tags 1000); every refusal is 400 `{"errors": [{"msg"}]}`;
    * `/suno-extend` requires the parent task to be `finished` and `song_id` to be one of
      its songs; with `from_upload: true` it takes no parent, and `song_id` must be the song
      of an upload;
    * `/suno-upload` takes only JSON `{"audio_url"}` (multipart is refused), fetches that URL
      (at most 10 MB) and answers `{"task_id", "song_id"}`; `/upload-audio` takes only a
      multipart `audio` of at most 2 MB and 60 s (read as an mp3) and answers `{"audioURL"}`;
    * a submit with fewer credits left than `credits_per_submit` answers 400 "Not enough
      credits"; uploads cost nothing and are not submits (`wait_for_submit` skips them);
    * songs are listed only while `processing` (preview audio url) and when `finished`
      (final urls); `fail()` gives status `failed`, `message`, no songs;
    * webhooks: on every step change (not on creation) the current fetch result is queued and
      POSTed in order by one worker, once per change (twice with `webhook_duplicates`), no
      retries; `x-webhook-secret` is sent only when the submit had a `webhook_secret`.
    """

    default_script = (
        Step("pending"),
        Step("staged"),
        Step("processing", 20),
        Step("processing", "56%"),
        Step("processing", 90),
        Step("finished"),
    )
    failed_status = "failed"

    def __init__(
        self,
        api_key: str = "test-key",
        *,
        script: Sequence[StepLike] | None = None,
        audio_size: int = 200_000,
        clock: Clock = time.monotonic,
        webhook_duplicates: bool = False,
        webhook_timeout: float = 5.0,
        credits: int = 1000,
        credits_per_submit: int = 10,
        email: str = "bot@example.com",
        plan: str = "pro",
    ) -> None:
        super().__init__(api_key, script=script, audio_size=audio_size, clock=clock)
        self.webhook_duplicates = webhook_duplicates
        self.credits = credits
        self.credits_per_submit = credits_per_submit
        self.email = email
        self.plan = plan
        self.media_uploads: list[str] = []  # ids of files sent to `/upload-audio`, served on the CDN
        self._webhooks = self._webhook_sender(timeout=webhook_timeout)

    @property
    def webhooks(self) -> list[WebhookDelivery]:
        """Every webhook delivery attempt, in delivery order."""
        return self._webhooks.delivered.items

    def seed_task(self, task_id: str, songs: Sequence[str] | None = None) -> FakeTask:
        """A finished task the bot never submitted (e.g. a song made on the website)."""
        song_ids = list(songs) if songs is not None else None
        return self._create_task("seed", {}, clip_ids=song_ids, steps=[Step("finished")], task_id=task_id)

    def push_webhook(self, task_id: str) -> None:
        """Send the task's current state to its webhook again."""
        task = self._task(task_id)
        if not task.request.get("webhook_url"):
            raise ValueError(f"task {task_id!r} has no webhook_url")
        self._changed(task)

    async def wait_for_webhook(self, task_id: str | None = None, timeout: float = 10.0) -> WebhookDelivery:
        """The oldest finished delivery (of `task_id`, if given) not yet returned by this method."""
        return await self._webhooks.take(task_id, timeout)

    def _changed(self, task: FakeTask) -> None:
        url = task.request.get("webhook_url")
        if not isinstance(url, str) or not url:
            return
        secret = task.request.get("webhook_secret")
        secret = secret if isinstance(secret, str) else None
        body = self._render(task, task.current)
        headers = {"x-webhook-secret": secret} if secret is not None else {}
        for _ in range(2 if self.webhook_duplicates else 1):
            self._webhooks.send(WebhookDelivery(task.task_id, url, body, secret), headers=headers)

    def _routes(self) -> list[web.RouteDef]:
        return [
            web.post("/suno-extend", self._endpoint(self._authed(self._extend))),
            web.post("/suno-imagine", self._endpoint(self._authed(self._imagine))),
            web.post("/suno-upload", self._endpoint(self._authed(self._upload))),
            web.post("/upload-audio", self._endpoint(self._authed(self._media_upload))),
            web.post("/fetch", self._endpoint(self._authed(self._fetch))),
            web.post("/fetch-many", self._endpoint(self._authed(self._fetch_many))),
            web.get("/account", self._endpoint(self._authed(self._account))),
        ]

    def _authed(self, handler: Handler) -> Handler:
        """Refuse a wrong or missing `Authorization: <key>` with 401 `{}`."""

        async def checked(request: web.Request, record: RequestRecord) -> web.StreamResponse:
            if request.headers.get("Authorization") != self.api_key:
                return web.json_response({}, status=401)
            return await handler(request, record)

        return checked

    def _render(self, task: FakeTask, step: Step) -> dict[str, Any]:
        """The fetch result for `task` at `step`."""
        result: dict[str, Any] = {
            "task_id": task.task_id,
            "task_type": "suno",
            "status": step.status,
        }
        if step.percentage is not None:
            result["percentage"] = step.percentage
        if task.error is not None:
            result["message"] = task.error
        finished = step.status == "finished"
        result["songs"] = (
            [self._song(task, song_id, finished) for song_id in task.clip_ids]
            if finished or step.status == "processing"
            else []
        )
        return result

    def _song(self, task: FakeTask, song_id: str, finished: bool) -> dict[str, Any]:
        return {
            "song_id": song_id,
            "audio_url": self._final_audio_url(song_id) if finished else self.preview_url(song_id),
            "image_url": self._cover_url(song_id),
            "video_url": self.video_url(song_id) if finished else "",
            "lyrics": task.request.get("lyrics") or f"[Verse]\nla la la {song_id[:8]}",
        }

    @staticmethod
    def _song_fields(body: dict[str, Any], *, model_required: bool) -> None:
        """The fields imagine and extend share: the model, then texts within its limits, webhook strings."""
        model = body.get("model")
        if model is None:
            if model_required:
                raise Refused(400, "model is required")
        elif model not in APIFRAME_MODELS and model not in APIFRAME_MODEL_ALIASES:
            raise Refused(400, f"model must be one of {sorted(APIFRAME_MODELS | APIFRAME_MODEL_ALIASES.keys())}")
        name = APIFRAME_MODEL_ALIASES.get(model, model) if isinstance(model, str) else None
        limits = APIFRAME_V45_LIMITS if name not in (None, "V4") else APIFRAME_V4_LIMITS
        for field, limit in limits.items():
            text(body, field, limit)
        text(body, "webhook_url", ANY_LENGTH)
        text(body, "webhook_secret", ANY_LENGTH)

    def _submit_answer(
        self, kind: str, path: str, record: RequestRecord, check: Callable[[dict[str, Any]], None]
    ) -> web.Response:
        """`check` the body (a refusal is 400 `{"errors": [{"msg"}]}`), then charge and make a task."""
        try:
            body = json_object(record.json)
            check(body)
            if self.credits < self.credits_per_submit:
                raise Refused(400, "Not enough credits")
        except Refused as refused:
            return _errors(refused.error)
        self.credits -= self.credits_per_submit
        return web.json_response({"task_id": self._submit(kind, path, body).task_id})

    async def _extend(self, request: web.Request, record: RequestRecord) -> web.Response:
        return self._submit_answer("extend", request.path, record, self._extend_fields)

    def _extend_fields(self, body: dict[str, Any]) -> None:
        only(body, APIFRAME_EXTEND_FIELDS)
        self._song_fields(body, model_required=False)
        text(body, "song_id", ANY_LENGTH)
        if "continue_at" in body and (error := self._check_continue_at(body)) is not None:
            raise Refused(400, error)
        if "from_upload" in body:
            if boolean(body, "from_upload") is not True:
                raise Refused(400, "from_upload must be true")
            self._upload_song(body)
            return
        text(body, "parent_task_id", ANY_LENGTH, required=True)
        parent = self.tasks.get(body["parent_task_id"])
        if parent is None:
            raise Refused(400, "parent task not found")
        if parent.current.status != "finished":
            raise Refused(400, "parent task is not finished")
        song_id = body.get("song_id")
        if song_id is None:
            raise Refused(400, "song_id is required")
        if song_id not in parent.clip_ids:
            raise Refused(400, "song_id is not a song of the parent task")

    def _upload_song(self, body: dict[str, Any]) -> None:
        """`from_upload: true`: `song_id` must be the song of an upload; no parent task is named."""
        song_id = body.get("song_id")
        if not any(task.kind == "upload" and song_id in task.clip_ids for task in self.tasks.values()):
            raise Refused(400, "song_id is not an uploaded audio")

    async def _imagine(self, request: web.Request, record: RequestRecord) -> web.Response:
        return self._submit_answer("generate", request.path, record, self._imagine_fields)

    def _imagine_fields(self, body: dict[str, Any]) -> None:
        only(body, APIFRAME_IMAGINE_FIELDS)
        self._song_fields(body, model_required=True)
        boolean(body, "make_instrumental")
        if not any(isinstance(body.get(name), str) and body[name].strip() for name in ("prompt", "lyrics")):
            raise Refused(400, "prompt or lyrics is required")

    async def _upload(self, request: web.Request, record: RequestRecord) -> web.Response:
        """`/suno-upload`: JSON `{"audio_url"}` only; the fake fetches the URL, as apiframe does, and makes a song."""
        if request.content_type != "application/json":
            return _errors("send JSON with audio_url")
        body = _body(record)
        audio_url = body.get("audio_url")
        try:
            only(body, frozenset({"audio_url"}))
        except Refused as refused:
            return _errors(refused.error)
        if not isinstance(audio_url, str) or not audio_url.startswith(("http://", "https://")):
            return _errors("audio_url is required")
        try:
            async with (
                ClientSession(timeout=ClientTimeout(total=10)) as session,
                session.get(audio_url) as response,
            ):
                audio = bytearray() if response.status == 200 else None
                async for chunk in response.content.iter_chunked(CHUNK_SIZE):
                    if audio is None or len(audio) > APIFRAME_MAX_UPLOAD:
                        break
                    audio += chunk
        except (ClientError, TimeoutError):
            audio = None
        if audio is None:
            return _errors("audio_url could not be downloaded")
        if len(audio) > APIFRAME_MAX_UPLOAD:
            return _errors("audio file must be at most 10 MB")
        song_id = str(uuid.uuid4())
        self._audio[song_id] = bytes(audio)
        task = self._create_task(
            "upload", {"audio_url": audio_url, "size": len(audio)}, clip_ids=[song_id], steps=[Step("finished")]
        )
        return web.json_response({"task_id": task.task_id, "song_id": song_id})

    async def _media_upload(self, request: web.Request, record: RequestRecord) -> web.Response:
        """`/upload-audio`: multipart field `audio`, at most 2 MB and 60 s (measured as an mp3) → `{"audioURL"}`."""
        if not request.content_type.startswith("multipart/"):
            return _errors("audio file is required")
        audio: bytes | None = None
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if isinstance(part, BodyPartReader) and part.name == "audio":
                audio = bytes(await part.read())
        if audio is None:
            return _errors("audio file is required")
        if len(audio) > APIFRAME_MAX_MEDIA_UPLOAD:
            return _errors("audio file must be at most 2 MB")
        try:
            seconds = mp3_header(io.BytesIO(audio)).length
        except MutagenError:
            return _errors("audio file could not be read")
        if seconds > APIFRAME_MAX_MEDIA_SECONDS:
            return _errors("audio must be at most 60 seconds")
        media_id = str(uuid.uuid4())
        self._audio[media_id] = audio
        self.media_uploads.append(media_id)
        return web.json_response({"audioURL": self.audio_url(media_id)})

    async def _fetch(self, request: web.Request, record: RequestRecord) -> web.Response:
        try:
            body = json_object(record.json)
            only(body, frozenset({"task_id"}))
            text(body, "task_id", ANY_LENGTH, required=True)
        except Refused as refused:
            return _errors(refused.error)
        task = self.tasks.get(body["task_id"])
        if task is None:
            return _errors("task not found")
        return web.json_response(self._answer(task, partial(self._render, task)))

    async def _fetch_many(self, request: web.Request, record: RequestRecord) -> web.Response:
        body = _body(record)
        task_ids = body.get("task_ids")
        try:
            only(body, frozenset({"task_ids"}))
        except Refused as refused:
            return _errors(refused.error)
        if (
            not isinstance(task_ids, list)
            or not 2 <= len(task_ids) <= 20
            or not all(isinstance(t, str) for t in task_ids)
        ):
            return _errors("task_ids must be a list of 2 to 20 task ids")
        tasks = [self.tasks[t] for t in task_ids if t in self.tasks]
        return web.json_response({"tasks": [self._answer(t, partial(self._render, t)) for t in tasks]})

    async def _account(self, request: web.Request, record: RequestRecord) -> web.Response:
        return web.json_response({"email": self.email, "credits": self.credits, "total_images": 0, "plan": self.plan})
