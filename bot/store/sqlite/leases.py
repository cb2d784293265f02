"""Leases on SQLite: one process shares the database with nobody, so who works on which task lives in memory."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable


class Leases:
    """Task id → (owner, expiry on the monotonic clock); a restart starts with none, as no process holds any."""

    def __init__(self) -> None:
        self._held: dict[int, tuple[str, float]] = {}
        # Held from a claim's query until its leases are taken, so concurrent claims see each other's.
        self.claiming = asyncio.Lock()

    def free(self, task_ids: Iterable[int]) -> list[int]:
        """The ids, in order, that nobody holds a live lease on."""
        now = time.monotonic()
        return [task_id for task_id in task_ids if self._held.get(task_id, ("", 0.0))[1] <= now]

    def holds(self, task_id: int, owner: str) -> bool:
        """Whether `owner` holds a live lease on the task."""
        holder, until = self._held.get(task_id, ("", 0.0))
        return holder == owner and until > time.monotonic()

    def take(self, task_id: int, owner: str, seconds: float) -> None:
        self._held[task_id] = (owner, time.monotonic() + seconds)

    def release(self, task_id: int) -> None:
        self._held.pop(task_id, None)

    def renew(self, owner: str, task_ids: Iterable[int], seconds: float) -> None:
        until = time.monotonic() + seconds
        for task_id in task_ids:
            if self._held.get(task_id, ("", 0.0))[0] == owner:
                self._held[task_id] = (owner, until)

    def release_all(self, owner: str) -> None:
        for task_id, (holder, _) in list(self._held.items()):
            if holder == owner:
                del self._held[task_id]

    def __len__(self) -> int:
        return len(self._held)
