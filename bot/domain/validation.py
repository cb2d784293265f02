"""Turn what a member typed into a valid request, or a message saying what to fix.

Everything here is pure: it runs before any provider call, so a bad input never costs a credit.
What the provider accepts comes in as its `ProviderCapabilities` (from the provider registry), never from a branch
on its name.
"""

from __future__ import annotations

import math
import re
import unicodedata
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

from bot.domain.capabilities import ProviderCapabilities, TextLimits
from bot.domain.errors import InputError
from bot.domain.models import ExtendRequest, GenerateRequest, TaskRequest
from bot.domain.records import SongRecord

__all__ = ["InputError", "TextLimits"]

MAX_CONTINUE_AT_SECONDS = 3600.0
MAX_SONG_DISPLAY_SECONDS = 100 * 3600.0
SUNO_HOSTS = frozenset({"suno.com", "www.suno.com", "app.suno.ai", "suno.ai", "www.suno.ai"})
# The audio formats Suno reads, for `/extend audio:`.
AUDIO_EXTENSIONS: tuple[str, ...] = (".mp3", ".wav", ".m4a", ".ogg", ".flac")
UPLOADS_NOT_SUPPORTED = (
    "This server's Suno provider ({label}) cannot extend uploaded tracks: extend a Suno song with `song:` instead."
)


@dataclass(frozen=True, slots=True)
class ExtendOptions:
    """The raw `/extend` options, exactly as Discord delivered them (`song` is None when a track is uploaded)."""

    song: str | None
    task: str | None = None
    at: str | None = None
    lyrics: str | None = None
    prompt: str | None = None
    style: str | None = None
    title: str | None = None
    model: str | None = None


@dataclass(frozen=True, slots=True)
class GenerateOptions:
    """The raw `/generate` options, exactly as Discord delivered them."""

    prompt: str | None = None
    lyrics: str | None = None
    style: str | None = None
    title: str | None = None
    instrumental: bool = False
    model: str | None = None


def parse_song_ref(text: str) -> str:
    """A Suno clip id from a bare UUID or a suno.com song link."""
    value = text.strip()
    if not value:
        raise InputError("`song` is empty: paste a Suno song link (https://suno.com/song/…) or a clip id.")
    clip = _as_uuid(value)
    if clip:
        return clip
    try:
        parts = urlsplit(value if "://" in value else f"https://{value}")
        host = (parts.hostname or "").lower()
    except ValueError:  # not a link at all: an unbalanced "[" reads as a broken IPv6 address
        host = ""
    if host in SUNO_HOSTS:
        segments = [segment for segment in parts.path.split("/") if segment]
        if len(segments) == 2 and segments[0] in ("song", "embed"):
            clip = _as_uuid(segments[1])
            if clip:
                return clip
        if segments and segments[0] == "s":
            raise InputError(
                "Short suno.com/s/… links can't be read. Open the link and copy the full "
                "https://suno.com/song/<id> address instead."
            )
    raise InputError(
        "`song` must be a Suno song link like https://suno.com/song/3f2a…, a clip id "
        "(8-4-4-4-12 hex digits), or one of your songs from the list."
    )


def parse_timestamp(text: str) -> float:
    """Seconds from `95`, `95.5`, `1:35`, `1:35.5` or `1:02:03`."""
    value = text.strip()
    if not re.fullmatch(r"(?:\d{1,3}:){0,2}\d{1,5}(?:\.\d{1,3})?", value, flags=re.ASCII):
        raise InputError(
            f"`at` must be seconds (`95`, `95.5`) or minutes:seconds (`1:35`, `1:35.5`), not `{_quote(value)}`."
        )
    *larger, seconds_text = value.split(":")
    total = float(seconds_text) if not larger else _below_60(float(seconds_text))
    for power, unit in enumerate(reversed(larger), start=1):
        amount = int(unit)
        total += (amount if power == len(larger) else _below_60(amount)) * 60**power
    if not math.isfinite(total) or total <= 0:
        raise InputError("`at` must be after the start of the song, e.g. `1:05`.")
    if total > MAX_CONTINUE_AT_SECONDS:
        raise InputError("`at` is past the end of any Suno song: give a time within the song, e.g. `1:05`.")
    return total


