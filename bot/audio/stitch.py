"""Join a chain of Suno extends into one whole-song MP3, streaming: decode, cut, crossfade, encode, tag.

A Suno extend holds only the new audio, starting at its continue point, so the whole song of
c0 →(t1) c1 →(t2) c2 is c0[0:t1] + c1[0:t2] + c2. Everything here is synchronous and CPU-bound: callers on
the event loop use `stitch_in_thread` / `fit_in_thread` (or `asyncio.to_thread`) so the loop is never blocked.

Memory stays flat whatever the song's length: audio moves through in blocks of `BLOCK_SAMPLES`, only one
crossfade tail (`CROSSFADE_SECONDS`) is ever held, and the waveform peaks are gathered on the way.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import av.error
import mutagen.id3
import numpy as np
import numpy.typing as npt
from mutagen.id3 import ID3, Encoding, Frame

from bot.audio.probe import AudioInfo, probe_audio
from bot.media.sniff import image_type

SAMPLE_RATE = 44_100
LAYOUT = "stereo"
CHANNELS = 2
SAMPLE_FORMAT = "fltp"
"""Float planar: what libmp3lame takes natively, so the encoder needs no second conversion."""

CROSSFADE_SECONDS = 0.03
"""Length of the equal-power crossfade at each seam: long enough to hide a click, too short to hear as a fade."""

CUT_TOLERANCE = 0.05
"""A cut this far past a part's decoded end is taken as its end (headers and Suno's durations round a little)."""

BLOCK_SAMPLES = 16_384
"""Samples per block through the pipeline: big enough that numpy and PyAV calls are few, small enough to be flat."""

BITRATE_LADDER = (192_000, 160_000, 128_000, 112_000, 96_000)
"""Bit rates `fit_to_limit` tries, best first; the last is the floor below which a song is refused as too large."""

LAME_OPTIONS = {"compression_level": "3"}
"""LAME's `-q 3` (its own default, stated so the benchmark's floor uses exactly the same settings)."""

ENCODER_NAME = "Encore"

DECODE_MARGIN_SECONDS = 1.0
"""A part is decoded at most this far past the length its probe gave: a header that lies about a file's length
(an 8 s FLAC holding 10 minutes) cannot make a build decode, encode and post more than it planned."""

PEAKS_WIDTH = 1200
"""Columns of the waveform peaks gathered while building, one per pixel of the picture drawn from them."""

DAMAGED_FRAMES_ALLOWED = 50
"""Undecodable packets skipped (as silence of their length) in one part, as players do; more and the part is
taken as unusable."""

log = logging.getLogger("bot.audio")

_TAG_OVERHEAD = 4_096
"""Bytes to allow for the ID3 text frames and the Xing/LAME frame when estimating a file's size."""

Peaks = npt.NDArray[np.float32]
"""Shape (width, 2): the lowest and highest sample of each column of the waveform, in [-1, 1]."""

_Block = npt.NDArray[np.float32]
"""Shape (CHANNELS, n): a run of audio at SAMPLE_RATE."""


class AudioError(Exception):
    """Anything that stops a whole song from being built; its message is fit to show a user."""


class AudioSourceError(AudioError):
    """A part of the chain cannot be decoded: it is not audio, or it is damaged."""

    def __init__(self, part_index: int, reason: str) -> None:
        self.part_index = part_index
        self.reason = reason
        super().__init__(f"part {part_index + 1} of the chain {reason}")


class BuildCancelled(AudioError):
    """The build was stopped between two blocks (its deadline passed, or the bot is stopping)."""

    def __init__(self) -> None:
        super().__init__("the build was stopped before it finished")


class CutPastEnd(AudioError):
    """A continue point lies beyond the end of the part it cuts: the chain does not fit together."""

    def __init__(self, part_index: int, cut: float, duration: float) -> None:
        self.part_index = part_index
        self.cut = cut
        self.duration = duration
        super().__init__(
            f"part {part_index + 1} of the chain is {duration:.2f} s long, so it cannot be cut at {cut:.2f} s"
        )


