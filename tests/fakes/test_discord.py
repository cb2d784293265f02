"""Self-test of the fake Discord: a real discord.py ``commands.Bot`` talks to it over REST and the gateway."""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import discord
import pytest
import pytest_asyncio
import yarl
from discord import app_commands
from discord.ext import commands

from tests.fakes.discord import CHANNEL_ID, GUILD_ID, OTHER_USER_ID, USER_ID, FakeDiscord

TOKEN = "fake-bot-token"
COVER = b"\x89PNG\r\n\x1a\n" + b"cover-bytes" * 64
TRACKS = ["Blue Monday", "Blues Run the Game", "Red Right Hand"]


class RerollButton(discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=r"encore:reroll:(?P<task>\d+)"):
    """A persistent button: the task id lives in the custom_id, so it works after a restart."""

    def __init__(self, task: int) -> None:
        super().__init__(discord.ui.Button(label="Reroll", custom_id=f"encore:reroll:{task}"))
        self.task = task

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[discord.ui.View], match: re.Match[str], /
    ) -> RerollButton:
        return cls(int(match["task"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        bot = interaction.client
        assert isinstance(bot, EncoreTestBot)
        await interaction.response.send_modal(RerollModal(self.task))
        # Signal only now: discord.py registers the modal after reading the callback's answer, so a test that
        # submits as soon as the fake has the callback could beat the registration.
        bot.clicks.put_nowait(self.task)


class RerollModal(discord.ui.Modal):
    """A modal with a labelled text input (discord.py 2.7 layout)."""

    def __init__(self, task: int) -> None:
        super().__init__(title="Reroll", custom_id=f"encore:reroll-modal:{task}")
        self.task = task
        self.prompt: discord.ui.TextInput[RerollModal] = discord.ui.TextInput(custom_id="prompt")
        self.add_item(discord.ui.Label(text="New prompt", component=self.prompt))

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"rerolling {self.task}: {self.prompt.value}", ephemeral=True)


class EncoreTestBot(commands.Bot):
    """A bot with the features the fake must carry: commands, autocomplete, dynamic button, modal, reactions."""

    def __init__(self, *, guild_sync: bool) -> None:
        super().__init__(command_prefix="!", intents=discord.Intents.default())
        self.guild_sync = guild_sync
        self.clicks: asyncio.Queue[int] = asyncio.Queue()
        self.reactions: asyncio.Queue[discord.RawReactionActionEvent] = asyncio.Queue()
        self.release_later = asyncio.Event()
        self.later_error: asyncio.Future[tuple[int, int]] = asyncio.get_running_loop().create_future()
        self.received: dict[str, object] = {}

    async def setup_hook(self) -> None:
        self.add_dynamic_items(RerollButton)
        commands_: tuple[app_commands.Command[Any, ..., None], ...] = (ping, pick, upload, later)
        for command in commands_:
            self.tree.add_command(command)
        if self.guild_sync:
            guild = discord.Object(GUILD_ID)
            self.tree.copy_global_to(guild=guild)
            await self.tree.sync(guild=guild)
        else:
            await self.tree.sync()

    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        if self.user is None or payload.user_id == self.user.id:
            return
        self.reactions.put_nowait(payload)
        channel = self.get_partial_messageable(payload.channel_id)
        await channel.get_partial_message(payload.message_id).add_reaction("✅")


@app_commands.command(description="Ping with a cover")
async def ping(interaction: discord.Interaction, text: str) -> None:
    await interaction.response.defer(thinking=True)
    await interaction.edit_original_response(content=f"pong {text}")
    assert isinstance(interaction.channel, discord.TextChannel)
    embed = discord.Embed(title=text).set_image(url="attachment://cover.png")
    view = discord.ui.View(timeout=None).add_item(RerollButton(42))
    await interaction.channel.send(
        f"cover for {text}",
        file=discord.File(io.BytesIO(COVER), "cover.png"),
        embed=embed,
        view=view,
        allowed_mentions=discord.AllowedMentions.none(),
    )


@app_commands.command(description="Pick a track")
async def pick(interaction: discord.Interaction, track: str, count: int = 1) -> None:
    await interaction.response.send_message(f"{track} x{count}")


@pick.autocomplete("track")
async def pick_track(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    return [app_commands.Choice(name=t, value=t) for t in TRACKS if current.lower() in t.lower()]


@app_commands.command(description="Upload a clip")
async def upload(
    interaction: discord.Interaction,
    clip: discord.Attachment,
    speed: float,
    loud: bool,
    who: discord.Member,
    where: discord.TextChannel,
) -> None:
    bot = interaction.client
    assert isinstance(bot, EncoreTestBot)
    bot.received = {"clip": await clip.read(), "speed": speed, "loud": loud, "who": who.id, "where": where.id}
    bot.received["limit"] = interaction.filesize_limit
    await interaction.response.send_message("got it", ephemeral=True)


@app_commands.command(description="Answers after the test says so")
async def later(interaction: discord.Interaction) -> None:
    bot = interaction.client
    assert isinstance(bot, EncoreTestBot)
    await interaction.response.defer()
    await bot.release_later.wait()
    try:
        await interaction.followup.send("finally")
    except discord.HTTPException as error:
        bot.later_error.set_result((error.status, error.code))


@pytest_asyncio.fixture
async def fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(token=TOKEN) as server:
        monkeypatch.setattr(discord.http.Route, "BASE", server.api_base)
        monkeypatch.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(server.gateway_url))
        yield server
        assert server.unhandled == []


@contextlib.asynccontextmanager
async def running(fake: FakeDiscord, *, guild_sync: bool = False) -> AsyncIterator[EncoreTestBot]:
    """Start a bot, wait until the fake answered its IDENTIFY, close it afterwards."""
    bot = EncoreTestBot(guild_sync=guild_sync)
    task = asyncio.create_task(bot.start(TOKEN))
    identified = asyncio.create_task(fake.wait_for_identify(fake.identify_count + 1))
    try:
        await asyncio.wait({task, identified}, return_when=asyncio.FIRST_COMPLETED)
        if not identified.done():
            identified.cancel()
            raise AssertionError("the bot stopped before identifying")
        identified.result()
        yield bot
    finally:
        await bot.close()
        await asyncio.wait_for(task, 5)  # re-raises whatever stopped the bot


@pytest.mark.asyncio
async def test_ping_defers_edits_and_uploads(fake: FakeDiscord) -> None:
    async with running(fake) as bot:
        assert fake.sync_counts == {None: 1}
        record = await fake.invoke_command("ping", {"text": "hello"})
        assert (await record.wait_response()).type == 5
        assert record.latency is not None and record.latency < fake.interaction_deadline
        original = await record.wait_original(lambda m: m.content == "pong hello")
        assert not original.loading and original.edits == []

        posted = await fake.wait_for_message(CHANNEL_ID, lambda m: m.content == "cover for hello")
        cover = posted.attachment("cover.png")
        assert cover.data == COVER and cover.content_type == "image/png"
        assert posted.embeds[0]["image"]["url"] == "attachment://cover.png"
        assert posted.allowed_mentions == {"parse": []}
        assert posted.components[0]["components"][0]["custom_id"] == "encore:reroll:42"

        async with aiohttp.ClientSession() as session, session.get(cover.url) as response:
            assert await response.read() == COVER
        fetched = await bot.get_partial_messageable(CHANNEL_ID).fetch_message(posted.id)
        assert fetched.embeds[0].image.url == cover.url
        assert fetched.attachments[0].size == len(COVER)


@pytest.mark.asyncio
async def test_autocomplete_and_option_types(fake: FakeDiscord) -> None:
    async with running(fake, guild_sync=True) as bot:
        choices = await fake.autocomplete("pick", {"track": "blue"}, focused="track")
        assert [c["value"] for c in choices] == ["Blue Monday", "Blues Run the Game"]

        picked = await fake.invoke_command("pick", {"track": "Red Right Hand", "count": 3})
        assert (await picked.wait_original()).content == "Red Right Hand x3"
        assert picked.payload["data"]["guild_id"] == str(GUILD_ID)

        options = {"speed": 1.5, "loud": True, "who": OTHER_USER_ID, "where": CHANNEL_ID}
        uploaded = await fake.invoke_command("upload", options, attachments={"clip": ("clip.mp3", b"ID3 clip")})
        reply = await uploaded.wait_original()
        assert reply.ephemeral and reply.content == "got it"
        assert fake.messages(CHANNEL_ID) == [picked.original]
        assert bot.received == {
            "clip": b"ID3 clip",
            "speed": 1.5,
            "loud": True,
            "who": OTHER_USER_ID,
            "where": CHANNEL_ID,
            "limit": fake.upload_limit,
        }
        with pytest.raises(ValueError, match="missing required options"):
            await fake.invoke_command("upload", {"speed": 1.0})


@pytest.mark.asyncio
async def test_rest_nonce_rate_limit_and_errors(fake: FakeDiscord) -> None:
    async with running(fake) as bot:
        channel = bot.get_channel(CHANNEL_ID)
        assert isinstance(channel, discord.TextChannel)

        first = await channel.send("delivery", nonce="task-7")
        second = await channel.send("delivery", nonce="task-7")
        assert first.id == second.id
        assert [m.content for m in fake.messages(CHANNEL_ID)] == ["delivery"]

        fake.inject("POST", rf"/channels/{CHANNEL_ID}/messages", 429, {"retry_after": 0.01})
        await channel.send("after a 429")
        statuses = [r.status for r in fake.requests if r.method == "POST" and r.path.endswith("/messages")]
        assert statuses[-2:] == [429, 200]

        fake.upload_limit = 1024
        with pytest.raises(discord.HTTPException) as too_large:
            await channel.send(file=discord.File(io.BytesIO(b"x" * 2048), "big.bin"))
        assert (too_large.value.status, too_large.value.code) == (413, 40005)

        updated = asyncio.ensure_future(bot.wait_for("guild_channel_update", timeout=5))
        await fake.deny_permission(CHANNEL_ID, "send_messages")
        await updated
        assert channel.guild.me is not None and not channel.permissions_for(channel.guild.me).send_messages
        with pytest.raises(discord.Forbidden) as forbidden:
            await channel.send("nope")
        assert forbidden.value.code == 50013

        deleted = asyncio.ensure_future(bot.wait_for("guild_channel_delete", timeout=5))
        await fake.delete_channel(CHANNEL_ID)
        await deleted
        with pytest.raises(discord.NotFound) as missing:
            await channel.send("gone")
        assert missing.value.code == 10003


@pytest.mark.asyncio
async def test_interaction_deadline_double_ack_and_token_expiry(fake: FakeDiscord) -> None:
    async with running(fake) as bot:
        record = await fake.invoke_command("pick", {"track": "Blue Monday"})
        await record.wait_response()
        url = f"{fake.api_base}/interactions/{record.id}/{record.token}/callback?with_response=1"
        async with aiohttp.ClientSession() as session, session.post(url, json={"type": 4, "data": {}}) as answer:
            assert answer.headers["Content-Type"] == "application/json"
            assert (answer.status, (await answer.json())["code"]) == (400, 40060)

        waiting = await fake.invoke_command("later")
        assert (await waiting.wait_response()).type == 5
        fake.expire_interaction_token(waiting.token)
        bot.release_later.set()
        assert await asyncio.wait_for(bot.later_error, 5) == (401, 50027)

        fake.interaction_deadline = 0.0
        late = await fake.invoke_command("pick", {"track": "Blue Monday"})
        rejected = await fake.wait_until(lambda: late.callbacks, what="the late callback")
        assert (rejected[0].status, rejected[0].code, late.response) == (404, 10062, None)


@pytest.mark.asyncio
async def test_button_modal_and_reactions(fake: FakeDiscord) -> None:
    async with running(fake) as bot:
        await (await fake.invoke_command("ping", {"text": "a"})).wait_response()
        posted = await fake.wait_for_message(CHANNEL_ID, lambda m: bool(m.components))

        click = await fake.click_button(posted.id, "encore:reroll:42")
        assert await asyncio.wait_for(bot.clicks.get(), 5) == 42
        assert (await click.wait_response()).type == 9
        assert click.modal is not None and click.modal["components"][0]["type"] == 18

        submit = await fake.submit_modal("encore:reroll-modal:42", {"prompt": "more cowbell"})
        reply = await submit.wait_original()
        assert reply.ephemeral and reply.content == "rerolling 42: more cowbell"

        await fake.add_reaction(CHANNEL_ID, posted.id, USER_ID, "👍")
        seen = await asyncio.wait_for(bot.reactions.get(), 5)
        assert (seen.user_id, seen.message_id, str(seen.emoji)) == (USER_ID, posted.id, "👍")
        assert seen.member is not None and seen.member.id == USER_ID
        await fake.wait_until(lambda: fake.bot_reactions(posted.id) == ["✅"], what="the bot's reaction")


@pytest.mark.asyncio
async def test_restart_and_resume(fake: FakeDiscord) -> None:
    async with running(fake):
        await (await fake.invoke_command("ping", {"text": "before"})).wait_response()
        posted = await fake.wait_for_message(CHANNEL_ID, lambda m: m.content == "cover for before")

    async with running(fake, guild_sync=True) as bot:
        assert fake.sync_counts == {None: 1, GUILD_ID: 1}
        await fake.click_button(posted.id, "encore:reroll:42")
        assert await asyncio.wait_for(bot.clicks.get(), 5) == 42

        resumed = asyncio.ensure_future(bot.wait_for("resumed", timeout=5))
        await fake.request_reconnect()
        await resumed
        assert fake.resume_count == 1
        record = await fake.invoke_command("pick", {"track": "Blue Monday"})
        assert (await record.wait_original()).content == "Blue Monday x1"
    assert not fake.connected
