"""Parsing and validation of `/extend` options: every bad input becomes a clear `InputError`."""

from __future__ import annotations

import pytest

from bot.domain.records import SongRecord
from bot.domain.validation import (
    ExtendOptions,
    InputError,
    format_seconds,
    parse_song_ref,
    parse_timestamp,
    validate_extend,
    validate_upload_extend,
)
from bot.providers import CAPABILITIES

CLIP = "3f2a1c9b-1111-4222-8333-444455556666"
PARENT = "29e983ca-7e86-4017-a9e3-ef6fe9cd5f2a"


def song(provider: str = "apiframe", duration: float | None = 187.5) -> SongRecord:
    return SongRecord(
        clip_id=CLIP,
        provider=provider,
        provider_task_id=PARENT,
        task_id=1,
        owner_id=5,
        guild_id=7,
        title="Echoes",
        duration=duration,
        audio_url=None,
        image_url=None,
        parent_clip_id=None,
        continue_at=None,
        created_at=0.0,
    )


@pytest.mark.parametrize(
    "text",
    [
        CLIP,
        CLIP.upper(),
        f"https://suno.com/song/{CLIP}",
        f"https://www.suno.com/song/{CLIP}?sh=abc",
        f"suno.com/song/{CLIP}/",
        f"https://app.suno.ai/song/{CLIP}",
        f"https://suno.com/embed/{CLIP}",
        f"  {CLIP}  ",
    ],
)
def test_song_refs_resolve_to_the_clip_id(text: str) -> None:
    assert parse_song_ref(text) == CLIP


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("", "empty"),
        ("not a song", "Suno song link"),
        (f"https://example.com/song/{CLIP}", "Suno song link"),
        ("https://suno.com/s/AbCdEf", "Short suno.com/s/"),
        ("https://suno.com/song/123", "Suno song link"),
    ],
)
def test_bad_song_refs_say_how_to_write_them(text: str, hint: str) -> None:
    with pytest.raises(InputError, match=hint):
        parse_song_ref(text)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("95", 95.0), ("95.5", 95.5), ("1:35", 95.0), ("1:35.5", 95.5), ("0:02:03", 123.0), (" 0:07 ", 7.0)],
)
def test_timestamps(text: str, seconds: float) -> None:
    assert parse_timestamp(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "text", ["", "abc", "-5", "1:60", "1:75:00", "0", "0:00", "1.2.3", "1e3", "∞", "١٢", "2:00:00"]
)
def test_bad_timestamps_are_refused(text: str) -> None:
    with pytest.raises(InputError, match=r"`at`|m:ss"):
        parse_timestamp(text)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (65.0, "1:05"),
        (65.5, "1:05.5"),
        (7.0, "0:07"),
        (3723.0, "62:03"),
        (59.95, "1:00"),
        (119.95, "2:00"),
        (3599.95, "60:00"),
        (59.94, "0:59.9"),
        (0.04, "0:00"),
    ],
)
def test_format_seconds(seconds: float, text: str) -> None:
    assert format_seconds(seconds) == text


@pytest.mark.parametrize("seconds", [1e308, float("inf"), float("nan"), -1.0])
def test_format_seconds_of_a_length_no_song_has_is_short(seconds: float) -> None:
    assert format_seconds(seconds) == "?:??"


@pytest.mark.parametrize("duration", [1e308, 3600.5, float("inf"), float("nan")])
def test_a_derived_continue_point_is_capped_at_an_hour_too(duration: float) -> None:
    known = song("sunoapi", duration)
    with pytest.raises(InputError, match="add `at:`"):
        validate_extend(CAPABILITIES["sunoapi"], ExtendOptions(song=CLIP, lyrics="la"), known)
    with pytest.raises(InputError, match="add `at:`"):
        validate_upload_extend(CAPABILITIES["apiframe"], ExtendOptions(song=None), duration)
    typed = validate_extend(CAPABILITIES["sunoapi"], ExtendOptions(song=CLIP, at="1:05", lyrics="la"), known)
    assert typed.continue_at == 65.0


