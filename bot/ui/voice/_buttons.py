"""The now-playing message's buttons (Skip, Pause/Resume, Stop, Queue) and Listen on a whole song's post.

Each is a `DynamicItem`: the server's player is found from the interaction, so a button pressed after a restart or
after the session ended answers instead of failing.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any, ClassVar

import discord

from bot.ui.client import EncoreClient, answers_failures, manages_server
from bot.ui.voice._request import ListenRequest

if TYPE_CHECKING:
    from bot.ui.voice._player import GuildPlayer
    from bot.ui.voice._players import VoicePlayers


def now_playing_view(*, paused: bool) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for action in ("skip", "pause", "stop", "queue"):
        view.add_item(ListenButton(action, paused=paused))
    return view


class ListenButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=r"encore:listen:(?P<action>skip|pause|stop|queue)",
):
    """The now-playing message's buttons; the server's player is found from the interaction, so a button pressed
    after the session ended says so instead of failing."""

    LABELS: ClassVar[dict[str, tuple[str, str]]] = {
        "skip": ("Skip", "⏭️"),
        "pause": ("Pause", "⏸️"),
        "stop": ("Stop", "⏹️"),
        "queue": ("Queue", "📋"),
    }

    def __init__(self, action: str, *, paused: bool = False) -> None:
        label, emoji = ("Resume", "▶️") if action == "pause" and paused else self.LABELS[action]
        style = discord.ButtonStyle.danger if action == "stop" else discord.ButtonStyle.secondary
        super().__init__(discord.ui.Button(label=label, emoji=emoji, style=style, custom_id=f"encore:listen:{action}"))
        self.action = action

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> ListenButton:
        return cls(match["action"])

    @answers_failures
    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        client: EncoreClient = interaction.client
        players: VoicePlayers | None = getattr(client, "voice_players", None)
        player = None if players is None or interaction.guild_id is None else players.players.get(interaction.guild_id)
        if player is None:
            await interaction.response.send_message("Nothing is playing on this server now.", ephemeral=True)
            return
        await interaction.response.send_message(self._act(player, interaction), ephemeral=True)

    def _act(self, player: GuildPlayer, interaction: discord.Interaction[Any]) -> str:
        user_id = interaction.user.id
        current = player.queue.current
        if self.action == "queue":
            return player.queue_text()
        if self.action == "pause":
            if user_id not in player.listeners() and not manages_server(interaction):
                return "⚠️ Join the voice channel to pause or resume it."
            return "⏸️ Paused." if player.toggle_pause() else "▶️ Resumed."
        if self.action == "stop":
            if user_id != player.starter_id and not manages_server(interaction):
                return "⚠️ Only the member who started this session, or a server manager, can stop it."
            player.end(f"<@{user_id}> stopped the session")
            return "⏹️ Stopped."
        if current is None:
            return "Nothing is playing."
        if user_id == current.requester_id or manages_server(interaction):
            player.skip()
            return "⏭️ Skipped."
        people = player.listeners()
        if user_id not in people:
            return "⚠️ Join the voice channel to vote to skip."
        player.skip_votes.add(user_id)
        votes = len(player.skip_votes & set(people))  # of those still listening
        needed = math.ceil(len(people) / 2)
        if votes >= needed:
            player.skip()
            return "⏭️ Skipped by vote."
        return f"🗳️ Your vote to skip is in: {votes} of {needed} needed."


class ListenWholeButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=r"encore:listen-whole:(?P<clip>[0-9a-f-]{36})"
):
    """Listen, on a whole song's post: `/listen song:<clip> whole:True` for whoever presses it."""

    def __init__(self, clip_id: str) -> None:
        super().__init__(
            discord.ui.Button(
                label="Listen",
                emoji="🎧",
                style=discord.ButtonStyle.secondary,
                custom_id=f"encore:listen-whole:{clip_id}",
            )
        )
        self.clip_id = clip_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ListenWholeButton:
        return cls(match["clip"])

    @answers_failures
    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        client: EncoreClient = interaction.client
        await client.voice_players.listen(interaction, ListenRequest(song=self.clip_id, whole=True))
