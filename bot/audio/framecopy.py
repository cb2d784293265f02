"""The whole song by copying the parts' MP3 frames: only a short window around each seam is decoded and encoded.

Output frame n decodes to the song's samples [spf·n − D, spf·(n+1) − D), D being the first part's delay plus the
decoder's 529. A part's frames can be copied where the grid puts its first sample a whole number of frames away,
so each part starts at the grid point nearest its nominal start (at most half a frame, 12 ms at 48 kHz, away) and
the previous part plays up to there. Around each seam a few frames are rebuilt: both parts' audio is decoded, the
30 ms equal-power crossfade applied, and LAME (bit reservoir off) encodes the window with the same alignment, a few
warm-up frames thrown away. The first copied frame after a window reads `main_data_begin` bytes from before itself;
those bytes are put at the end of the window's main-data stream (a frame is written at a higher bit rate when they
do not fit). Every other frame is the source's, byte for byte. The Xing/Info + LAME tag is written anew.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO, cast

import av
import av.error
import numpy as np
import numpy.typing as npt

from bot.audio.mpeg import (
    FrameHeader,
    LameTag,
    build_info_frame,
    crc16,
    info_frame_header,
    main_data_begin,
    main_data_size,
    parse_header,
    read_info_tag,
    set_main_data_begin,
    toc,
)
from bot.audio.stitch import (
    CROSSFADE_SECONDS,
    CUT_TOLERANCE,
    LAME_OPTIONS,
    PEAKS_WIDTH,
    AudioSourceError,
    BuildCancelled,
    CutPastEnd,
    Part,
    SongTags,
    StitchResult,
    fade_curves,
    write_tags,
)

DECODER_DELAY = 529
"""Samples every MP3 decoder adds in front (its synthesis filterbank): FFmpeg skips the tag's delay plus this."""
LAME_DELAY = 576
"""Samples LAME delays its output by; so PCM fed to LAME comes out at raw position + 576 + 529."""
WINDOW_BEFORE = 2
"""Re-encoded frames before the one holding the seam: the transform's overlap then only ever meets the old part."""
WINDOW_AFTER = 2
"""Re-encoded frames after the crossfade's last one, for the same reason on the new part's side."""
ENCODER_WARMUP = 3
"""LAME frames encoded before a window and thrown away, so its filterbank and psychoacoustics are settled."""
ENCODER_LOOKAHEAD = 3
"""Frames of real audio fed past a window, so its last frame is encoded as if the song went on (it does)."""
DECODER_WARMUP = 3
"""Source frames decoded before the ones a window needs (more when they hold less than a full reservoir): they fill
the decoder's bit reservoir and the transform's overlap."""
MAX_RESYNC_BYTES = 64 * 1024
"""Bytes of damage inside a part skipped when looking for the next frame; more and the part is unusable."""
MIN_WINDOW_BITRATE = 128_000
PEAK_RESTART = 3
"""A peak column more than this many frames ahead is decoded afresh (after two warm-up frames) instead of walked to."""

_Audio = npt.NDArray[np.float32]


class CannotCopy(Exception):
    """The parts cannot be joined frame by frame; the message says why, in words fit for the post's footer."""


@dataclass(frozen=True, eq=False)
class Mp3Frames:
    """A part's audio frames as found in its file (after any ID3 tag and its Xing/Info frame).

    Without a Xing/Info + LAME tag a decoder trims nothing: the part is every sample its frames decode to.
    """

    path: Path
    header: FrameHeader
    offsets: npt.NDArray[np.int64]
    lengths: npt.NDArray[np.int32]
    bitrate_indices: npt.NDArray[np.uint8]
    tag: LameTag | None

    @property
    def count(self) -> int:
        return len(self.offsets)

    @property
    def spf(self) -> int:
        return self.header.samples

    @property
    def skip(self) -> int:
        """Raw decoded samples before the part's first real one: the encoder's delay plus the decoder's."""
        return self.tag.delay + DECODER_DELAY if self.tag else 0

    @property
    def samples(self) -> int:
        """The part's real length: its frames, less the delay, less the padding when the tag counted these frames."""
        if self.tag is None:
            return self.count * self.spf
        padding = self.tag.padding if self.tag.frames == self.count else 0
        return max(0, self.count * self.spf - self.tag.delay - padding)

    def span_bytes(self, first: int, stop: int) -> tuple[int, int]:
        """File offset and size of the bytes from frame `first` to the end of frame `stop` − 1 (damage included)."""
        if stop <= first:
            return int(self.offsets[first]) if first < self.count else 0, 0
        start = int(self.offsets[first])
        return start, int(self.offsets[stop - 1]) + int(self.lengths[stop - 1]) - start


