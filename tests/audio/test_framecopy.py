"""The whole song by frame copy (`join`), on real LAME MP3s like Suno's: decode it and listen, and compare its
frames with the parts' byte for byte. Each check runs on five encodings: 48 and 44.1 kHz, CBR and VBR, with and
without the bit reservoir, plus a 128 kbit/s chain whose seams cannot hold the borrowed bytes at the source rate."""

from __future__ import annotations

import asyncio
import struct
import threading
from dataclasses import dataclass, replace
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
import pytest

from bot.audio.framecopy import _encode, _mp3_decoder, _with_borrowed
from bot.audio.join import join, join_in_thread
from bot.audio.mpeg import crc16, parse_header
from bot.audio.stitch import CROSSFADE_SECONDS, BuildCancelled, Part, SongTags, StitchResult, estimate_size
from tests.audio.test_stitch import CUTS, LENGTHS, SEAMS, TONES, TOTAL
from tests.e2e.harness import eventually
from tests.support.audio import (
    TONE_AMPLITUDE,
    decode_mono,
    dominant_frequency,
    heard_change,
    id3_tags,
    make_tone_mp3,
    mp3_header,
    mp3_packets,
    rms,
    tone_level,
    window,
)

TAGS = SongTags(title="Echoes (whole song)", artists=("Ann", "bob#42"))
STEADY_RMS = TONE_AMPLITUDE / np.sqrt(2)
LIMIT = 25 * 1024 * 1024
SEAM_WINDOW_SECONDS = 0.2
"""No rebuilt frame lies further than this from its seam (2 + 2–3 + 2 frames of 24–26 ms around it)."""


@dataclass(frozen=True)
class Encoding:
    rate: int
    vbr_quality: int | None = None
    reservoir: bool = True
    bitrate: int = 192_000


ENCODINGS = {
    "48k-cbr": Encoding(48_000),
    "44k-cbr": Encoding(44_100),
    "48k-vbr": Encoding(48_000, vbr_quality=2),
    "44k-vbr-no-reservoir": Encoding(44_100, vbr_quality=4, reservoir=False),
    "48k-cbr-no-reservoir": Encoding(48_000, reservoir=False),
    "44k-cbr-128k": Encoding(44_100, bitrate=128_000),
}


@dataclass(frozen=True)
class Built:
    encoding: Encoding
    parts: list[Part]
    result: StitchResult
    samples: npt.NDArray[np.float32]
    rate: int


def make_chain(folder: Path, encoding: Encoding) -> list[Part]:
    paths = [
        make_tone_mp3(
            folder / f"c{index}.mp3",
            freq_hz=tone,
            seconds=length,
            sample_rate=encoding.rate,
            bitrate=encoding.bitrate,
            vbr_quality=encoding.vbr_quality,
            reservoir=encoding.reservoir,
        )
        for index, (tone, length) in enumerate(zip(TONES, LENGTHS, strict=True))
    ]
    return [Part(paths[0], CUTS[0]), Part(paths[1], CUTS[1]), Part(paths[2], None)]


@pytest.fixture(scope="module", params=list(ENCODINGS), ids=list(ENCODINGS))
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Built:
    encoding = ENCODINGS[request.param]
    folder = tmp_path_factory.mktemp(request.param)
    parts = make_chain(folder, encoding)
    result = join(parts, folder / "whole.mp3", LIMIT, tags=replace(TAGS, cover=b"\xff\xd8\xff\xe0" + bytes(500)))
    samples, rate = decode_mono(result.path)
    return Built(encoding, parts, result, samples, rate)


def test_it_is_copied_and_says_so(built: Built) -> None:
    assert built.result.method == "copied"
    assert "copied" in built.result.built_by and "2 seams re-encoded" in built.result.built_by
    assert built.rate == built.encoding.rate


def test_each_part_plays_its_tone_in_order(built: Built) -> None:
    regions = [(0.2, SEAMS[0] - 0.2), (SEAMS[0] + 0.2, SEAMS[1] - 0.2), (SEAMS[1] + 0.2, TOTAL - 0.2)]
    found = [dominant_frequency(window(built.samples, built.rate, a, b), built.rate) for a, b in regions]
    assert found == pytest.approx(TONES, abs=2.0)


def test_the_tone_changes_at_each_cut_point(built: Built) -> None:
    samples, rate = built.samples, built.rate
    for seam, old, new in zip(SEAMS, TONES, TONES[1:], strict=False):
        # Where the new tone wins is where the change is heard: the middle of the crossfade.
        assert heard_change(samples, rate, seam, old, new) == pytest.approx(seam + CROSSFADE_SECONDS / 2, abs=0.05)
    assert built.result.seams == pytest.approx(SEAMS, abs=0.013)  # at most half a frame from the cut