class WholeSongTooLarge(AudioError):
    """Even at the lowest bit rate the whole song is bigger than the upload limit."""

    def __init__(self, size: int, limit: int, duration: float) -> None:
        self.size = size
        self.limit = limit
        self.duration = duration
        super().__init__(
            f"the whole song ({duration / 60:.1f} min) would be {size / 1e6:.1f} MB even at "
            f"{BITRATE_LADDER[-1] // 1000} kbit/s, over the {limit / 1e6:.1f} MB limit"
        )


@dataclass(frozen=True)
class Part:
    """One clip of the chain: `end` is its continue point on its own timeline, `None` to play it to the end."""

    path: Path
    end: float | None


@dataclass(frozen=True)
class SongTags:
    """The ID3 tags of the whole song; `artists` are the chain's makers, in order (repeats are dropped), and
    `cover_mime` is read from the cover's magic bytes when not given."""

    title: str
    artists: Sequence[str] = ()
    comment: str | None = None
    cover: bytes | None = field(default=None, repr=False)
    cover_mime: str | None = None

    def estimated_size(self) -> int:
        """Bytes to allow for these tags (the cover, the text frames) and the Xing/LAME frame in a file's size."""
        return len(self.cover or b"") + _TAG_OVERHEAD


@dataclass(frozen=True, eq=False)
class StitchResult:
    """The whole song on disk, and where each part sits on its timeline (for the waveform and the message)."""

    path: Path
    duration: float
    seams: tuple[float, ...]
    spans: tuple[tuple[float, float], ...]
    peaks: Peaks = field(repr=False)
    bitrate: int
    size: int
    method: str = "re-encoded"
    """`copied` (the parts' frames, only the seams encoded) or `re-encoded` (decoded and encoded whole)."""
    built_by: str = ""
    """How it was built, in words for the post's footer."""


@dataclass(frozen=True)
class _Plan:
    """What was learnt before decoding: each part's body length in samples and the song's expected length."""

    parts: tuple[Part, ...]
    cuts: tuple[int | None, ...]
    expected_samples: int
    limits: tuple[int, ...]
    """Per part: samples decoded at most (its probed length plus `DECODE_MARGIN_SECONDS`)."""


def stitch(
    parts: Sequence[Part],
    out_path: Path,
    *,
    bitrate: int = BITRATE_LADDER[0],
    tags: SongTags,
    peaks_width: int = PEAKS_WIDTH,
    cancel: threading.Event | None = None,
) -> StitchResult:
    """Build the whole song at one bit rate; the file appears at `out_path` only when it is complete."""
    plan = _plan(parts)
    return _build(plan, out_path, bitrate, tags, peaks_width, cancel)


def fit_to_limit(
    parts: Sequence[Part],
    out_path: Path,
    limit_bytes: int,
    *,
    tags: SongTags,
    cancel: threading.Event | None = None,
) -> StitchResult:
    """Build the whole song at the best bit rate of `BITRATE_LADDER` whose file fits in `limit_bytes`.

    A CBR file's size is predictable, so the build starts at the best rate the estimate allows and only steps
    down if the real file is still too big; a song that cannot fit even at the floor is refused without encoding.
    """
    plan = _plan(parts)
    duration = plan.expected_samples / SAMPLE_RATE
    extra = tags.estimated_size()
    fitting = [rate for rate in BITRATE_LADDER if estimate_size(duration, rate, extra) <= limit_bytes]
    if not fitting:
        raise WholeSongTooLarge(estimate_size(duration, BITRATE_LADDER[-1], extra), limit_bytes, duration)
    result: StitchResult | None = None
    for rate in fitting:
        result = _build(plan, out_path, rate, tags, PEAKS_WIDTH, cancel)
        if result.size <= limit_bytes:
            return result
    assert result is not None
    out_path.unlink(missing_ok=True)
    raise WholeSongTooLarge(result.size, limit_bytes, result.duration)


