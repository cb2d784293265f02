"""`python -m bot check`: one line per thing Encore depends on, ✅ or ❌ with the fix; non-zero exit on any ❌.

It reads the settings like the bot and asks each party as the bot would: Discord's REST API (the token, the
application, the servers and the results channels' permissions), the provider (the key, the credits), the database
(read without taking the bot's lock, so it runs beside a running bot) and the webhook receiver.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from bot.config import HEALTH_PATH, PROVIDER_KEY_VARIABLES, Settings, provider_name
from bot.domain.models import TaskStatus
from bot.media.cache import AUDIO_CACHE_BYTES, AudioCache, unwritable_note
from bot.ops.network import connection_failure
from bot.ops.permissions import (
    INVITE_PERMISSIONS,
    VOICE_CHANNEL_TYPES,
    effective_permissions,
    invite_url,
    missing,
    missing_in_voice,
)
from bot.providers import ProviderAuthError, ProviderError, ProviderUnavailable, create_provider
from bot.store import DatabaseInfo, StoreUnavailable, postgres, sqlite

TIMEOUT = aiohttp.ClientTimeout(total=15, connect=5)
# A task id no provider has: asking for it tests the key without spending anything.
PROBE_TASK_ID = "encore-check-00000000"


@dataclass(frozen=True, slots=True)
class Line:
    """One line of the report: `ok` None is a note that is neither a success nor a failure."""

    ok: bool | None
    text: str

    def render(self) -> str:
        return f"{'✅' if self.ok else 'ℹ️' if self.ok is None else '❌'} {self.text}"


class DiscordAnswer(Exception):
    """Discord answered a REST call with an error status."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.code = body.get("code") if isinstance(body, dict) else None


class DiscordRest:
    """The few GETs the check needs, with the bot token, against DISCORD_API_BASE."""

    def __init__(self, session: aiohttp.ClientSession, settings: Settings) -> None:
        self._session = session
        self._base = settings.discord_api_base
        self._headers = {"Authorization": f"Bot {settings.discord_token}", "User-Agent": "Encore check"}

    async def get(self, path: str) -> Any:
        async with self._session.get(f"{self._base}{path}", headers=self._headers) as response:
            body = await response.json(content_type=None) if response.content_length != 0 else None
            if response.status >= 400:
                raise DiscordAnswer(response.status, body)
            return body


async def run_checks(settings: Settings) -> int:
    """Print the report; 1 when anything failed, else 0."""
    lines = await collect(settings)
    for line in lines:
        print(line.render())
    failed = sum(line.ok is False for line in lines)
    print(f"{failed} problem(s) found." if failed else "Everything Encore needs works.")
    return 1 if failed else 0


async def collect(settings: Settings) -> list[Line]:
    database, info = await check_database(settings)
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        lines = await check_discord(DiscordRest(session, settings), settings, info)
        lines.append(check_voice_libraries())
        for provider in settings.providers:
            lines += await check_provider(settings, session, provider)
        lines += database
        lines.append(await asyncio.to_thread(check_audio_cache, settings))
        lines += await check_webhook(settings, session, info)
    return lines


async def check_discord(rest: DiscordRest, settings: Settings, info: DatabaseInfo | None) -> list[Line]:
    """The token, the invite URL, the servers and, per server, the results channel's permissions."""
    try:
        me = await rest.get("/users/@me")
        application = await rest.get("/oauth2/applications/@me")
        guilds = await rest.get("/users/@me/guilds")
    except DiscordAnswer as answer:
        if answer.status == 401:
            return [Line(False, "DISCORD_TOKEN: Discord refused the token; copy it again from the Developer Portal")]
        return [Line(False, f"Discord answered {answer} at {settings.discord_api_base}; try again later")]
    except (aiohttp.ClientError, OSError, TimeoutError) as error:
        return [Line(False, f"Discord unreachable at {settings.discord_api_base}: {connection_failure(error)}")]
    bot_id = int(me["id"])
    invite = invite_url(int(application["id"]))
    lines = [
        Line(True, f"DISCORD_TOKEN: logged in as {me['username']} (id {bot_id})"),
        Line(None, f"invite URL (scopes bot, applications.commands; permissions {INVITE_PERMISSIONS}): {invite}"),
    ]
    if not guilds:
        return [*lines, Line(False, "the bot is in no server: open the invite URL above to add it")]
    lines.append(Line(True, f"the bot is in {len(guilds)} server(s)"))
    if settings.dev_guild_id and all(int(guild["id"]) != settings.dev_guild_id for guild in guilds):
        lines.append(Line(False, f"DEV_GUILD_ID={settings.dev_guild_id}: the bot is not in that server"))
    channels = info.results_channels if info and info.results_channels else {}
    for listed in guilds:
        guild_id = int(listed["id"])
        try:  # read once for both checks: each is a rate-limited call per server
            guild = await rest.get(f"/guilds/{guild_id}")
            member = await rest.get(f"/guilds/{guild_id}/members/{bot_id}")
        except DiscordAnswer as answer:
            lines.append(Line(False, f"server {guild_id}: Discord answered {answer} for its settings"))
            continue
        except (aiohttp.ClientError, OSError, TimeoutError) as error:
            lines.append(Line(False, f"server {guild_id}: {connection_failure(error)}"))
            continue
        lines.append(await check_guild(rest, bot_id, guild, member, channels.get(guild_id)))
        lines += await check_voice_channels(rest, bot_id, guild, member)
    return lines


