"""The persistent buttons on a result message: Reroll, Extend (a form), Delete — working across a restart."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.harness import PROVIDER_KEY, eventually, is_result, provider_env, running_bot, settings_for
from tests.e2e.test_extend_flow import CLIP
from tests.fakes.discord import CHANNEL_ID, OTHER_USER_ID, FakeDiscord, InteractionRecord
from tests.fakes.providers import FakeSunoApi


async def reply_text(interaction: InteractionRecord) -> str:
    """The text an ephemeral answer ended with (a direct reply, or a deferred reply once edited)."""
    response = await interaction.wait_response()
    if response.type == 4:
        assert response.data.get("flags") == 64
        return str(response.data["content"])
    message = await interaction.wait_original(lambda m: not m.loading)
    assert message.ephemeral
    return message.content


def custom_ids(components: list[dict[str, object]]) -> list[str]:
    return [str(button["custom_id"]) for row in components for button in row["components"]]  # type: ignore[attr-defined]


async def test_buttons_reroll_extend_and_delete_after_a_restart(tmp_path: Path) -> None:
    async with (
        FakeDiscord() as discord,
        FakeSunoApi(PROVIDER_KEY, clips=[CLIP], submit_interval=0.1, poll_per_second=50) as suno,
    ):
        settings = settings_for(discord, tmp_path / "encore.db", provider_env(suno))
        async with running_bot(discord, settings):
            await discord.invoke_command("extend", {"song": CLIP, "at": "95", "lyrics": "first words"})
            result = await discord.wait_for_message(CHANNEL_ID, is_result)
        task_id = int(result.content.rsplit("#", 1)[1])
        clip_ids = [embed["footer"]["text"].rsplit("clip ", 1)[1] for embed in result.embeds]
        assert custom_ids(result.components) == [
            f"encore:reroll:{task_id}",
            f"encore:extend:{clip_ids[0]}",
            f"encore:extend:{clip_ids[1]}",
            f"encore:whole:{clip_ids[0]}",
            f"encore:whole:{clip_ids[1]}",
            f"encore:delete:{task_id}",
        ]

        async with running_bot(discord, settings) as restarted:
            refused = await discord.click_button(result.id, f"encore:reroll:{task_id}", user_id=OTHER_USER_ID)
            assert "Only the member who asked" in await reply_text(refused)

            first = await discord.click_button(result.id, f"encore:reroll:{task_id}")
            second = await discord.click_button(result.id, f"encore:reroll:{task_id}")
            answers = {await reply_text(first), await reply_text(second)}
            assert "⚠️ You sent this same request a moment ago; it is already in the queue." in answers
            assert any("in line" in answer for answer in answers)
            original = await suno.wait_for_submit()
            reroll = await suno.wait_for_submit()
            assert reroll.json == original.json
            await discord.wait_for_message(CHANNEL_ID, lambda m: is_result(m) and m.id != result.id)

            opener = await discord.click_button(result.id, f"encore:extend:{clip_ids[0]}")
            form = await opener.wait_response()
            assert form.type == 9
            form_id = f"encore:extend-form:{clip_ids[0]}"
            await eventually(lambda: form_id in restarted.bot._connection._view_store._modals, what="the form")
            submitted = await discord.submit_modal(form_id, {"at": "0:30", "prompt": "a long outro"})
            assert "in line" in await reply_text(submitted)
            chained = await suno.wait_for_submit()
            assert chained.json == {"prompt": "a long outro", "continue_clip_id": clip_ids[0], "continue_at": 30}

            bad_form = await discord.click_button(result.id, f"encore:extend:{clip_ids[1]}")
            await bad_form.wait_response()
            bad_id = f"encore:extend-form:{clip_ids[1]}"
            await eventually(lambda: bad_id in restarted.bot._connection._view_store._modals, what="the form")
            rejected = await discord.submit_modal(bad_id, {"at": "soon", "prompt": "x"})
            assert "`at` must be seconds" in await reply_text(rejected)

            not_yours = await discord.click_button(result.id, f"encore:delete:{task_id}", user_id=OTHER_USER_ID)
            assert "can delete it" in await reply_text(not_yours)
            assert not discord.message(result.id).deleted  # type: ignore[union-attr]
            deleted = await discord.click_button(result.id, f"encore:delete:{task_id}")
            assert "Deleted" in await reply_text(deleted)
            assert discord.message(result.id).deleted  # type: ignore[union-attr]
        assert len(suno.submits) == 3
