"""Songs in a store as the service records them: a task sent to the provider that made the given clips."""

from __future__ import annotations

from bot.domain.models import Clip, Requester, TaskRequest
from bot.store import Store


async def make_songs(
    store: Store, requester: Requester, request: TaskRequest, *clips: str | Clip, provider: str = "apiframe"
) -> int:
    """Queue, submit and succeed a task of `provider` that made `clips` (a clip id alone has its audio at
    `https://cdn/<clip>.mp3`); its id."""
    task = await store.create_task(requester, provider, request, dedupe_seconds=0)
    assert task is not None
    # Only a task at the provider can succeed: submit it first, as the service does.
    assert await store.mark_submitted(task.id, f"provider-{task.id}", next_poll_at=0)
    task = await store.get_task(task.id)
    assert task is not None
    made = [Clip(clip, f"https://cdn/{clip}.mp3", None) if isinstance(clip, str) else clip for clip in clips]
    assert await store.mark_succeeded(task, made)
    return task.id
