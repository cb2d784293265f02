"""The whole song across a crash or a stop of the real `python -m bot` process: a SIGKILL between claim and post
leaves a claim that is retaken once it is stale (and posted once); a SIGTERM lets the build in flight finish."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.e2e.harness import eventually
from tests.e2e.test_result_buttons import reply_text
from tests.e2e.test_whole_song import PART_SECONDS, is_whole_song, make_chain
from tests.fakes.discord import CHANNEL_ID, OTHER_USER_ID, FakeDiscord
from tests.fakes.providers import FakeSunoApi
from tests.reliability.harness import BotProcess, rows, sunoapi_env
from tests.support.audio import ToneBank

DISCORD_TOKEN = "whole-song-discord-token"


def claim_of(database: Path, clip_id: str) -> sqlite3.Row | None:
    found = rows(database, "SELECT * FROM whole_songs WHERE clip_id = ?", (clip_id,))
    return found[0] if found else None


async def test_a_crash_between_claim_and_post_is_retaken_once_stale_and_posted_once(tmp_path: Path) -> None:
    async with (
        FakeDiscord(token=DISCORD_TOKEN) as discord,
        FakeSunoApi(submit_interval=0.2, poll_per_second=20) as suno,
    ):
        suno.audio_factory = ToneBank(PART_SECONDS)
        env = sunoapi_env(discord, suno, tmp_path / "encore.db")
        database = Path(env["DATABASE_PATH"])
        bot = await BotProcess.start(env, tmp_path)
        try:
            chain = await make_chain(discord)
            leaf, result = chain.clips[-1], chain.results[-1]
            cover = f"/cdn/image/{leaf}_large.jpeg"
            seen = len(suno.calls(cover))
            suno.inject(cover, status=None, delay=60.0)  # the build hangs at its last download…
            await discord.click_button(result.id, f"encore:whole:{leaf}")
            await eventually(lambda: len(suno.calls(cover)) > seen, what="the build's cover download")
        finally:
            await bot.kill()  # …and the process dies there, claim taken, nothing posted
        claim = claim_of(database, leaf)
        assert claim is not None and claim["state"] == "building" and claim["message_id"] is None

        restarted = await BotProcess.start(env, tmp_path)
        try:
            fresh = await discord.click_button(result.id, f"encore:whole:{leaf}", user_id=OTHER_USER_ID)
            assert "being built" in await reply_text(fresh)
            with sqlite3.connect(database) as db:  # minutes pass: the dead builder's claim turns stale
                db.execute("UPDATE whole_songs SET claimed_at = claimed_at - 600 WHERE clip_id = ?", (leaf,))
            retaken = await discord.click_button(result.id, f"encore:whole:{leaf}", user_id=OTHER_USER_ID)
            assert "Here is the whole song" in await reply_text(retaken), restarted.output
            again = await discord.click_button(result.id, f"encore:whole:{leaf}")
            assert "already posted" in await reply_text(again)
        finally:
            assert await restarted.terminate() == 0, restarted.output
        assert len([m for m in discord.messages(CHANNEL_ID) if is_whole_song(m)]) == 1
        posted = claim_of(database, leaf)
        assert posted is not None and posted["state"] == "posted" and posted["requested_by"] == OTHER_USER_ID


async def test_a_stop_while_it_is_built_lets_the_build_finish(tmp_path: Path) -> None:
    async with (
        FakeDiscord(token=DISCORD_TOKEN) as discord,
        FakeSunoApi(submit_interval=0.2, poll_per_second=20) as suno,
    ):
        suno.audio_factory = ToneBank(PART_SECONDS)
        env = sunoapi_env(discord, suno, tmp_path / "encore.db")
        bot = await BotProcess.start(env, tmp_path)
        chain = await make_chain(discord)
        leaf = chain.clips[-1]
        cover = f"/cdn/image/{leaf}_large.jpeg"
        seen = len(suno.calls(cover))
        suno.inject(cover, status=None, delay=1.0)
        await discord.click_button(chain.results[-1].id, f"encore:whole:{leaf}")
        await eventually(lambda: len(suno.calls(cover)) > seen, what="the build's cover download")
        assert await bot.terminate() == 0, bot.output
        (whole,) = [m for m in discord.messages(CHANNEL_ID) if is_whole_song(m)]
        assert whole.reply_to == chain.results[-1].id
        claim = claim_of(Path(env["DATABASE_PATH"]), leaf)
        assert claim is not None and claim["state"] == "posted" and claim["message_id"] == whole.id
