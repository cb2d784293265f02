"""The whole song's timeline from a chain of extends, and where a point on it falls: pure arithmetic."""

from __future__ import annotations

import pytest

from bot.domain.errors import InputError
from bot.domain.records import SongRecord
from bot.domain.wholesong import (
    ChainPart,
    Span,
    WholeSongTimeline,
    WholeSongUnavailable,
    chain_parts,
    locate,
    timeline,
)


def song(clip: str, parent: str | None = None, at: float | None = None, duration: float | None = None) -> SongRecord:
    return SongRecord(clip, "sunoapi", None, 1, 11, 31, clip.upper(), duration, None, None, parent, at, 0.0)


C0, C1, C2 = song("c0", duration=150.0), song("c1", "c0", 100.0, 140.0), song("c2", "c1", 120.0, 240.0)
SPANS = timeline(chain_parts([C0, C1, C2]), 240.0)


def test_each_clip_plays_up_to_where_its_child_continues() -> None:
    parts = chain_parts([C0, C1, C2])
    assert parts == (ChainPart("c0", 100.0, C0), ChainPart("c1", 120.0, C1), ChainPart("c2", None, C2))
    assert [Span("c0", 0.0, 100.0), Span("c1", 100.0, 220.0), Span("c2", 220.0, 460.0)] == list(SPANS)


def test_a_root_encore_never_posted_is_the_first_part() -> None:
    parts = chain_parts([C1, C2])
    assert parts[0] == ChainPart("c0", 100.0, None)
    assert [part.clip_id for part in parts] == ["c0", "c1", "c2"]


def test_the_last_span_is_open_when_its_length_is_unknown() -> None:
    spans = timeline(chain_parts([C0, C1]), None)
    assert spans[-1] == Span("c1", 100.0, None)
    assert locate(spans, 3000.0) == ("c1", 2900.0)


def test_chains_that_cannot_be_joined_say_why() -> None:
    upload = song("u1", None, 30.0)
    with pytest.raises(WholeSongUnavailable, match="uploaded track"):
        chain_parts([upload])
    with pytest.raises(WholeSongUnavailable):
        chain_parts([])


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (1.0, ("c0", 1.0)),
        (99.5, ("c0", 99.5)),
        (100.0, ("c0", 100.0)),  # the seam: a new branch from c0 at its continue point
        (100.0004, ("c0", 100.0)),  # a rounding hair past the seam is the seam
        (100.5, ("c1", 0.5)),
        (219.25, ("c1", 119.25)),
        (300.0, ("c2", 80.0)),
        (460.0, ("c2", 240.0)),
        (460.04, ("c2", 240.0)),
    ],
)
def test_a_point_on_the_whole_song_is_a_clip_and_a_point_in_it(at: float, expected: tuple[str, float]) -> None:
    assert locate(SPANS, at) == expected


def test_a_point_past_the_end_is_refused_with_the_songs_length() -> None:
    with pytest.raises(InputError, match=r"past the end of the whole song \(7:40\)"):
        locate(SPANS, 461.0)
    with pytest.raises(InputError):
        locate(SPANS, 0.0)


def test_a_timeline_survives_json() -> None:
    built = WholeSongTimeline(460.0, SPANS, (100.0, 220.0), ((-0.5, 0.5), (-0.25, 0.125)))
    assert WholeSongTimeline.from_json(built.to_json()) == built
    open_ended = WholeSongTimeline(1.0, (Span("c0", 0.0, None),), (), ())
    assert WholeSongTimeline.from_json(open_ended.to_json()) == open_ended