def scan(index: int, path: Path) -> Mp3Frames:
    """Index a part's frames; `CannotCopy` unless it is a Layer III file, `AudioSourceError` if it is damaged."""
    data = path.read_bytes()
    position = _skip_id3v2(data)
    first = _next_frame(data, position, None)
    if first is None:
        raise CannotCopy(f"part {index + 1} is not an MP3 (Layer III) file")
    position, header = first
    tag = read_info_tag(memoryview(data)[position : position + header.length], header)
    if tag is not None or _is_tag_frame(data, position, header):
        position += header.length  # the tag frame (a Xing without a LAME part says no delay: none is trimmed)
    key = header.stream_key()
    offsets: list[int] = []
    lengths: list[int] = []
    indices: list[int] = []
    known: dict[bytes, tuple[int, int]] = {}
    """Header bytes seen before → (frame length, bit-rate index): a file repeats a few headers thousands of times."""
    skipped = 0
    end = len(data)
    while position + 4 <= end:
        raw = data[position : position + 4]
        seen = known.get(raw)
        if seen is None:
            parsed = parse_header(raw)
            if parsed is not None and parsed.stream_key() == key:
                seen = known[raw] = (parsed.length, parsed.bitrate_index)
        if seen is None or position + seen[0] > end:
            found = _next_frame(data, position + 1, key)
            if found is None:
                break
            skipped += found[0] - position
            if skipped > MAX_RESYNC_BYTES:
                raise AudioSourceError(index, f"({path.name}) is damaged: too much of it is not MP3 frames")
            position = found[0]
            continue
        offsets.append(position)
        lengths.append(seen[0])
        indices.append(seen[1])
        position += seen[0]
    if end - position > MAX_RESYNC_BYTES:
        raise AudioSourceError(index, f"({path.name}) is damaged: too much of it is not MP3 frames")
    if not offsets:
        raise AudioSourceError(index, f"({path.name}) holds no MP3 audio frames")
    return Mp3Frames(
        path=path,
        header=header,
        offsets=np.array(offsets, dtype=np.int64),
        lengths=np.array(lengths, dtype=np.int32),
        bitrate_indices=np.array(indices, dtype=np.uint8),
        tag=tag,
    )


def _is_tag_frame(data: bytes, position: int, header: FrameHeader) -> bool:
    at = position + 4 + header.side_info_size
    return data[at : at + 4] in (b"Xing", b"Info", b"VBRI") or data[position + 36 : position + 40] == b"VBRI"


def _skip_id3v2(data: bytes) -> int:
    position = 0
    while data[position : position + 3] == b"ID3" and len(data) >= position + 10:
        size = 0
        for byte in data[position + 6 : position + 10]:
            size = (size << 7) | (byte & 0x7F)
        position += 10 + size + (10 if data[position + 5] & 0x10 else 0)
    return position


def _next_frame(data: bytes, position: int, key: tuple[object, ...] | None) -> tuple[int, FrameHeader] | None:
    """The next offset where a frame header is followed by another one of the same stream (a sync, not chance)."""
    while True:
        position = data.find(b"\xff", position)
        if position < 0 or position + 4 > len(data):
            return None
        header = parse_header(data, position)
        if header is not None and (key is None or header.stream_key() == key):
            after = position + header.length
            follower = parse_header(data, after)
            if after == len(data) or (follower is not None and follower.stream_key() == header.stream_key()):
                return position, header
        position += 1


