"""Applying what the provider says of a task: every fold of sunoapi.co's answer, and stale and repeated ones.

Poll answers go through `poll_due` (the poll loop's step); pushed updates through `apply_update` (the webhook
entry). Both read the real parser's fold of a scripted get-task answer and write to the real store.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from bot.domain.models import Clip, ExtendRequest, ProviderState, ProviderTask, TaskStatus
from bot.providers import ProviderAuthError, ProviderError, ProviderUnavailable
from bot.service import TaskService
from bot.service._poll import REUSED_CLIPS_MESSAGE
from bot.store.sqlite import SqliteStore
from tests.fakes.events import RecordingEvents
from tests.fakes.scripted_provider import ScriptedSunoApi, answer, clip
from tests.service.conftest import CLIP, NO_QUOTA, POLL_INTERVAL, STALL_TIMEOUT, at_provider, current, requester

FIRST = "aaaaaaaa-0000-4000-8000-000000000001"
SECOND = "aaaaaaaa-0000-4000-8000-000000000002"
UNREADABLE = {"code": 200, "status": "complete", "clips": "not a list"}


async def test_a_queued_answer_keeps_the_task_submitted_and_schedules_its_next_poll(
    store: SqliteStore, provider: ScriptedSunoApi, events: RecordingEvents
) -> None:
    # The production interval, not the suite's microsecond one: "not due yet" must not depend on how fast the
    # machine runs the next line (1 ms later the task would be legitimately due again and polled a second time).
    interval = 5.0
    service = TaskService(store, provider, events, poll_interval=interval, stall_timeout=STALL_TIMEOUT, quota=NO_QUOTA)
    task = await at_provider(service)
    provider.answers[task.provider_task_id or ""] = answer("queued", clip(FIRST, "queued", audio=False))
    before = time.time()
    assert await service.poller.poll_due() == 0
    after = time.time()
    polled = await current(service, task)
    assert (polled.status, polled.provider_status) == (TaskStatus.SUBMITTED, "queued")
    assert before + interval <= polled.next_attempt_at <= after + interval  # one interval after the answer
    assert [event.task.provider_status for event in events.progressed] == ["queued"]
    wait = await service.poller.poll_due()  # nothing else is due: the step says how long to wait
    assert wait is not None and 0 < wait <= interval
    assert provider.polled == [task.provider_task_id]


async def test_a_streaming_answer_makes_the_task_running_with_its_previews(
    service: TaskService, provider: ScriptedSunoApi, events: RecordingEvents
) -> None:
    task = await at_provider(service)
    provider.answers[task.provider_task_id or ""] = answer("streaming", clip(FIRST, "streaming"))
    await service.poller.poll_due()
    running = await current(service, task)
    assert (running.status, running.provider_status) == (TaskStatus.RUNNING, "streaming")
    assert running.previews == {FIRST: f"https://cdn1.suno.ai/{FIRST}.mp3"}
    assert [event.task.status for event in events.progressed] == [TaskStatus.RUNNING]


async def test_a_partly_complete_answer_is_still_running_and_stores_no_song(
    service: TaskService, provider: ScriptedSunoApi, events: RecordingEvents
) -> None:
    task = await at_provider(service)
    provider.answers[task.provider_task_id or ""] = answer(
        "complete", clip(FIRST, "complete"), clip(SECOND, "streaming", audio=False)
    )
    await service.poller.poll_due()
    partial = await current(service, task)
    assert (partial.status, partial.provider_status) == (TaskStatus.RUNNING, "complete")
    assert await service.store.songs_of_task(task.id) == []
    assert (events.delivery_attempts, events.failed) == ([], [])


async def test_a_complete_answer_stores_the_songs_and_posts_them_once(
    service: TaskService, provider: ScriptedSunoApi, events: RecordingEvents
) -> None:
    task = await at_provider(service)
    provider.answers[task.provider_task_id or ""] = answer(
        "complete", clip(FIRST, title="Night drive"), clip(SECOND, title="Night drive II")
    )
    await service.poller.poll_due()
    await events.wait_ended([task.id])
    delivered = await current(service, task)
    assert (delivered.status, delivered.result_message_id) == (TaskStatus.DELIVERED, 10_000 + task.id)
    songs = await service.store.songs_of_task(task.id)
    assert [(song.clip_id, song.title, song.parent_clip_id) for song in songs] == [
        (FIRST, "Night drive", CLIP),
        (SECOND, "Night drive II", CLIP),
    ]
    assert events.delivery_attempts == [task.id]
    assert [done.id for done in events.delivered] == [task.id]


async def test_an_error_answer_fails_the_task_with_sunos_reason(
    service: TaskService, provider: ScriptedSunoApi, events: RecordingEvents
) -> None:
    task = await at_provider(service)
    provider.answers[task.provider_task_id or ""] = answer(
        "error", clip(FIRST, "error", audio=False), error_message="Lyrics contain artist names"
    )
    await service.poller.poll_due()
    failed = await current(service, task)
    assert failed.status is TaskStatus.FAILED
    assert failed.error == "Suno couldn't make this song: Lyrics contain artist names"
    assert [told.error for told in events.failed] == [failed.error]


async def test_an_unreadable_answer_backs_the_task_off_and_keeps_it(
    service: TaskService, provider: ScriptedSunoApi, events: RecordingEvents
) -> None:
    task = await at_provider(service)
    provider.answers[task.provider_task_id or ""] = UNREADABLE
    before = time.time()
    await service.poller.poll_due()
    kept = await current(service, task)
    assert kept.status is TaskStatus.SUBMITTED and kept.next_attempt_at > before
    assert [event.retrying for event in events.progressed] == ["the provider's answer could not be read"]
    assert events.failed == []


async def test_unreadable_answers_past_the_stall_timeout_fail_the_task_saying_why(
    store: SqliteStore, provider: ScriptedSunoApi, events: RecordingEvents
) -> None:
    service = TaskService(store, provider, events, poll_interval=POLL_INTERVAL, stall_timeout=0.0, quota=NO_QUOTA)
    task = await at_provider(service)
    provider.answers[task.provider_task_id or ""] = UNREADABLE
    await service.poller.poll_due()
    failed = await current(service, task)
    assert failed.status is TaskStatus.FAILED
    assert "could not read" in (failed.error or "") and "`clips` is a" in (failed.error or "")
    assert [told.id for told in events.failed] == [task.id]


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (ProviderUnavailable("sunoapi error: 502 Bad Gateway"), "could not reach the provider"),
        (ProviderAuthError("sunoapi refused the API key: invalid key"), "refused Encore's API key"),
    ],
)
async def test_a_failed_poll_is_retried_later_and_past_the_stall_timeout_ends_the_task(
    store: SqliteStore, provider: ScriptedSunoApi, events: RecordingEvents, error: ProviderError, said: str
) -> None:
    patient = TaskService(store, provider, events, poll_interval=POLL_INTERVAL, stall_timeout=900, quota=NO_QUOTA)
    task = await at_provider(patient)
    provider.poll_errors.append(error)
    before = time.time()
    await patient.poller.poll_due()
    deferred = await current(patient, task)
    assert deferred.status is TaskStatus.SUBMITTED and deferred.next_attempt_at > before
    assert [event.retrying for event in events.progressed] == [str(error)]

    stalled = TaskService(store, provider, events, poll_interval=POLL_INTERVAL, stall_timeout=0.0, quota=NO_QUOTA)
    await store.defer_poll(task.id, time.time())
    provider.poll_errors.append(error)
    await stalled.poller.poll_due()
    failed = await current(stalled, task)
    assert failed.status is TaskStatus.FAILED and said in (failed.error or "")
    assert [told.id for told in events.failed] == [task.id]


async def test_a_late_queued_answer_never_moves_a_running_task_back(
    service: TaskService, provider: ScriptedSunoApi, events: RecordingEvents
) -> None:
    task = await at_provider(service)
    provider_id = task.provider_task_id or ""
    provider.answers[provider_id] = answer("streaming", clip(FIRST, "streaming"))
    await service.poller.poll_due()
    provider.answers[provider_id] = answer("queued", clip(FIRST, "queued", audio=False))
    late = (await provider.fetch([provider_id]))[0]
    assert await service.apply_update(provider_id, late) is False  # pushed: ignored
    await service.store.defer_poll(task.id, time.time())
    await service.poller.poll_due()  # polled: the next poll is scheduled, the state kept
    kept = await current(service, task)
    assert (kept.status, kept.provider_status) == (TaskStatus.RUNNING, "streaming")
    assert [event.task.status for event in events.progressed] == [TaskStatus.RUNNING]


async def test_less_progress_than_stored_is_stale_and_the_same_update_twice_is_applied_once(
    service: TaskService, events: RecordingEvents
) -> None:
    task = await at_provider(service)
    provider_id = task.provider_task_id or ""
    at_60 = ProviderTask(provider_id, ProviderState.RUNNING, "processing", progress=60)
    assert await service.apply_update(provider_id, at_60) is True
    assert await service.apply_update(provider_id, at_60) is False  # webhooks repeat
    at_40 = ProviderTask(provider_id, ProviderState.RUNNING, "processing", progress=40)
    assert await service.apply_update(provider_id, at_40) is False  # and arrive late
    assert (await current(service, task)).progress == 60
    assert [event.task.progress for event in events.progressed] == [60]


async def test_an_update_for_an_unknown_or_finished_task_is_ignored(
    service: TaskService, events: RecordingEvents
) -> None:
    done = ProviderTask("suno-task-404", ProviderState.SUCCEEDED, "complete", clips=(Clip(FIRST, None, None),))
    assert await service.apply_update("suno-task-404", done) is False
    task = await at_provider(service)
    provider_id = task.provider_task_id or ""
    assert await service.store.mark_failed(task.id, "cancelled by the test")
    assert await service.apply_update(provider_id, done) is False
    assert await service.store.get_song(FIRST) is None
    assert (events.progressed, events.delivered) == ([], [])


async def test_songs_encore_already_has_are_never_stored_again(
    service: TaskService, provider: ScriptedSunoApi, events: RecordingEvents
) -> None:
    earlier = await at_provider(service, prompt="earlier")
    provider.answers[earlier.provider_task_id or ""] = answer("complete", clip(FIRST))
    await service.poller.poll_due()
    await events.wait_ended([earlier.id])

    reused = await at_provider(service, prompt="only a reused song")
    provider.answers[reused.provider_task_id or ""] = answer("complete", clip(FIRST))
    mixed = await at_provider(service, prompt="a reused song and a new one")
    provider.answers[mixed.provider_task_id or ""] = answer("complete", clip(FIRST), clip(SECOND))
    await service.poller.poll_due()
    await service.poller.poll_due()
    await events.wait_ended([reused.id, mixed.id])
    assert ((await current(service, reused)).status, (await current(service, reused)).error) == (
        TaskStatus.FAILED,
        REUSED_CLIPS_MESSAGE,
    )
    assert [song.clip_id for song in await service.store.songs_of_task(mixed.id)] == [SECOND]
    first = await service.store.get_song(FIRST)
    assert first is not None and first.task_id == earlier.id  # never overwritten


class CallsBackAtOnce(ScriptedSunoApi):
    """Calls Encore's task back (at its own URL, as sunoapi.org does) before its submit's answer has even left:
    the call reaches a task Encore has not recorded as submitted yet."""

    def __init__(self) -> None:
        super().__init__()
        self.service: TaskService | None = None
        self.calls: list[asyncio.Task[bool]] = []

    async def submit_extend(self, request: ExtendRequest, *, reference: int | None = None) -> str:
        assert self.service is not None and reference is not None
        self.calls.append(asyncio.create_task(self.service.poll_now(reference, said_finished=True)))
        await asyncio.sleep(0)  # the call runs now, while Encore waits for this answer
        return await super().submit_extend(request, reference=reference)


async def test_a_call_that_comes_before_the_submission_is_recorded_waits_for_it_and_has_the_task_polled(
    store: SqliteStore, events: RecordingEvents
) -> None:
    provider = CallsBackAtOnce()
    service = TaskService(store, provider, events, poll_interval=5.0, stall_timeout=STALL_TIMEOUT, quota=NO_QUOTA)
    provider.service = service
    task = await store.create_task(requester(), provider.name, ExtendRequest(clip_id=CLIP, continue_at=65.0))
    assert task is not None
    before = time.time()
    assert await service.submitter.submit_next() == 0
    (called,) = provider.calls
    assert await called  # it waited for the record instead of finding no task at the provider
    submitted = await current(service, task)
    assert submitted.status is TaskStatus.SUBMITTED and submitted.next_attempt_at <= time.time()
    assert submitted.next_attempt_at >= before  # due now, not at the first poll the submission scheduled
    assert not await service.poll_now(task.id, "apiframe")  # a provider this service does not run
