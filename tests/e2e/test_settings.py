"""`/encore settings` end to end: managers only; results channel, reroll by anyone and the daily limit take effect."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.e2e.harness import PROVIDER_KEY, is_result, provider_env, running_bot, settings_for
from tests.fakes.discord import CHANNEL_ID, OTHER_USER_ID, OWNER_ID, FakeDiscord, StoredMessage
from tests.fakes.providers import FakeApiframe


def ever_said(fragment: str) -> Callable[[StoredMessage], bool]:
    return lambda message: any(fragment in text for text in (message.content, *(v.content for v in message.edits)))


async def test_settings_are_for_managers_and_change_where_and_how_much(tmp_path: Path) -> None:
    async with FakeDiscord() as discord, FakeApiframe(PROVIDER_KEY) as apiframe:
        settings = settings_for(discord, tmp_path / "encore.db", provider_env(apiframe))
        async with running_bot(discord, settings):
            results = await discord.add_channel("songs")
            refused = await discord.invoke_command("encore", {"daily_limit": 0}, subcommand="settings")
            refusal = await refused.wait_original()
            assert refusal.ephemeral and "Manage Server" in refusal.content

            contradiction = await discord.invoke_command(
                "encore", {"daily_limit": 2, "daily_default": True}, subcommand="settings", user_id=OWNER_ID
            )
            assert "contradict" in (await contradiction.wait_original()).content

            changed = await discord.invoke_command(
                "encore",
                {"results_channel": results, "reroll": "anyone", "daily_limit": 2, "star_threshold": 2},
                subcommand="settings",
                user_id=OWNER_ID,
            )
            saved = await changed.wait_original(lambda message: not message.loading)
            assert saved.ephemeral and saved.content == "✅ Saved."
            fields = {field["name"]: field["value"] for field in saved.embeds[0]["fields"]}
            assert fields["Results channel"] == f"<#{results}>"
            assert fields["Who may reroll"] == "anyone"
            assert fields["Daily songs for the server"] == "2 (set here)"
            assert fields["Showcase"] == "off · at 2 ⭐"

            command = await discord.invoke_command("generate", {"prompt": "a sea shanty"})
            await command.wait_original(ever_said(f"posted in <#{results}>"))
            await command.wait_original(ever_said("✅ posted"))
            first = await apiframe.wait_for_submit()
            result = await discord.wait_for_message(results, is_result)
            assert not [message for message in discord.messages(CHANNEL_ID) if is_result(message)]

            await discord.add_reaction(results, result.id, OTHER_USER_ID, "🔁")
            reroll = await apiframe.wait_for_submit()
            assert reroll.json == first.json
            await discord.wait_for_message(results, lambda m: is_result(m) and m.id != result.id)

            over = await discord.invoke_command("generate", {"prompt": "one more"})
            assert (
                "This server has used its songs for today"
                in (await over.wait_original(lambda m: not m.loading)).content
            )

            reset = await discord.invoke_command(
                "encore", {"results_here": True, "daily_default": True}, subcommand="settings", user_id=OWNER_ID
            )
            reply = await reset.wait_original(lambda m: not m.loading)
            fields = {field["name"]: field["value"] for field in reply.embeds[0]["fields"]}
            assert fields["Results channel"] == "where the command was typed"
            assert fields["Daily songs for the server"] == "no limit (the bot's default)"
            again = await discord.invoke_command("generate", {"prompt": "one more"})
            await again.wait_original(ever_said(f"posted in <#{CHANNEL_ID}>"))
