"""Songs in a store as the service records them: a task sent to the provider that made the given clips."""

from __future__ import annotations

from bot.domain.models import Clip, Requester, TaskRequest
from bot.store import Store


async def make_songs(store: Store, requester: Requester, request: TaskRequest, *clips: str) -> int:
    """Queue, submit and succeed a task that made `clips` (audio at `https://cdn/<clip>.mp3`); its id."""
    task = await store.create_task(requester, "apiframe", request, dedupe_seconds=0)
    assert task is not None
    # Only a task at the provider can succeed: submit it first, as the service does.
    assert await store.mark_submitted(task.id, f"provider-{task.id}", next_poll_at=0)
    task = await store.get_task(task.id)
    assert task is not None
    assert await store.mark_succeeded(task, [Clip(clip, f"https://cdn/{clip}.mp3", None) for clip in clips])
    return task.id
