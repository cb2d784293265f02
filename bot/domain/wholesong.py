"""The whole song of a chain of extends: which clip plays where on it, and where a point on it falls.

A Suno extend holds only its new part, so for c0 →(t1) c1 →(t2) c2 the whole song is c0[0:t1] + c1[0:t2] + c2:
each clip plays up to the point its child continues from. Pure arithmetic over the store's records.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.domain.errors import InputError
from bot.domain.records import SongRecord
from bot.domain.validation import format_seconds

SEAM_TOLERANCE = 0.05
"""Seconds past the song's end a point may lie and still count as its end (lengths round a little)."""


class WholeSongUnavailable(Exception):
    """This chain cannot become one song; the message says why, in words for the member."""


@dataclass(frozen=True, slots=True)
class ChainPart:
    """One clip of the chain: played up to `end` on its own timeline (`None`: to its end).

    `song` is None for the chain's root when Encore never posted it (a member's suno.com song that was extended).
    """

    clip_id: str
    end: float | None
    song: SongRecord | None


@dataclass(frozen=True, slots=True)
class Span:
    """Where a clip's part sits on the whole song's timeline; `end` is None when the last clip's length is unknown."""

    clip_id: str
    start: float
    end: float | None


def chain_parts(chain: Sequence[SongRecord]) -> tuple[ChainPart, ...]:
    """The parts of the whole song ending with the last song of `chain` (the store's `song_chain`, original first)."""
    if not chain:
        raise WholeSongUnavailable("Encore does not know this song.")
    first = chain[0]
    parts: list[ChainPart] = []
    if first.parent_clip_id is not None:
        if first.continue_at is None:
            raise WholeSongUnavailable("Encore does not know where this song continues its original.")
        parts.append(ChainPart(first.parent_clip_id, first.continue_at, None))
    elif first.continue_at is not None:
        raise WholeSongUnavailable(
            "This song extends an uploaded track, which Encore cannot fetch again: there is no whole song to build."
        )
    for song, child in zip(chain, [*chain[1:], None], strict=True):
        if child is not None and child.continue_at is None:
            raise WholeSongUnavailable("Encore does not know where a song of this chain continues its parent.")
        parts.append(ChainPart(song.clip_id, child.continue_at if child else None, song))
    return tuple(parts)


def timeline(parts: Sequence[ChainPart], last_duration: float | None) -> tuple[Span, ...]:
    """Each part's span on the whole song, from the continue points alone (the last one's end from its length)."""
    spans = []
    start = 0.0
    for part in parts:
        length = part.end if part.end is not None else last_duration
        end = start + length if length else None
        spans.append(Span(part.clip_id, start, end))
        start = end if end is not None else start
    return tuple(spans)


def locate(spans: Sequence[Span], at: float) -> tuple[str, float]:
    """The clip and the point within it that `at` (seconds on the whole song) names.

    A point on a seam belongs to the earlier part, at its end: continuing there is a new branch from that clip.
    A point past the end of the song (when its length is known) is refused, saying how long the song is.
    """
    if not spans:
        raise ValueError("a whole song has at least one part")
    if at <= 0:
        raise InputError("`at` must be after the start of the song, e.g. `1:05`.")
    for index, span in enumerate(spans):
        if span.end is None or at <= span.end:
            into = round(at - span.start, 3)
            if into <= 0 and index:  # a millisecond after a seam is the seam
                before = spans[index - 1]
                return before.clip_id, round(span.start - before.start, 3)
            return span.clip_id, into
    last, end = spans[-1], spans[-1].end or 0.0
    if at <= end + SEAM_TOLERANCE:
        return last.clip_id, round(end - last.start, 3)
    raise InputError(
        f"`at` {format_seconds(at)} is past the end of the whole song ({format_seconds(end)}): "
        "choose an earlier point, or leave `at` out to continue from the end."
    )


@dataclass(frozen=True, slots=True)
class WholeSongTimeline:
    """What a built whole song looked like: its length, each clip's span and the seams, and its waveform peaks.

    Kept with the post, so `/song` can draw the picture and the Extend button can translate points without audio.
    """

    duration: float
    spans: tuple[Span, ...]
    seams: tuple[float, ...]
    peaks: tuple[tuple[float, float], ...] = field(repr=False)

    def to_json(self) -> str:
        return json.dumps(
            {
                "duration": round(self.duration, 4),
                "spans": [[span.clip_id, round(span.start, 4), _rounded(span.end)] for span in self.spans],
                "seams": [round(seam, 4) for seam in self.seams],
                "peaks": [[round(low, 3), round(high, 3)] for low, high in self.peaks],
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> WholeSongTimeline:
        data = json.loads(text)
        return cls(
            duration=float(data["duration"]),
            spans=tuple(Span(str(clip), float(start), _optional(end)) for clip, start, end in data["spans"]),
            seams=tuple(float(seam) for seam in data["seams"]),
            peaks=tuple((float(low), float(high)) for low, high in data["peaks"]),
        )


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _optional(value: object) -> float | None:
    return None if value is None else float(str(value))
