"""What an audio file is, before Encore stitches or attaches it: a real PyAV probe (the cheap byte sniff of a
download is `bot.media.sniff_audio`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import av.error

MP3_GAP_TOLERANCE = 0.1
"""Seconds a header's MP3 duration may differ from the frames' sum before the frames are trusted instead."""

_PROBE_PACKETS = 64
"""Packets to try when proving that a stream really decodes; a real file gives a frame within the first few."""


@dataclass(frozen=True)
class AudioInfo:
    """The facts about a file that stitching and attaching need."""

    duration: float
    sample_rate: int
    channels: int
    codec: str
    container: str


def probe_audio(path: Path | str) -> AudioInfo | None:
    """The file's duration and format, or `None` when no demuxer and decoder can play it as audio."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                return None
            stream = container.streams.audio[0]
            if not _decodes(container, stream):
                return None
            codec = stream.codec_context.name
            sample_rate = stream.codec_context.sample_rate
            channels = stream.codec_context.channels
            container_name = container.format.name
            duration = _header_duration(container, stream)
    except (av.error.FFmpegError, OSError, ValueError):
        return None
    if container_name == "mp3" or duration is None:
        duration = _measured_duration(path, container_name, duration)
    if duration is None or duration <= 0 or sample_rate <= 0:
        return None
    return AudioInfo(duration, sample_rate, channels, codec, container_name)


def _decodes(container: av.container.InputContainer, stream: av.audio.AudioStream) -> bool:
    """Whether the stream yields a frame: a misdetected HTML page or noise has a "stream" that never decodes."""
    for count, packet in enumerate(container.demux(stream)):
        if count >= _PROBE_PACKETS:
            return False
        if packet.size and stream.codec_context.decode(packet):
            return True
    return False


def _header_duration(container: av.container.InputContainer, stream: av.audio.AudioStream) -> float | None:
    """The duration the headers state (stream first, then container), or `None` when they state none."""
    if stream.duration is not None and stream.time_base is not None and stream.duration > 0:
        return float(stream.duration * stream.time_base)
    if container.duration is not None and container.duration > 0:
        return container.duration / av.time_base
    return None


def _measured_duration(path: Path | str, container_name: str, header: float | None) -> float | None:
    """The duration from the frames themselves, for MP3s (whose header may be a bit-rate guess) and header-less files.

    For MP3 the packets are only demuxed, not decoded: cheap, and exact to one frame. A header (Xing/LAME) that
    agrees within `MP3_GAP_TOLERANCE` wins, because it also accounts for the encoder's delay and padding.
    """
    try:
        with av.open(str(path)) as container:
            stream = container.streams.audio[0]
            if container_name == "mp3":
                ticks = sum(packet.duration or 0 for packet in container.demux(stream) if packet.size)
                if stream.time_base is None or ticks <= 0:
                    return header
                frames = float(ticks * stream.time_base)
                return header if header is not None and abs(header - frames) <= MP3_GAP_TOLERANCE else frames
            samples = sum(frame.samples for frame in container.decode(stream))
            rate = stream.codec_context.sample_rate
    except (av.error.FFmpegError, OSError, ValueError):
        return header
    return samples / rate if rate > 0 and samples > 0 else header
