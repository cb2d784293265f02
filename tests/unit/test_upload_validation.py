"""`/extend audio:` checks that run before anything is downloaded, uploaded or spent."""

from __future__ import annotations

import pytest

from bot.domain.models import ExtendRequest, request_from_json
from bot.domain.validation import (
    ExtendOptions,
    InputError,
    check_audio_upload,
    validate_extend,
    validate_upload_extend,
)
from bot.providers import CAPABILITIES

APIFRAME = CAPABILITIES["apiframe"]
MAX_UPLOAD_BYTES = APIFRAME.upload_max_bytes


@pytest.mark.parametrize(
    ("filename", "content_type"),
    [("take.mp3", None), ("TAKE.FLAC", "application/octet-stream"), ("voice-memo", "audio/aac")],
)
def test_audio_by_type_or_extension_up_to_the_limit_passes(filename: str, content_type: str | None) -> None:
    check_audio_upload(APIFRAME, filename, content_type, MAX_UPLOAD_BYTES)


def test_non_audio_and_oversized_files_are_refused() -> None:
    with pytest.raises(InputError, match="must be an audio file"):
        check_audio_upload(APIFRAME, "cover.png", "image/png", 100)
    with pytest.raises(InputError, match="at most 10 MB"):
        check_audio_upload(APIFRAME, "take.mp3", "audio/mpeg", MAX_UPLOAD_BYTES + 1)


def test_an_upload_extend_continues_from_the_measured_end_or_at() -> None:
    options = ExtendOptions(song=None, prompt="a chorus", model="V5")
    request = validate_upload_extend(CAPABILITIES["apiframe"], options, duration=42.5)
    assert (request.clip_id, request.continue_at, request.model, request.parent_task_id) == (None, 42.5, "V5", None)
    assert (
        validate_upload_extend(CAPABILITIES["apiframe"], ExtendOptions(song=None, at="0:30"), None).continue_at == 30.0
    )


def test_an_upload_extend_refuses_what_cannot_work() -> None:
    with pytest.raises(InputError, match="cannot extend uploaded tracks"):
        validate_upload_extend(CAPABILITIES["sunoapi"], ExtendOptions(song=None, at="10", lyrics="la"), None)
    with pytest.raises(InputError, match="add `at:`"):
        validate_upload_extend(CAPABILITIES["apiframe"], ExtendOptions(song=None), None)
    with pytest.raises(InputError, match="past the end"):
        validate_upload_extend(CAPABILITIES["apiframe"], ExtendOptions(song=None, at="1:00"), 30.0)
    with pytest.raises(InputError, match="leave it out"):
        validate_upload_extend(CAPABILITIES["apiframe"], ExtendOptions(song=None, at="10", task="abc"), None)
    with pytest.raises(InputError, match="or `audio`"):
        validate_extend(CAPABILITIES["apiframe"], ExtendOptions(song=None), None)


def test_stored_requests_load_whatever_version_wrote_them() -> None:
    before_upload_song_ids = (
        '{"clip_id": null, "continue_at": 5.0, "parent_task_id": "t1", "upload_name": "a.mp3", "upload_url": null}'
    )
    old = request_from_json("extend", before_upload_song_ids)
    assert isinstance(old, ExtendRequest) and (old.parent_task_id, old.upload_song_id) == ("t1", None)
    current = ExtendRequest(clip_id=None, continue_at=5.0, parent_task_id="t1", upload_song_id="s1")
    assert request_from_json("extend", current.to_json()) == current
    newer = request_from_json("extend", current.to_json().replace("{", '{"a_later_field": [1], ', 1))
    assert newer == current
