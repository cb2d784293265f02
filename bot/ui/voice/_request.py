"""What a `/listen` (or a Listen button) asks for."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ListenRequest:
    """What `/listen` was asked to play: one song (or its chain's whole song), a member's songs, or `/top`'s."""

    song: str | None = None
    whole: bool = False
    member: int | None = None
    top: str | None = None
    radio: str | None = None  # "newest" or "starred"
