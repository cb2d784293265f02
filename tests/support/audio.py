"""Real audio for tests and the benchmark: tone MP3s written with PyAV, decoding, and the dominant pitch."""

from __future__ import annotations

import itertools
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, BinaryIO

import av
import numpy as np
import numpy.typing as npt
from mutagen.id3 import ID3
from mutagen.mp3 import MP3

TONE_AMPLITUDE = 0.5
"""Half of full scale: room for a crossfade's overlap without clipping."""

_BLOCK = 44_100
"""Samples generated per step, so a long tone never sits in memory whole."""


def make_tone_mp3(
    path: Path,
    *,
    freq_hz: float,
    seconds: float,
    sample_rate: int = 44_100,
    channels: int = 2,
    bitrate: int = 192_000,
) -> Path:
    """Write a real CBR MP3 of a sine at `freq_hz`, `seconds` long (gapless: it decodes to exactly that length)."""
    layout = "stereo" if channels == 2 else "mono"
    total = round(seconds * sample_rate)
    with av.open(str(path), "w", format="mp3") as container:
        stream = container.add_stream("libmp3lame", rate=sample_rate)
        stream.bit_rate = bitrate
        stream.layout = layout
        stream.format = "fltp"
        container.start_encoding()
        frame_size = stream.codec_context.frame_size or 1152
        fifo = av.AudioFifo()
        pts = 0
        for start in range(0, total, _BLOCK):
            t = np.arange(start, min(start + _BLOCK, total), dtype=np.float64) / sample_rate
            wave = (TONE_AMPLITUDE * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)
            block = av.AudioFrame.from_ndarray(np.tile(wave, (channels, 1)), format="fltp", layout=layout)
            block.sample_rate = sample_rate
            fifo.write(block)
            last = start + _BLOCK >= total
            for frame in fifo.read_many(frame_size, partial=last):
                frame.pts = pts
                frame.time_base = Fraction(1, sample_rate)
                pts += frame.samples
                container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def decode_mono(path: Path) -> tuple[npt.NDArray[np.float32], int]:
    """A whole (short) file decoded at its own sample rate, channels averaged (no downmix gain) to mono float32."""
    resampler = av.AudioResampler(format="fltp")
    chunks: list[npt.NDArray[np.float32]] = []
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate
        for frame in container.decode(stream):
            chunks.extend(_mono(out) for out in resampler.resample(frame))
        chunks.extend(_mono(out) for out in resampler.resample(None))
    return (np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)), rate


def _mono(frame: av.AudioFrame) -> npt.NDArray[np.float32]:
    mono: npt.NDArray[np.float32] = np.asarray(frame.to_ndarray(), dtype=np.float32).mean(axis=0, dtype=np.float32)
    return mono


def dominant_frequency(samples: npt.NDArray[np.floating], sample_rate: int) -> float:
    """The strongest frequency in `samples` (Hann-windowed FFT, refined between bins), in Hz."""
    if len(samples) < 2:
        raise ValueError("need at least two samples to find a frequency")
    windowed = samples.astype(np.float64) * np.hanning(len(samples))
    spectrum = np.abs(np.fft.rfft(windowed))
    spectrum[0] = 0.0
    peak = int(np.argmax(spectrum))
    offset = 0.0
    if 0 < peak < len(spectrum) - 1:
        left, centre, right = np.log(spectrum[peak - 1 : peak + 2] + 1e-12)
        denominator = left - 2 * centre + right
        offset = 0.5 * (left - right) / denominator if denominator else 0.0
    return float((peak + offset) * sample_rate / len(samples))


def rms(samples: npt.NDArray[np.floating]) -> float:
    """Root mean square level of `samples` (0 for none)."""
    return float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) if len(samples) else 0.0


class ToneBank:
    """Real MP3s on demand, one distinct tone per clip id (in the order they are asked for), for provider fakes.

    `freq[clip_id]` says which tone a clip got, so a test can tell the parts of a whole song apart.
    """

    FREQUENCIES = (440.0, 660.0, 880.0, 550.0, 770.0, 990.0, 495.0, 715.0, 935.0, 605.0)

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.freq: dict[str, float] = {}
        self._next = itertools.cycle(self.FREQUENCIES)

    def __call__(self, clip_id: str) -> bytes:
        self.freq[clip_id] = next(self._next)
        return tone_bytes(self.freq[clip_id], self.seconds)


def tone_bytes(freq_hz: float, seconds: float) -> bytes:
    """The bytes of a real tone MP3 (`make_tone_mp3` through a temporary file)."""
    with tempfile.TemporaryDirectory() as folder:
        return make_tone_mp3(Path(folder) / "tone.mp3", freq_hz=freq_hz, seconds=seconds).read_bytes()


def tone_amplitude(samples: npt.NDArray[np.floating], sample_rate: int, freq_hz: float) -> float:
    """The amplitude of the `freq_hz` component of `samples` (a quadrature projection; 0.5 for a pure test tone)."""
    t = np.arange(len(samples)) / sample_rate
    phase = 2 * np.pi * freq_hz * t
    cos, sin = np.mean(samples * np.cos(phase)), np.mean(samples * np.sin(phase))
    return float(2 * np.hypot(cos, sin))


@dataclass(frozen=True, slots=True)
class Mp3Header:
    """What mutagen reads from an MP3's frames: its length in seconds and its bitrate in bit/s."""

    length: float
    bitrate: int


def mp3_header(source: Path | BinaryIO) -> Mp3Header:
    """The length and bitrate of an MP3, typed (mutagen carries no type hints); raises mutagen's errors."""
    info: Any = MP3(source).info  # type: ignore[no-untyped-call]
    return Mp3Header(float(info.length), int(info.bitrate))


def id3_tags(path: Path) -> Any:
    """A file's ID3 tag as mutagen reads it (mutagen carries no type hints, so its frames are `Any`)."""
    return ID3(path)  # type: ignore[no-untyped-call]
