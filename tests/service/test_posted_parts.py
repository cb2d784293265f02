"""The record of a result's posted messages: what a retried delivery skips, and a failed record as a retry."""

from __future__ import annotations

import pytest

from bot.service import DeliveryError, PostedParts


async def test_a_posted_part_is_recorded_and_skipped_from_then_on() -> None:
    stored: dict[int, int] = {}

    async def record(part: int, message_id: int) -> None:
        stored[part] = message_id

    parts = PostedParts({0: 100}, record)
    assert parts.get(0) == 100 and parts.get(1) is None
    await parts.add(1, 101)
    assert parts.get(1) == 101 and stored == {1: 101}


async def test_a_record_that_fails_is_a_transient_fault_and_the_part_stays_known() -> None:
    async def unavailable(part: int, message_id: int) -> None:
        raise OSError("the database is gone")

    parts = PostedParts({}, unavailable)
    with pytest.raises(DeliveryError) as raised:
        await parts.add(0, 100)
    assert not raised.value.permanent and "could not record" in str(raised.value)
    assert parts.get(0) == 100  # a retry by this process does not post it again