async def stitch_in_thread(
    parts: Sequence[Part],
    out_path: Path,
    *,
    bitrate: int = BITRATE_LADDER[0],
    tags: SongTags,
) -> StitchResult:
    """`stitch` off the event loop."""
    return await asyncio.to_thread(stitch, parts, out_path, bitrate=bitrate, tags=tags)


def estimate_size(duration: float, bitrate: int, extra_bytes: int = _TAG_OVERHEAD) -> int:
    """The size of a CBR MP3 of `duration` seconds: its frames plus `extra_bytes` of tags and headers."""
    return math.ceil(duration * bitrate / 8) + extra_bytes


def _plan(parts: Sequence[Part]) -> _Plan:
    """Check the chain before any work: every part is audio, every cut lies inside its part."""
    if not parts:
        raise ValueError("a whole song needs at least one part")
    cuts: list[int | None] = []
    limits: list[int] = []
    expected = 0
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        if part.end is None and not last:
            raise ValueError(f"part {index + 1} of the chain needs a cut point: only the last part plays to its end")
        if part.end is not None and not part.end > 0:
            raise ValueError(f"part {index + 1} of the chain has a cut point of {part.end} s; it must be after 0")
        info = probe_part(index, part.path)
        if part.end is not None and part.end > info.duration + CUT_TOLERANCE:
            raise CutPastEnd(index, part.end, info.duration)
        cut = None if part.end is None else round(min(part.end, info.duration) * SAMPLE_RATE)
        cuts.append(cut)
        limits.append(round((info.duration + DECODE_MARGIN_SECONDS) * SAMPLE_RATE))
        expected += cut if cut is not None else round(info.duration * SAMPLE_RATE)
    return _Plan(tuple(parts), tuple(cuts), expected, tuple(limits))


def probe_part(index: int, path: Path) -> AudioInfo:
    """The part's facts, or an `AudioSourceError` that says what is wrong with the file in words."""
    try:
        size = path.stat().st_size
    except OSError as error:
        raise AudioSourceError(index, f"({path.name}) cannot be read: {error.strerror or error}") from error
    if size == 0:
        raise AudioSourceError(index, f"({path.name}) is an empty file")
    info = probe_audio(path)
    if info is None:
        with path.open("rb") as file:
            head = file.read(64).lstrip().lower()
        looks = "an HTML page" if head.startswith((b"<!doctype html", b"<html", b"<")) else "not audio"
        raise AudioSourceError(index, f"({path.name}) is {looks} that no audio decoder can read")
    return info