def check_voice_libraries() -> Line:
    """discord.py only logs at start that voice is off without PyNaCl or davey; `/listen` would then fail."""
    absent = []
    for module, package in (("nacl", "PyNaCl"), ("davey", "davey")):
        try:
            importlib.import_module(module)
        except ImportError:
            absent.append(package)
    if absent:
        return Line(
            False,
            f"voice: {' and '.join(absent)} not installed, so /listen cannot join voice channels; "
            "install Encore with its dependencies again (discord.py[voice])",
        )
    return Line(True, "voice: PyNaCl and davey (Discord's end-to-end encryption) are installed")


async def check_voice_channels(
    rest: DiscordRest, bot_id: int, guild: dict[str, Any], member: dict[str, Any]
) -> list[Line]:
    """Voice and stage channels the bot can see but not connect or speak in: `/listen` would be refused there."""
    guild_id = guild["id"]
    try:
        channels = await rest.get(f"/guilds/{guild_id}/channels")
    except DiscordAnswer as answer:
        return [Line(False, f"server {guild_id}: Discord answered {answer} for its voice channels")]
    except (aiohttp.ClientError, OSError, TimeoutError) as error:
        return [Line(False, f"server {guild_id}: {connection_failure(error)}")]
    lines = []
    for channel in channels:
        if channel.get("type") not in VOICE_CHANNEL_TYPES:
            continue
        lacking = missing_in_voice(effective_permissions(guild, member, bot_id, channel))
        if lacking:
            lines.append(
                Line(
                    False,
                    f"server {guild.get('name', guild_id)!r}: the bot cannot {' or '.join(lacking)} in the voice "
                    f"channel {channel.get('name')!r}, so /listen is refused there; grant "
                    f"{' and '.join(name.capitalize() for name in lacking)} to its role or in that channel",
                )
            )
    return lines


async def check_guild(
    rest: DiscordRest, bot_id: int, guild: dict[str, Any], member: dict[str, Any], channel_id: int | None
) -> Line:
    """Whether the bot can do its work where this server's results go, from its roles and the channel overwrites."""
    guild_id = guild["id"]
    try:
        channel = await rest.get(f"/channels/{channel_id}") if channel_id else None
    except DiscordAnswer as answer:
        if channel_id and answer.code == 10003:
            return Line(
                False,
                f"server {guild_id}: its results channel {channel_id} is gone; pick another with /encore settings",
            )
        if channel_id and answer.status == 403:
            return Line(
                False,
                f"server {guild_id}: the bot cannot view its results channel {channel_id}; allow "
                "View Channel for the bot there",
            )
        return Line(False, f"server {guild_id}: Discord answered {answer} for its settings")
    except (aiohttp.ClientError, OSError, TimeoutError) as error:
        return Line(False, f"server {guild_id}: {connection_failure(error)}")
    name = guild.get("name", guild_id)
    where = (
        f"its results channel #{channel['name']}" if channel else "the server (results go to each command's channel)"
    )
    lacking = missing(effective_permissions(guild, member, bot_id, channel))
    if lacking:
        return Line(
            False,
            f"server {name!r}: the bot cannot {', '.join(lacking)} in {where}; grant that to its "
            "role, or in the channel's permissions",
        )
    return Line(True, f"server {name!r}: the bot can view, send, embed, attach and react in {where}")


async def check_provider(settings: Settings, session: aiohttp.ClientSession, name: str) -> list[Line]:
    """One configured provider's key and reachability, with a harmless authenticated request: the credits, or a
    look-up of a task nobody has."""
    provider = create_provider(settings, session, name=name)
    label = provider.capabilities.label
    # A key may be optional (a self-hosted suno-api).
    key = PROVIDER_KEY_VARIABLES[provider_name(name)] if settings.key_of(name) else f"{label} (no key)"
    try:
        credits = await provider.credits()
        if credits is None:
            await provider.fetch([PROBE_TASK_ID])
    except ProviderAuthError:
        return [Line(False, f"{key}: {label} refused the key; copy it again from your {label} account")]
    except ProviderUnavailable as error:
        return [Line(False, f"{label} unreachable at {settings.base_url_of(name)}: {error.message}")]
    except ProviderError as error:
        return [Line(False, f"{label} answered the key check with an error: {error.message}")]
    if credits is None:
        return [Line(True, f"{key}: accepted by {label} (it does not report credits)")]
    if credits <= 0:
        return [Line(False, f"{key}: accepted by {label}, but no credits are left; top them up")]
    return [Line(True, f"{key}: accepted by {label}, {credits} credits left")]


