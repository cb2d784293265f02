"""`python -m bot check` as an operator runs it: the real process against the fakes, one case per thing it checks,
each failure with its own ❌ line and a non-zero exit."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import discord as discord_py

from bot.domain.models import ExtendRequest, Requester
from bot.ops.permissions import INVITE_PERMISSIONS
from bot.store.postgres import PostgresStore
from bot.store.sqlite import SqliteStore
from tests.e2e.harness import PROVIDER_KEY, free_port
from tests.e2e.test_extend_flow import CLIP
from tests.fakes.apiframe_v2 import FakeApiframeV2
from tests.fakes.discord import BOT_ID, CHANNEL_ID, GUILD_ID, FakeDiscord
from tests.fakes.providers import FakeApiframe, FakeSunoApi
from tests.fakes.suno_api import FakeSunoApiSelfHosted
from tests.fakes.sunoapi_org import FakeSunoApiOrg
from tests.reliability.harness import BotProcess, fast_sunoapi, sunoapi_env
from tests.support.postgres import fresh_database

TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GhIjKl.check-token-not-to-print"


async def check(env: Mapping[str, str], cwd: Path, command: str = "check") -> tuple[int, list[str]]:
    """Run `python -m bot check`; its exit code and report lines."""
    process = await BotProcess.spawn({**env, "LOG_LEVEL": "INFO"}, cwd, command)
    code = await process.wait(30)
    assert TOKEN not in process.output and PROVIDER_KEY not in process.output
    assert "Traceback" not in process.output, process.output
    return code, process.lines


def line(lines: list[str], text: str) -> str:
    found = [candidate for candidate in lines if text in candidate]
    assert len(found) == 1, "\n".join(lines)
    return found[0]


def provider_env(discord: FakeDiscord, suno: FakeSunoApi, cwd: Path, provider: Mapping[str, str]) -> dict[str, str]:
    """The bot's settings (its database in `cwd`) with another provider's (`provider`) in place of sunoapi.co's."""
    env = sunoapi_env(discord, suno, cwd / "encore.db")
    del env["SUNOAPI_KEY"]
    return env | dict(provider)


async def check_line(env: Mapping[str, str], cwd: Path, text: str, *, exit_code: int) -> str:
    """Run the check, which must exit with `exit_code`; its one report line that holds `text`."""
    code, lines = await check(env, cwd)
    assert code == exit_code, "\n".join(lines)
    return line(lines, text)


async def check_unreachable(env: Mapping[str, str], cwd: Path, base_url: str, provider: str) -> None:
    """With the `base_url` setting on a closed port, the check fails on a `<provider> unreachable at` line."""
    port = free_port()
    found = await check_line({**env, base_url: f"http://127.0.0.1:{port}"}, cwd, f"{provider} unreachable", exit_code=1)
    assert found.startswith(f"❌ {provider} unreachable at http://127.0.0.1:{port}")


def test_the_invite_asks_for_what_encore_does() -> None:
    assert (
        discord_py.Permissions(
            view_channel=True,
            send_messages=True,
            embed_links=True,
            attach_files=True,
            add_reactions=True,
            read_message_history=True,
            connect=True,
            speak=True,
        ).value
        == INVITE_PERMISSIONS
    )


async def test_everything_works(tmp_path: Path) -> None:
    database = tmp_path / "encore.db"
    store = await SqliteStore.open(database)
    await store.create_task(
        Requester(user_id=1, channel_id=CHANNEL_ID, guild_id=GUILD_ID), "sunoapi", ExtendRequest(CLIP, 30.0)
    )
    await store.close()
    async with FakeDiscord(token=TOKEN) as discord, fast_sunoapi() as suno:
        code, lines = await check({**sunoapi_env(discord, suno, database), "DISCORD_TOKEN": TOKEN}, tmp_path)
    assert code == 0, "\n".join(lines)
    read_once = (f"/guilds/{GUILD_ID}", f"/guilds/{GUILD_ID}/members/{BOT_ID}")  # once for both checks
    assert [r.path for r in discord.requests if r.method == "GET" and r.path in read_once] == list(read_once)
    assert line(lines, "DISCORD_TOKEN").startswith(f"✅ DISCORD_TOKEN: logged in as Encore (id {BOT_ID})")
    invite = line(lines, "invite URL")
    assert f"client_id={BOT_ID}&scope=bot+applications.commands&permissions={INVITE_PERMISSIONS}" in invite
    assert line(lines, "server(s)") == "✅ the bot is in 1 server(s)"
    assert line(lines, "server 'Encore Test Guild'").startswith("✅")
    assert "results go to each command's channel" in line(lines, "server 'Encore Test Guild'")
    assert line(lines, "SUNOAPI_KEY") == "✅ SUNOAPI_KEY: accepted by sunoapi.co (it does not report credits)"
    assert line(lines, "voice:") == "✅ voice: PyNaCl and davey (Discord's end-to-end encryption) are installed"
    assert "1 task(s) waiting, 0 at the provider; no Encore running on it" in line(lines, "DATABASE_PATH")
    assert lines[-1] == "Everything Encore needs works."


