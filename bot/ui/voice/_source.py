"""A song's cached Opus packets as discord.py's audio source: one packet per `read()`, from memory."""

from __future__ import annotations

import discord

from bot.audio.opus import FRAME_SECONDS, OpusSong


class OpusPacketSource(discord.AudioSource):
    """A song's cached Opus packets, one per `read()`, from memory."""

    def __init__(self, song: OpusSong, start: float = 0.0) -> None:
        self._packets = song.packets
        self.sent = min(len(song.packets), max(0, int(start / FRAME_SECONDS)))  # a resumed song goes on from there

    def read(self) -> bytes:
        if self.sent >= len(self._packets):
            return b""
        packet = self._packets[self.sent]
        self.sent += 1
        return packet

    def is_opus(self) -> bool:
        return True

    @property
    def position(self) -> float:
        return self.sent * FRAME_SECONDS
