"""What the fake voice server heard: its packets cut into songs at discord.py's silence frames, decoded with PyAV."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import av
import numpy as np
import numpy.typing as npt

from tests.fakes.voice.server import OPUS_SILENCE, ReceivedPacket
from tests.support.audio import dominant_frequency

SAMPLE_RATE = 48_000
FRAME_SECONDS = 0.02


@dataclass(frozen=True)
class Played:
    """One stretch of sound between two stops (a song, or the part of one before a pause or a skip)."""

    packets: tuple[ReceivedPacket, ...]
    samples: npt.NDArray[np.float32]  # mono, 48 kHz

    @property
    def seconds(self) -> float:
        return len(self.samples) / SAMPLE_RATE

    @property
    def frequency(self) -> float:
        """The tone heard, away from the edges (where the encoder's fade lives)."""
        edge = min(len(self.samples) // 4, int(0.1 * SAMPLE_RATE))
        return dominant_frequency(self.samples[edge : len(self.samples) - edge], SAMPLE_RATE)

    @property
    def longest_gap(self) -> float:
        """The longest time between two packets' arrivals, in seconds."""
        return max((b.at - a.at for a, b in itertools.pairwise(self.packets)), default=0.0)

    @property
    def pace(self) -> float:
        """Seconds per packet on average, first to last arrival (0.02 when discord.py keeps time)."""
        if len(self.packets) < 2:
            return 0.0
        return (self.packets[-1].at - self.packets[0].at) / (len(self.packets) - 1)

    @property
    def sequences_follow(self) -> bool:
        """Sequence numbers +1 and timestamps +960 from packet to packet (with wrap-around)."""
        return all(
            (b.sequence - a.sequence) % 2**16 == 1 and (b.timestamp - a.timestamp) % 2**32 == 960
            for a, b in itertools.pairwise(self.packets)
        )


def decode(packets: Sequence[bytes]) -> npt.NDArray[np.float32]:
    """Opus packets (48 kHz stereo) to mono float32 samples."""
    decoder = av.CodecContext.create("opus", "r")
    decoder.sample_rate = SAMPLE_RATE
    decoder.layout = "stereo"
    chunks: list[npt.NDArray[np.float32]] = []
    for packet in packets:
        for frame in decoder.decode(av.Packet(packet)):
            chunks.append(np.asarray(frame.to_ndarray(), dtype=np.float32).reshape(2, -1).mean(axis=0))
    return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)


def played_songs(packets: Sequence[ReceivedPacket]) -> list[Played]:
    """The stretches of sound, in order: runs of packets between discord.py's silence frames."""
    runs = [list(run) for silent, run in itertools.groupby(packets, lambda p: p.opus == OPUS_SILENCE) if not silent]
    return [Played(tuple(run), decode([p.opus for p in run])) for run in runs]