async def test_a_refused_token(tmp_path: Path) -> None:
    async with FakeDiscord(token="the-real-token") as discord, fast_sunoapi() as suno:
        env = {**sunoapi_env(discord, suno, tmp_path / "encore.db"), "DISCORD_TOKEN": TOKEN}
        code, lines = await check(env, tmp_path, "--check")  # as `scripts/start --check` passes it
    assert code == 1
    assert line(lines, "DISCORD_TOKEN") == (
        "❌ DISCORD_TOKEN: Discord refused the token; copy it again from the Developer Portal"
    )
    assert line(lines, "SUNOAPI_KEY").startswith("✅")  # the other checks still run


async def test_discord_unreachable(tmp_path: Path) -> None:
    port = free_port()
    async with FakeDiscord() as discord, fast_sunoapi() as suno:
        env = sunoapi_env(discord, suno, tmp_path / "encore.db")
    env["DISCORD_API_BASE"] = f"http://127.0.0.1:{port}/api/v10"
    code, lines = await check(env, tmp_path)
    assert code == 1
    assert f"❌ Discord unreachable at http://127.0.0.1:{port}/api/v10: cannot connect to 127.0.0.1:{port}" in lines[0]


async def test_a_permission_missing_in_the_results_channel(tmp_path: Path) -> None:
    database = tmp_path / "encore.db"
    async with FakeDiscord() as discord, fast_sunoapi() as suno:
        results = await discord.add_channel("songs")
        store = await SqliteStore.open(database)
        await store.update_guild_settings(GUILD_ID, {"results_channel_id": results})
        await store.close()
        await discord.deny_permission(results, "attach_files", "add_reactions")
        code, lines = await check(sunoapi_env(discord, suno, database), tmp_path)
        assert code == 1
        assert line(lines, "server 'Encore Test Guild'") == (
            "❌ server 'Encore Test Guild': the bot cannot attach files, add reactions in its results channel "
            "#songs; grant that to its role, or in the channel's permissions"
        )
        await discord.deny_permission(results, "view_channel")
        code, lines = await check(sunoapi_env(discord, suno, database), tmp_path)
        assert code == 1
        assert f"the bot cannot view its results channel {results}" in line(lines, f"server {GUILD_ID}")
        await discord.delete_channel(results)
        code, lines = await check(sunoapi_env(discord, suno, database), tmp_path)
        assert f"its results channel {results} is gone" in line(lines, f"server {GUILD_ID}")


async def test_voice_channels_where_listen_would_be_refused(tmp_path: Path) -> None:
    async with FakeDiscord() as discord, fast_sunoapi() as suno:
        lounge = await discord.add_voice_channel("Lounge")
        stage = await discord.add_voice_channel("Stage", stage=True)
        hidden = await discord.add_voice_channel("Hidden")
        await discord.add_voice_channel("Open")
        await discord.deny_permission(lounge, "connect")
        await discord.deny_permission(stage, "speak")
        await discord.deny_permission(hidden, "view_channel")
        code, lines = await check(sunoapi_env(discord, suno, tmp_path / "encore.db"), tmp_path)
    assert code == 1
    assert line(lines, "'Lounge'") == (
        "❌ server 'Encore Test Guild': the bot cannot connect in the voice channel 'Lounge', so /listen is refused "
        "there; grant Connect to its role or in that channel"
    )
    assert "cannot speak in the voice channel 'Stage'" in line(lines, "'Stage'")
    assert not [text for text in lines if "'Hidden'" in text or "'Open'" in text]


async def test_a_permission_missing_in_the_server(tmp_path: Path) -> None:
    no_embeds = discord_py.Permissions(view_channel=True, send_messages=True, attach_files=True).value
    async with (
        FakeDiscord(everyone_permissions=no_embeds, bot_permissions=no_embeds) as discord,
        fast_sunoapi() as suno,
    ):
        code, lines = await check(sunoapi_env(discord, suno, tmp_path / "encore.db"), tmp_path)
    assert code == 1
    text = line(lines, "server 'Encore Test Guild'")
    assert text.startswith("❌") and "cannot embed links, add reactions, read message history in the server" in text