@dataclass(frozen=True)
class Seam:
    """Where part `index` starts on the song (`start`, a grid point) and the output frames rebuilt around it."""

    index: int
    start: int
    fade: int
    first: int
    stop: int


@dataclass(frozen=True)
class Layout:
    """The song on the frame grid: each part's first sample on it, and its frames' place (output = part + offset)."""

    starts: tuple[int, ...]
    offsets: tuple[int, ...]
    seams: tuple[Seam, ...]
    total: int
    """The song's length in samples."""
    skip: int
    """Raw samples a decoder drops before the song's first one: the delay in the song's LAME tag plus 529."""
    lead: int
    """Silent frames in front of the first part's: 1 when that part has no LAME tag (nothing of it is trimmed, but
    a tag's delay cannot be under 0, so the song's grid starts a frame earlier), else 0."""


def plan(parts: Sequence[Part], scanned: Sequence[Mp3Frames], *, fade_seconds: float = CROSSFADE_SECONDS) -> Layout:
    """Place every part on the frame grid and choose the windows; `CannotCopy` when the parts do not allow it."""
    first = scanned[0]
    for index, frames in enumerate(scanned[1:], start=1):
        if frames.header.stream_key() != first.header.stream_key():
            what = _difference(first.header, frames.header)
            raise CannotCopy(f"part {index + 1}'s {what} differs from part 1's")
    spf, rate = first.spf, first.header.sample_rate
    lead = 1 if first.skip < DECODER_DELAY else 0
    skip = first.skip + lead * spf
    lengths = [frames.samples for frames in scanned]
    cuts: list[int] = []
    for index, (part, length) in enumerate(zip(parts, lengths, strict=True)):
        if part.end is None:
            cuts.append(length)
            continue
        cut = round(part.end * rate)
        if cut > length + CUT_TOLERANCE * rate:
            raise CutPastEnd(index, part.end, length / rate)
        cuts.append(min(cut, length))
    fade_wanted = round(fade_seconds * rate)
    starts, offsets, seams = [0], [lead], list[Seam]()
    nominal = 0
    for index in range(1, len(parts)):
        nominal += cuts[index - 1]
        frames, previous_start = scanned[index], starts[-1]
        behind = (nominal + skip - frames.skip) % spf
        candidates = sorted((nominal - behind, nominal - behind + spf), key=lambda point: abs(point - nominal))
        usable = [point for point in candidates if point - previous_start <= lengths[index - 1]]
        if not usable:
            raise CannotCopy(f"part {index} is too short to join frame by frame")
        start = usable[0]
        fade = fade_wanted if start - previous_start + fade_wanted <= lengths[index - 1] else 0
        offset = (start + skip - frames.skip) // spf
        seam_frame = (start + skip) // spf
        last_fade_frame = (start + max(fade, 1) - 1 + skip) // spf
        window = Seam(index, start, fade, seam_frame - WINDOW_BEFORE, last_fade_frame + 1 + WINDOW_AFTER)
        earliest_fed = spf * (window.first - ENCODER_WARMUP) + LAME_DELAY + DECODER_DELAY - skip
        if seams and (earliest_fed < previous_start or window.first <= seams[-1].stop):
            raise CannotCopy(f"part {index} is too short to join frame by frame")
        if window.stop - offset < 1 or window.stop - offset >= frames.count:
            raise CannotCopy(f"part {index + 1} is too short to join frame by frame")
        starts.append(start)
        offsets.append(offset)
        seams.append(window)
    return Layout(tuple(starts), tuple(offsets), tuple(seams), starts[-1] + lengths[-1], skip, lead)


def _difference(a: FrameHeader, b: FrameHeader) -> str:
    if a.version != b.version:
        return "MPEG version"
    if a.sample_rate != b.sample_rate:
        return f"sample rate ({b.sample_rate} Hz against {a.sample_rate} Hz)"
    return "channel count"