def test_the_seam_crossfades_both_tones(built: Built) -> None:
    samples, rate = built.samples, built.rate
    for seam, old, new in zip(built.result.seams, TONES, TONES[1:], strict=False):
        middle = window(samples, rate, seam, seam + CROSSFADE_SECONDS)
        assert tone_level(middle, rate, old) > 0.2 * TONE_AMPLITUDE
        assert tone_level(middle, rate, new) > 0.2 * TONE_AMPLITUDE
        before = window(samples, rate, seam - 0.1, seam - 0.01)
        after = window(samples, rate, seam + 0.05, seam + 0.15)
        assert tone_level(before, rate, new) < 0.05 * TONE_AMPLITUDE
        assert tone_level(after, rate, old) < 0.05 * TONE_AMPLITUDE


def test_the_length_is_the_sum_of_the_parts_within_a_frame(built: Built) -> None:
    assert len(built.samples) == pytest.approx(TOTAL * built.rate, abs=1152)
    assert built.result.duration == pytest.approx(len(built.samples) / built.rate, abs=1 / built.rate)
    assert mp3_header(built.result.path).length == pytest.approx(TOTAL, abs=0.03)  # mutagen reads the Xing count


def test_no_click_gap_or_dropout_at_a_seam(built: Built) -> None:
    samples, rate = built.samples, built.rate
    for seam in built.result.seams:
        old_jump = np.abs(np.diff(window(samples, rate, seam - 1.0, seam - 0.5))).max()
        new_jump = np.abs(np.diff(window(samples, rate, seam + 0.5, seam + 1.0))).max()
        seam_jump = np.abs(np.diff(window(samples, rate, seam - SEAM_WINDOW_SECONDS, seam + SEAM_WINDOW_SECONDS)))
        # During the crossfade both tones sound with gains of at most 1 each: no step beyond their two slopes.
        assert seam_jump.max() <= old_jump + new_jump
        assert seam_jump[: round((SEAM_WINDOW_SECONDS - 0.01) * rate)].max() <= 1.1 * old_jump
        assert seam_jump[round((SEAM_WINDOW_SECONDS + CROSSFADE_SECONDS + 0.01) * rate) :].max() <= 1.1 * new_jump
        # A broken reservoir or a misplaced frame shows as a granule of near silence: none, before, in or after.
        levels = [rms(window(samples, rate, t, t + 0.01)) for t in np.arange(seam - 0.3, seam + 0.3, 0.005)]
        assert min(levels) > 0.8 * STEADY_RMS
        assert max(levels) < 1.25 * STEADY_RMS


def placed(output: list[bytes], source: list[bytes]) -> int:
    """The offset k at which most output frames m equal source frame m − k (a tone repeats frames, so a frame's
    bytes alone do not say where it came from)."""
    best, best_count = 0, -1
    for k in range(-len(source), len(output)):
        count = sum(output[m] == source[m - k] for m in range(max(0, k), min(len(output), k + len(source))))
        if count > best_count:
            best, best_count = k, count
    return best


