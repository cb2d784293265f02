"""What differs per backend, beneath the SQL written once: the connector, leases, notifications, a few fragments.

The shared modules beside this one (`tasks`, `songs`, `community`, `wholesongs`, `meta`) write each query and its
row mapping once against this base; `bot.store.sqlite` and `bot.store.postgres` fill in the hooks.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from bot.domain.models import TaskStatus
from bot.domain.records import TaskRecord
from bot.store.rows import in_list
from bot.store.sql.connector import Connector, Session


class SqlBackend(ABC):
    """The connector and the hooks each backend implements; the transitions' shared helpers."""

    _db: Connector
    # Assignments (with a leading comma) that end a task's lease in a transition's UPDATE: the lease columns on
    # PostgreSQL; nothing on SQLite, whose leases live in memory and end in `_lease_ended`.
    END_LEASE: ClassVar[str]
    # The column that keeps songs in insertion order, and a task's UTC day of creation as `YYYY-MM-DD`.
    SONG_ORDER: ClassVar[str]
    CREATED_DAY: ClassVar[str]

    @abstractmethod
    async def _claim(
        self, condition: str, order: str, limit: int, owner: str, lease: float, *args: Any
    ) -> list[TaskRecord]:
        """Lease to `owner` up to `limit` tasks meeting `condition` (parameters `args`, from $1), in `order`."""

    @abstractmethod
    async def _earliest_unleased(self, condition: str, *args: Any) -> float | None:
        """The least `next_attempt_at` of the tasks meeting `condition` that nobody leases."""

    @abstractmethod
    async def _execute_if_leased(self, task_id: int, owner: str, sql: str, *args: Any) -> int:
        """Run an UPDATE of task `task_id` only while `owner` holds a live lease on it; return the rows changed."""

    @abstractmethod
    async def claim_delivery(self, task_id: int, owner: str, lease: float) -> bool: ...

    @abstractmethod
    async def renew_leases(self, owner: str, task_ids: Iterable[int], lease: float) -> None: ...

    @abstractmethod
    async def release_leases(self, owner: str) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def listen(self, wake: Callable[[TaskStatus, int], None]) -> None: ...

    @abstractmethod
    def _lease_ended(self, task_id: int) -> None:
        """A transition of the task happened: a backend whose leases are not columns drops the task's here."""

    @abstractmethod
    async def _notify(self, session: Session, status: TaskStatus, task_id: int) -> None:
        """Tell other processes, at commit, that a task was queued or succeeded."""

    @abstractmethod
    async def _serialize(self, session: Session, key: str) -> None:
        """Hold `key` until the transaction ends, so requests on it go one at a time."""

    def _moved(self, task_id: int, changed: int) -> bool:
        """Whether a transition of the task happened (`changed` rows); if it did, its lease ended with it."""
        if changed != 1:
            return False
        self._lease_ended(task_id)
        return True

    async def _update_task(self, task_id: int, expected: Iterable[TaskStatus] | None = None, **fields: Any) -> bool:
        """Set some columns of a task, only while it is in one of the `expected` statuses; return whether it was.

        Like every transition, it ends the lease on the task.
        """
        fields["updated_at"] = time.time()
        assignments = ", ".join(f"{name} = ${index}" for index, name in enumerate(fields, start=2))
        condition = f" AND status IN {in_list(expected)}" if expected is not None else ""
        sql = f"UPDATE tasks SET {assignments}{self.END_LEASE} WHERE id = $1{condition}"
        return self._moved(task_id, await self._db.execute(sql, task_id, *fields.values()))