async def test_a_refused_or_unreachable_provider(tmp_path: Path) -> None:
    database = tmp_path / "encore.db"
    async with FakeDiscord() as discord, fast_sunoapi() as suno:
        env = sunoapi_env(discord, suno, database)
        refused = {**env, "SUNOAPI_KEY": "a-key-sunoapi-does-not-know"}
        assert await check_line(refused, tmp_path, "SUNOAPI_KEY", exit_code=1) == (
            "❌ SUNOAPI_KEY: sunoapi.co refused the key; copy it again from your sunoapi.co account"
        )
        await check_unreachable(env, tmp_path, "SUNOAPI_BASE_URL", "sunoapi.co")


async def test_apiframe_credits_and_a_refused_key(tmp_path: Path) -> None:
    async with FakeDiscord() as discord, fast_sunoapi() as suno, FakeApiframe(PROVIDER_KEY) as apiframe:
        env = provider_env(
            discord, suno, tmp_path, {"APIFRAME_KEY": PROVIDER_KEY, "APIFRAME_BASE_URL": apiframe.base_url}
        )
        assert await check_line(env, tmp_path, "APIFRAME_KEY", exit_code=0) == (
            f"✅ APIFRAME_KEY: accepted by apiframe, {apiframe.credits} credits left"
        )
        apiframe.api_key = "revoked"
        assert (await check_line(env, tmp_path, "APIFRAME_KEY", exit_code=1)).startswith(
            "❌ APIFRAME_KEY: apiframe refused the key"
        )


async def test_sunoapi_org_credits_a_refused_key_and_an_unreachable_reseller(tmp_path: Path) -> None:
    async with FakeDiscord() as discord, fast_sunoapi() as suno, FakeSunoApiOrg(PROVIDER_KEY, credits=480) as org:
        env = provider_env(
            discord, suno, tmp_path, {"SUNOAPI_ORG_KEY": PROVIDER_KEY, "SUNOAPI_ORG_BASE_URL": org.base_url}
        )
        assert await check_line(env, tmp_path, "SUNOAPI_ORG_KEY", exit_code=0) == (
            "✅ SUNOAPI_ORG_KEY: accepted by sunoapi.org, 480 credits left"
        )
        org.credits = 0
        assert "no credits are left" in await check_line(env, tmp_path, "SUNOAPI_ORG_KEY", exit_code=1)
        org.api_key = "revoked"
        assert (await check_line(env, tmp_path, "SUNOAPI_ORG_KEY", exit_code=1)).startswith(
            "❌ SUNOAPI_ORG_KEY: sunoapi.org refused the key"
        )
        await check_unreachable(env, tmp_path, "SUNOAPI_ORG_BASE_URL", "sunoapi.org")


async def test_a_database_that_cannot_be_used(tmp_path: Path) -> None:
    database = tmp_path / "encore.db"
    database.write_bytes(b"\x00not sqlite\x00" * 512)
    async with FakeDiscord() as discord, fast_sunoapi() as suno:
        code, lines = await check(sunoapi_env(discord, suno, database), tmp_path)
    assert code == 1
    assert line(lines, "DATABASE_PATH").startswith(f"❌ DATABASE_PATH={database}: is not an SQLite database")


async def test_beside_a_running_bot_with_webhooks(tmp_path: Path) -> None:
    port = free_port()
    async with FakeDiscord() as discord, fast_sunoapi() as suno, FakeApiframe(PROVIDER_KEY) as apiframe:
        env = provider_env(
            discord,
            suno,
            tmp_path,
            {
                "APIFRAME_KEY": PROVIDER_KEY,
                "APIFRAME_BASE_URL": apiframe.base_url,
                "PUBLIC_WEBHOOK_URL": f"http://127.0.0.1:{port}",
                "WEBHOOK_HOST": "127.0.0.1",
                "WEBHOOK_PORT": str(port),
            },
        )
        code, lines = await check(env, tmp_path)
        assert code == 0  # before the first start: nothing to reach yet, and not a failure
        assert line(lines, "PUBLIC_WEBHOOK_URL").startswith("ℹ️ PUBLIC_WEBHOOK_URL: not checked, Encore is not running")
        bot = await BotProcess.start(env, tmp_path)
        code, lines = await check(env, tmp_path)
        assert await bot.terminate() == 0
    assert code == 0, "\n".join(lines)
    assert "in use by a running Encore" in line(lines, "DATABASE_PATH")
    receiver = f"✅ PUBLIC_WEBHOOK_URL: Encore's receiver answers at http://127.0.0.1:{port}/healthz ("
    assert line(lines, "PUBLIC_WEBHOOK_URL").startswith(receiver)