def test_every_frame_outside_the_seams_is_the_sources_byte_for_byte(built: Built) -> None:
    sources = [mp3_packets(part.path) for part in built.parts]
    output = mp3_packets(built.result.path)
    offsets = [placed(output, source) for source in sources]
    assert offsets[0] == 0  # the first part from its first frame
    assert len(output) - offsets[2] == len(sources[2])  # the last part to its last frame
    starts = [0, *(round(seam * built.rate + 1105) // 1152 for seam in built.result.seams), len(output)]
    copied = [
        0 <= m - offsets[part] < len(sources[part]) and output[m] == sources[part][m - offsets[part]]
        for part in range(3)
        for m in range(starts[part], starts[part + 1])
    ]
    # Every frame not copied lies within a seam's window, and a seam rebuilds only a handful.
    rebuilt = [m for m, same in enumerate(copied) if not same]
    for m in rebuilt:
        middle = (m * 1152 + 576 - 1105) / built.rate
        assert min(abs(middle - seam) for seam in built.result.seams) < SEAM_WINDOW_SECONDS
    assert 2 * 4 <= len(rebuilt) <= 2 * 8
    assert sum(copied) == len(output) - len(rebuilt)


def test_the_xing_and_lame_tag_describe_the_file(built: Built) -> None:
    data = built.result.path.read_bytes()
    assert data[:3] == b"ID3"
    tag_size = 10 + sum((byte & 0x7F) << (7 * (3 - i)) for i, byte in enumerate(data[6:10]))
    header = parse_header(data, tag_size)
    assert header is not None
    frame_size = header.length
    frame = data[tag_size : tag_size + frame_size]
    at = 4 + header.side_info_size
    ident, flags, frames, size = struct.unpack_from(">4sIII", frame, at)
    output = mp3_packets(built.result.path)
    bitrates = {parse_header(packet).bitrate_index for packet in output if parse_header(packet)}  # type: ignore[union-attr]
    assert ident == (b"Info" if len(bitrates) == 1 else b"Xing")
    assert flags & 0x0F == 0x0F
    assert frames == len(output)
    audio = data[tag_size + frame_size :]
    assert size == frame_size + len(audio)
    toc = frame[at + 16 : at + 116]
    assert toc[0] == 0 and list(toc) == sorted(toc)
    lame = at + 120
    assert frame[lame : lame + 4] == b"LAME"
    packed = int.from_bytes(frame[lame + 21 : lame + 24], "big")
    delay, padding = packed >> 12, packed & 0xFFF
    assert delay == 576
    assert frames * 1152 - delay - padding == len(built.samples)
    assert struct.unpack_from(">I", frame, lame + 28)[0] == size
    assert struct.unpack_from(">H", frame, lame + 32)[0] == crc16(audio)
    assert struct.unpack_from(">H", frame, lame + 34)[0] == crc16(frame[:190])


def test_the_id3_tags_and_cover_stay(built: Built) -> None:
    tags = id3_tags(built.result.path)
    assert str(tags["TIT2"]) == "Echoes (whole song)"
    assert str(tags["TPE1"]) == "Ann, bob#42"
    assert str(tags["TENC"]) == "Encore"
    (picture,) = tags.getall("APIC")
    assert picture.data == b"\xff\xd8\xff\xe0" + bytes(500)


def test_the_peaks_follow_the_song(built: Built) -> None:
    peaks = built.result.peaks
    assert peaks.shape == (1200, 2)
    assert np.all(peaks[:, 1] > 0.9 * TONE_AMPLITUDE)
    assert np.all(peaks[:, 0] < -0.9 * TONE_AMPLITUDE)
    assert np.all(np.abs(peaks) < 1.45 * TONE_AMPLITUDE)


def test_parts_that_differ_in_sample_rate_are_re_encoded_and_it_says_why(tmp_path: Path) -> None:
    first = make_tone_mp3(tmp_path / "a.mp3", freq_hz=500, seconds=3.0, sample_rate=48_000)
    second = make_tone_mp3(tmp_path / "b.mp3", freq_hz=750, seconds=2.0, sample_rate=44_100)
    result = join([Part(first, 2.0), Part(second, None)], tmp_path / "whole.mp3", LIMIT, tags=TAGS)
    assert result.method == "re-encoded"
    assert (
        result.built_by
        == "re-encoded whole at 192 kbit/s (part 2's sample rate (44100 Hz against 48000 Hz) differs from part 1's)"
    )
    samples, rate = decode_mono(result.path)
    assert len(samples) / rate == pytest.approx(4.0, abs=0.05)
    assert dominant_frequency(window(samples, rate, 2.2, 3.8), rate) == pytest.approx(750, abs=2)


def test_parts_that_differ_in_channels_are_re_encoded(tmp_path: Path) -> None:
    first = make_tone_mp3(tmp_path / "a.mp3", freq_hz=500, seconds=3.0, sample_rate=44_100, channels=1)
    second = make_tone_mp3(tmp_path / "b.mp3", freq_hz=750, seconds=2.0, sample_rate=44_100)
    result = join([Part(first, 2.0), Part(second, None)], tmp_path / "whole.mp3", LIMIT, tags=TAGS)
    assert result.method == "re-encoded" and "channel count" in result.built_by


def test_a_copy_over_the_limit_is_re_encoded_at_a_lower_rate(tmp_path: Path) -> None:
    parts = make_chain(tmp_path, ENCODINGS["48k-cbr"])
    limit = estimate_size(TOTAL, 140_000)
    result = join(parts, tmp_path / "whole.mp3", limit, tags=TAGS)
    assert result.method == "re-encoded"
    assert result.bitrate == 128_000 and result.size <= limit
    assert "over the upload limit" in result.built_by


def test_a_build_told_to_stop_stops(tmp_path: Path) -> None:
    parts = make_chain(tmp_path, ENCODINGS["48k-cbr"])
    cancel = threading.Event()
    cancel.set()
    out = tmp_path / "whole.mp3"
    with pytest.raises(BuildCancelled):
        join(parts, out, LIMIT, tags=TAGS, cancel=cancel)
    assert not out.exists() and not out.with_name("whole.mp3.part").exists()


async def test_cancelling_the_caller_stops_the_build_before_it_returns(tmp_path: Path) -> None:
    parts = make_chain(tmp_path, ENCODINGS["48k-cbr"])
    mismatched = make_tone_mp3(tmp_path / "other.mp3", freq_hz=300, seconds=6.0, sample_rate=44_100)
    slow = [parts[0], parts[1], Part(mismatched, None)]  # re-encoded: long enough to be cancelled mid-way
    out = tmp_path / "whole.mp3"
    partial = out.with_name("whole.mp3.part")
    build = asyncio.create_task(join_in_thread(slow, out, LIMIT, tags=TAGS))
    await eventually(partial.exists, what="the re-encode under way in its thread")
    build.cancel()
    with pytest.raises(asyncio.CancelledError):
        await build
    # The caller's cancellation completes only once the thread has stopped and cleaned up after itself.
    assert not partial.exists() and not out.exists()


def test_copied_frames_decode_exactly_as_in_their_part(built: Built) -> None:
    """Past a seam's window the copied frames read the right reservoir bytes: the song's samples there are the
    part's own, bit for bit (a wrong byte would decode to noise or silence)."""
    for index, seam in enumerate(built.result.seams, start=1):
        part_samples, _ = decode_mono(built.parts[index].path)
        assert_plays_as_part(built.samples, part_samples, built.rate, seam)


def assert_plays_as_part(
    song: npt.NDArray[np.float32], part: npt.NDArray[np.float32], rate: int, seam: float, seconds: float = 0.5
) -> None:
    """From just past the seam's window on, the song's samples are the part's own (seams fall on whole samples)."""
    offset = round(seam * rate)
    first = round((SEAM_WINDOW_SECONDS + 0.05) * rate)
    count = round(seconds * rate)
    np.testing.assert_array_equal(song[offset + first : offset + first + count], part[first : first + count])


def decode_frames(frames: list[bytes]) -> npt.NDArray[np.float32]:
    decoder = _mp3_decoder()
    pcm = [np.asarray(f.to_ndarray(), dtype=np.float32) for frame in frames for f in decoder.decode(av.Packet(frame))]
    return np.concatenate(pcm, axis=1)


def test_borrowed_bytes_that_do_not_fit_get_a_bigger_frame() -> None:
    """Loud noise fills every frame LAME writes at 128 kbit/s, so 511 borrowed bytes cannot follow the window's
    own main data: its last frames are written bigger, and the frames still decode exactly as LAME wrote them."""
    rate = 44_100
    noise = np.random.default_rng(7).uniform(-0.6, 0.6, (2, 1152 * 8)).astype(np.float32)
    encoded = _encode(noise, rate, 128_000)
    borrowed = bytes(range(256)) + bytes(range(255))
    repacked = _with_borrowed(encoded, borrowed)
    headers = [parse_header(frame) for frame in repacked]
    assert all(header is not None for header in headers)
    indices = [header.bitrate_index for header in headers if header is not None]
    assert indices[:-2] == [9] * (len(indices) - 2) and indices[-1] > 9  # 9 is 128 kbit/s
    payloads = b"".join(frame[4 + 32 :] for frame in repacked)
    assert payloads.endswith(borrowed)
    np.testing.assert_array_equal(decode_frames(repacked), decode_frames(encoded))


def test_parts_without_a_lame_tag_are_copied_as_they_decode(tmp_path: Path) -> None:
    """Untagged parts (a decoder trims nothing): each part is all its frames decode to, so the song is one silent
    frame (the tag's delay cannot be under 0) and then the parts' frames, and it decodes to the sum of the parts."""
    paths = [
        make_tone_mp3(tmp_path / f"u{index}.mp3", freq_hz=tone, seconds=length, sample_rate=48_000, tagged=False)
        for index, (tone, length) in enumerate(zip(TONES, LENGTHS, strict=True))
    ]
    parts = [Part(paths[0], CUTS[0]), Part(paths[1], CUTS[1]), Part(paths[2], None)]
    result = join(parts, tmp_path / "whole.mp3", LIMIT, tags=TAGS)
    assert result.method == "copied"
    samples, rate = decode_mono(result.path)
    last, _ = decode_mono(paths[2])
    assert len(samples) == pytest.approx((CUTS[0] + CUTS[1]) * rate + len(last), abs=1152)
    regions = [(0.2, SEAMS[0] - 0.2), (SEAMS[0] + 0.2, SEAMS[1] - 0.2), (SEAMS[1] + 0.2, TOTAL - 0.2)]
    found = [dominant_frequency(window(samples, rate, a, b), rate) for a, b in regions]
    assert found == pytest.approx(TONES, abs=2.0)
    output, first = mp3_packets(result.path), mp3_packets(paths[0])
    assert output[1:40] == first[:39]  # part 1's frames from its first, one frame later
    assert_plays_as_part(samples, last, rate, result.seams[-1], seconds=1.0)
