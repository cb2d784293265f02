"""Models per provider: the lists newest first, an extend on the model of its song, text limits of the chosen model."""

from __future__ import annotations

import pytest

from bot.domain.records import SongRecord
from bot.domain.validation import (
    ExtendOptions,
    GenerateOptions,
    InputError,
    validate_extend,
    validate_generate,
    validate_upload_extend,
)
from bot.providers import CAPABILITIES, COMMAND_MAX_LENGTHS

CLIP = "3f2a1c9b-1111-4222-8333-444455556666"
SUNOAPI_ORG = CAPABILITIES["sunoapi_org"]
APIFRAME = CAPABILITIES["apiframe"]


def made_by(provider: str) -> SongRecord:
    return SongRecord(
        clip_id=CLIP,
        provider=provider,
        provider_task_id="t1",
        task_id=1,
        owner_id=5,
        guild_id=7,
        title="Echoes",
        duration=187.5,
        audio_url=None,
        image_url=None,
        parent_clip_id=None,
        continue_at=None,
        created_at=0.0,
    )


def extend(**options: str) -> ExtendOptions:
    return ExtendOptions(song=CLIP, **{"at": "1:05", "lyrics": "la", "style": "pop", "title": "Up", **options})


def test_model_lists_are_newest_first_with_v5_5_where_documented() -> None:
    assert SUNOAPI_ORG.choosable_models == ("V5_5", "V5", "V4_5ALL", "V4_5PLUS", "V4_5", "V4")
    assert APIFRAME.choosable_models == ("V5", "V4_5ALL", "V4_5PLUS", "V4_5", "V4")
    assert CAPABILITIES["sunoapi"].choosable_models == ()
    assert SUNOAPI_ORG.default_generate_model == "V5_5"


def test_an_extend_runs_on_the_model_of_its_song_and_refuses_another_before_anything_is_spent() -> None:
    assert validate_extend(SUNOAPI_ORG, extend(), made_by("sunoapi_org"), "V4_5").model == "V4_5"
    assert validate_extend(SUNOAPI_ORG, extend(model="V4_5"), made_by("sunoapi_org"), "V4_5").model == "V4_5"
    with pytest.raises(
        InputError, match=r"was made with V4_5, and sunoapi\.org extends a song only with the model that made it"
    ):
        validate_extend(SUNOAPI_ORG, extend(model="V5_5"), made_by("sunoapi_org"), "V4_5")
    # A song Encore never made: the member's model, else the provider's newest.
    assert validate_extend(SUNOAPI_ORG, extend(model="V4"), None).model == "V4"
    # apiframe does not require the source's model: the song's is the default, another one is allowed.
    assert validate_extend(APIFRAME, extend(task=CLIP), made_by("apiframe"), "V4_5").model == "V4_5"
    assert validate_extend(APIFRAME, extend(task=CLIP, model="V5"), made_by("apiframe"), "V4_5").model == "V5"


def test_text_limits_come_from_the_chosen_model() -> None:
    with pytest.raises(InputError, match="at most 200"):
        validate_extend(SUNOAPI_ORG, extend(style="s" * 201), made_by("sunoapi_org"), "V4")
    assert validate_extend(SUNOAPI_ORG, extend(style="s" * 1000), made_by("sunoapi_org"), "V5").style == "s" * 1000
    with pytest.raises(InputError, match="at most 80"):
        validate_extend(SUNOAPI_ORG, extend(model="V4_5ALL", title="t" * 81), None)
    assert validate_extend(SUNOAPI_ORG, extend(model="V4_5PLUS", title="t" * 100), None).title == "t" * 100
    assert COMMAND_MAX_LENGTHS.title == 100 and COMMAND_MAX_LENGTHS.lyrics == 5000


def test_sunoapi_org_needs_a_style_and_a_title_where_its_contract_does() -> None:
    with pytest.raises(InputError, match="needs a `style` and a `title`"):
        validate_extend(SUNOAPI_ORG, ExtendOptions(song=CLIP, at="5", lyrics="la", style="pop"), None)
    with pytest.raises(InputError, match="needs a `style` and a `title`"):
        validate_generate(SUNOAPI_ORG, GenerateOptions(lyrics="la", style="pop"))
    with pytest.raises(InputError, match="picks the style and title itself"):
        validate_generate(SUNOAPI_ORG, GenerateOptions(prompt="a waltz", title="W"))
    assert validate_generate(SUNOAPI_ORG, GenerateOptions(prompt="a waltz")).model == "V5_5"
    with pytest.raises(InputError, match="at most 500"):
        validate_generate(SUNOAPI_ORG, GenerateOptions(prompt="p" * 501))
    instrumental = validate_generate(SUNOAPI_ORG, GenerateOptions(style="ambient", title="Drift", instrumental=True))
    assert instrumental.instrumental and instrumental.lyrics is None
    with pytest.raises(InputError, match="instrumental takes no `prompt`"):
        validate_generate(SUNOAPI_ORG, GenerateOptions(prompt="rain", style="ambient", title="D", instrumental=True))


@pytest.mark.parametrize(("duration", "expected"), [(168.9, 168.8), (168.95, 168.9), (187.5, 187.4), (0.1, 0.05)])
def test_from_the_end_is_just_inside_the_song_where_the_provider_takes_only_points_inside(
    duration: float, expected: float
) -> None:
    known = made_by("sunoapi_org")
    known = SongRecord(**{**{field: getattr(known, field) for field in known.__slots__}, "duration": duration})
    request = validate_extend(SUNOAPI_ORG, extend(at=""), known, "V5")
    assert request.continue_at == pytest.approx(expected) and 0 < request.continue_at < duration
    with pytest.raises(InputError, match="very end of the song"):
        validate_extend(SUNOAPI_ORG, extend(at=str(duration)), known, "V5")
    assert validate_extend(APIFRAME, extend(at="", task=CLIP), made_by("apiframe"), None).continue_at == 187.5


def test_an_upload_on_sunoapi_org_is_checked_like_an_extend_and_against_its_length_limit() -> None:
    own = ExtendOptions(song=None, lyrics="la", style="pop", title="Up")
    assert validate_upload_extend(SUNOAPI_ORG, own, 479.0).continue_at == pytest.approx(478.9)
    with pytest.raises(InputError, match="at most 8:00"):
        validate_upload_extend(SUNOAPI_ORG, own, 481.0)
    with pytest.raises(InputError, match="needs a `style` and a `title`"):
        validate_upload_extend(SUNOAPI_ORG, ExtendOptions(song=None, lyrics="la"), 100.0)
