"""Validation of `/generate` options: each provider's contract and Suno's limits, before any credit is spent."""

from __future__ import annotations

import re

import pytest

from bot.domain.models import GenerateRequest, request_from_json, task_kind
from bot.domain.validation import DEFAULT_GENERATE_MODEL, GenerateOptions, InputError, validate_generate


def test_apiframe_takes_prompt_and_lyrics_and_defaults_the_required_model() -> None:
    request = validate_generate("apiframe", GenerateOptions(prompt=" a sea shanty ", lyrics="yo ho", title="Tide"))
    assert request == GenerateRequest(prompt="a sea shanty", lyrics="yo ho", title="Tide", model=DEFAULT_GENERATE_MODEL)


def test_apiframe_instrumental_with_a_chosen_model() -> None:
    request = validate_generate("apiframe", GenerateOptions(prompt="rain on glass", instrumental=True, model="V5"))
    assert request.instrumental and request.model == "V5" and request.lyrics is None


@pytest.mark.parametrize(
    ("provider", "options", "fragment"),
    [
        ("apiframe", GenerateOptions(style="rock"), "Give a `prompt`"),
        ("apiframe", GenerateOptions(prompt="  ", lyrics="\n"), "Give a `prompt`"),
        ("apiframe", GenerateOptions(lyrics="la", instrumental=True), "no singing"),
        ("apiframe", GenerateOptions(prompt="x", model="V9"), "`model` must be one of"),
        ("sunoapi", GenerateOptions(prompt="x", lyrics="y"), "not both"),
        ("sunoapi", GenerateOptions(prompt="x", instrumental=True), "apiframe provider only"),
        ("sunoapi", GenerateOptions(prompt="x", model="V4"), "apiframe provider only"),
        ("sunoapi", GenerateOptions(prompt="x" * 3001), "at most 3000"),
        ("apiframe", GenerateOptions(prompt="x" * 501), "at most 500"),
        ("apiframe", GenerateOptions(prompt="x", title="t" * 81), "at most 80"),
        ("apiframe", GenerateOptions(prompt="bad\x07bell"), "control characters"),
    ],
)
def test_bad_options_say_what_to_fix(provider: str, options: GenerateOptions, fragment: str) -> None:
    with pytest.raises(InputError, match=re.escape(fragment)):
        validate_generate(provider, options)


def test_sunoapi_sends_lyrics_as_its_one_text() -> None:
    request = validate_generate("sunoapi", GenerateOptions(lyrics="[Verse]\nhello", style="folk"))
    assert request == GenerateRequest(lyrics="[Verse]\nhello", style="folk")


def test_requests_round_trip_through_their_task_kind() -> None:
    request = GenerateRequest(prompt="p", title="“Tide”", instrumental=True, model="V4")
    assert task_kind(request) == "generate"
    assert request_from_json(task_kind(request), request.to_json()) == request