async def test_a_postgresql_database(tmp_path: Path) -> None:
    """With DATABASE_URL the check reads PostgreSQL (its password never printed); backup points at pg_dump."""
    async with fresh_database() as url, FakeDiscord(token=TOKEN) as discord, fast_sunoapi() as suno:
        env = {**sunoapi_env(discord, suno, tmp_path / "encore.db"), "DISCORD_TOKEN": TOKEN, "DATABASE_URL": url}
        code, lines = await check(env, tmp_path)
        assert code == 0, "\n".join(lines)
        assert "DATABASE_URL: not created yet" in line(lines, "DATABASE_URL")
        store = await PostgresStore.open(url)
        await store.create_task(
            Requester(user_id=1, channel_id=CHANNEL_ID, guild_id=GUILD_ID), "sunoapi", ExtendRequest(CLIP, 30.0)
        )
        code, lines = await check(env, tmp_path)
        await store.close()
        assert code == 0, "\n".join(lines)
        assert "1 task(s) waiting, 0 at the provider; in use by a running Encore" in line(lines, "DATABASE_URL")
        code, lines = await check({**env, "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}, tmp_path)
        assert code == 1 and line(lines, "DATABASE_URL").startswith("❌ DATABASE_URL: cannot connect")
        backup = await BotProcess.spawn(env, tmp_path, "backup", str(tmp_path / "copy.db"))
        assert await backup.wait(30) == 1 and "pg_dump" in backup.lines[-1]
    assert not (tmp_path / "encore.db").exists() and not (tmp_path / "copy.db").exists()


async def test_apiframe_v2_credits_an_inactive_key_and_an_unreachable_api(tmp_path: Path) -> None:
    async with FakeDiscord() as discord, fast_sunoapi() as suno, FakeApiframeV2(PROVIDER_KEY, credits=77) as api:
        env = provider_env(
            discord, suno, tmp_path, {"APIFRAME_V2_KEY": PROVIDER_KEY, "APIFRAME_V2_BASE_URL": api.base_url}
        )
        assert await check_line(env, tmp_path, "APIFRAME_V2_KEY", exit_code=0) == (
            "✅ APIFRAME_V2_KEY: accepted by apiframe v2, 77 credits left"
        )
        assert api.calls("/v2/me")[0].headers["x-api-key"] == PROVIDER_KEY
        api.inactive = True
        assert (await check_line(env, tmp_path, "APIFRAME_V2_KEY", exit_code=1)).startswith(
            "❌ APIFRAME_V2_KEY: apiframe v2 refused the key"
        )
        await check_unreachable(env, tmp_path, "APIFRAME_V2_BASE_URL", "apiframe v2")


async def test_suno_api_limits_with_and_without_a_proxy_key_and_suno_unreachable(tmp_path: Path) -> None:
    async with FakeDiscord() as discord, fast_sunoapi() as suno, FakeSunoApiSelfHosted(credits=40) as instance:
        env = provider_env(
            discord, suno, tmp_path, {"SUNO_PROVIDER": "suno_api", "SUNO_API_BASE_URL": instance.base_url}
        )
        assert await check_line(env, tmp_path, "suno-api (no key)", exit_code=0) == (
            "✅ suno-api (no key): accepted by suno-api, 40 credits left"
        )
        instance.api_key = "proxy-key"  # now behind a proxy that wants a key
        assert "suno-api refused the key" in await check_line(env, tmp_path, "suno-api (no key)", exit_code=1)
        keyed = {**env, "SUNO_API_KEY": "proxy-key"}
        assert await check_line(keyed, tmp_path, "SUNO_API_KEY", exit_code=0) == (
            "✅ SUNO_API_KEY: accepted by suno-api, 40 credits left"
        )
        instance.suno_down = True
        assert (await check_line(keyed, tmp_path, "suno-api unreachable", exit_code=1)).startswith(
            f"❌ suno-api unreachable at {instance.base_url}: suno_api is down: HTTP 503 on /api/get_limit"
        )
