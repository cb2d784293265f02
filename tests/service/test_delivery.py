"""Posting a finished task: once when it works, retried when Discord may recover, given up clearly when not.

The Discord side (`RecordingEvents`) answers each post from a script, with the `DeliveryError`s the real one
raises for a channel that is gone, a missing permission, a refused message or a dropped connection.
"""

from __future__ import annotations

import pytest

from bot.domain.models import TaskStatus
from bot.domain.records import TaskRecord
from bot.service import DeliveryError, TaskService
from bot.service._context import MAX_TRANSIENT_ATTEMPTS
from tests.fakes.events import RecordingEvents
from tests.fakes.scripted_provider import ScriptedSunoApi, answer, clip
from tests.service.conftest import at_provider, current

SONG = "bbbbbbbb-0000-4000-8000-000000000001"


async def finished(service: TaskService, provider: ScriptedSunoApi) -> TaskRecord:
    """A task whose songs are made: the poll step stores them and starts posting."""
    task = await at_provider(service)
    provider.answers[task.provider_task_id or ""] = answer("complete", clip(SONG, title="Echoes"))
    await service.poller.poll_due()
    return task


async def test_a_post_that_works_is_recorded_once_with_its_message(
    service: TaskService, provider: ScriptedSunoApi, events: RecordingEvents
) -> None:
    events.posts.append(4242)
    task = await finished(service, provider)
    await events.wait_ended([task.id])
    delivered = await current(service, task)
    assert (delivered.status, delivered.result_message_id) == (TaskStatus.DELIVERED, 4242)
    assert events.delivery_attempts == [task.id]
    assert [(told.id, told.result_message_id) for told in events.delivered] == [(task.id, 4242)]
    service.deliverer.start(task.id)  # a second start (a resume, a notification) posts nothing again
    await service.stop(grace=5)
    assert events.delivery_attempts == [task.id]


@pytest.mark.parametrize(
    "refusal",
    [
        "the channel is gone or closed to Encore (Unknown Channel)",
        "the channel is gone or closed to Encore (Missing Permissions)",
        "Discord answered 400 (Invalid Form Body)",
    ],
)
async def test_a_permanent_refusal_is_not_retried_and_the_requester_gets_the_songs_another_way(
    service: TaskService, provider: ScriptedSunoApi, events: RecordingEvents, refusal: str
) -> None:
    events.posts.append(DeliveryError(refusal, permanent=True))
    task = await finished(service, provider)
    await events.wait_ended([task.id])
    undeliverable = await current(service, task)
    assert undeliverable.status is TaskStatus.UNDELIVERABLE
    assert undeliverable.error == f"Encore could not post the result: {refusal}"
    assert events.delivery_attempts == [task.id]
    ((told, songs),) = events.undeliverable
    assert told.id == task.id and [song.clip_id for song in songs] == [SONG]  # the songs are kept, not lost
    assert events.delivered == []


async def test_a_transient_failure_is_retried_and_posts_once(
    service: TaskService, provider: ScriptedSunoApi, events: RecordingEvents
) -> None:
    events.posts.extend(
        [
            DeliveryError("Discord answered 503 (upstream connect error)", permanent=False),
            DeliveryError("connection to Discord failed: ServerDisconnectedError", permanent=False),
            7777,
        ]
    )
    task = await finished(service, provider)
    await events.wait_ended([task.id])
    assert (await current(service, task)).result_message_id == 7777
    assert events.delivery_attempts == [task.id] * 3
    assert [told.id for told in events.delivered] == [task.id] and events.undeliverable == []


async def test_a_failure_that_never_clears_ends_undeliverable_after_the_last_attempt(
    service: TaskService, provider: ScriptedSunoApi, events: RecordingEvents
) -> None:
    events.posts.extend(DeliveryError("Discord answered 502 (Bad Gateway)", permanent=False) for _ in range(20))
    task = await finished(service, provider)
    await events.wait_ended([task.id])
    assert len(events.delivery_attempts) == MAX_TRANSIENT_ATTEMPTS
    given_up = await current(service, task)
    assert given_up.status is TaskStatus.UNDELIVERABLE
    assert given_up.error == "Encore could not post the result: Discord answered 502 (Bad Gateway)"


async def test_a_bug_while_posting_ends_undeliverable_with_a_reason_instead_of_hanging(
    service: TaskService, provider: ScriptedSunoApi, events: RecordingEvents
) -> None:
    events.posts.append(KeyError("cover-1"))
    task = await finished(service, provider)
    await events.wait_ended([task.id])
    given_up = await current(service, task)
    assert given_up.status is TaskStatus.UNDELIVERABLE
    assert given_up.error == "Encore could not post the result: an internal error (KeyError)"
    assert events.delivery_attempts == [task.id]
