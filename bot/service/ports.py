"""What the service needs from the outside world, and what it hands back: the seams the Discord side plugs into."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bot.domain.records import SongRecord, TaskRecord


@dataclass(frozen=True, slots=True)
class Delivered:
    """A posted result, and the song lengths measured from the audio where the provider gave none."""

    message_id: int
    durations: dict[str, float]


@dataclass(frozen=True, slots=True)
class Accepted:
    """A request that became a task, and its place in the submission queue."""

    task: TaskRecord
    position: int


class DeliveryError(Exception):
    """Posting failed; `permanent` when trying again cannot help (channel gone, no permission)."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


class Metrics(Protocol):
    """What the service measures; the composition root plugs in an exporter, so the service imports none."""

    def submitted(self, provider: str, outcome: str) -> None:
        """One submission: `outcome` is "ok" or the kind of error (see `lifecycle.outcome`)."""

    def polled(self, provider: str, outcome: str, tasks: int) -> None:
        """One poll request covering `tasks` tasks."""

    def delivered(self, outcome: str, seconds: float) -> None:
        """One attempt to post a result ("delivered", "retrying", "undeliverable") and how long it took."""

    def rate_limit_wait(self, provider: str, seconds: float) -> None:
        """The submit loop waits `seconds` for the provider's documented pace before the next submission."""


class NoMetrics:
    """Measures nothing: the default for a service built without an exporter (tests, tools)."""

    def submitted(self, provider: str, outcome: str) -> None:
        pass

    def polled(self, provider: str, outcome: str, tasks: int) -> None:
        pass

    def delivered(self, outcome: str, seconds: float) -> None:
        pass

    def rate_limit_wait(self, provider: str, seconds: float) -> None:
        pass


class TaskEvents(Protocol):
    """What the Discord side does when a task moves; the service calls these, never Discord itself."""

    async def task_progressed(
        self, task: TaskRecord, position: int | None = None, *, retrying: str | None = None
    ) -> None:
        """The task's status, progress or place in the submission queue changed, or a poll of it is being retried."""

    async def task_failed(self, task: TaskRecord) -> None:
        """The task ended without a result; `task.error` says why."""

    async def prepare(self, task: TaskRecord, songs: list[SongRecord]) -> None:
        """Fetch what posting needs (audio, covers); slow sources may take long, so this runs outside the slots."""

    async def deliver(self, task: TaskRecord, songs: list[SongRecord]) -> Delivered:
        """Post the finished songs. Raise `DeliveryError` when it cannot."""

    async def task_delivered(self, task: TaskRecord) -> None:
        """The result message is recorded; add what follows it (reactions, the requester's reply)."""

    async def task_undeliverable(self, task: TaskRecord, songs: list[SongRecord]) -> None:
        """The songs exist but cannot be posted where they were asked for; tell the requester another way."""