def test_sunoapi_extend_takes_lyrics_or_prompt() -> None:
    request = validate_extend(
        CAPABILITIES["sunoapi"], ExtendOptions(song=CLIP, at="1:05", lyrics=" la la \r\n la "), None
    )
    assert (request.clip_id, request.continue_at, request.lyrics, request.parent_task_id) == (
        CLIP,
        65.0,
        "la la \n la",
        None,
    )
    with pytest.raises(InputError, match=r"lyrics.*prompt"):
        validate_extend(CAPABILITIES["sunoapi"], ExtendOptions(song=CLIP, at="1:05"), None)
    with pytest.raises(InputError, match="not both"):
        validate_extend(CAPABILITIES["sunoapi"], ExtendOptions(song=CLIP, at="1:05", lyrics="a", prompt="b"), None)


def test_apiframe_only_options_are_refused_on_sunoapi() -> None:
    with pytest.raises(InputError, match="`task` names the task that made a song"):
        validate_extend(CAPABILITIES["sunoapi"], ExtendOptions(song=CLIP, at="5", prompt="x", task=PARENT), None)
    with pytest.raises(InputError, match=r"always runs v3\.5"):
        validate_extend(CAPABILITIES["sunoapi"], ExtendOptions(song=CLIP, at="5", prompt="x", model="V5"), None)


def test_apiframe_needs_the_parent_task_of_an_unknown_song() -> None:
    with pytest.raises(InputError, match="add `task:`"):
        validate_extend(CAPABILITIES["apiframe"], ExtendOptions(song=CLIP, at="5"), None)
    with pytest.raises(InputError, match="`task` must be"):
        validate_extend(CAPABILITIES["apiframe"], ExtendOptions(song=CLIP, at="5", task="nope"), None)
    given = validate_extend(CAPABILITIES["apiframe"], ExtendOptions(song=CLIP, at="5", task=PARENT.upper()), None)
    assert given.parent_task_id == PARENT
    known = validate_extend(CAPABILITIES["apiframe"], ExtendOptions(song=CLIP, at="5"), song())
    assert known.parent_task_id == PARENT


def test_at_defaults_to_the_end_of_a_known_song_and_must_lie_within_it() -> None:
    assert validate_extend(CAPABILITIES["apiframe"], ExtendOptions(song=CLIP), song()).continue_at == 187.5
    with pytest.raises(InputError, match=r"past the end of the song \(3:07\.5\)"):
        validate_extend(CAPABILITIES["apiframe"], ExtendOptions(song=CLIP, at="3:10"), song())
    with pytest.raises(InputError, match="doesn't know this song's length"):
        validate_extend(CAPABILITIES["apiframe"], ExtendOptions(song=CLIP), song(duration=None))


def test_text_limits_follow_the_model() -> None:
    long_style = "x" * 201
    with pytest.raises(InputError, match="`style` is 201 characters; Suno takes at most 200"):
        validate_extend(
            CAPABILITIES["apiframe"], ExtendOptions(song=CLIP, at="5", task=PARENT, style=long_style, model="V4"), None
        )
    request = validate_extend(
        CAPABILITIES["apiframe"], ExtendOptions(song=CLIP, at="5", task=PARENT, style=long_style, model="V5"), None
    )
    assert request.style == long_style
    assert CAPABILITIES["sunoapi"].limits(None).lyrics == 3000
    with pytest.raises(InputError, match="`model` must be one of"):
        validate_extend(CAPABILITIES["apiframe"], ExtendOptions(song=CLIP, at="5", task=PARENT, model="chirp-v9"), None)


def test_control_characters_and_blank_text() -> None:
    with pytest.raises(InputError, match="control characters"):
        validate_extend(CAPABILITIES["sunoapi"], ExtendOptions(song=CLIP, at="5", lyrics="la\x00la"), None)
    request = validate_extend(
        CAPABILITIES["sunoapi"], ExtendOptions(song=CLIP, at="5", lyrics="words", title="   "), None
    )
    assert request.title is None
