"""Several providers at once: where each request goes, what a provider's failure does, and the cool-down.

The real service over the real SQLite store, with two scripted providers (sunoapi.co's answers, read by its real
parser, under two names and two contracts) and a hand-moved clock for the providers' health. A test drives one
loop step at a time.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import ClassVar

import pytest

from bot.domain.capabilities import ProviderCapabilities
from bot.domain.errors import InputError
from bot.domain.models import Clip, ExtendRequest, GenerateRequest, TaskStatus
from bot.domain.validation import ExtendOptions, GenerateOptions
from bot.providers import (
    ProviderAuthError,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
    ProviderUnreachable,
)
from bot.providers.sunoapi_org.capabilities import CAPABILITIES as SUNOAPI_ORG_CAPABILITIES
from bot.service import TaskService
from bot.service.admin import Credits
from bot.service.health import ProviderHealth
from bot.store.sqlite import SqliteStore
from tests.fakes.events import RecordingEvents
from tests.fakes.scripted_provider import ScriptedSunoApi
from tests.service.conftest import NO_QUOTA, POLL_INTERVAL, STALL_TIMEOUT, current, requester

COOLDOWN = 60.0
SONG = "aaaaaaaa-1111-4222-8333-444455556666"
OTHER_SONG = "bbbbbbbb-1111-4222-8333-444455556666"


class ScriptedSunoApiOrg(ScriptedSunoApi):
    """A second provider: sunoapi.org's name and contract (models, limits), the same scripted answers."""

    name: ClassVar[str] = "sunoapi_org"
    capabilities: ClassVar[ProviderCapabilities] = SUNOAPI_ORG_CAPABILITIES