async def check_database(settings: Settings) -> tuple[list[Line], DatabaseInfo | None]:
    """Whether the database opens (and the SQLite file can be written), its schema, size and queue; works while
    the bot runs."""
    try:
        if settings.database_url:
            where, latest = "DATABASE_URL", len(postgres.migrations())
            info = await postgres.inspect_database(settings.database_url)
        else:
            where, latest = f"DATABASE_PATH={settings.database_path}", len(sqlite.migrations())
            info = sqlite.inspect_database(settings.database_path)
    except StoreUnavailable as error:
        return [Line(False, f"{where}: {error}")], None
    if not info.exists:
        return [Line(True, f"{where}: not created yet; Encore creates it at its first start")], info
    if info.schema_version > latest:
        text = f"{where}: written by a newer Encore (schema {info.schema_version}, this one knows {latest}); update"
        return [Line(False, text)], info
    schema = "current" if info.schema_version == latest else f"migrated to {latest} at the next start"
    counts: Mapping[str, int] = info.task_counts or {}
    waiting = counts.get(TaskStatus.QUEUED.value, 0)
    at_provider = counts.get(TaskStatus.SUBMITTED.value, 0) + counts.get(TaskStatus.RUNNING.value, 0)
    running = "in use by a running Encore" if info.in_use else "no Encore running on it"
    text = (
        f"{where}: schema {info.schema_version} ({schema}), {info.size_bytes / 1_000_000:.1f} MB, "
        f"{waiting} task(s) waiting, {at_provider} at the provider; {running}"
    )
    return [Line(True, text)], info


def check_audio_cache(settings: Settings) -> Line:
    """Whether Encore can keep its copies of posted clips in AUDIO_CACHE_DIR (it writes a file there and removes it)."""
    folder = settings.audio_cache_dir
    # With the running bot's own size limit: the check's trim must keep what the bot keeps.
    if note := unwritable_note(AudioCache(folder, AUDIO_CACHE_BYTES)):
        return Line(False, note)
    return Line(True, f"AUDIO_CACHE_DIR={folder}: writable")


async def check_webhook(settings: Settings, session: aiohttp.ClientSession, info: DatabaseInfo | None) -> list[Line]:
    """With PUBLIC_WEBHOOK_URL, whether Encore's receiver answers there (only a running Encore can)."""
    if not settings.public_webhook_url:
        return []
    url = f"{settings.public_webhook_url}{HEALTH_PATH}"
    try:
        async with session.get(url) as response:
            body: Any = None
            with contextlib.suppress(ValueError, aiohttp.ContentTypeError):
                body = await response.json()
            status = response.status
    except (aiohttp.ClientError, OSError, TimeoutError) as error:
        if info is None or not info.in_use:
            return [
                Line(
                    None,
                    f"PUBLIC_WEBHOOK_URL: not checked, Encore is not running ({url} gave {connection_failure(error)})",
                )
            ]
        return [
            Line(
                False,
                f"PUBLIC_WEBHOOK_URL: nothing answers at {url} ({connection_failure(error)}); forward it to "
                f"WEBHOOK_HOST:{settings.web_server_port}",
            )
        ]
    if not isinstance(body, dict) or "gateway" not in body:
        return [Line(False, f"PUBLIC_WEBHOOK_URL: {url} answered HTTP {status}, but not as Encore; check the proxy")]
    return [
        Line(True, f"PUBLIC_WEBHOOK_URL: Encore's receiver answers at {url} ({body.get('status')})"),
        *running_providers(body.get("provider_health")),
    ]


def running_providers(health: Any) -> list[Line]:
    """What the running Encore's `/healthz` says of its providers: a line for each it skips for a cool-down."""
    if not isinstance(health, dict):
        return []
    lines = []
    for name, state in health.items():
        if isinstance(state, dict) and state.get("state") != "up":
            why = f": {state['last_error']}" if state.get("last_error") else ""
            lines.append(
                Line(
                    False,
                    f"the running Encore skips {name} for a cool-down after {state.get('failures_in_a_row')} failed "
                    f"call(s) in a row{why}; it tries again in {state.get('retry_in_seconds')} s",
                )
            )
    return lines
