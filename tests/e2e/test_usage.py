"""`/encore usage` end to end: managers only; per member and per day, failures, credits where the provider tells."""

from __future__ import annotations

import re
from pathlib import Path

from tests.e2e.harness import PROVIDER_KEY, is_result, provider_env, running_bot, settings_for
from tests.fakes.discord import CHANNEL_ID, OTHER_USER_ID, OWNER_ID, USER_ID, FakeDiscord, StoredMessage
from tests.fakes.providers import FakeApiframe, FakeSunoApi


def fields_of(message: StoredMessage) -> dict[str, str]:
    return {field["name"]: field["value"] for field in message.embeds[0]["fields"]}


async def test_usage_shows_members_days_failures_and_apiframe_credits(tmp_path: Path) -> None:
    async with FakeDiscord() as discord, FakeApiframe(PROVIDER_KEY, credits=500, credits_per_submit=10) as apiframe:
        settings = settings_for(discord, tmp_path / "encore.db", provider_env(apiframe))
        async with running_bot(discord, settings):
            await discord.invoke_command("generate", {"prompt": "made"})
            await discord.wait_for_message(CHANNEL_ID, is_result)
            apiframe.inject("/suno-imagine", status=400, body={"errors": [{"msg": "prompt refused"}]})
            await discord.invoke_command("generate", {"prompt": "refused"}, user_id=OTHER_USER_ID)
            await discord.wait_for_message(CHANNEL_ID, lambda m: "prompt refused" in m.content)

            member = await discord.invoke_command("encore", {}, subcommand="usage")
            refusal = await member.wait_original()
            assert refusal.ephemeral and "Manage Server" in refusal.content and not refusal.embeds

            report = await discord.invoke_command("encore", {}, subcommand="usage", user_id=OWNER_ID)
            shown = await report.wait_original(lambda m: not m.loading)
            assert shown.ephemeral and shown.embeds[0]["title"] == "📊 Encore usage · last 7 days"
            assert shown.embeds[0]["description"] == "**Total:** 2 asked · 1 sent to Suno · 1 failed"
            fields = fields_of(shown)
            assert fields["Per member"].split("\n") == [
                f"<@{USER_ID}> · 1 asked · 1 sent to Suno · 0 failed",
                f"<@{OTHER_USER_ID}> · 1 asked · 0 sent to Suno · 1 failed",
            ]
            days = fields["Per day"].split("\n")
            assert len(days) == 7 and all(re.match(r"<t:\d+:d> · ", day) for day in days)
            assert days[-1].endswith("2 asked · 1 sent to Suno · 1 failed") and days[0].endswith(
                "0 asked · 0 sent to Suno · 0 failed"
            )
            assert fields["Credits left"] == "490"
            assert str(USER_ID) not in shown.embeds[0]["description"]

            apiframe.inject("/account", status=500, times=2)
            failing = await discord.invoke_command("encore", {}, subcommand="usage", user_id=OWNER_ID)
            credits = fields_of(await failing.wait_original(lambda m: not m.loading))["Credits left"]
            assert credits.startswith("unknown: apiframe did not answer")


async def test_usage_with_sunoapi_says_credits_are_not_reported(tmp_path: Path) -> None:
    async with FakeDiscord() as discord, FakeSunoApi(PROVIDER_KEY) as suno:
        settings = settings_for(
            discord, tmp_path / "encore.db", {"SUNOAPI_KEY": PROVIDER_KEY, "SUNOAPI_BASE_URL": suno.base_url}
        )
        async with running_bot(discord, settings):
            report = await discord.invoke_command("encore", {}, subcommand="usage", user_id=OWNER_ID)
            shown = await report.wait_original(lambda m: not m.loading)
            assert fields_of(shown)["Per member"] == "Nobody asked for a song."
            assert fields_of(shown)["Credits left"] == "sunoapi does not report credits"
