"""The requester's progress line: a bar where a percentage is known, and links to audio that already streams."""

from __future__ import annotations

import pytest

from bot.domain.models import Clip, ProviderState, ProviderTask
from bot.service._poll import previews_of
from bot.ui.render import preview_links, progress_bar


@pytest.mark.parametrize(
    ("percent", "bar"),
    [(0, "▱▱▱▱▱▱▱▱▱▱ 0%"), (30, "▰▰▰▱▱▱▱▱▱▱ 30%"), (99, "▰▰▰▰▰▰▰▰▰▱ 99%"), (100, "▰▰▰▰▰▰▰▰▰▰ 100%")],
)
def test_a_cell_fills_only_when_its_tenth_is_done(percent: int, bar: str) -> None:
    assert progress_bar(percent) == bar


def test_only_http_links_of_a_running_task_are_previews() -> None:
    clips = (
        Clip("a", "https://audiopipe.suno.ai/?item_id=a", None),
        Clip("b", "javascript:alert(1)", None),
        Clip("c", None, None),
        Clip("", "https://cdn/x.mp3", None),
    )
    assert previews_of(ProviderTask("t", ProviderState.RUNNING, "streaming", clips=clips)) == {
        "a": "https://audiopipe.suno.ai/?item_id=a"
    }
    assert previews_of(ProviderTask("t", ProviderState.RUNNING, "streaming", clips=clips[1:])) is None
    assert previews_of(ProviderTask("t", ProviderState.SUCCEEDED, "complete", clips=clips)) is None


def test_a_link_cannot_break_out_of_its_markdown() -> None:
    assert preview_links({}) == ""
    text = preview_links({"a": "https://x.example/a)](https://evil.example", "b": "https://x.example/b"})
    assert text == (
        "\n🎧 Listen while it is made: [clip 1](https://x.example/a%29%5D%28https://evil.example)"
        " · [clip 2](https://x.example/b)"
    )
