"""A fake Discord (REST API + gateway) served by aiohttp on 127.0.0.1, for driving the real discord.py client.

Point discord.py at it before the bot logs in::

    async with FakeDiscord() as fake:
        monkeypatch.setattr(discord.http.Route, "BASE", fake.api_base)
        monkeypatch.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(fake.gateway_url))
        ...  # start the bot, then drive it with fake.invoke_command(), fake.click_button(), fake.add_reaction()

Everything lives in memory: one application/bot user, one guild with channels, roles and members, DM channels,
messages per channel, registered commands, interactions with their responses, and every REST request. Waits wake
on state changes (one asyncio.Condition) and raise TimeoutError with a description of what was awaited.

Split by concern: `state` (records, limits), `rest`, `interactions`, `gateway`, `driver` (what a test does), `server`.
"""

from tests.fakes.discord.server import FakeDiscord
from tests.fakes.discord.state import (
    BOT_ID,
    CHANNEL_ID,
    DEFAULT_UPLOAD_LIMIT,
    GUILD_ID,
    OTHER_USER_ID,
    OWNER_ID,
    USER_ID,
    CallbackRecord,
    FakeChannel,
    FakeMember,
    FakeRole,
    FakeUser,
    InteractionRecord,
    MessageVersion,
    RequestRecord,
    SnowflakeGenerator,
    StoredAttachment,
    StoredMessage,
    UploadedFile,
)

__all__ = [
    "BOT_ID",
    "CHANNEL_ID",
    "DEFAULT_UPLOAD_LIMIT",
    "GUILD_ID",
    "OTHER_USER_ID",
    "OWNER_ID",
    "USER_ID",
    "CallbackRecord",
    "FakeChannel",
    "FakeDiscord",
    "FakeMember",
    "FakeRole",
    "FakeUser",
    "InteractionRecord",
    "MessageVersion",
    "RequestRecord",
    "SnowflakeGenerator",
    "StoredAttachment",
    "StoredMessage",
    "UploadedFile",
]
