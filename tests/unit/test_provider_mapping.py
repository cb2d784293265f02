"""Mapping each provider's task answer onto Encore's normalized model."""

from __future__ import annotations

import pytest

from bot.domain.models import ProviderState
from bot.providers import ProviderAnswerMalformed, answers, apiframe, sunoapi


def suno_clip(clip_id: str, status: str, **extra: object) -> dict[str, object]:
    return {
        "continue_clip_id": clip_id,
        "title": "Echoes",
        "status": status,
        "audio_url": f"https://cdn/{clip_id}.mp3",
        "image_url": f"https://cdn/{clip_id}.jpeg",
        "image_large_url": f"https://cdn/{clip_id}-large.jpeg",
        "duration": "187.4",
        **extra,
    }


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("submitted", ProviderState.QUEUED),
        ("queued", ProviderState.QUEUED),
        ("streaming", ProviderState.RUNNING),
        ("complete", ProviderState.SUCCEEDED),
        ("error", ProviderState.FAILED),
        ("brand-new-status", ProviderState.UNKNOWN),
    ],
)
def test_sunoapi_statuses(status: str, state: ProviderState) -> None:
    task = sunoapi.parse_task("t1", {"code": 200, "status": status, "clips": [suno_clip("a", status)]})
    assert task.state is state


def test_sunoapi_complete_clips_are_normalized() -> None:
    task = sunoapi.parse_task(
        "t1", {"status": "complete", "clips": [suno_clip("a", "complete"), suno_clip("b", "complete")]}
    )
    assert [clip.id for clip in task.clips] == ["a", "b"]
    first = task.clips[0]
    assert (first.duration, first.title, first.image_url) == (187.4, "Echoes", "https://cdn/a-large.jpeg")


def test_sunoapi_legacy_id_field_is_accepted() -> None:
    clip = suno_clip("ignored", "complete")
    del clip["continue_clip_id"]
    clip["id"] = "legacy"
    assert sunoapi.parse_task("t1", {"status": "complete", "clips": [clip]}).clips[0].id == "legacy"


def test_sunoapi_waits_for_every_clip_and_drops_failed_ones() -> None:
    waiting = sunoapi.parse_task(
        "t", {"status": "complete", "clips": [suno_clip("a", "complete"), suno_clip("b", "streaming")]}
    )
    assert waiting.state is ProviderState.RUNNING
    partial = sunoapi.parse_task(
        "t", {"status": "complete", "clips": [suno_clip("a", "complete"), suno_clip("b", "error", error_message="x")]}
    )
    assert partial.state is ProviderState.SUCCEEDED
    assert [clip.id for clip in partial.clips] == ["a"]
    failed = sunoapi.parse_task(
        "t", {"status": "error", "clips": [suno_clip("a", "error", error_message="lyrics flagged")]}
    )
    assert (failed.state, failed.error) == (ProviderState.FAILED, "lyrics flagged")


@pytest.mark.parametrize("duration", ["n/a", "1e308", 1e308, -3, 0, "nan", "inf", 3600.5])
def test_sunoapi_bad_duration_is_unknown(duration: object) -> None:
    clip = sunoapi.parse_clip({"continue_clip_id": "a", "duration": duration})
    assert clip is not None and clip.duration is None


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("pending", ProviderState.QUEUED),
        ("staged", ProviderState.QUEUED),
        ("retrying", ProviderState.QUEUED),
        ("starting", ProviderState.RUNNING),
        ("processing", ProviderState.RUNNING),
        ("finished", ProviderState.SUCCEEDED),
        ("failed", ProviderState.FAILED),
        ("mystery", ProviderState.UNKNOWN),
    ],
)
def test_apiframe_statuses(status: str, state: ProviderState) -> None:
    song = {"song_id": "s1", "audio_url": "https://cdn/s1.mp3", "image_url": "https://cdn/s1.jpeg"}
    assert apiframe.parse_task({"task_id": "t", "status": status, "songs": [song]}).state is state


