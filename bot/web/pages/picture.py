"""The waveform picture of a page: a whole song's from its kept timeline, a song's from its audio."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import numpy.typing as npt

from bot.audio.waveform import render_waveform
from bot.domain.wholesong import WholeSongTimeline

PEAK_RATE = 8000  # samples per second decoded for the picture: plenty for 1,200 columns
PEAK_BLOCK = 200  # samples per (min, max) pair handed to the renderer, which regroups them into columns
MAX_SECONDS = 20 * 60  # a clip is a few minutes; decoding stops here whatever the file holds
WIDTH, HEIGHT = 1200, 300


def timeline_picture(timeline_json: str) -> bytes:
    """A whole song's picture: each part in its colour and every continue point marked."""
    built = WholeSongTimeline.from_json(timeline_json)
    spans = [(span.start, span.end or built.duration) for span in built.spans]
    return render_waveform(built.peaks, built.duration, spans, built.seams, width=WIDTH, height=HEIGHT)


def audio_picture(path: Path) -> bytes | None:
    """One song's picture from its mp3 (a single part); None when the file cannot be decoded."""
    try:
        peaks, duration = _peaks(path)
    except (av.error.FFmpegError, OSError, IndexError):
        return None
    if duration <= 0:
        return None
    return render_waveform(peaks, duration, [(0.0, duration)], (), width=WIDTH, height=HEIGHT)


def _peaks(path: Path) -> tuple[npt.NDArray[np.float32], float]:
    """(min, max) pairs of the mono signal per `PEAK_BLOCK` samples, and the decoded length in seconds."""
    resampler = av.AudioResampler(format="flt", layout="mono", rate=PEAK_RATE)
    chunks: list[npt.NDArray[np.float32]] = []
    total = 0
    with av.open(str(path)) as container:
        for frame in container.decode(container.streams.audio[0]):
            for out in resampler.resample(frame):
                samples = np.asarray(out.to_ndarray(), dtype=np.float32).reshape(-1)
                chunks.append(samples)
                total += samples.size
            if total >= MAX_SECONDS * PEAK_RATE:
                break
    signal = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)
    usable = signal[: signal.size - signal.size % PEAK_BLOCK].reshape(-1, PEAK_BLOCK)
    pairs = np.stack([usable.min(axis=1), usable.max(axis=1)], axis=1) if usable.size else np.zeros((0, 2))
    return pairs.astype(np.float32), signal.size / PEAK_RATE