def _build(
    plan: _Plan,
    out_path: Path,
    bitrate: int,
    tags: SongTags,
    peaks_width: int,
    cancel: threading.Event | None,
) -> StitchResult:
    """Decode, join and encode into a temporary file, tag it, then move it into place."""
    temporary = out_path.with_name(out_path.name + ".part")
    peaks = _PeakMeter(peaks_width, plan.expected_samples)
    bodies: list[int] = []
    try:
        with Mp3Writer(temporary, bitrate) as writer:
            for block in _song_blocks(plan, bodies):
                if cancel is not None and cancel.is_set():
                    raise BuildCancelled()
                peaks.add(block)
                writer.write(block)
        total = sum(bodies)
        duration = total / SAMPLE_RATE
        write_tags(temporary, tags, duration)
        temporary.replace(out_path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    starts = [sum(bodies[:index]) for index in range(len(bodies))]
    spans = tuple(
        (start / SAMPLE_RATE, (start + body) / SAMPLE_RATE) for start, body in zip(starts, bodies, strict=True)
    )
    return StitchResult(
        path=out_path,
        duration=duration,
        seams=tuple(start / SAMPLE_RATE for start in starts[1:]),
        spans=spans,
        peaks=peaks.finish(total),
        bitrate=bitrate,
        size=out_path.stat().st_size,
        built_by=f"re-encoded whole at {bitrate // 1000} kbit/s",
    )


def _song_blocks(plan: _Plan, bodies: list[int]) -> Iterator[_Block]:
    """The whole song's audio, block by block; appends each part's body length (samples) to `bodies`.

    The seam sits exactly at the cut: part N+1's first sample lands at the sum of the earlier cuts, so its
    timeline is untouched. The crossfade uses the audio part N has *after* its cut (Suno's clip goes on past
    the continue point): those `CROSSFADE_SECONDS` fade out with cos while part N+1's first ones fade in with
    sin, over the same samples. A part cut at its very end has no such tail and joins hard.
    """
    fade = round(CROSSFADE_SECONDS * SAMPLE_RATE)
    held: _Block | None = None
    for index, part in enumerate(plan.parts):
        cut = plan.cuts[index]
        tail_wanted = fade if cut is not None and index < len(plan.parts) - 1 else 0
        fade_in = fade_curves(held.shape[1])[0] if held is not None else None
        position = 0
        tail: list[_Block] = []
        tail_have = 0
        for block in _decoded_blocks(index, part.path, plan.limits[index]):
            n = block.shape[1]
            if cut is not None and position >= cut:
                piece = block[:, : tail_wanted - tail_have]
                tail.append(piece)
                tail_have += piece.shape[1]
                position += n
                if tail_have >= tail_wanted:
                    break
                continue
            body_n = n if cut is None else min(n, cut - position)
            body = block[:, :body_n]
            if held is not None and fade_in is not None and position < held.shape[1]:
                k = min(body_n, held.shape[1] - position)
                body = body.copy()
                body[:, :k] *= fade_in[position : position + k]
                body[:, :k] += held[:, position : position + k]
            if body_n:
                yield body
            if body_n < n and tail_wanted:
                piece = block[:, body_n : body_n + tail_wanted]
                tail.append(piece)
                tail_have += piece.shape[1]
            position += n
            if cut is not None and position >= cut and tail_have >= tail_wanted:
                break
        body_length = position if cut is None else min(position, cut)
        if cut is not None and position < cut:
            if cut - position > CUT_TOLERANCE * SAMPLE_RATE:
                raise CutPastEnd(index, cut / SAMPLE_RATE, position / SAMPLE_RATE)
            tail = []
        bodies.append(body_length)
        if tail:
            joined = np.concatenate(tail, axis=1) if len(tail) > 1 else tail[0].copy()
            held = joined * fade_curves(joined.shape[1])[1]
        else:
            held = None


def fade_curves(length: int) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Equal-power fade-in (sin) and fade-out (cos) over `length` samples: their squares sum to one."""
    phase = (np.arange(length, dtype=np.float32) + 0.5) * np.float32(math.pi / 2 / max(length, 1))
    return np.sin(phase), np.cos(phase)


def _decoded_blocks(index: int, path: Path, limit: int) -> Iterator[_Block]:
    """One part's audio, resampled to SAMPLE_RATE stereo float, in blocks of BLOCK_SAMPLES, at most `limit` samples.

    A packet that does not decode becomes silence of its length, as a player skips it, up to
    `DAMAGED_FRAMES_ALLOWED`; the reasons stay in the log, and the member is told in words.
    """
    resampler = av.AudioResampler(format=SAMPLE_FORMAT, layout=LAYOUT, rate=SAMPLE_RATE, frame_size=BLOCK_SAMPLES)
    produced = 0
    damaged = 0
    first: av.AudioFrame | None = None
    try:
        with av.open(str(path)) as container:
            stream = container.streams.audio[0]
            for packet in container.demux(stream):
                if produced >= limit:
                    break
                try:
                    frames = stream.codec_context.decode(packet)
                except av.error.InvalidDataError as error:
                    frames, damaged = [], damaged + 1
                    log.debug("part %s (%s): a damaged frame: %s", index + 1, path.name, error)
                    if first is not None:
                        frames = [_silence_like(first, packet, stream)]
                good = [frame for frame in frames if first is None or _same_shape(frame, first)]
                damaged += len(frames) - len(good)
                if damaged > DAMAGED_FRAMES_ALLOWED:
                    reason = f"is damaged: more than {DAMAGED_FRAMES_ALLOWED} of its frames cannot be played"
                    raise AudioSourceError(index, f"({path.name}) {reason}")
                for frame in good:
                    first = first or frame
                    for out in resampler.resample(frame):
                        block = _as_block(out)[:, : limit - produced]
                        produced += block.shape[1]
                        if block.shape[1]:
                            yield block
            if produced < limit:
                for out in resampler.resample(None):
                    block = _as_block(out)[:, : limit - produced]
                    produced += block.shape[1]
                    if block.shape[1]:
                        yield block
    except (av.error.FFmpegError, OSError, IndexError) as error:
        log.warning("part %s (%s) stopped decoding after %d samples: %s", index + 1, path.name, produced, error)
        raise AudioSourceError(
            index, f"({path.name}) is damaged and cannot be decoded after {produced / SAMPLE_RATE:.1f} s"
        ) from error
    if damaged:
        log.info("part %s (%s): %d damaged frames skipped", index + 1, path.name, damaged)


def _same_shape(frame: av.AudioFrame, first: av.AudioFrame) -> bool:
    """Whether a decoded frame is like the stream's first: damage can parse as a frame of another rate or layout."""
    return (frame.format.name, frame.layout.name, frame.sample_rate) == (
        first.format.name,
        first.layout.name,
        first.sample_rate,
    )


def _silence_like(
    first: av.AudioFrame, packet: av.Packet[av.AudioStream], stream: av.audio.AudioStream
) -> av.AudioFrame:
    """The silence a player gives for a frame it cannot decode: the packet's length (the first frame's when unknown),
    shaped like the stream's first frame."""
    samples = first.samples
    if packet.duration and stream.time_base is not None:
        samples = max(1, round(packet.duration * stream.time_base * first.sample_rate))
    frame = av.AudioFrame(format=first.format.name, layout=first.layout.name, samples=samples)
    for plane in frame.planes:
        plane.update(bytes(plane.buffer_size))
    frame.sample_rate = first.sample_rate
    return frame


def _as_block(frame: av.AudioFrame) -> _Block:
    return np.asarray(frame.to_ndarray(), dtype=np.float32)


class _PeakMeter:
    """Per-column lowest and highest sample, gathered as blocks pass; columns are mapped from the expected length."""

    def __init__(self, width: int, expected_samples: int) -> None:
        if width < 1:
            raise ValueError("the waveform needs at least one column")
        self.width = width
        self.expected = max(expected_samples, 1)
        self.position = 0
        self.lows = np.full(width, np.inf, dtype=np.float32)
        self.highs = np.full(width, -np.inf, dtype=np.float32)

    def add(self, block: _Block) -> None:
        n = block.shape[1]
        if n == 0:
            return
        first = min(self.position * self.width // self.expected, self.width - 1)
        last = min((self.position + n - 1) * self.width // self.expected, self.width - 1)
        # Column c starts at sample ceil(c * expected / width): only the few boundaries inside this block matter.
        boundaries = -(-np.arange(first + 1, last + 1, dtype=np.int64) * self.expected // self.width) - self.position
        starts = np.concatenate((np.zeros(1, dtype=np.int64), boundaries))
        self.position += n
        which = np.arange(first, last + 1)
        lows = np.minimum.reduceat(block.min(axis=0), starts)
        highs = np.maximum.reduceat(block.max(axis=0), starts)
        self.lows[which] = np.minimum(self.lows[which], lows)
        self.highs[which] = np.maximum(self.highs[which], highs)

    def finish(self, total_samples: int) -> Peaks:
        """The (width, 2) peaks; stretched when the song came out shorter than expected so no column is blank."""
        used = min(self.width, max(1, -(-total_samples * self.width // self.expected)))
        lows = np.where(np.isfinite(self.lows), self.lows, 0.0).astype(np.float32)
        highs = np.where(np.isfinite(self.highs), self.highs, 0.0).astype(np.float32)
        if used < self.width:
            source = np.arange(self.width) * used // self.width
            lows, highs = lows[source], highs[source]
        return np.clip(np.stack([lows, highs], axis=1), -1.0, 1.0).astype(np.float32)


class Mp3Writer:
    """A CBR MP3 encoder fed blocks of any length; a FIFO cuts them into the frames LAME takes.

    No ID3 tag is written here (mutagen writes the real one afterwards); the Xing/LAME header is, so players
    and decoders know the exact length and skip the encoder's delay and padding.
    """

    def __init__(self, path: Path, bitrate: int) -> None:
        self.container = av.open(str(path), "w", format="mp3", options={"id3v2_version": "0"})
        try:
            self.stream = self.container.add_stream("libmp3lame", rate=SAMPLE_RATE, options=dict(LAME_OPTIONS))
            self.stream.bit_rate = bitrate
            self.stream.layout = LAYOUT
            self.stream.format = SAMPLE_FORMAT
            self.container.start_encoding()
        except BaseException:
            self.container.close()
            raise
        self.frame_size = self.stream.codec_context.frame_size or 1152
        self.fifo = av.AudioFifo()
        self.samples = 0
        self.time_base = Fraction(1, SAMPLE_RATE)

    def __enter__(self) -> Mp3Writer:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        try:
            if kind is None:
                self.finish()
        finally:
            self.container.close()

    def write(self, block: _Block) -> None:
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(block), format=SAMPLE_FORMAT, layout=LAYOUT)
        frame.sample_rate = SAMPLE_RATE
        self.fifo.write(frame)
        self._encode(self.fifo.read_many(self.frame_size))

    def finish(self) -> None:
        """Encode what the FIFO still holds and flush LAME."""
        self._encode(self.fifo.read_many(self.frame_size, partial=True))
        self.container.mux(self.stream.encode(None))

    def _encode(self, frames: list[av.AudioFrame]) -> None:
        for frame in frames:
            frame.pts = self.samples
            frame.time_base = self.time_base
            self.samples += frame.samples
            self.container.mux(self.stream.encode(frame))


def write_tags(path: Path, tags: SongTags, duration: float) -> None:
    """ID3v2.3 (the version every player reads): title, the chain's makers, Encore as encoder, the cover."""
    artists = list(dict.fromkeys(name.strip() for name in tags.artists if name.strip()))
    frames = [
        _id3_frame("TIT2", text=tags.title),
        *([_id3_frame("TPE1", text=", ".join(artists))] if artists else []),
        _id3_frame("TENC", text=ENCODER_NAME),
        _id3_frame("COMM", lang="eng", desc="", text=tags.comment or f"Made with {ENCODER_NAME}"),
        _id3_frame("TLEN", text=str(round(duration * 1000))),
    ]
    if tags.cover:
        mime = tags.cover_mime or image_type(tags.cover)
        frames.append(_id3_frame("APIC", mime=mime, type=3, desc="Cover", data=tags.cover))
    id3 = ID3()  # type: ignore[no-untyped-call]
    for frame in frames:
        id3.add(frame)  # type: ignore[no-untyped-call]
    id3.save(path, v2_version=3)


def _id3_frame(kind: str, **fields: object) -> Frame:
    """One UTF-8 ID3 frame by its four-letter id (mutagen's frame classes carry no type hints)."""
    factory: Callable[..., Frame] = getattr(mutagen.id3, kind)
    return factory(encoding=Encoding.UTF8, **fields)
