"""A song as Discord's voice wants it: Opus packets of 20 ms, 48 kHz stereo, encoded once and kept on disk.

Encoding is the only costly step of playing a song in a voice channel, so it happens once per song (off the event
loop) and its packets are kept in a small file beside the song's mp3. A player then sends those bytes as they are,
one per 20 ms, and a listener costs nothing beyond the network.

The file: the magic `ENCOREOPUS1\\n`, then each packet as a big-endian u16 length and its bytes.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

import av
import av.error
from av.audio.codeccontext import AudioCodecContext

from bot.audio.stitch import AudioError

SAMPLE_RATE = 48_000
FRAME_SAMPLES = 960
"""20 ms at 48 kHz per channel: one Opus packet, and the RTP timestamp step."""
FRAME_SECONDS = FRAME_SAMPLES / SAMPLE_RATE
BITRATE = 96_000
"""The highest bitrate a voice channel of a server without boosts carries; more would be thrown away by Discord."""
MAGIC = b"ENCOREOPUS1\n"
_LENGTH = struct.Struct(">H")


@dataclass(frozen=True, slots=True)
class OpusSong:
    """A song's Opus packets, in order, each 20 ms; `peaks` (encoding only) are each frame's (min, max) level, for
    its waveform picture."""

    packets: tuple[bytes, ...]
    peaks: tuple[tuple[float, float], ...] = ()

    @property
    def duration(self) -> float:
        return len(self.packets) * FRAME_SECONDS


def encode_opus(source: Path, dest: Path, *, max_seconds: float | None = None) -> OpusSong:
    """Decode `source` (any audio PyAV reads) and encode it to Opus packets in `dest`, written atomically.

    `AudioError` when it cannot be decoded, holds no audio, or runs past `max_seconds` (checked while decoding,
    so an hour-long file is refused without being encoded whole)."""
    packets: list[bytes] = []
    peaks: list[tuple[float, float]] = []
    limit = None if max_seconds is None else int(max_seconds / FRAME_SECONDS) + 1
    try:
        with av.open(str(source)) as container:
            if not container.streams.audio:
                raise AudioError("the file holds no audio")
            stream = container.streams.audio[0]
            encoder = av.CodecContext.create("libopus", "w")
            encoder.sample_rate = SAMPLE_RATE
            encoder.layout = "stereo"
            encoder.format = "s16"
            encoder.bit_rate = BITRATE
            encoder.options = {"frame_duration": "20", "application": "audio"}
            encoder.open()
            resampler = av.AudioResampler(format="s16", layout="stereo", rate=SAMPLE_RATE, frame_size=FRAME_SAMPLES)
            pts = 0
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    peaks.append(_peak(out))
                    pts = _encode(encoder, out, pts, packets)
                if limit is not None and len(packets) > limit:
                    raise AudioError(f"the song is longer than {max_seconds:g} s")
            for out in resampler.resample(None):
                peaks.append(_peak(out))
                pts = _encode(encoder, out, pts, packets)
            packets.extend(bytes(packet) for packet in encoder.encode(None))
    except (av.error.FFmpegError, OSError) as error:
        raise AudioError(f"the audio cannot be decoded ({error})") from None
    if not packets:
        raise AudioError("the file holds no audio")
    if limit is not None and len(packets) > limit:
        raise AudioError(f"the song is longer than {max_seconds:g} s")
    write_packets(dest, packets)
    return OpusSong(tuple(packets), tuple(peaks))


def _peak(frame: av.AudioFrame) -> tuple[float, float]:
    """The lowest and highest sample of a 20 ms frame of s16 stereo, on a -1…1 scale."""
    samples = frame.to_ndarray()
    return float(samples.min()) / 32768, float(samples.max()) / 32768


def _encode(encoder: AudioCodecContext, frame: av.AudioFrame, pts: int, packets: list[bytes]) -> int:
    """Encode one 20 ms frame (the last may be short: padded to a whole frame with silence by the encoder)."""
    frame.pts = pts
    packets.extend(bytes(packet) for packet in encoder.encode(frame))
    return pts + frame.samples


def write_packets(dest: Path, packets: list[bytes]) -> None:
    """The packet file, written beside itself first and renamed, so a reader never sees half of one."""
    partial = dest.with_name(f"{dest.name}.{os.getpid()}.part")
    with partial.open("wb") as out:
        out.write(MAGIC)
        for packet in packets:
            out.write(_LENGTH.pack(len(packet)))
            out.write(packet)
    os.replace(partial, dest)


def read_packets(path: Path) -> OpusSong:
    """The packets of a file `write_packets` made; `AudioError` for any other or a cut-off file."""
    data = path.read_bytes()
    if not data.startswith(MAGIC):
        raise AudioError(f"{path.name} is not an Encore Opus file")
    packets = []
    offset = len(MAGIC)
    while offset < len(data):
        if offset + _LENGTH.size > len(data):
            raise AudioError(f"{path.name} is cut off")
        (length,) = _LENGTH.unpack_from(data, offset)
        offset += _LENGTH.size
        if offset + length > len(data):
            raise AudioError(f"{path.name} is cut off")
        packets.append(data[offset : offset + length])
        offset += length
    if not packets:
        raise AudioError(f"{path.name} holds no audio")
    return OpusSong(tuple(packets))
