"""Not a benchmark: draw the README's `docs/now-playing.png` (`python -m bench.now_playing_picture`).

The real bot plays two songs of test tones with `/listen` against the fake Discord and the fake voice server, is
paused, and the now-playing message as the fake Discord stored it (its embed, its buttons and its waveform
attachment) is drawn the way a Discord client lays an embed out: mentions and timestamps as a client shows them.
"""

from __future__ import annotations

import asyncio
import copy
import io
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from bot.ui.render import EMBED_COLOUR
from tests.e2e.listen_harness import is_now_playing, listening
from tests.fakes.discord import CHANNEL_ID, USER_ID, FakeDiscord
from tests.fakes.discord.state import JSON

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "now-playing.png"
BACKGROUND, EMBED, TEXT, MUTED, BUTTON = (49, 51, 56), (43, 45, 49), (242, 243, 245), (181, 186, 193), (78, 80, 88)
DANGER = (218, 55, 60)
WIDTH = 860


@dataclass(frozen=True)
class Shown:
    """The now-playing message as it was while paused (the stored message changes as the session goes on)."""

    embed: JSON
    components: list[JSON]
    waveform: bytes


async def capture(folder: Path) -> tuple[Shown, FakeDiscord, dict[int, str]]:
    async with listening(folder, song_seconds=30.0) as setup:
        first, _, second = await setup.songs(3)
        await setup.join(USER_ID, setup.lounge)
        await setup.listen(first)
        await setup.listen(second)
        await setup.heard(2.0)
        await setup.press("pause")
        message = await setup.discord.wait_for_message(
            CHANNEL_ID, lambda m: is_now_playing(m) and bool(m.attachments) and "Tone 2" in str(m.embeds)
        )
        shown = Shown(
            copy.deepcopy(message.embeds[0]), copy.deepcopy(message.components), message.attachment("waveform.png").data
        )
        names = {channel.id: channel.name for channel in setup.discord.channels.values()}
        await setup.press("stop")
        await setup.left()
        return shown, setup.discord, names


def plain(text: str, discord: FakeDiscord, channels: dict[int, str]) -> str:
    """Mentions and channel links as a client shows them; emoji left out (the default font has none)."""
    text = re.sub(r"<@(\d+)>", lambda m: "@" + discord.members[int(m[1])].user.name, text)
    text = re.sub(r"<#(\d+)>", lambda m: "#" + channels.get(int(m[1]), "channel"), text)
    text = text.replace("**", "")
    return "".join(char for char in text if ord(char) < 0x2000).strip()


def draw(shown: Shown, discord: FakeDiscord, channels: dict[int, str]) -> bytes:
    embed = shown.embed
    waveform = Image.open(io.BytesIO(shown.waveform)).convert("RGB")
    title_font = ImageFont.load_default(size=20)
    font = ImageFont.load_default(size=16)
    small = ImageFont.load_default(size=14)
    left, inner = 24, 44
    height = 150 + 70 + waveform.height * (WIDTH - inner - 40) // waveform.width + 90
    image = Image.new("RGB", (WIDTH, height), BACKGROUND)
    pen = ImageDraw.Draw(image)
    pen.text((left, 14), "Encore  BOT", font=font, fill=TEXT)
    top = 44
    box_bottom = height - 70
    pen.rounded_rectangle((left, top, WIDTH - 16, box_bottom), 6, fill=EMBED)
    pen.rectangle((left, top, left + 4, box_bottom), fill=EMBED_COLOUR.to_rgb())
    y = top + 14
    pen.text((inner, y), "Paused: " + plain(embed["title"], discord, channels), font=title_font, fill=(0, 168, 252))
    y += 32
    pen.text((inner, y), plain(embed["description"], discord, channels), font=font, fill=TEXT)
    y += 32
    x = inner
    for field in embed["fields"]:
        if not field.get("inline"):
            x, y = inner, y + 48
        pen.text((x, y), field["name"], font=small, fill=MUTED)
        pen.text((x, y + 20), plain(field["value"], discord, channels), font=font, fill=TEXT)
        x += 200
    y += 56
    scaled = waveform.resize((WIDTH - inner - 40, waveform.height * (WIDTH - inner - 40) // waveform.width))
    image.paste(scaled, (inner, y))
    x, y = left, box_bottom + 14
    for row in shown.components:
        for button in row["components"]:
            label = button["label"]
            width = int(pen.textlength(label, font=font)) + 32
            pen.rounded_rectangle((x, y, x + width, y + 36), 4, fill=DANGER if button["style"] == 4 else BUTTON)
            pen.text((x + 16, y + 9), label, font=font, fill=TEXT)
            x += width + 8
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="encore-now-playing-") as folder:
        shown, discord, channels = asyncio.run(capture(Path(folder)))
        picture = draw(shown, discord, channels)
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_bytes(picture)
    print(f"{OUT.relative_to(ROOT)}: {len(picture)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