@pytest.mark.parametrize(
    ("value", "expected"),
    [(56, 56), (56.9, 56), ("56%", 56), (" 7 % ", 7), ("lots", None), (None, None), (250, 100)],
)
def test_apiframe_percentage(value: object, expected: int | None) -> None:
    assert answers.percentage(value) == expected


@pytest.mark.parametrize("value", [True, float("nan"), float("inf"), [56], {"value": 56}])
def test_apiframe_percentage_that_is_no_number_is_malformed(value: object) -> None:
    with pytest.raises(ProviderAnswerMalformed, match="percentage"):
        answers.percentage(value)


def test_apiframe_failure_message() -> None:
    task = apiframe.parse_task({"task_id": "t", "status": "failed", "message": "content policy"})
    assert (task.state, task.error) == (ProviderState.FAILED, "content policy")
    finished_without_audio = apiframe.parse_task({"task_id": "t", "status": "finished", "songs": [{"song_id": "x"}]})
    assert finished_without_audio.state is ProviderState.FAILED


def test_provider_text_is_cut_at_parse_time_so_no_message_can_outgrow_discord() -> None:
    long = "x" * 3000
    suno = sunoapi.parse_task(
        "t", {"status": "error", "error_message": long, "clips": [suno_clip("a", "error", title=long)]}
    )
    assert suno.error is not None and len(suno.error) == answers.REASON_MAX and suno.error.endswith("…")
    assert suno.clips[0].title is not None and len(suno.clips[0].title) == answers.TITLE_MAX
    frame = apiframe.parse_task({"task_id": "t", "status": "failed", "message": long})
    assert frame.error is not None and len(frame.error) == answers.REASON_MAX


def test_a_repeated_clip_id_in_one_answer_is_one_song_and_a_clip_without_id_is_skipped() -> None:
    first = suno_clip("a", "complete")
    twin = suno_clip("a", "complete", audio_url="https://cdn/other.mp3")
    nameless = suno_clip("", "complete")
    task = sunoapi.parse_task("t", {"status": "complete", "clips": [first, twin, nameless]})
    assert [(clip.id, clip.audio_url) for clip in task.clips] == [("a", "https://cdn/a.mp3")]
    song = {"song_id": "s1", "audio_url": "https://cdn/s1.mp3"}
    twice = apiframe.parse_task({"task_id": "t", "status": "finished", "songs": [song, song, {"audio_url": "x"}]})
    assert [clip.id for clip in twice.clips] == ["s1"]


@pytest.mark.parametrize(
    "answer",
    [
        {"status": "complete", "clips": 5},
        {"status": "complete", "clips": [suno_clip("a", "complete", title={"text": "x"})]},
        {"status": {"x": 1}},
        {"status": "complete", "clips": ["a"]},
        {"status": "complete", "clips": [suno_clip("a", "complete", audio_url="javascript:alert(1)")]},
        {"status": "complete", "clips": [suno_clip("../../etc", "complete")]},
        {"status": "complete", "clips": [suno_clip("a", "complete", duration=[1])]},
    ],
)
def test_sunoapi_answers_of_the_wrong_shape_are_malformed(answer: dict[str, object]) -> None:
    with pytest.raises(ProviderAnswerMalformed):
        sunoapi.parse_task("t", answer)


@pytest.mark.parametrize(
    "answer",
    [
        {"task_id": "t", "status": "processing", "songs": 5},
        {"task_id": "t", "status": "processing", "percentage": float("nan")},
        {"task_id": 7, "status": "processing"},
        {"status": "processing"},
        [],
        {"task_id": "t", "status": "finished", "songs": [{"song_id": 5, "audio_url": "https://cdn/5.mp3"}]},
    ],
)
def test_apiframe_answers_of_the_wrong_shape_are_malformed(answer: object) -> None:
    with pytest.raises(ProviderAnswerMalformed):
        apiframe.parse_task(answer)