def format_seconds(seconds: float) -> str:
    """`65.5` → `1:05.5`, `59.95` → `1:00`: how Encore writes a position in a song, to the tenth of a second.

    Rounded to tenths first, so a value just under a minute carries into the minutes instead of showing `0:59.10`.
    A length no song has (negative, not finite, or beyond `MAX_SONG_DISPLAY_SECONDS`, e.g. a row stored before
    provider durations were checked) shows as `?:??` rather than hundreds of digits.
    """
    if not 0 <= seconds <= MAX_SONG_DISPLAY_SECONDS:
        return "?:??"
    tenths = math.floor(seconds * 10 + 0.5)
    minutes, rest = divmod(tenths, 600)
    whole, fraction = divmod(rest, 10)
    text = f"{minutes}:{whole:02d}"
    return f"{text}.{fraction}" if fraction else text


def spoken_duration(seconds: float) -> str:
    """A length of time as a member would say it: `10 seconds`, `1 minute`, `1 minute 30 seconds`, `2 hours`."""
    total = max(1, round(seconds))
    units = [("hour", total // 3600), ("minute", total % 3600 // 60), ("second", total % 60)]
    if total >= 3600:
        units.pop()  # past an hour, seconds are noise
    return " ".join(f"{count} {unit}{'s' if count != 1 else ''}" for unit, count in units if count)


def clean_text(name: str, value: str | None, limit: int) -> str | None:
    """Trimmed text, `None` when blank; rejects control characters and text over Suno's limit."""
    if value is None:
        return None
    text = value.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not text:
        return None
    if any(unicodedata.category(char) in ("Cc", "Cs") and char not in "\n\t" for char in text):
        raise InputError(f"`{name}` contains invisible control characters: retype it as plain text.")
    if len(text) > limit:
        raise InputError(f"`{name}` is {len(text)} characters; Suno takes at most {limit}. Shorten it and try again.")
    return text


def check_audio_upload(caps: ProviderCapabilities, filename: str, content_type: str | None, size: int) -> None:
    """Refuse an attachment that is not audio or is over the provider's upload limit, before anything is downloaded
    or spent."""
    if not caps.uploads:
        raise InputError(UPLOADS_NOT_SUPPORTED.format(label=caps.label))
    is_audio = (content_type or "").lower().startswith("audio/") or filename.lower().endswith(AUDIO_EXTENSIONS)
    if not is_audio:
        raise InputError(
            f"`audio` must be an audio file ({', '.join(AUDIO_EXTENSIONS)}); `{_quote(filename)}` is not one."
        )
    if size > (limit := caps.upload_max_bytes):
        raise InputError(
            f"`audio` is {size / 1024 / 1024:.1f} MB; uploads can be at most {limit // 1024 // 1024} MB. "
            "Trim it or export it smaller (e.g. mp3) and try again."
        )


def validate_upload_extend(caps: ProviderCapabilities, options: ExtendOptions, duration: float | None) -> ExtendRequest:
    """Check an extend of the member's own track (`duration` measured, if it could be); the upload task comes later."""
    if not caps.uploads:
        raise InputError(UPLOADS_NOT_SUPPORTED.format(label=caps.label))
    if (options.task or "").strip():
        raise InputError("`task` names the task that made a song; leave it out when you upload `audio`.")
    if not (options.at or "").strip() and not duration:
        raise InputError("Encore can't measure this track's length: add `at:` with where to continue, e.g. `1:05`.")
    if caps.upload_max_seconds and duration and duration > caps.upload_max_seconds:
        raise InputError(
            f"Your track is {format_seconds(duration)} long; {caps.label} extends tracks of at most "
            f"{format_seconds(caps.upload_max_seconds)}. Trim it and try again."
        )
    model = _validate_model(caps, options.model)
    lyrics, prompt, style, title = _extend_texts(caps, options, model)
    return ExtendRequest(
        clip_id=None,
        continue_at=_continue_at(options.at, duration, before_end=caps.continue_before_end),
        lyrics=lyrics,
        prompt=prompt,
        style=style,
        title=title,
        model=model,
    )


def validate_extend(
    caps: ProviderCapabilities, options: ExtendOptions, known: SongRecord | None, known_model: str | None = None
) -> ExtendRequest:
    """Check every option against the provider's contract and Suno's limits; raise `InputError` if any is off.

    `known_model` is the model that made the song (when Encore made it on this provider): an extend defaults to it,
    and where the provider runs an extend only on the source's model, another one is refused here.
    """
    if options.song is None:
        raise InputError("Give `song` (a Suno song link or id) or `audio` (your own track) to extend.")
    clip_id = parse_song_ref(options.song)
    model = _extend_model(caps, _validate_model(caps, options.model), known_model)
    lyrics, prompt, style, title = _extend_texts(caps, options, model)
    parent_task_id = _validate_parent_task(caps, options.task, known)
    return ExtendRequest(
        clip_id=clip_id,
        continue_at=_continue_at(options.at, known.duration if known else None, before_end=caps.continue_before_end),
        parent_task_id=parent_task_id,
        lyrics=lyrics,
        prompt=prompt,
        style=style,
        title=title,
        model=model,
    )


def _extend_texts(
    caps: ProviderCapabilities, options: ExtendOptions, model: str | None
) -> tuple[str | None, str | None, str | None, str | None]:
    """An extend's lyrics, prompt, style and title, within the model's limits and the provider's rules."""
    limits = caps.limits(model)
    lyrics = clean_text("lyrics", options.lyrics, limits.lyrics)
    prompt = clean_text("prompt", options.prompt, limits.prompt)
    style = clean_text("style", options.style, limits.style)
    title = clean_text("title", options.title, limits.title)
    if caps.one_text:
        if lyrics and prompt:
            raise InputError(f"{caps.label} takes one text per extend: give `lyrics` or `prompt`, not both.")
        if not lyrics and not prompt:
            raise InputError("Give `lyrics` (what is sung next) or a `prompt` (what the extension should be).")
    if caps.needs_style_and_title and not (style and title):
        raise InputError(f"{caps.label} needs a `style` and a `title` for every extend: add both and try again.")
    return lyrics, prompt, style, title


def validate_generate(caps: ProviderCapabilities, options: GenerateOptions) -> GenerateRequest:
    """Check a new song's options against the provider's contract and Suno's limits; raise `InputError` if off."""
    model = _validate_model(caps, options.model) or caps.default_generate_model
    limits = caps.limits(model)
    lyrics = clean_text("lyrics", options.lyrics, limits.lyrics)
    prompt = clean_text("prompt", options.prompt, limits.prompt)
    style = clean_text("style", options.style, limits.style)
    title = clean_text("title", options.title, limits.title)
    styled_instrumental = caps.needs_style_and_title and options.instrumental and style is not None
    if not lyrics and not prompt and not styled_instrumental:
        raise InputError("Give a `prompt` (what the song is about) or `lyrics` (what is sung).")
    if options.instrumental and lyrics:
        raise InputError("An instrumental has no singing: leave `lyrics` out, or set `instrumental` to False.")
    if caps.one_text and lyrics and prompt:
        raise InputError(f"{caps.label} takes one text per song: give `lyrics` or `prompt`, not both.")
    if options.instrumental and not caps.instrumental:
        raise InputError(f"`instrumental` is not offered by this server's provider ({caps.label}).")
    if caps.needs_style_and_title:
        _check_song_mode(caps, lyrics, prompt, style, title, instrumental=options.instrumental)
    return GenerateRequest(
        prompt=prompt, lyrics=lyrics, style=style, title=title, instrumental=options.instrumental, model=model
    )


def _validate_model(caps: ProviderCapabilities, model: str | None) -> str | None:
    value = (model or "").strip()
    if not value:
        return None
    if not caps.choosable_models:
        raise InputError(
            f"`model` can't be chosen on this server: its provider ({caps.label}) always runs {caps.fixed_model}."
        )
    if value not in caps.choosable_models:
        raise InputError(f"`model` must be one of {', '.join(caps.choosable_models)}.")
    return value


def _extend_model(caps: ProviderCapabilities, chosen: str | None, known_model: str | None) -> str | None:
    """The model of an extend: the one chosen, else the song's own; one the provider refuses for the song is refused
    here, before anything is spent."""
    if known_model is None or known_model not in caps.choosable_models:
        return chosen
    if caps.extend_keeps_model and chosen is not None and chosen != known_model:
        raise InputError(
            f"This song was made with {known_model}, and {caps.label} extends a song only with the model that made "
            f"it: pick {known_model} or leave `model` out."
        )
    return chosen or known_model


def _check_song_mode(
    caps: ProviderCapabilities,
    lyrics: str | None,
    prompt: str | None,
    style: str | None,
    title: str | None,
    *,
    instrumental: bool,
) -> None:
    """A provider with a custom mode: lyrics (or an instrumental with a style) need a style and a title; a prompt
    alone is a description, with which the provider picks its own style and title."""
    if lyrics or (instrumental and style):
        if not (style and title):
            raise InputError(f"With {caps.label}, a song from lyrics needs a `style` and a `title`: add both.")
        if prompt:
            raise InputError(
                f"With a `style`, {caps.label}'s instrumental takes no `prompt`: leave `prompt` out, or leave `style` "
                "and `title` out for an instrumental the prompt describes."
            )
    elif style or title:
        raise InputError(
            f"With only a `prompt`, {caps.label} picks the style and title itself: leave `style` and `title` out, "
            "or give `lyrics` too."
        )


def _validate_parent_task(caps: ProviderCapabilities, task: str | None, known: SongRecord | None) -> str | None:
    value = (task or "").strip()
    if not caps.needs_parent_task:
        if value:
            raise InputError(
                f"`task` names the task that made a song, which this server's provider ({caps.label}) does not "
                "need: leave it out."
            )
        return None
    if value:
        parent = _as_uuid(value)
        if not parent:
            raise InputError(f"`task` must be the {caps.label} task id that made the song (8-4-4-4-12 hex digits).")
        return parent
    if known and known.provider == caps.name and known.provider_task_id:
        return known.provider_task_id
    raise InputError(
        f"Encore hasn't seen this song, so {caps.label} needs the task that made it: "
        f"add `task:` with that {caps.label} task id."
    )


def _continue_at(at: str | None, duration: float | None, *, before_end: bool = False) -> float:
    """The continue point: the typed `at`, or the song's end; either way within `MAX_CONTINUE_AT_SECONDS`.

    A provider that takes only points `before_end` (strictly inside the song) continues "from the end" at the
    last tenth of a second before it, and refuses a typed point at the very end.
    """
    if not (at or "").strip():
        if duration and math.isfinite(duration) and 0 < duration <= MAX_CONTINUE_AT_SECONDS:
            return _last_tenth_before(duration) if before_end else duration
        if duration:
            raise InputError(
                "Encore can't continue from this song's end (its length is unknown or over an hour): "
                "add `at:` with where to continue, e.g. `1:05`."
            )
        raise InputError("Encore doesn't know this song's length: add `at:` with where to continue, e.g. `1:05`.")
    seconds = parse_timestamp(at or "")
    if duration and seconds > duration + 0.05:
        raise InputError(
            f"`at` {format_seconds(seconds)} is past the end of the song ({format_seconds(duration)}): "
            "choose an earlier point, or leave `at` out to continue from the end."
        )
    if before_end and duration and seconds >= duration:
        raise InputError(
            f"`at` {format_seconds(seconds)} is the very end of the song, where this server's provider cannot "
            "continue: choose an earlier point, or leave `at` out to continue from the end."
        )
    return seconds


def _last_tenth_before(duration: float) -> float:
    """The last tenth of a second at least 0.05 s before `duration` (so float error cannot reach it), after 0."""
    point = math.floor(round((duration - 0.05) * 10, 6)) / 10
    return point if point > 0 else duration / 2


def as_clip_id(text: str) -> str | None:
    """The canonical (lower-case) form of a Suno clip id, or None when `text` is not one."""
    return _as_uuid(text.strip())


def _as_uuid(text: str) -> str | None:
    if not re.fullmatch(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", text):
        return None
    return str(uuid.UUID(text))


def _below_60(value: float) -> float:
    if value >= 60:
        raise InputError("In `m:ss`, seconds and minutes go up to 59, e.g. `1:35` or `1:02:03`.")
    return value


def _quote(text: str) -> str:
    """User text echoed inside inline code, kept short and unable to break out of the backticks."""
    shortened = text if len(text) <= 40 else f"{text[:37]}…"
    return shortened.replace("`", "ˋ")


def carry_over(target: ProviderCapabilities, source: ProviderCapabilities, request: TaskRequest) -> TaskRequest:
    """A request validated for `source`, as `target` takes it: for sending it there instead; `InputError` if it
    cannot go there (an upload, a model or a text `target` refuses).

    A model the member did not choose (`source`'s default) gives way to `target`'s own default.
    """
    model = request.model
    if model is not None and model == source.default_generate_model and model not in target.choosable_models:
        model = None
    if isinstance(request, GenerateRequest):
        options = GenerateOptions(
            prompt=request.prompt,
            lyrics=request.lyrics,
            style=request.style,
            title=request.title,
            instrumental=request.instrumental,
            model=model,
        )
        return validate_generate(target, options)
    if request.clip_id is None:
        raise InputError("An uploaded track is extended by the provider it was uploaded to.")
    extend = ExtendOptions(
        song=request.clip_id,
        at=f"{request.continue_at:.3f}",
        lyrics=request.lyrics,
        prompt=request.prompt,
        style=request.style,
        title=request.title,
        model=model,
    )
    return validate_extend(target, extend, None)
