"""Playing in voice channels: one player per server, sending each song's cached Opus packets as they are.

discord.py's player thread calls `read()` every 20 ms; `OpusPacketSource` only hands over the next packet from
memory (`is_opus()` is True, so discord.py loads no encoder and sends the bytes unchanged). Its `after` callback
runs in that thread, so it only wakes the event loop. The now-playing message shows where the song ends as a
Discord timestamp (no edit per second) and is edited when the queue moves, at most once per `EDIT_INTERVAL`.

The parts: `_source` (the packets as discord.py's audio source), `_player` (one server's session), `_players`
(every session of the process: `/listen`, its limits, saving and resuming), `_buttons` (the now-playing
message's buttons and the whole song's Listen).
"""

from bot.ui.voice._buttons import ListenButton, ListenWholeButton
from bot.ui.voice._player import GuildPlayer
from bot.ui.voice._players import VoicePlayers
from bot.ui.voice._request import ListenRequest
from bot.ui.voice._source import OpusPacketSource

__all__ = ["GuildPlayer", "ListenButton", "ListenRequest", "ListenWholeButton", "OpusPacketSource", "VoicePlayers"]
