"""The whole song's post stays within Discord's embed limits however long its chain and its titles."""

from __future__ import annotations

from pathlib import Path

from bot.domain.wholesong import WholeSongTimeline, chain_parts, timeline
from bot.service.ports import WholeSongPost
from bot.ui.wholesong import whole_song_embed, whole_song_nonce
from tests.ui.test_listing import chain_of


def test_a_sixty_part_chain_with_huge_titles_fits_one_embed() -> None:
    chain = chain_of(60)
    parts = chain_parts(chain)
    spans = timeline(parts, 200.0)
    post = WholeSongPost(
        song=chain[-1],
        chain=chain,
        parts=parts,
        audio=Path("whole.mp3"),
        waveform_png=b"",
        timeline=WholeSongTimeline(spans[-1].end or 0.0, spans, tuple(span.start for span in spans[1:]), ()),
        bitrate=96_000,
        makers=[song.owner_id or 0 for song in chain],
        channel_id=1,
        guild_id=1,
        reply_to=None,
    )
    embed = whole_song_embed(post)
    assert len(embed) <= 6000 and len(embed.description or "") <= 4096 and len(embed.title or "") <= 256
    assert all(len(field.value or "") <= 1024 for field in embed.fields)
    assert "more extensions" in (embed.description or "") and " more" in (embed.fields[0].value or "")
    assert len(whole_song_nonce(chain[-1].clip_id)) <= 25
