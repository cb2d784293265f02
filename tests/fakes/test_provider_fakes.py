"""Self-test of the provider fakes, driven with plain aiohttp client calls."""

from __future__ import annotations

import asyncio
import io
import time
from typing import Any

import aiohttp
import pytest

from tests.fakes.providers import FakeApiframe, FakeSunoApi, Step
from tests.support.webhooks import webhook_receiver

KEY = "sk-test"
SUNO_BAD_KEY = {
    "code": 401,
    "message": "Key verification failed, please check whether the key is correct",
}
CLIP_KEYS = {
    "continue_clip_id",
    "title",
    "status",
    "audio_url",
    "image_url",
    "image_large_url",
    "video_url",
    "duration",
    "created_at",
    "model_name",
    "major_model_version",
}
CLIP_ID = "clip-1"  # a song the sunoapi.co account made elsewhere, seeded in the fake
EXTEND = {"prompt": "more", "continue_clip_id": CLIP_ID, "continue_at": 100}


class ManualClock:
    """A clock the test moves by hand, so rate-limit windows need no sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def call(
    session: aiohttp.ClientSession,
    url: str,
    body: dict[str, Any] | None = None,
    *,
    key: str | None = None,
    method: str = "POST",
) -> tuple[int, Any]:
    """Send a JSON request; return (HTTP status, parsed JSON body)."""
    headers = {"Authorization": key} if key is not None else {}
    async with session.request(method, url, json=body, headers=headers) as response:
        return response.status, await response.json()


async def suno(
    session: aiohttp.ClientSession,
    fake: FakeSunoApi,
    path: str,
    body: dict[str, Any],
    *,
    key: str | None = f"Bearer {KEY}",
) -> tuple[int, Any]:
    """Call a sunoapi.co endpoint (`path` under /suno/music/)."""
    return await call(session, f"{fake.base_url}/suno/music/{path}", body, key=key)


async def frame(
    session: aiohttp.ClientSession,
    fake: FakeApiframe,
    path: str,
    body: dict[str, Any] | None = None,
    *,
    key: str | None = KEY,
    method: str = "POST",
) -> tuple[int, Any]:
    """Call an apiframe endpoint."""
    return await call(session, f"{fake.base_url}/{path}", body, key=key, method=method)


async def imagine(session: aiohttp.ClientSession, fake: FakeApiframe, **extra: Any) -> str:
    """Submit an apiframe generation; return its task id."""
    body = {"prompt": "x", "model": "V5", **extra}
    status, answer = await frame(session, fake, "suno-imagine", body)
    assert status == 200
    return str(answer["task_id"])


# sunoapi.co


@pytest.mark.asyncio
async def test_sunoapi_bad_key_is_judged_by_code() -> None:
    async with FakeSunoApi(KEY, clips=[CLIP_ID]) as fake, aiohttp.ClientSession() as s:
        for key in (None, "Bearer wrong", KEY):  # missing, wrong, and without "Bearer"
            assert await suno(s, fake, "extend-music", EXTEND, key=key) == (200, SUNO_BAD_KEY)
        assert await suno(s, fake, "get-task", {"task_id": "x"}, key=None) == (200, SUNO_BAD_KEY)
        assert fake.tasks == {} and fake.rate_limit_violations == []


@pytest.mark.asyncio
async def test_sunoapi_extend_validation_and_continue_at_types() -> None:
    async with FakeSunoApi(KEY, clips=[CLIP_ID], submit_interval=0) as fake, aiohttp.ClientSession() as s:
        for missing in ("prompt", "continue_clip_id", "continue_at"):
            body = {k: v for k, v in EXTEND.items() if k != missing}
            status, answer = await suno(s, fake, "extend-music", body)
            assert status == 200 and answer["code"] == 400 and missing in answer["message"]
        status, answer = await suno(s, fake, "extend-music", {**EXTEND, "continue_at": "100"})
        assert answer["code"] == 400 and fake.tasks == {}
        for at in (100, 100.5):
            status, answer = await suno(s, fake, "extend-music", {**EXTEND, "continue_at": at})
            assert answer == {"code": 200, "task_id": answer["task_id"]}
            submit = await fake.wait_for_submit(timeout=1)
            assert submit.task_id == answer["task_id"] and submit.json["continue_at"] == at
        assert fake.continue_at_types == ["str", "int", "float"]
        assert type((fake.calls("/extend-music")[-1].json or {})["continue_at"]) is float
        status, answer = await suno(s, fake, "generate-music", {"prompt": "a song"})
        assert answer["code"] == 200 and fake.tasks[answer["task_id"]].kind == "generate"
        assert (await suno(s, fake, "generate-music", {}))[1]["code"] == 400


@pytest.mark.asyncio
async def test_sunoapi_polling_drives_script_and_cdn_serves_clips() -> None:
    async with (
        FakeSunoApi(KEY, clips=[CLIP_ID], poll_per_second=None, audio_size=150_000) as fake,
        aiohttp.ClientSession() as s,
    ):
        _, answer = await suno(s, fake, "extend-music", {**EXTEND, "title": "Echoes"})
        task_id = answer["task_id"]
        seen = []
        for _ in range(5):
            _, task = await suno(s, fake, "get-task", {"task_id": task_id})
            assert task["code"] == 200 and task["prompt"] == {**EXTEND, "title": "Echoes"}
            assert len(task["clips"]) == 2 and all(set(c) == CLIP_KEYS for c in task["clips"])
            seen.append(task)
        assert [t["status"] for t in seen] == [
            "submitted",
            "queued",
            "streaming",
            "complete",
            "complete",
        ]
        assert [p.status for p in fake.polls] == [t["status"] for t in seen]
        queued, streaming, complete = seen[1]["clips"][0], seen[2]["clips"][0], seen[3]["clips"][0]
        clip_id = complete["continue_clip_id"]
        assert queued["audio_url"] == "" and queued["duration"] is None
        assert streaming["audio_url"] == fake.preview_url(clip_id) != fake.audio_url(clip_id)
        assert complete["audio_url"] == f"{fake.base_url}/cdn/audio/{clip_id}.mp3"
        assert isinstance(complete["duration"], str) and 120 <= float(complete["duration"]) < 240
        assert complete["title"] == "Echoes"

        async with s.get(complete["audio_url"]) as response:
            assert response.headers["Content-Type"] == "audio/mpeg"
            assert response.content_length == 150_000
            audio = await response.read()
        assert audio == fake.cdn_bytes(clip_id) and audio.startswith(b"ID3")
        async with s.get(streaming["audio_url"]) as response:
            preview = await response.read()
        assert preview.startswith(b"ID3") and preview != audio
        async with s.get(complete["image_url"]) as response:
            assert response.headers["Content-Type"] == "image/jpeg"
            assert (await response.read()).startswith(b"\xff\xd8\xff")


@pytest.mark.asyncio
async def test_sunoapi_legacy_clip_ids_and_unknown_task() -> None:
    async with (
        FakeSunoApi(KEY, clips=[CLIP_ID], legacy_clip_ids=True, poll_per_second=None) as fake,
        aiohttp.ClientSession() as s,
    ):
        _, answer = await suno(s, fake, "extend-music", EXTEND)
        _, task = await suno(s, fake, "get-task", {"task_id": answer["task_id"]})
        assert all("id" in c and "continue_clip_id" not in c for c in task["clips"])
        unknown = await suno(s, fake, "get-task", {"task_id": "nope"})
        assert unknown == (200, {"code": 404, "message": "task not found"})


@pytest.mark.asyncio
async def test_sunoapi_script_controls() -> None:
    async with (
        FakeSunoApi(KEY, clips=[CLIP_ID], poll_per_second=None, submit_interval=0) as fake,
        aiohttp.ClientSession() as s,
    ):

        async def poll(task_id: str) -> dict[str, Any]:
            answer: dict[str, Any] = (await suno(s, fake, "get-task", {"task_id": task_id}))[1]
            return answer

        fake.set_script(None, ["queued", "mystery", "complete"])
        first = (await suno(s, fake, "extend-music", EXTEND))[1]["task_id"]
        second = (await suno(s, fake, "extend-music", EXTEND))[1]["task_id"]
        statuses = [(await poll(first))["status"] for _ in range(3)]
        assert statuses == ["queued", "mystery", "complete"]  # unknown statuses pass through
        assert (await poll(second))["status"] == "submitted"  # back to the default script

        fake.hold(second)
        assert [(await poll(second))["status"] for _ in range(2)] == ["queued", "queued"]
        fake.release(second)
        assert [(await poll(second))["status"] for _ in range(2)] == ["queued", "streaming"]
        fake.finish(second)
        assert (await poll(second))["status"] == "complete"

        fake.fail(first, "content policy")
        failed = await poll(first)
        assert failed["status"] == "error" and failed["error_message"] == "content policy"
        assert {(c["status"], c["error_message"]) for c in failed["clips"]} == {("error", "content policy")}

        fake.set_script(second, [Step("streaming"), Step("complete")])
        assert (await poll(second))["status"] == "streaming"
        polled = await fake.wait_for_poll(second, timeout=1)
        assert (polled.task_id, polled.status) == (second, "submitted")


@pytest.mark.asyncio
async def test_sunoapi_rate_limits_are_sliding_windows_per_key() -> None:
    clock = ManualClock()
    async with FakeSunoApi(KEY, clips=[CLIP_ID], clock=clock) as fake, aiohttp.ClientSession() as s:
        assert (await suno(s, fake, "extend-music", EXTEND))[1]["code"] == 200
        clock.now += 1
        refused = await suno(s, fake, "generate-music", {"prompt": "x"})
        assert refused == (429, {"code": 429, "message": "Too many requests"})
        assert len(fake.tasks) == 1
        assert fake.rate_limit_violations == [("/suno/music/generate-music", 1001.0)]
        assert (await suno(s, fake, "extend-music", EXTEND, key="Bearer bad"))[1]["code"] == 401
        clock.now += 3  # 4 s after the accepted submit; the refused one does not count
        assert (await suno(s, fake, "extend-music", EXTEND))[1]["code"] == 200

        task_id = next(iter(fake.tasks))
        codes = []
        for t in (10.0, 10.6, 10.9, 11.0, 11.5, 11.6):
            clock.now = 1000 + t
            codes.append((await suno(s, fake, "get-task", {"task_id": task_id}))[1]["code"])
        assert codes == [200, 200, 429, 200, 429, 200]
        assert [p for p, _ in fake.rate_limit_violations].count("/suno/music/get-task") == 2


# apiframe


@pytest.mark.asyncio
async def test_apiframe_bad_key_gets_401_empty_object() -> None:
    async with FakeApiframe(KEY) as fake, aiohttp.ClientSession() as s:
        for key in (None, "wrong", f"Bearer {KEY}"):
            answer = await frame(s, fake, "suno-imagine", {"prompt": "x", "model": "V5"}, key=key)
            assert answer == (401, {})
        assert await frame(s, fake, "account", key=None, method="GET") == (401, {})
        assert fake.tasks == {} and fake.credits == 1000


@pytest.mark.asyncio
async def test_apiframe_imagine_fetch_and_account() -> None:
    async with FakeApiframe(KEY, credits_per_submit=12) as fake, aiohttp.ClientSession() as s:
        assert (await frame(s, fake, "suno-imagine", {"prompt": "x"}))[0] == 400
        status, answer = await frame(s, fake, "suno-imagine", {"prompt": "x", "model": "V9"})
        assert status == 400 and answer["errors"][0]["msg"]
        status, answer = await frame(s, fake, "suno-imagine", {"lyrics": "la", "model": "chirp-bluejay"})
        assert status == 200 and set(answer) == {"task_id"}
        task_id = answer["task_id"]
        results = [(await frame(s, fake, "fetch", {"task_id": task_id}))[1] for _ in range(6)]
        assert [(r["status"], r.get("percentage")) for r in results] == [
            ("pending", None),
            ("staged", None),
            ("processing", 20),
            ("processing", "56%"),
            ("processing", 90),
            ("finished", None),
        ]
        assert results[0]["songs"] == [] and results[0]["task_type"] == "suno"
        running, done = results[2]["songs"], results[5]["songs"]
        assert len(done) == 2
        assert all(set(song) == {"song_id", "audio_url", "image_url", "video_url", "lyrics"} for song in done)
        song_id = done[0]["song_id"]
        assert running[0]["audio_url"] == fake.preview_url(song_id)
        assert done[0]["audio_url"] == fake.audio_url(song_id) and done[0]["lyrics"] == "la"
        assert (await frame(s, fake, "fetch", {"task_id": "nope"}))[0] == 400
        assert await frame(s, fake, "account", method="GET") == (
            200,
            {"email": "bot@example.com", "credits": 988, "total_images": 0, "plan": "pro"},
        )


@pytest.mark.asyncio
async def test_apiframe_extend_validation() -> None:
    async with FakeApiframe(KEY) as fake, aiohttp.ClientSession() as s:
        parent = await imagine(s, fake)
        song = fake.tasks[parent].clip_ids[0]

        async def extend(**body: Any) -> tuple[int, Any]:
            return await frame(s, fake, "suno-extend", body)

        assert (await extend())[0] == 400
        assert (await extend(parent_task_id="unknown", song_id=song))[0] == 400
        assert (await extend(parent_task_id=parent, song_id=song))[0] == 400  # not finished yet
        fake.finish(parent)
        assert (await extend(parent_task_id=parent))[0] == 400  # song_id needed for a song parent
        assert (await extend(parent_task_id=parent, song_id="foreign"))[0] == 400
        assert (await extend(parent_task_id=parent, song_id=song, model="v3.5"))[0] == 400
        status, answer = await extend(parent_task_id=parent, song_id=song, continue_at="30")
        assert status == 400 and answer == {"errors": [{"msg": answer["errors"][0]["msg"]}]}
        for model in ("V4_5ALL", "chirp-crow"):
            status, answer = await extend(parent_task_id=parent, song_id=song, model=model, continue_at=30.5)
            assert status == 200 and answer["task_id"] in fake.tasks
        fake.seed_task("site-task", songs=["site-song-a", "site-song-b"])
        seeded = await extend(parent_task_id="site-task", song_id="site-song-b", continue_at=12)
        assert seeded[0] == 200
        assert fake.continue_at_types == ["str", "float", "float", "int"]
        assert [sub.path for sub in fake.submits] == ["/suno-imagine"] + ["/suno-extend"] * 3


@pytest.mark.asyncio
async def test_apiframe_fetch_many() -> None:
    async with FakeApiframe(KEY) as fake, aiohttp.ClientSession() as s:
        ids = [await imagine(s, fake, model="V4") for _ in range(2)]
        for bad in ([ids[0]], ids * 11, "not-a-list", [1, 2]):
            assert (await frame(s, fake, "fetch-many", {"task_ids": bad}))[0] == 400
        status, answer = await frame(s, fake, "fetch-many", {"task_ids": [*ids, "unknown"]})
        assert status == 200 and [t["task_id"] for t in answer["tasks"]] == ids
        assert [(p.task_id, p.status) for p in fake.polls] == [(i, "pending") for i in ids]
        answer = (await frame(s, fake, "fetch-many", {"task_ids": ids}))[1]
        assert [t["status"] for t in answer["tasks"]] == ["staged", "staged"]


@pytest.mark.asyncio
async def test_apiframe_upload_by_url_then_extend_from_upload() -> None:
    async with FakeApiframe(KEY) as fake, aiohttp.ClientSession(headers={"Authorization": KEY}) as s:
        public = fake.audio_url("my song")
        status, upload = await frame(s, fake, "suno-upload", {"audio_url": public})
        assert status == 200 and set(upload) == {"task_id", "song_id"}
        assert fake.tasks[upload["task_id"]].request == {"audio_url": public, "size": fake.audio_size}
        async with s.get(fake.audio_url(upload["song_id"])) as response:
            assert await response.read() == fake.cdn_bytes("my song")
        fetched = (await frame(s, fake, "fetch", {"task_id": upload["task_id"]}))[1]
        assert fetched["status"] == "finished" and [song["song_id"] for song in fetched["songs"]] == [upload["song_id"]]
        from_upload = {"song_id": upload["song_id"], "from_upload": True, "continue_at": 10}
        assert (await frame(s, fake, "suno-extend", from_upload))[0] == 200
        assert (await frame(s, fake, "suno-extend", {**from_upload, "song_id": "foreign"}))[0] == 400
        assert (await frame(s, fake, "suno-extend", {**from_upload, "from_upload": "yes"}))[0] == 400
        assert (await frame(s, fake, "suno-extend", {"parent_task_id": upload["task_id"]}))[0] == 400  # song_id

        multipart = aiohttp.FormData()
        multipart.add_field("audio", b"ID3 my song", filename="song.mp3", content_type="audio/mpeg")
        async with s.post(f"{fake.base_url}/suno-upload", data=multipart) as response:
            assert response.status == 400  # JSON only
        assert (await frame(s, fake, "suno-upload", {}))[0] == 400
        assert (await frame(s, fake, "suno-upload", {"audio_url": f"{fake.base_url}/missing.mp3"}))[0] == 400

        media = aiohttp.FormData()
        media.add_field("audio", fake.cdn_bytes("short")[:160_000], filename="short.mp3", content_type="audio/mpeg")
        async with s.post(f"{fake.base_url}/upload-audio", data=media) as response:
            assert response.status == 200
            audio_url = (await response.json())["audioURL"]
        assert audio_url == fake.audio_url(fake.media_uploads[0])
        too_big = aiohttp.FormData()
        too_big.add_field("audio", io.BytesIO(bytes(2 * 1024 * 1024 + 1)), filename="big.mp3")
        async with s.post(f"{fake.base_url}/upload-audio", data=too_big) as response:
            assert response.status == 400 and "2 MB" in (await response.json())["errors"][0]["msg"]
        assert (await frame(s, fake, "upload-audio", {"audio": "x"}))[0] == 400  # multipart only
        assert [sub.path for sub in fake.submits] == ["/suno-extend"]


@pytest.mark.asyncio
async def test_apiframe_fail_and_credits_exhausted() -> None:
    async with FakeApiframe(KEY, credits=10, credits_per_submit=10) as fake, aiohttp.ClientSession() as s:
        task_id = await imagine(s, fake)
        status, answer = await frame(s, fake, "suno-imagine", {"prompt": "x", "model": "V5"})
        assert status == 400 and answer == {"errors": [{"msg": "Not enough credits"}]}
        fake.fail(task_id, "moderation")
        fetched = (await frame(s, fake, "fetch", {"task_id": task_id}))[1]
        assert fetched["status"] == "failed" and fetched["message"] == "moderation"
        assert fetched["songs"] == []
        assert (await frame(s, fake, "account", method="GET"))[1]["credits"] == 0


@pytest.mark.asyncio
async def test_apiframe_webhooks_follow_every_change() -> None:
    async with webhook_receiver() as (url, received), FakeApiframe(KEY) as fake, aiohttp.ClientSession() as s:
        task_id = await imagine(s, fake, webhook_url=url, webhook_secret="s3cret")
        await frame(s, fake, "fetch", {"task_id": task_id})  # a poll advances: pending -> staged
        for _ in range(5):
            fake.advance(task_id)  # no-op once finished
        fake.push_webhook(task_id)
        deliveries = [await fake.wait_for_webhook(task_id, timeout=2) for _ in range(6)]
        assert [d.body["status"] for d in deliveries] == [
            "staged",
            "processing",
            "processing",
            "processing",
            "finished",
            "finished",
        ]
        assert [d.body.get("percentage") for d in deliveries[1:4]] == [20, "56%", 90]
        assert all(d.response_status == 200 and d.error is None for d in deliveries)
        assert [post.json() for post in received] == [d.body for d in deliveries]
        assert all(post.headers["x-webhook-secret"] == "s3cret" for post in received)


@pytest.mark.asyncio
async def test_apiframe_webhook_duplicates_and_failures_are_recorded() -> None:
    async with (
        webhook_receiver(status=500) as (url, received),
        FakeApiframe(KEY, webhook_duplicates=True, script=["pending", "finished"]) as fake,
        aiohttp.ClientSession() as s,
    ):
        task_id = await imagine(s, fake, webhook_url=url)
        fake.advance(task_id)
        first, second = [await fake.wait_for_webhook(timeout=2) for _ in range(2)]
        assert first.body == second.body and first.body["status"] == "finished"
        assert first.response_status == 500 and "x-webhook-secret" not in received[0].headers

        fake.inject("/dead-hook", reset_connection=True)
        dead = await imagine(s, fake, webhook_url=f"{fake.base_url}/dead-hook")
        fake.finish(dead)
        failed = await fake.wait_for_webhook(dead, timeout=2)
        assert failed.response_status is None and "Disconnected" in str(failed.error)


# shared: faults, recording, lifecycle


@pytest.mark.asyncio
async def test_fault_bodies_and_counts() -> None:
    async with FakeApiframe(KEY) as fake, aiohttp.ClientSession(headers={"Authorization": KEY}) as s:
        url = f"{fake.base_url}/fetch"
        fake.inject("/fetch", status=500, body={}, times=2)
        fake.inject("/fetch", status=200, raw=b"{not json")
        fake.inject("/fetch", status=502, body="<html>Bad Gateway</html>")
        for _ in range(2):
            async with s.post(url, json={"task_id": "t"}) as response:
                assert response.status == 500 and await response.json() == {}
        async with s.post(url, json={"task_id": "t"}) as response:
            assert response.status == 200 and response.content_type == "application/json"
            with pytest.raises(ValueError):
                await response.json()
        async with s.post(url, json={"task_id": "t"}) as response:
            assert response.status == 502 and await response.text() == "<html>Bad Gateway</html>"
        async with s.post(url, json={"task_id": "t"}) as response:
            assert response.status == 400  # faults used up: the real handler answers
        assert [r.status for r in fake.calls("/fetch")] == [500, 500, 200, 502, 400]


@pytest.mark.asyncio
async def test_fault_delay_provokes_client_timeout_and_close_cuts_it_short() -> None:
    fake = FakeSunoApi(KEY, clips=[CLIP_ID])
    await fake.start()
    fake.inject("/extend-music", delay=30)
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {KEY}"}) as s:
        with pytest.raises(asyncio.TimeoutError):
            await s.post(
                f"{fake.base_url}/suno/music/extend-music", json=EXTEND, timeout=aiohttp.ClientTimeout(total=0.2)
            )
        started = time.monotonic()
        await fake.close()
    assert time.monotonic() - started < 1.5 and fake.tasks == {}


@pytest.mark.asyncio
async def test_fault_slow_success_is_still_processed() -> None:
    async with FakeSunoApi(KEY, clips=[CLIP_ID]) as fake, aiohttp.ClientSession() as s:
        fake.inject("/extend-music", status=None, delay=0.05)
        status, answer = await suno(s, fake, "extend-music", EXTEND)
        assert (status, answer["code"]) == (200, 200) and answer["task_id"] in fake.tasks


@pytest.mark.asyncio
async def test_fault_connection_reset_and_cdn_faults() -> None:
    async with FakeSunoApi(KEY, clips=[CLIP_ID], audio_size=1000) as fake, aiohttp.ClientSession() as s:
        fake.inject("/get-task", reset_connection=True)
        with pytest.raises(aiohttp.ClientConnectionError):
            await suno(s, fake, "get-task", {"task_id": "x"})
        assert fake.calls("/get-task")[0].status is None
        assert (await suno(s, fake, "get-task", {"task_id": "x"}))[1]["code"] == 404

        fake.inject("/cdn/audio/clip-9.mp3", status=404, body={"message": "gone"})
        fake.inject(".mp3", reset_connection=True, times=2)  # aiohttp retries a GET once
        async with s.get(fake.audio_url("clip-9")) as response:
            assert response.status == 404
        with pytest.raises(aiohttp.ClientConnectionError):
            async with s.get(fake.audio_url("clip-9")) as response:
                await response.read()
        async with s.get(fake.audio_url("clip-9")) as response:
            assert await response.read() == fake.cdn_bytes("clip-9")
        assert len(fake.cdn_bytes("clip-9")) == 1000


@pytest.mark.asyncio
async def test_requests_are_recorded() -> None:
    clock = ManualClock()
    async with FakeSunoApi(KEY, clips=[CLIP_ID], clock=clock) as fake, aiohttp.ClientSession() as s:
        await suno(s, fake, "extend-music", EXTEND)
        async with s.get(f"{fake.base_url}/suno/v1/music/generate") as response:
            assert response.status == 404
        extend, wrong = fake.requests
        assert (extend.method, extend.path, extend.json, extend.time, extend.status) == (
            "POST",
            "/suno/music/extend-music",
            EXTEND,
            1000.0,
            200,
        )
        assert extend.headers["authorization"] == f"Bearer {KEY}"
        assert (wrong.path, wrong.json, wrong.status) == ("/suno/v1/music/generate", None, 404)
        assert fake.calls("/extend-music") == [extend]
    with pytest.raises(RuntimeError):
        _ = FakeApiframe(KEY).base_url
