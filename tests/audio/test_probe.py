"""`probe_audio` and `sniff_audio` on real files: MP3 and WAV written with PyAV, and things that are not audio."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from bot.audio.probe import probe_audio
from bot.media import sniff_audio
from tests.support.audio import make_tone_mp3


def test_mp3_duration_and_format(tmp_path: Path) -> None:
    path = make_tone_mp3(tmp_path / "tone.mp3", freq_hz=440, seconds=7.0)
    info = probe_audio(path)
    assert info is not None
    assert info.duration == pytest.approx(7.0, abs=0.05)
    assert (info.sample_rate, info.channels, info.container) == (44_100, 2, "mp3")
    assert info.codec.startswith("mp3")


def test_mono_low_rate_mp3(tmp_path: Path) -> None:
    path = make_tone_mp3(
        tmp_path / "mono.mp3", freq_hz=300, seconds=2.5, sample_rate=22_050, channels=1, bitrate=64_000
    )
    info = probe_audio(path)
    assert info is not None
    assert info.duration == pytest.approx(2.5, abs=0.05)
    assert (info.sample_rate, info.channels) == (22_050, 1)


def test_wav(tmp_path: Path) -> None:
    path = tmp_path / "tone.wav"
    with av.open(str(path), "w", format="wav") as container:
        stream = container.add_stream("pcm_s16le", rate=8_000)
        stream.layout = "mono"
        samples = (np.sin(np.arange(12_000) / 8_000 * 2 * np.pi * 200) * 10_000).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = 8_000
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    info = probe_audio(path)
    assert info is not None
    assert info.duration == pytest.approx(1.5, abs=0.01)
    assert info.container == "wav"
    assert sniff_audio(path.read_bytes()[:16])


@pytest.mark.parametrize(
    "content",
    [
        b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>\n" * 40,
        b"",
        bytes.fromhex("9c1e0d77a2f4c3b8e1056a3f"),
        b'{"error": "clip not found"}',
    ],
    ids=["html", "empty", "random-12-bytes", "json"],
)
def test_not_audio(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "song.mp3"
    path.write_bytes(content)
    assert probe_audio(path) is None
    assert not sniff_audio(content[:16])


def test_missing_file(tmp_path: Path) -> None:
    assert probe_audio(tmp_path / "nowhere.mp3") is None


@pytest.mark.parametrize(
    "head",
    [
        b"ID3\x04\x00\x00\x00\x00\x00\x21",
        b"\xff\xfb\x90\x64\x00\x00",  # MPEG-1 layer III, 128 kbit/s, 44.1 kHz
        b"\xff\xf3\x48\xc4",  # MPEG-2 layer III
        b"\xff\xf1\x50\x80\x02\x1f\xfc",  # ADTS AAC
        b"RIFF\x24\x08\x00\x00WAVEfmt ",
        b"OggS\x00\x02\x00\x00",
        b"fLaC\x00\x00\x00\x22",
        b"\x00\x00\x00\x20ftypM4A \x00\x00",
    ],
    ids=["id3", "mpeg1-sync", "mpeg2-sync", "adts", "wav", "ogg", "flac", "m4a"],
)
def test_sniff_audio(head: bytes) -> None:
    assert sniff_audio(head)


@pytest.mark.parametrize(
    "head",
    [b"\xff\xff\xff\xff", b"\xff\xe9\x00\x00", b"RIFF\x24\x08\x00\x00AVI ", b"\x89PNG\r\n\x1a\n", b"ID"],
    ids=["all-ones", "reserved-layer", "avi", "png", "truncated"],
)
def test_does_not_look_like_audio(head: bytes) -> None:
    assert not sniff_audio(head)


def test_real_mp3_head_sniff_audio(tmp_path: Path) -> None:
    path = make_tone_mp3(tmp_path / "tone.mp3", freq_hz=440, seconds=0.5)
    assert sniff_audio(path.read_bytes()[:16])
