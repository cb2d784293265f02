"""`stitch` and `fit_to_limit` on a real three-part chain of tones: decode the whole song and listen to it."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from bot.audio.stitch import (
    CROSSFADE_SECONDS,
    DAMAGED_FRAMES_ALLOWED,
    DECODE_MARGIN_SECONDS,
    AudioSourceError,
    CutPastEnd,
    Part,
    SongTags,
    StitchResult,
    WholeSongTooLarge,
    estimate_size,
    fit_to_limit,
    stitch,
    stitch_in_thread,
)
from tests.support.audio import (
    TONE_AMPLITUDE,
    damaged_mp3,
    decode_mono,
    dominant_frequency,
    heard_change,
    id3_tags,
    lying_flac,
    make_tone_mp3,
    mp3_header,
    rms,
    tone_level,
    window,
)

TONES = (440.0, 660.0, 880.0)
LENGTHS = (8.0, 7.0, 6.0)
CUTS = (3.0, 4.5)
SEAMS = (3.0, 7.5)
TOTAL = CUTS[0] + CUTS[1] + LENGTHS[2]
TAGS = SongTags(title="Echoes (whole song)", artists=("Ann", "bob#42", "Ann"))
STEADY_RMS = TONE_AMPLITUDE / np.sqrt(2)


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> list[Part]:
    folder = tmp_path_factory.mktemp("chain")
    paths = [
        make_tone_mp3(folder / f"c{index}.mp3", freq_hz=tone, seconds=length)
        for index, (tone, length) in enumerate(zip(TONES, LENGTHS, strict=True))
    ]
    return [Part(paths[0], CUTS[0]), Part(paths[1], CUTS[1]), Part(paths[2], None)]


@pytest.fixture(scope="module")
def cover() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 40, 40)).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def built(chain: list[Part], cover: bytes, tmp_path_factory: pytest.TempPathFactory) -> StitchResult:
    out = tmp_path_factory.mktemp("song") / "whole.mp3"
    return stitch(chain, out, tags=replace(TAGS, cover=cover, cover_mime="image/png"))


@pytest.fixture(scope="module")
def decoded(built: StitchResult) -> tuple[npt.NDArray[np.float32], int]:
    return decode_mono(built.path)


def test_whole_song_length(built: StitchResult, decoded: tuple[npt.NDArray[np.float32], int]) -> None:
    samples, rate = decoded
    assert len(samples) / rate == pytest.approx(TOTAL, abs=0.05)
    assert built.duration == pytest.approx(TOTAL, abs=0.05)


def test_each_region_plays_its_part_in_order(decoded: tuple[npt.NDArray[np.float32], int]) -> None:
    samples, rate = decoded
    regions = [(0.2, SEAMS[0] - 0.2), (SEAMS[0] + 0.2, SEAMS[1] - 0.2), (SEAMS[1] + 0.2, TOTAL - 0.2)]
    found = [dominant_frequency(window(samples, rate, start, end), rate) for start, end in regions]
    assert found == pytest.approx(TONES, abs=2.0)


def test_tone_changes_at_each_cut_point(decoded: tuple[npt.NDArray[np.float32], int]) -> None:
    samples, rate = decoded
    for seam, old, new in zip(SEAMS, TONES, TONES[1:], strict=False):
        # Where the new tone wins is where the change is heard: the middle of the crossfade.
        assert heard_change(samples, rate, seam, old, new) == pytest.approx(seam + CROSSFADE_SECONDS / 2, abs=0.05)


def test_result_places_the_seams_and_spans(built: StitchResult) -> None:
    assert built.seams == pytest.approx(SEAMS, abs=1e-6)
    assert [start for start, _ in built.spans] == pytest.approx((0.0, *SEAMS), abs=1e-6)
    assert [end for _, end in built.spans] == pytest.approx((*SEAMS, TOTAL), abs=0.05)
    assert built.bitrate == 192_000
    assert built.size == built.path.stat().st_size
    assert not built.path.with_name(built.path.name + ".part").exists()


def test_crossfade_has_no_dropout_or_click(decoded: tuple[npt.NDArray[np.float32], int]) -> None:
    samples, rate = decoded
    for seam in SEAMS:
        levels = [rms(window(samples, rate, t, t + 0.01)) for t in np.arange(seam - 0.1, seam + 0.1, 0.002)]
        assert min(levels) > 0.8 * STEADY_RMS
        assert max(levels) < 1.25 * STEADY_RMS
        jumps = np.abs(np.diff(window(samples, rate, seam - 0.05, seam + 0.05)))
        assert jumps.max() < 0.15  # a sine of amplitude 0.5 at 880 Hz moves at most ~0.063 per sample


def test_both_tones_sound_in_the_crossfade(decoded: tuple[npt.NDArray[np.float32], int]) -> None:
    samples, rate = decoded
    for seam, old, new in zip(SEAMS, TONES, TONES[1:], strict=False):
        middle = window(samples, rate, seam, seam + CROSSFADE_SECONDS)
        assert tone_level(middle, rate, old) > 0.2 * TONE_AMPLITUDE
        assert tone_level(middle, rate, new) > 0.2 * TONE_AMPLITUDE
        after = window(samples, rate, seam + 0.05, seam + 0.15)
        assert tone_level(after, rate, old) < 0.05 * TONE_AMPLITUDE


def test_id3_tags_and_cover(built: StitchResult, cover: bytes) -> None:
    tags = id3_tags(built.path)
    assert str(tags["TIT2"]) == "Echoes (whole song)"
    assert str(tags["TPE1"]) == "Ann, bob#42"
    assert str(tags["TENC"]) == "Encore"
    assert "Encore" in str(tags.getall("COMM")[0])
    pictures = tags.getall("APIC")
    assert len(pictures) == 1
    assert (pictures[0].mime, pictures[0].type, pictures[0].data) == ("image/png", 3, cover)
    assert mp3_header(built.path).length == pytest.approx(TOTAL, abs=0.05)


def test_peaks_cover_the_width(built: StitchResult) -> None:
    assert built.peaks.shape == (1200, 2)
    assert np.all(built.peaks[:, 0] <= built.peaks[:, 1])
    # Every column of a steady tone reaches about its amplitude; the crossfades may add up to √2 of it, no more.
    assert np.median(built.peaks[:, 1]) == pytest.approx(TONE_AMPLITUDE, abs=0.03)
    assert np.all(built.peaks[:, 1] > 0.9 * TONE_AMPLITUDE)
    assert np.all(built.peaks[:, 0] < -0.9 * TONE_AMPLITUDE)
    assert np.all(np.abs(built.peaks) < 1.45 * TONE_AMPLITUDE)


def test_peaks_width_is_honoured(chain: list[Part], tmp_path: Path) -> None:
    result = stitch(chain[-1:], tmp_path / "last.mp3", tags=TAGS, peaks_width=300)
    assert result.peaks.shape == (300, 2)
    assert result.seams == ()
    assert result.duration == pytest.approx(LENGTHS[2], abs=0.05)


def test_fit_to_limit_steps_the_bitrate_down(chain: list[Part], tmp_path: Path) -> None:
    limit = estimate_size(TOTAL, 140_000)
    result = fit_to_limit(chain, tmp_path / "fit.mp3", limit, tags=TAGS)
    assert result.bitrate == 128_000
    assert result.size <= limit
    assert mp3_header(result.path).bitrate == pytest.approx(128_000, rel=0.01)


def test_fit_to_limit_keeps_the_best_rate_when_it_fits(chain: list[Part], tmp_path: Path) -> None:
    result = fit_to_limit(chain, tmp_path / "fit.mp3", 25 * 1024 * 1024, tags=TAGS)
    assert result.bitrate == 192_000


def test_fit_to_limit_refuses_a_song_too_large_even_at_96k(chain: list[Part], tmp_path: Path) -> None:
    out = tmp_path / "fit.mp3"
    with pytest.raises(WholeSongTooLarge) as caught:
        fit_to_limit(chain, out, 100_000, tags=TAGS)
    assert caught.value.limit == 100_000
    assert caught.value.size > 100_000
    assert caught.value.duration == pytest.approx(TOTAL, abs=0.05)
    assert "96 kbit/s" in str(caught.value)
    assert not out.exists()


def test_html_part_is_refused_by_index(chain: list[Part], tmp_path: Path) -> None:
    page = tmp_path / "c1.mp3"
    page.write_text("<!DOCTYPE html><html><body><h1>403 Forbidden</h1></body></html>\n" * 20)
    parts = [chain[0], Part(page, CUTS[1]), chain[2]]
    out = tmp_path / "whole.mp3"
    with pytest.raises(AudioSourceError) as caught:
        stitch(parts, out, tags=TAGS)
    assert caught.value.part_index == 1
    assert "part 2" in str(caught.value)
    assert "HTML" in str(caught.value)
    assert not out.exists()


def test_empty_part_is_refused(chain: list[Part], tmp_path: Path) -> None:
    empty = tmp_path / "c2.mp3"
    empty.write_bytes(b"")
    with pytest.raises(AudioSourceError, match=r"part 3 .* empty") as caught:
        stitch([*chain[:2], Part(empty, None)], tmp_path / "whole.mp3", tags=TAGS)
    assert caught.value.part_index == 2


def test_cut_past_the_end_is_refused(chain: list[Part], tmp_path: Path) -> None:
    parts = [Part(chain[0].path, LENGTHS[0] + 1.0), *chain[1:]]
    with pytest.raises(CutPastEnd) as caught:
        stitch(parts, tmp_path / "whole.mp3", tags=TAGS)
    assert caught.value.part_index == 0
    assert caught.value.duration == pytest.approx(LENGTHS[0], abs=0.05)
    assert "9.00 s" in str(caught.value)


def test_only_the_last_part_may_play_to_its_end(chain: list[Part], tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="part 1"):
        stitch([Part(chain[0].path, None), chain[2]], tmp_path / "whole.mp3", tags=TAGS)
    with pytest.raises(ValueError, match="at least one part"):
        stitch([], tmp_path / "whole.mp3", tags=TAGS)


def test_parts_of_other_rates_and_layouts_are_converted(tmp_path: Path) -> None:
    first = make_tone_mp3(tmp_path / "a.mp3", freq_hz=500, seconds=3.0, sample_rate=48_000, channels=1)
    second = make_tone_mp3(tmp_path / "b.mp3", freq_hz=750, seconds=2.0, sample_rate=22_050, bitrate=96_000)
    result = stitch([Part(first, 2.0), Part(second, None)], tmp_path / "whole.mp3", tags=TAGS)
    samples, rate = decode_mono(result.path)
    assert rate == 44_100
    assert len(samples) / rate == pytest.approx(4.0, abs=0.05)
    assert dominant_frequency(window(samples, rate, 0.2, 1.8), rate) == pytest.approx(500, abs=2)
    assert dominant_frequency(window(samples, rate, 2.2, 3.8), rate) == pytest.approx(750, abs=2)


async def test_stitch_in_thread(chain: list[Part], tmp_path: Path) -> None:
    result = await stitch_in_thread(chain[1:], tmp_path / "whole.mp3", bitrate=128_000, tags=TAGS)
    assert result.duration == pytest.approx(CUTS[1] + LENGTHS[2], abs=0.05)
    assert result.seams == pytest.approx((CUTS[1],))


def test_a_part_is_decoded_only_to_its_stated_length(chain: list[Part], tmp_path: Path) -> None:
    """A FLAC whose header says 3 s but which holds 40 s: the song ends at its stated length plus the margin."""
    liar = tmp_path / "liar.flac"
    liar.write_bytes(lying_flac(550.0, 40.0, 3.0))
    result = stitch([chain[0], Part(liar, None)], tmp_path / "whole.mp3", tags=TAGS)
    assert CUTS[0] + 3.0 - 0.05 <= result.duration <= CUTS[0] + 3.0 + DECODE_MARGIN_SECONDS + 0.05
    samples, rate = decode_mono(result.path)
    assert len(samples) / rate == pytest.approx(result.duration, abs=0.05)


def test_damaged_frames_are_played_as_silence(chain: list[Part], tmp_path: Path) -> None:
    damaged = tmp_path / "damaged.mp3"
    damaged.write_bytes(damaged_mp3(chain[2].path.read_bytes(), frames=3))
    result = stitch([chain[0], Part(damaged, None)], tmp_path / "whole.mp3", tags=TAGS)
    assert result.duration == pytest.approx(CUTS[0] + LENGTHS[2], abs=0.1)
    samples, rate = decode_mono(result.path)
    assert dominant_frequency(window(samples, rate, CUTS[0] + 0.2, CUTS[0] + 5.8), rate) == pytest.approx(880, abs=2)


def test_a_part_with_too_many_damaged_frames_is_refused_in_words(chain: list[Part], tmp_path: Path) -> None:
    damaged = tmp_path / "damaged.mp3"
    damaged.write_bytes(damaged_mp3(chain[2].path.read_bytes(), frames=DAMAGED_FRAMES_ALLOWED + 5, every=2))
    with pytest.raises(AudioSourceError) as caught:
        stitch([chain[0], Part(damaged, None)], tmp_path / "whole.mp3", tags=TAGS)
    assert caught.value.part_index == 1
    assert str(caught.value) == (
        f"part 2 of the chain (damaged.mp3) is damaged: more than {DAMAGED_FRAMES_ALLOWED} of its frames "
        "cannot be played"
    )
