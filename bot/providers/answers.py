"""Readers for the fields of provider answers: a provider answer is untrusted input, checked for type and range.

Each reader returns a value of the type it promises or raises `ProviderAnswerMalformed`, so a broken answer is a
fault of the one task it describes and never an exception in the poll loop. The rules every client shares:

* an absent, null or empty optional field reads as None; a field of the wrong type makes the answer malformed;
* lists are lists of objects, numbers are finite, ids are short and URL-safe, URLs are http(s);
* a clip without an id is skipped (nothing can be stored or linked for it); a second clip with the same id in one
  answer is dropped (the first is kept), so one answer never posts a song twice;
* provider text is cut here, at parse time (`TITLE_MAX`, `REASON_MAX`), so nothing rendered from it can exceed
  Discord's limits; a failure reason of the wrong type is dropped (the failure itself stands);
* a song length outside 0 < d ≤ `MAX_SONG_SECONDS` reads as unknown (None).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from bot.domain.models import Clip, ProviderState, ProviderTask
from bot.domain.validation import MAX_CONTINUE_AT_SECONDS
from bot.providers.errors import ProviderAnswerMalformed

REASON_MAX = 300
NO_USABLE_SONG = "the provider said the song was finished, but sent none Encore can use (each needs an id and audio)"
"""Why a task fails whose finished answer holds no song with an id and audio: not Suno's failure, so not said as one."""
TITLE_MAX = 100
STATUS_MAX = 40
URL_MAX = 2048
# No Suno song is longer than Encore's continue point cap: a longer "duration" is a broken answer.
MAX_SONG_SECONDS = MAX_CONTINUE_AT_SECONDS
IDENTIFIER = re.compile(r"[A-Za-z0-9_-]{1,100}")
PERCENTAGE = re.compile(r"\s*(\d{1,3}(?:\.\d+)?)\s*%?\s*")


def mapping(value: Any, what: str) -> Mapping[str, Any]:
    """`value` as a JSON object, or malformed."""
    if not isinstance(value, dict):
        raise ProviderAnswerMalformed(f"the {what} is a {_kind(value)}, not an object")
    return value


def objects(data: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    """A list of JSON objects under `key`; absent or null is an empty list."""
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ProviderAnswerMalformed(f"`{key}` is a {_kind(value)}, not a list")
    return [mapping(item, f"item of `{key}`") for item in value]


def accepted_task_id(data: Mapping[str, Any], provider: str, what: str, key: str = "task_id") -> str:
    """The task id (under `key`) of an accepted submission; an answer without a usable one is malformed."""
    try:
        task_id = identifier(data, key)
    except ProviderAnswerMalformed:
        task_id = None
    if task_id is None:
        raise ProviderAnswerMalformed(f"{provider} accepted the {what} but sent no usable {key}")
    return task_id


def text(data: Mapping[str, Any], key: str, limit: int) -> str | None:
    """A string field, trimmed and cut to `limit` characters; None when absent or blank."""
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ProviderAnswerMalformed(f"`{key}` is a {_kind(value)}, not text")
    return bounded(value, limit) or None


def status(data: Mapping[str, Any]) -> str:
    """The lower-cased `status`, "" when absent."""
    return (text(data, "status", STATUS_MAX) or "").lower()


def identifier(data: Mapping[str, Any], *keys: str) -> str | None:
    """The first non-empty of `keys` as an id (letters, digits, `-`, `_`; at most 100); None when all are absent."""
    for key in keys:
        value = data.get(key)
        if value is None or value == "":
            continue
        if not isinstance(value, str) or not IDENTIFIER.fullmatch(value):
            raise ProviderAnswerMalformed(f"`{key}` is not a usable id")
        return value
    return None


def url(data: Mapping[str, Any], key: str) -> str | None:
    """An http(s) URL field; None when absent or empty. Never cut: a cut URL would point elsewhere."""
    value = data.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > URL_MAX or not value.startswith(("https://", "http://")):
        raise ProviderAnswerMalformed(f"`{key}` is not an http(s) URL")
    return value


def duration(value: Any) -> float | None:
    """A song length in seconds from a number or a numeric string ("240"); None when unknown or out of range."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
    elif isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    else:
        raise ProviderAnswerMalformed(f"`duration` is a {_kind(value)}, not a number")
    return number if math.isfinite(number) and 0 < number <= MAX_SONG_SECONDS else None


def percentage(value: Any) -> int | None:
    """`56`, `56.9` or `"56%"` → 56, clamped to 0–100; other text → None. NaN, ±∞ or a non-number are malformed."""
    if value is None:
        return None
    if isinstance(value, str):
        match = PERCENTAGE.fullmatch(value)
        return min(100, int(float(match.group(1)))) if match else None
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise ProviderAnswerMalformed("`percentage` is not a finite number")
    return max(0, min(100, int(value)))


def reason(data: Any, *keys: str) -> str | None:
    """The first non-blank string of `keys`, cut to `REASON_MAX`; anything else is no reason (the status decides)."""
    if not isinstance(data, dict):
        return None
    for key in keys:
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            return bounded(value, REASON_MAX)
    return None


def track(data: Mapping[str, Any], *, audio: str, image: str) -> Clip | None:
    """One song of an answer that names its audio and cover fields `audio` and `image` (each provider spells them
    its own way); None without an `id`, as nothing can be stored or linked for it."""
    clip_id = identifier(data, "id")
    if clip_id is None:
        return None
    return Clip(
        id=clip_id,
        audio_url=url(data, audio),
        image_url=url(data, image),
        title=text(data, "title", TITLE_MAX),
        duration=duration(data.get("duration")),
    )


def unique(clips: Iterable[Clip | None]) -> tuple[Clip, ...]:
    """The clips with an id, each id once (the first wins): a repeated id in one answer is one song."""
    seen: dict[str, Clip] = {}
    for clip in clips:
        if clip is not None and clip.id not in seen:
            seen[clip.id] = clip
    return tuple(seen.values())


def credits(value: Any) -> int | None:
    """A credit balance: a whole, non-negative number below 10^15, else None (unknown, not an error)."""
    valid = isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**15
    return value if valid else None


def unreadable(task_id: str, error: ProviderAnswerMalformed) -> ProviderTask:
    """The task whose answer could not be read: UNKNOWN, saying why, so the poller backs off that task alone."""
    return ProviderTask(task_id, ProviderState.UNKNOWN, raw_status="malformed", malformed=error.message)


def bounded(value: str, limit: int) -> str:
    """`value` trimmed and, when longer than `limit`, cut to `limit` characters ending in "…"."""
    value = value.strip()
    return value if len(value) <= limit else f"{value[: limit - 1].rstrip()}…"


def _kind(value: Any) -> str:
    """What a JSON value is, for the note that says why an answer was unreadable."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, dict):
        return "object"
    return "list" if isinstance(value, list) else "string" if isinstance(value, str) else type(value).__name__