class Clock:
    """The health's clock, moved by hand: a cool-down ends when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def first() -> ScriptedSunoApiOrg:
    return ScriptedSunoApiOrg()


@pytest.fixture
def second() -> ScriptedSunoApi:
    return ScriptedSunoApi()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def service(
    store: SqliteStore, first: ScriptedSunoApiOrg, second: ScriptedSunoApi, events: RecordingEvents, clock: Clock
) -> AsyncIterator[TaskService]:
    health = ProviderHealth([first.name, second.name], failures_before_cooldown=3, cooldown=COOLDOWN, clock=clock)
    service = TaskService(
        store,
        [first, second],
        events,
        poll_interval=POLL_INTERVAL,
        stall_timeout=STALL_TIMEOUT,
        quota=NO_QUOTA,
        health=health,
    )
    yield service
    await service.stop(grace=5)


def take_down(service: TaskService, name: str) -> None:
    """Three refused connections in a row: the provider is skipped for a cool-down."""
    for _ in range(3):
        service.health.failed(name, ProviderUnreachable(f"{name} connection failed"))
    assert service.health.is_down(name)


async def song_made_by(service: TaskService, provider: str, clip_id: str, model: str | None) -> None:
    """A song Encore made on `provider`, as the store keeps it after a finished task."""
    task = await service.store.create_task(requester(), provider, GenerateRequest(prompt="a song", model=model))
    assert task is not None
    assert await service.store.mark_submitted(task.id, f"{provider}-task", next_poll_at=time.time())
    submitted = await current(service, task)
    assert await service.store.mark_succeeded(submitted, [Clip(clip_id, "https://cdn1.suno.ai/a.mp3", None)])


def a_song(prompt: str = "a song about the sea") -> GenerateOptions:
    return GenerateOptions(prompt=prompt)


async def test_a_new_song_goes_to_the_first_healthy_provider_and_members_are_told_nothing(
    service: TaskService, first: ScriptedSunoApiOrg, second: ScriptedSunoApi
) -> None:
    accepted = await service.intake.request_generate(requester(), a_song())
    assert (accepted.task.provider, accepted.task.bound, accepted.note) == (first.name, False, None)
    take_down(service, first.name)
    skipped = await service.intake.request_generate(requester(), a_song("another"))
    assert (skipped.task.provider, skipped.note) == (second.name, None)
    assert (await service.intake.capabilities()).name == second.name  # /generate's model choices follow


async def test_when_every_provider_is_down_the_request_waits_and_the_member_is_told(
    service: TaskService, first: ScriptedSunoApiOrg, second: ScriptedSunoApi, clock: Clock
) -> None:
    take_down(service, first.name)
    take_down(service, second.name)
    accepted = await service.intake.request_generate(requester(), a_song())
    assert accepted.task.provider == first.name
    assert accepted.note is not None and "Every Suno provider" in accepted.note
    assert await service.submitters[first.name].submit_next() == pytest.approx(COOLDOWN)
    assert first.submitted == [] and second.submitted == []
    clock.now += COOLDOWN
    assert await service.submitters[first.name].submit_next() == 0
    assert len(first.submitted) == 1


async def test_a_refused_connection_sends_a_new_song_to_the_next_provider_once(
    service: TaskService, first: ScriptedSunoApiOrg, second: ScriptedSunoApi, events: RecordingEvents
) -> None:
    accepted = await service.intake.request_generate(requester(), a_song())
    first.submit_errors.append(ProviderUnreachable("sunoapi_org connection failed on /api/v1/generate"))
    await service.submitters[first.name].submit_next()
    moved = await current(service, accepted.task)
    assert (moved.provider, moved.status) == (second.name, TaskStatus.QUEUED)
    # Carried over as the second provider takes it: sunoapi.co runs its one model, not sunoapi.org's default.
    assert moved.request == GenerateRequest(prompt="a song about the sea", model=None)
    await service.submitters[second.name].submit_next()
    assert first.submitted == [] and second.submitted == [moved.request]
    assert (await current(service, accepted.task)).status is TaskStatus.SUBMITTED
    assert events.failed == []


@pytest.mark.parametrize(
    "error",
    [
        ProviderUnavailable("sunoapi_org did not answer /api/v1/generate in time"),
        ProviderUnavailable("sunoapi_org error: HTTP 502 on /api/v1/generate"),
        ProviderUnavailable("sunoapi_org connection failed on /api/v1/generate: ServerDisconnectedError"),
    ],
)
async def test_a_submission_that_may_have_been_accepted_is_never_sent_again_anywhere(
    service: TaskService,
    first: ScriptedSunoApiOrg,
    second: ScriptedSunoApi,
    events: RecordingEvents,
    error: ProviderUnavailable,
) -> None:
    accepted = await service.intake.request_generate(requester(), a_song())
    first.submit_errors.append(error)
    await service.submitters[first.name].submit_next()
    for submitter in service.submitters.values():
        await submitter.submit_next()
    ended = await current(service, accepted.task)
    assert (ended.provider, ended.status) == (first.name, TaskStatus.FAILED)
    assert ended.error is not None and "not sent again, to this provider or another" in ended.error
    assert first.submitted == [] and second.submitted == []
    assert [task.id for task in events.failed] == [accepted.task.id]


@pytest.mark.parametrize(
    "refusal",
    [
        ProviderRateLimited("sunoapi_org rate limit: code 430"),
        ProviderAuthError("sunoapi_org refused the API key"),
        ProviderRejected("insufficient credits"),
        ProviderUnreachable("sunoapi_org is down: code 455 maintenance"),
    ],
)
async def test_a_refusal_by_definition_lets_a_new_song_go_to_the_next_provider(
    service: TaskService, first: ScriptedSunoApiOrg, second: ScriptedSunoApi, refusal: Exception
) -> None:
    accepted = await service.intake.request_generate(requester(), a_song())
    first.submit_errors.append(refusal)  # type: ignore[arg-type]
    await service.submitters[first.name].submit_next()
    await service.submitters[second.name].submit_next()
    assert first.submitted == [] and len(second.submitted) == 1
    assert (await current(service, accepted.task)).provider == second.name


async def test_a_request_every_provider_refuses_ends_instead_of_going_round(
    service: TaskService, first: ScriptedSunoApiOrg, second: ScriptedSunoApi, events: RecordingEvents
) -> None:
    accepted = await service.intake.request_generate(requester(), a_song())
    first.submit_errors.append(ProviderRejected("prompt refused"))
    second.submit_errors.append(ProviderRejected("prompt refused too"))
    await service.submitters[first.name].submit_next()
    await service.submitters[second.name].submit_next()
    for submitter in service.submitters.values():
        assert await submitter.submit_next() is None  # nothing left anywhere
    ended = await current(service, accepted.task)
    assert (ended.provider, ended.status) == (second.name, TaskStatus.FAILED)
    assert ended.error is not None and "prompt refused too" in ended.error


async def test_an_extend_of_a_song_goes_to_the_provider_that_made_it_with_its_model(
    service: TaskService, first: ScriptedSunoApiOrg, second: ScriptedSunoApi
) -> None:
    await song_made_by(service, first.name, SONG, "V4_5")
    await song_made_by(service, second.name, OTHER_SONG, None)
    song = await service.store.get_song(SONG)
    assert song is not None and (song.provider, song.model) == (first.name, "V4_5")
    options = ExtendOptions(song=SONG, at="0:30", lyrics="more", style="synthwave", title="Night Drive II")
    accepted = await service.intake.request_extend(requester(), options)
    assert (accepted.task.provider, accepted.task.bound) == (first.name, True)
    assert isinstance(accepted.task.request, ExtendRequest) and accepted.task.request.model == "V4_5"
    with pytest.raises(InputError, match="V4_5"):  # sunoapi.org extends only with the song's own model
        await service.intake.request_extend(requester(), ExtendOptions(song=SONG, at="0:30", model="V5"))
    # /extend's model choices are those of the song's own provider.
    assert (await service.intake.capabilities(SONG)).name == first.name
    assert (await service.intake.capabilities(OTHER_SONG)).name == second.name
    on_second = await service.intake.request_extend(requester(), ExtendOptions(song=OTHER_SONG, at="0:30", lyrics="x"))
    assert (on_second.task.provider, on_second.task.bound) == (second.name, True)


async def test_an_extend_waits_while_its_own_provider_is_down_and_is_sent_once_it_is_back(
    service: TaskService, first: ScriptedSunoApiOrg, second: ScriptedSunoApi, clock: Clock
) -> None:
    await song_made_by(service, first.name, SONG, "V5")
    take_down(service, first.name)
    options = ExtendOptions(song=SONG, at="0:30", lyrics="more", style="synthwave", title="Night Drive II")
    accepted = await service.intake.request_extend(requester(), options)
    assert accepted.task.provider == first.name
    assert accepted.note is not None and "sunoapi.org, which made this song, is not answering" in accepted.note
    # While it is down nothing is sent to it, and nothing goes to the other provider.
    assert await service.submitters[first.name].submit_next() == pytest.approx(COOLDOWN)
    assert await service.submitters[second.name].submit_next() is None
    assert first.submitted == [] and second.submitted == []
    assert (await current(service, accepted.task)).status is TaskStatus.QUEUED
    clock.now += COOLDOWN
    await service.submitters[first.name].submit_next()
    assert first.submitted == [accepted.task.request] and second.submitted == []
    assert not service.health.is_down(first.name)  # one answer makes it healthy again


async def test_a_refused_connection_keeps_a_bound_extend_queued_without_spending_its_attempts(
    service: TaskService, first: ScriptedSunoApiOrg, second: ScriptedSunoApi
) -> None:
    await song_made_by(service, first.name, SONG, "V5")
    options = ExtendOptions(song=SONG, at="0:30", lyrics="more", style="synthwave", title="Night Drive II")
    accepted = await service.intake.request_extend(requester(), options)
    for _ in range(3):
        first.submit_errors.append(ProviderUnreachable("sunoapi_org connection failed"))
        await service.store.defer_submit(accepted.task.id, 0.0, "due now", counted=False)
        await service.submitters[first.name].submit_next()
    waiting = await current(service, accepted.task)
    assert (waiting.provider, waiting.status, waiting.attempts) == (first.name, TaskStatus.QUEUED, 0)
    assert waiting.provider_status == "retrying once sunoapi.org answers again"
    assert service.health.is_down(first.name)
    assert second.submitted == []


async def test_the_cool_down_counts_only_failures_in_a_row_of_the_provider_s_own(
    service: TaskService, first: ScriptedSunoApiOrg, clock: Clock
) -> None:
    health = service.health
    for _ in range(5):
        health.failed(first.name, ProviderRejected("lyrics too long"))  # the request's fault, not the provider's
    health.failed(first.name, ProviderUnavailable("HTTP 502"))
    health.failed(first.name, ProviderRateLimited("HTTP 429"))
    health.succeeded(first.name)
    health.failed(first.name, ProviderUnavailable("HTTP 502"))
    health.failed(first.name, ProviderUnavailable("HTTP 503"))
    assert not health.is_down(first.name)
    health.failed(first.name, ProviderUnavailable("timed out"))
    report = {state.provider: state for state in health.report()}[first.name]
    assert (report.up, report.failures, report.retry_in, report.last_error) == (False, 3, COOLDOWN, "timed out")
    clock.now += COOLDOWN / 2
    assert health.is_down(first.name)
    clock.now += COOLDOWN / 2
    assert not health.is_down(first.name)  # tried again; one more failure skips it again at once
    health.failed(first.name, ProviderUnreachable("refused"))
    assert health.retry_in(first.name) == COOLDOWN


async def test_new_songs_queued_for_a_provider_that_goes_down_move_to_a_healthy_one(
    service: TaskService, first: ScriptedSunoApiOrg, second: ScriptedSunoApi
) -> None:
    await song_made_by(service, first.name, SONG, "V5")
    new = await service.intake.request_generate(requester(), a_song())
    options = ExtendOptions(song=SONG, at="0:30", lyrics="more", style="synthwave", title="Night Drive II")
    extend = await service.intake.request_extend(requester(), options)
    take_down(service, first.name)
    assert await service.submitters[first.name].submit_next() == 0  # the new song moves
    assert await service.submitters[first.name].submit_next() == pytest.approx(COOLDOWN)  # the extend stays
    assert (await current(service, new.task)).provider == second.name
    assert (await current(service, extend.task)).provider == first.name
    await service.submitters[second.name].submit_next()
    assert len(second.submitted) == 1 and first.submitted == []


async def test_usage_shows_the_credits_of_every_provider_in_order(
    service: TaskService, first: ScriptedSunoApiOrg, second: ScriptedSunoApi
) -> None:
    report = await service.admin.usage(1, days=1, now=time.time())
    assert report.credits == [Credits(first.name, None), Credits(second.name, None)]
