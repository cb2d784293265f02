"""Real audio for tests and the benchmark: tone MP3s written with PyAV, decoding, and the dominant pitch."""

from __future__ import annotations

import io
import itertools
import struct
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

from bot.audio.mpeg import parse_header

TONE_AMPLITUDE = 0.5
"""Half of full scale: room for a crossfade's overlap without clipping."""

_QP2LAMBDA = 118
"""FFmpeg's FF_QP2LAMBDA: libmp3lame takes `global_quality / FF_QP2LAMBDA` as LAME's VBR quality."""

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
    beats_per_minute: float | None = None,
    fade_seconds: float = 0.0,
    vbr_quality: int | None = None,
    reservoir: bool = True,
    tagged: bool = True,
) -> Path:
    """Write a real MP3 of a sine at `freq_hz`, `seconds` long (gapless: it decodes to exactly that length).

    Encoded the way Suno's are as far as is known: LAME through FFmpeg, with its Info/Xing + LAME tag; CBR at
    `bitrate`, or VBR at LAME quality `vbr_quality` (`-V`); the bit reservoir on unless `reservoir` is False;
    without the Xing/Info + LAME tag when `tagged` is False (as FFmpeg writes to a pipe: nothing is trimmed then).
    With `beats_per_minute` the tone pulses like a song (a hit on each beat decaying until the next, louder every
    fourth), and `fade_seconds` fades its end out, so its waveform looks like music rather than a solid block.
    """
    layout = "stereo" if channels == 2 else "mono"
    total = round(seconds * sample_rate)
    with av.open(str(path), "w", format="mp3", options={} if tagged else {"write_xing": "0"}) as container:
        stream = container.add_stream("libmp3lame", rate=sample_rate, options={} if reservoir else {"reservoir": "0"})
        if vbr_quality is None:
            stream.bit_rate = bitrate
        else:
            stream.codec_context.qscale = True
            stream.codec_context.global_quality = vbr_quality * _QP2LAMBDA
        stream.layout = layout
        stream.format = "fltp"
        container.start_encoding()
        frame_size = stream.codec_context.frame_size or 1152
        fifo = av.AudioFifo()
        pts = 0
        for start in range(0, total, _BLOCK):
            t = np.arange(start, min(start + _BLOCK, total), dtype=np.float64) / sample_rate
            wave = (
                TONE_AMPLITUDE * np.sin(2 * np.pi * freq_hz * t) * _dynamics(t, seconds, beats_per_minute, fade_seconds)
            ).astype(np.float32)
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


def mp3_packets(path: Path) -> list[bytes]:
    """The MPEG audio frames of a file as FFmpeg's demuxer splits them (the Xing/Info frame left out)."""
    with av.open(str(path)) as container:
        return [bytes(packet) for packet in container.demux(container.streams.audio[0]) if packet.size]


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


def window(samples: npt.NDArray[np.float32], rate: int, start: float, end: float) -> npt.NDArray[np.float32]:
    """The samples from `start` to `end` seconds."""
    return samples[round(start * rate) : round(end * rate)]


def tone_level(samples: npt.NDArray[np.floating], rate: int, freq: float) -> float:
    """Amplitude of one frequency in `samples` (a single-bin Fourier projection; 0.5 for a pure test tone)."""
    t = np.arange(len(samples)) / rate
    return float(2 * np.abs(np.dot(samples, np.exp(-2j * np.pi * freq * t))) / len(samples))


def heard_change(samples: npt.NDArray[np.float32], rate: int, near: float, old: float, new: float) -> float:
    """Where the tone is heard to change from `old` to `new`, within half a second of `near`: the centre of the
    first 20 ms window (in 5 ms steps) where the new tone is the louder."""
    step, span = 0.005, 0.02
    for t in np.arange(near - 0.5, near + 0.5, step):
        piece = window(samples, rate, t, t + span)
        if tone_level(piece, rate, new) > tone_level(piece, rate, old):
            return float(t + span / 2)
    raise AssertionError(f"no change from {old} Hz to {new} Hz near {near} s")


def rms(samples: npt.NDArray[np.floating]) -> float:
    """Root mean square level of `samples` (0 for none)."""
    return float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) if len(samples) else 0.0


def _dynamics(
    t: npt.NDArray[np.float64], seconds: float, beats_per_minute: float | None, fade_seconds: float
) -> npt.NDArray[np.float64]:
    """A gain between 0 and 1 per sample: beats that decay (the bar's first beat loudest), and a fade at the end."""
    gain = np.ones_like(t)
    if beats_per_minute:
        beat = 60.0 / beats_per_minute
        since_beat = np.mod(t, beat)
        accent = np.where(np.mod(np.floor(t / beat), 4) == 0, 1.0, 0.7)
        swell = 0.75 + 0.25 * np.sin(2 * np.pi * t / (beat * 16))
        gain = (0.15 + 0.85 * np.exp(-since_beat / (beat * 0.3))) * accent * swell
    if fade_seconds > 0:
        gain = gain * np.clip((seconds - t) / fade_seconds, 0.0, 1.0)
    return gain


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


def tone_bytes(freq_hz: float, seconds: float, *, sample_rate: int = 44_100) -> bytes:
    """The bytes of a real tone MP3 (`make_tone_mp3` through a temporary file)."""
    with tempfile.TemporaryDirectory() as folder:
        path = make_tone_mp3(Path(folder) / "tone.mp3", freq_hz=freq_hz, seconds=seconds, sample_rate=sample_rate)
        return path.read_bytes()


def lying_flac(freq_hz: float, seconds: float, claimed: float, rate: int = 44_100) -> bytes:
    """A real FLAC of a tone, `seconds` long, whose STREAMINFO says it holds `claimed` seconds."""
    out = io.BytesIO()
    with av.open(out, "w", format="flac") as container:
        stream = container.add_stream("flac", rate=rate)
        stream.layout = "stereo"
        stream.format = "s16"
        pts = 0
        block = rate
        for start in range(0, round(seconds * rate), block):
            t = np.arange(start, start + block) / rate
            wave = (0.5 * np.sin(2 * np.pi * freq_hz * t) * 32767).astype(np.int16)
            frame = av.AudioFrame.from_ndarray(np.repeat(wave, 2)[np.newaxis, :], format="s16", layout="stereo")
            frame.sample_rate, frame.pts, frame.time_base = rate, pts, Fraction(1, rate)
            pts += block
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    data = bytearray(out.getvalue())
    assert data[:4] == b"fLaC" and data[4] & 0x7F == 0  # STREAMINFO first
    (packed,) = struct.unpack_from(">Q", data, 8 + 10)
    packed = (packed & ~((1 << 36) - 1)) | round(claimed * rate)
    struct.pack_into(">Q", data, 8 + 10, packed)
    return bytes(data)


def damaged_mp3(data: bytes, *, frames: int, every: int = 40) -> bytes:
    """`data` with the headers of `frames` frames, one in `every` from the 40th on, made invalid (bit-rate index 15)."""
    out = bytearray(data)
    position = 10 + sum((byte & 0x7F) << (7 * (3 - i)) for i, byte in enumerate(data[6:10]))
    number = damaged = 0
    while damaged < frames and (header := parse_header(data, position)) is not None:
        if number >= 40 and number % every == 0:
            out[position + 2] |= 0xF0
            damaged += 1
        position += header.length
        number += 1
    assert damaged == frames
    return bytes(out)


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
