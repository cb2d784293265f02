"""Lists that grow with use stay within Discord's embed limits: a lineage 30 extensions long, huge titles."""

from __future__ import annotations

from bot.domain.models import TaskStatus
from bot.domain.records import SongRecord, TaskRecord
from bot.ui import listing


def chain_of(length: int) -> list[SongRecord]:
    songs: list[SongRecord] = []
    for number in range(length):
        songs.append(
            SongRecord(
                clip_id=f"{number:08d}-0000-4000-8000-000000000000",
                provider="apiframe",
                provider_task_id=None,
                task_id=number + 1,
                owner_id=1_200_000_000_000_000_000 + number,
                guild_id=1,
                title="An extraordinarily long title that goes on and on " * 10,
                duration=200.0,
                audio_url=None,
                image_url=None,
                parent_clip_id=songs[-1].clip_id if songs else None,
                continue_at=95.5 if songs else None,
                created_at=1_700_000_000.0 + number,
            )
        )
    return songs


def test_a_long_lineage_is_folded_to_its_first_and_last_songs_within_the_embed_limit() -> None:
    chain = chain_of(30)
    embed = listing.song_embed(chain[-1], chain, None)
    description = embed.description or ""
    assert len(description) <= 4096 and len(embed) <= 6000
    assert chain[0].clip_id[:8] in description and chain[-1].clip_id[:8] in description
    assert "20 more extensions" in description
    assert chain[10].clip_id[:8] not in description


def test_a_short_lineage_is_shown_whole() -> None:
    chain = chain_of(5)
    lines = listing.lineage_lines(chain, chain[-1].clip_id)
    assert len(lines) == 5 and lines[-1].startswith("→ ▶ ")


def test_the_showcase_repost_folds_the_same_way() -> None:
    chain = chain_of(30)
    task = TaskRecord(
        id=30, kind="extend", status=TaskStatus.DELIVERED, provider="apiframe", provider_task_id=None,
        requester_id=7, guild_id=1, channel_id=2, upload_limit=None, request_json="{}", reroll_of=None,
        provider_status=None, progress=None, error=None, attempts=0, next_attempt_at=0, last_change_at=0,
        submit_started_at=None, result_message_id=3, created_at=0, updated_at=0, finished_at=0,
    )  # fmt: skip
    embed = listing.showcase_embed(task, chain[-1], chain, stars=5)
    assert len(embed.description or "") <= 4096 and len(embed) <= 6000


def test_a_title_or_url_cannot_make_a_link_of_its_own() -> None:
    hostile = listing.linked_title("x](https://evil.example) [y", "https://cdn.example/a.mp3)[Free](https://evil")
    # One link, whose text is the whole title and whose target is the whole (encoded) URL.
    assert hostile.count("](") == 1
    text, url = hostile.split("](")
    assert "https://evil.example" in text and url.startswith("https://cdn.example/a.mp3%29%5BFree%5D%28")
    assert ")" not in url[:-1] and url.endswith(")")