def copy_join(
    parts: Sequence[Part],
    out_path: Path,
    *,
    limit_bytes: int | None,
    tags: SongTags,
    cancel: threading.Event | None = None,
) -> StitchResult:
    """Join the parts frame by frame into `out_path`; `CannotCopy` (nothing written) when they cannot be."""
    if not parts:
        raise ValueError("a whole song needs at least one part")
    scanned = [scan(index, part.path) for index, part in enumerate(parts)]
    layout = plan(parts, scanned)
    runs = _runs(layout, scanned)
    estimate = sum(int(frames.lengths[begin:stop].sum()) for frames, begin, stop in runs)
    overhead = tags.estimated_size()
    if limit_bytes is not None and estimate + overhead > limit_bytes:
        raise CannotCopy(f"the copied song ({(estimate + overhead) / 1e6:.1f} MB) is over the upload limit")
    first = scanned[0]
    temporary = out_path.with_name(out_path.name + ".part")
    try:
        with temporary.open("w+b") as out:
            writer = _FrameWriter(out, first.header)
            writer.write_new([silent_frame(first.header)] * layout.lead)
            window_frames = 0
            for run_index, (frames, begin, stop) in enumerate(runs):
                _check(cancel)
                writer.copy(run_index, frames, begin, stop, cancel)
                if run_index < len(layout.seams):
                    seam = layout.seams[run_index]
                    window = build_window(seam, layout, scanned)
                    writer.write_new(window)
                    window_frames += len(window)
            writer.finish(delay=layout.skip - DECODER_DELAY, total_samples=layout.total)
        _check(cancel)
        peaks = _peaks(temporary, writer, layout, first, PEAKS_WIDTH, cancel)
        duration = layout.total / first.header.sample_rate
        write_tags(temporary, tags, duration)
        size = temporary.stat().st_size
        if limit_bytes is not None and size > limit_bytes:
            raise CannotCopy(f"the copied song ({size / 1e6:.1f} MB) is over the upload limit")
        temporary.replace(out_path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    rate = first.header.sample_rate
    starts = layout.starts
    ends = (*starts[1:], layout.total)
    audio_bytes = writer.written
    cbr = writer.constant_bitrate
    bitrate = first.header.bitrate if cbr else round(audio_bytes * 8 / max(duration, 1e-9), -3)
    seams = len(layout.seams)
    built_by = "frames copied from the parts unchanged" + (
        f", {seams} seam{'s' if seams != 1 else ''} re-encoded ({window_frames} frames)" if seams else ""
    )
    return StitchResult(
        path=out_path,
        duration=duration,
        seams=tuple(start / rate for start in starts[1:]),
        spans=tuple((start / rate, end / rate) for start, end in zip(starts, ends, strict=True)),
        peaks=peaks,
        bitrate=int(bitrate),
        size=out_path.stat().st_size,
        method="copied",
        built_by=built_by,
    )


def silent_frame(template: FrameHeader) -> bytes:
    """A frame that decodes to silence and borrows nothing: all side information zero (no granule has data).

    Its header is the stream's own, flag bits and all, without CRC or padding: FFmpeg's demuxer takes a frame whose
    copyright, original or emphasis bits differ from its neighbours' for junk.
    """
    raw = template.raw
    header = parse_header(bytes((raw[0], raw[1] | 1, raw[2] & 0xFC, raw[3])))
    assert header is not None
    return header.raw + bytes(header.length - 4)


def _check(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise BuildCancelled()


def _runs(layout: Layout, scanned: Sequence[Mp3Frames]) -> list[tuple[Mp3Frames, int, int]]:
    """The copied stretch of each part, as part frames [begin, stop), windows falling between them."""
    runs = []
    for index, frames in enumerate(scanned):
        offset = layout.offsets[index]
        begin = layout.seams[index - 1].stop - offset if index else 0
        stop = layout.seams[index].first - offset if index < len(layout.seams) else frames.count
        runs.append((frames, begin, stop))
    return runs


class _FrameWriter:
    """Writes frames after a placeholder Xing/Info frame, keeping what the tag needs: offsets, CRC, bit rates."""

    COPY_CHUNK = 1 << 20

    def __init__(self, out: BinaryIO, template: FrameHeader) -> None:
        self.out = out
        self.template = template
        self.written = 0
        self.crc = 0
        self.offset_runs: list[npt.NDArray[np.int64]] = []
        self.bitrates: set[int] = set()
        self.info_size = info_frame_header(template).length
        out.write(bytes(self.info_size))

    @property
    def constant_bitrate(self) -> bool:
        return len(self.bitrates) <= 1

    @property
    def frame_offsets(self) -> npt.NDArray[np.int64]:
        """Every audio frame's offset from the start of the audio (just after the Xing/Info frame)."""
        return np.concatenate(self.offset_runs) if self.offset_runs else np.zeros(0, dtype=np.int64)

    def copy(self, index: int, frames: Mp3Frames, begin: int, stop: int, cancel: threading.Event | None) -> None:
        """Frames [begin, stop) of a part, as stretches of bytes (damage the scan skipped is left out)."""
        if stop <= begin:
            return
        offsets, lengths = frames.offsets[begin:stop], frames.lengths[begin:stop]
        gaps = np.flatnonzero(offsets[1:] != offsets[:-1] + lengths[:-1]) + 1
        self.bitrates.update(np.unique(frames.bitrate_indices[begin:stop]).tolist())
        with frames.path.open("rb") as source:
            for first, last in zip((0, *gaps.tolist()), (*gaps.tolist(), len(offsets)), strict=True):
                start, size = frames.span_bytes(begin + first, begin + last)
                self.offset_runs.append(offsets[first:last] - start + self.written)
                source.seek(start)
                left = size
                while left:
                    _check(cancel)
                    chunk = source.read(min(left, self.COPY_CHUNK))
                    if not chunk:
                        raise AudioSourceError(index, f"({frames.path.name}) changed while it was being read")
                    self._put(chunk)
                    left -= len(chunk)

    def write_new(self, new_frames: list[bytes]) -> None:
        offsets = []
        for frame in new_frames:
            offsets.append(self.written)
            header = parse_header(frame)
            assert header is not None
            self.bitrates.add(header.bitrate_index)
            self._put(frame)
        self.offset_runs.append(np.array(offsets, dtype=np.int64))

    def _put(self, data: bytes) -> None:
        self.out.write(data)
        self.crc = crc16(data, self.crc)
        self.written += len(data)

    def finish(self, *, delay: int, total_samples: int) -> None:
        offsets = self.frame_offsets
        frames = len(offsets)
        padding = frames * self.template.samples - delay - total_samples
        size = self.info_size
        info = build_info_frame(
            self.template,
            frames=frames,
            total_bytes=self.written + size,
            toc=toc(offsets + size, self.written + size),
            delay=delay,
            padding=max(padding, 0),
            vbr=not self.constant_bitrate,
            encoder=b"LAME3.100",
            audio_crc=self.crc,
        )
        assert len(info) == size
        self.out.seek(0)
        self.out.write(info)
        self.out.flush()


def build_window(seam: Seam, layout: Layout, scanned: Sequence[Mp3Frames]) -> list[bytes]:
    """The rebuilt frames [seam.first, seam.stop): decoded, crossfaded, encoded, the borrowed bytes appended."""
    old, new = scanned[seam.index - 1], scanned[seam.index]
    spf, rate = new.spf, new.header.sample_rate
    skip = layout.skip
    count = seam.stop - seam.first
    fed = spf * (ENCODER_WARMUP + count + ENCODER_LOOKAHEAD)
    t0 = spf * (seam.first - ENCODER_WARMUP) + LAME_DELAY + DECODER_DELAY - skip
    old_start, new_start = layout.starts[seam.index - 1], seam.start
    audio = np.zeros((new.header.channels, fed), dtype=np.float32)
    old_end = seam.start + seam.fade - t0
    old_audio = _decode_range(seam.index - 1, old, t0 - old_start, t0 - old_start + old_end)
    audio[:, :old_end] = old_audio
    new_from = seam.start - t0
    new_audio = _decode_range(seam.index, new, 0, t0 + fed - new_start)
    if seam.fade:
        fade_in, fade_out = fade_curves(seam.fade)
        audio[:, new_from : new_from + seam.fade] *= fade_out
        new_audio[:, : seam.fade] *= fade_in
        audio[:, new_from : new_from + seam.fade] += new_audio[:, : seam.fade]
        audio[:, new_from + seam.fade :] = new_audio[:, seam.fade :]
    else:
        audio[:, new_from:] = new_audio
    bitrate = _window_bitrate(old, new, seam, layout)
    encoded = _encode(audio, rate, bitrate)[ENCODER_WARMUP : ENCODER_WARMUP + count]
    if len(encoded) != count:
        raise CannotCopy("the encoder gave fewer frames than the seam needs")
    return _with_borrowed(encoded, _borrowed(new, seam.stop - layout.offsets[seam.index]))


def _window_bitrate(old: Mp3Frames, new: Mp3Frames, seam: Seam, layout: Layout) -> int:
    """The bit rate of the source frames the window replaces (the best of them), at least `MIN_WINDOW_BITRATE`."""
    indices = [
        frames.bitrate_indices[max(0, seam.first - offset) : max(0, seam.stop - offset)]
        for frames, offset in ((old, layout.offsets[seam.index - 1]), (new, layout.offsets[seam.index]))
    ]
    best = max((int(part.max()) for part in indices if len(part)), default=new.header.bitrate_index)
    return max(new.header.with_bitrate(best).bitrate, MIN_WINDOW_BITRATE)


def _decode_range(index: int, frames: Mp3Frames, first: int, stop: int) -> _Audio:
    """A part's samples [first, stop) on its own timeline (zeros outside it), decoding only the frames needed.

    A frame that does not decode (damage) gives silence, as a player would play it.
    """
    spf, channels = frames.spf, frames.header.channels
    out = np.zeros((channels, max(0, stop - first)), dtype=np.float32)
    raw_first, raw_stop = first + frames.skip, stop + frames.skip
    frame_first = max(0, raw_first // spf)
    frame_stop = min(frames.count, -(-raw_stop // spf))
    if frame_stop <= frame_first:
        return out
    decode_first = max(0, frame_first - DECODER_WARMUP)
    reservoir = 511 if frames.header.mpeg1 else 255
    payload = frames.header.main_data_offset
    while (
        decode_first > 0
        and int(frames.lengths[decode_first:frame_first].sum()) - payload * (frame_first - decode_first) < reservoir
    ):
        decode_first -= 1
    start, size = frames.span_bytes(decode_first, frame_stop)
    with frames.path.open("rb") as source:
        source.seek(start)
        data = source.read(size)
    decoder = _mp3_decoder()
    for number in range(decode_first, frame_stop):
        at = int(frames.offsets[number]) - start
        packet = av.Packet(data[at : at + int(frames.lengths[number])])
        try:
            decoded = [np.asarray(frame.to_ndarray(), dtype=np.float32) for frame in decoder.decode(packet)]
        except av.error.FFmpegError:
            decoded = []
        if number < frame_first:
            continue
        pcm = np.concatenate(decoded, axis=1) if decoded else np.zeros((channels, spf), dtype=np.float32)
        if pcm.shape != (channels, spf):
            pcm = np.zeros((channels, spf), dtype=np.float32)
        lo = max(raw_first, number * spf)
        hi = min(raw_stop, (number + 1) * spf)
        if hi > lo:
            out[:, lo - raw_first : hi - raw_first] = pcm[:, lo - number * spf : hi - number * spf]
    return out


def _mp3_decoder() -> av.AudioCodecContext:
    """FFmpeg's float MP3 decoder, the one its demuxer picks, so a window decodes as the whole file would."""
    return cast(av.AudioCodecContext, av.CodecContext.create("mp3float", "r"))


def _encode(audio: _Audio, rate: int, bitrate: int) -> list[bytes]:
    """LAME with the bit reservoir off: every frame's main data in its own payload (`main_data_begin` = 0)."""
    layout = "mono" if audio.shape[0] == 1 else "stereo"
    encoder = av.CodecContext.create("libmp3lame", "w")
    encoder.sample_rate = rate
    encoder.layout = layout
    encoder.format = "fltp"
    encoder.bit_rate = bitrate
    encoder.options = {**LAME_OPTIONS, "reservoir": "0"}
    encoder.open()
    size = encoder.frame_size or 1152
    packets: list[bytes] = []
    for start in range(0, audio.shape[1], size):
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(audio[:, start : start + size]), format="fltp", layout=layout
        )
        frame.sample_rate = rate
        frame.pts = start
        frame.time_base = Fraction(1, rate)
        packets.extend(bytes(packet) for packet in encoder.encode(frame))
    packets.extend(bytes(packet) for packet in encoder.encode(None))
    return packets


def _borrowed(frames: Mp3Frames, number: int) -> bytes:
    """The bytes frame `number` reads from before itself: the tail of the payloads of the frames before it."""
    first = number
    with frames.path.open("rb") as source:
        source.seek(int(frames.offsets[number]))
        head = source.read(8)
        header = parse_header(head)
        assert header is not None
        wanted = main_data_begin(head, header)
        have = 0
        while have < wanted and first > 0:
            first -= 1
            have += int(frames.lengths[first]) - header.main_data_offset
        start, size = frames.span_bytes(first, number)
        source.seek(start)
        data = source.read(size)
    payloads = b"".join(
        data[at - start + header.main_data_offset : at - start + length]
        for at, length in zip(frames.offsets[first:number].tolist(), frames.lengths[first:number].tolist(), strict=True)
    )
    return payloads[len(payloads) - wanted :] if wanted else b""


def _with_borrowed(encoded: list[bytes], borrowed: bytes) -> list[bytes]:
    """The window's frames repacked so their main-data stream ends with `borrowed`.

    Each new frame's main data starts as early as the reservoir allows (right after the previous one's, at most
    511 bytes back, 255 in MPEG-2), which gathers the frames' spare bytes at the end. If `borrowed` still does not
    fit, the last frames are written at a higher bit rate (bigger frames, same side information).
    """
    heads = [parse_header(frame) for frame in encoded]
    if any(header is None or header.protected for header in heads):
        raise CannotCopy("the encoder wrote a frame that is not plain Layer III")
    new = [_NewFrame(frame, header) for frame, header in zip(encoded, heads, strict=True) if header is not None]
    reach = 511 if new[0].header.mpeg1 else 255
    indices = [frame.header.bitrate_index for frame in new]
    top = 14
    for bumped in range(len(new) + 1):
        trial = indices[: len(new) - bumped] + [top] * bumped
        if not _placements(new, trial, reach)[2] >= len(borrowed):
            continue
        if bumped:
            lowest = len(new) - bumped
            while trial[lowest] > indices[lowest]:
                trial[lowest] -= 1
                if _placements(new, trial, reach)[2] < len(borrowed):
                    trial[lowest] += 1
                    break
        return _assemble(new, trial, reach, borrowed)
    raise CannotCopy("a seam's frames cannot carry the bytes the next frame borrows")


class _NewFrame:
    """A frame LAME wrote with the reservoir off: its header, side information and own main data."""

    def __init__(self, frame: bytes, header: FrameHeader) -> None:
        self.header = header
        self.side = frame[4 : header.main_data_offset]
        self.main = frame[header.main_data_offset : header.main_data_offset + main_data_size(frame, header)]

    def header_at(self, bitrate_index: int) -> FrameHeader:
        """Its header at a bit rate (as written, padding and all, at its own one)."""
        return self.header if bitrate_index == self.header.bitrate_index else self.header.with_bitrate(bitrate_index)

    def capacity(self, bitrate_index: int) -> int:
        return self.header_at(bitrate_index).length - self.header.main_data_offset


def _placements(new: list[_NewFrame], indices: list[int], reach: int) -> tuple[list[int], list[int], int]:
    """Where each frame's payload and main data start in the window's main-data stream; the bytes left at its end."""
    payload_starts, data_starts = [], []
    position, end = 0, 0
    for frame, index in zip(new, indices, strict=True):
        start = max(end, position - reach)
        payload_starts.append(position)
        data_starts.append(start)
        end = start + len(frame.main)
        position += frame.capacity(index)
    return payload_starts, data_starts, position - end


def _assemble(new: list[_NewFrame], indices: list[int], reach: int, borrowed: bytes) -> list[bytes]:
    payload_starts, data_starts, _ = _placements(new, indices, reach)
    total = payload_starts[-1] + new[-1].capacity(indices[-1])
    stream = bytearray(total)
    for start, frame in zip(data_starts, new, strict=True):
        stream[start : start + len(frame.main)] = frame.main
    stream[total - len(borrowed) :] = borrowed
    frames = []
    for frame, index, payload, start in zip(new, indices, payload_starts, data_starts, strict=True):
        header = frame.header_at(index)
        head = bytearray(header.raw + frame.side)
        set_main_data_begin(head, header, payload - start)
        frames.append(bytes(head) + bytes(stream[payload : payload + frame.capacity(index)]))
    return frames


def _peaks(
    path: Path, writer: _FrameWriter, layout: Layout, first: Mp3Frames, width: int, cancel: threading.Event | None
) -> npt.NDArray[np.float32]:
    """The waveform's (width, 2) lowest and highest samples, from the written song without decoding all of it.

    Each column is read from the frame at its middle (decoded after two warm-up frames; neighbouring columns of a
    short song share a walk through consecutive frames). A column of a long song is a sample of its stretch, which
    is what a waveform picture of music needs, at a fraction of a full decode.
    """
    if width < 1:
        raise ValueError("the waveform needs at least one column")
    offsets = writer.frame_offsets + writer.info_size
    ends = np.append(offsets[1:], writer.info_size + writer.written)
    spf, skip, total = first.spf, layout.skip, max(layout.total, 1)
    peaks = np.zeros((width, 2), dtype=np.float32)
    decoder = _mp3_decoder()
    decoded_upto = -2
    current: _Audio = np.zeros((first.header.channels, spf), dtype=np.float32)
    with path.open("rb") as song:
        for column in range(width):
            if column % 64 == 0:
                _check(cancel)
            low, high = column * total // width, max((column + 1) * total // width, column * total // width + 1)
            target = min(((low + high) // 2 + skip) // spf, len(offsets) - 1)
            if target != decoded_upto:
                begin = decoded_upto + 1 if 0 < target - decoded_upto <= PEAK_RESTART else max(0, target - 2)
                for number in range(begin, target + 1):
                    song.seek(int(offsets[number]))
                    packet = av.Packet(song.read(int(ends[number] - offsets[number])))
                    try:
                        pcm = [np.asarray(frame.to_ndarray(), dtype=np.float32) for frame in decoder.decode(packet)]
                    except av.error.FFmpegError:
                        pcm = []
                    current = np.concatenate(pcm, axis=1) if pcm else np.zeros_like(current)
                decoded_upto = target
            frame_start = target * spf - skip
            piece = current[:, max(0, low - frame_start) : max(0, min(high, frame_start + spf) - frame_start)]
            if piece.size == 0:
                piece = current
            peaks[column] = (piece.min(), piece.max())
    return np.clip(peaks, -1.0, 1.0)
