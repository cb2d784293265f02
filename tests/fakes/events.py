"""The Discord side of the service, reduced to a record of what the service told it.

`RecordingWholeSongEvents` does the same for the whole song's port (`WholeSongEvents`).

`RecordingEvents` subclasses the `TaskEvents` port, so a method whose signature drifts from the port fails mypy,
and one the port gains and the fake lacks fails at instantiation. Its `deliver` answers from `posts`, a script: a
result message id, or an error to raise (a `DeliveryError`, or any other for a bug), one per call.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from bot.domain.records import SongRecord, TaskRecord
from bot.service import ClipMedia, PostedParts, TaskEvents
from bot.service.ports import WholeSongEvents, WholeSongPost

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Progressed:
    """One `task_progressed` call: the task as the service saw it, its queue place and the retry reason."""

    task: TaskRecord
    position: int | None
    retrying: str | None


class RecordingEvents(TaskEvents):
    """Records every event by task id; `changed` wakes a test waiting for the service to tell something."""

    def __init__(self) -> None:
        self.progressed: list[Progressed] = []
        self.failed: list[TaskRecord] = []
        self.resumed: list[TaskRecord] = []
        self.delivery_attempts: list[int] = []
        self.delivered: list[TaskRecord] = []
        self.undeliverable: list[tuple[TaskRecord, list[SongRecord]]] = []
        self.posts: deque[Exception | int] = deque()
        self._changed = asyncio.Condition()

    async def task_progressed(
        self, task: TaskRecord, position: int | None = None, *, retrying: str | None = None
    ) -> None:
        await self._record(self.progressed, Progressed(task, position, retrying))

    async def task_failed(self, task: TaskRecord) -> None:
        await self._record(self.failed, task)

    async def task_resumed(self, task: TaskRecord) -> None:
        await self._record(self.resumed, task)

    def upload_limit(self, guild_id: int | None) -> int:
        return 10 * 1024 * 1024

    async def deliver(
        self, task: TaskRecord, songs: list[SongRecord], media: Mapping[str, ClipMedia], parts: PostedParts
    ) -> int:
        """Post as scripted: the next of `posts` (a message id, or an error), else message 10,000 + `task.id`."""
        await self._record(self.delivery_attempts, task.id)
        answer = self.posts.popleft() if self.posts else 10_000 + task.id
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def task_delivered(self, task: TaskRecord) -> None:
        await self._record(self.delivered, task)

    async def task_undeliverable(self, task: TaskRecord, songs: list[SongRecord]) -> None:
        await self._record(self.undeliverable, (task, songs))

    def ended(self) -> set[int]:
        """The tasks the service has told an end of: posted, failed or undeliverable."""
        return {
            *(task.id for task in self.delivered),
            *(task.id for task in self.failed),
            *(task.id for task, _ in self.undeliverable),
        }

    async def wait_ended(self, task_ids: Iterable[int], timeout: float = 5.0) -> None:
        """Wait until every one of `task_ids` has ended (without a sleep: each event wakes the wait)."""
        wanted = set(task_ids)
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: wanted <= self.ended())

    async def _record(self, into: list[T], item: T) -> None:
        async with self._changed:
            into.append(item)
            self._changed.notify_all()


@dataclass(frozen=True, slots=True)
class PostedWholeSong:
    """A whole song handed over for posting, and the size of its audio file at that moment (it is then removed)."""

    post: WholeSongPost
    audio_bytes: int


class RecordingWholeSongEvents(WholeSongEvents):
    """Posts as message `next_message_id` (counting up), or raises the errors in `refusals` first."""

    def __init__(self, upload_limit: int = 10 * 1024 * 1024) -> None:
        self.posted: list[PostedWholeSong] = []
        self.refusals: deque[Exception] = deque()
        self.failures: list[tuple[int, int | None, str]] = []  # (channel, reply_to, reason) said in the channel
        self.next_message_id = 5_000
        self._upload_limit = upload_limit

    async def result_audio_url(self, task: TaskRecord, position: int) -> str | None:
        return None  # no result message to read an attachment from

    async def maker_names(self, guild_id: int | None, user_ids: list[int]) -> list[str]:
        return [f"member {user_id}" for user_id in user_ids]

    def upload_limit(self, guild_id: int | None) -> int:
        return self._upload_limit

    async def post_whole_song(self, post: WholeSongPost) -> int:
        if self.refusals:
            raise self.refusals.popleft()
        self.posted.append(PostedWholeSong(post, post.audio.stat().st_size))
        self.next_message_id += 1
        return self.next_message_id

    async def whole_song_failed(self, channel_id: int, guild_id: int | None, reply_to: int | None, reason: str) -> None:
        self.failures.append((channel_id, reply_to, reason))
