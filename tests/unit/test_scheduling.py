"""The poll policy: full speed when the budget allows, likely-done tasks first when it does not, never over it."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.domain.models import ProviderState
from bot.service._scheduling import FAR_ROUND_TRIPS, PollPolicy

QUEUED, RUNNING = ProviderState.QUEUED, ProviderState.RUNNING


def test_without_a_documented_limit_every_task_is_polled_every_interval() -> None:
    policy = PollPolicy(interval=5.0)
    assert policy.delay(age=0.0, state=QUEUED, progress=None, in_flight=1000) == 5.0


def test_webhook_backed_tasks_are_polled_only_as_a_safety_net() -> None:
    policy = PollPolicy(interval=5.0, tasks_per_second=2.0, webhook_interval=120.0)
    assert policy.delay(age=100.0, state=RUNNING, progress=None, in_flight=1, by_webhook=True) == 120.0
    # Submitted before webhooks were turned on: no webhook will come, so it is polled as usual.
    assert policy.delay(age=100.0, state=RUNNING, progress=None, in_flight=1, by_webhook=False) == 5.0


def test_when_the_budget_covers_every_task_all_are_polled_at_full_speed() -> None:
    policy = PollPolicy(interval=5.0, tasks_per_second=2.0)
    assert policy.delay(age=0.0, state=QUEUED, progress=None, in_flight=10) == 5.0


def test_over_budget_the_tasks_likely_done_keep_full_speed_and_the_rest_wait() -> None:
    policy = PollPolicy(interval=5.0, tasks_per_second=2.0, typical_seconds=120.0)
    streaming = policy.delay(age=50.0, state=RUNNING, progress=None, in_flight=40)
    nearly_done = policy.delay(age=90.0, state=RUNNING, progress=95, in_flight=40)
    just_queued = policy.delay(age=0.0, state=QUEUED, progress=None, in_flight=40)
    early_progress = policy.delay(age=30.0, state=RUNNING, progress=10, in_flight=40)
    assert streaming == nearly_done == 5.0
    assert just_queued == FAR_ROUND_TRIPS * 20.0  # halfway to the typical end is 60 s: capped by the budget share
    assert early_progress == 30.0  # 30 s old at 10 %: about 270 s to go


def test_a_queued_task_is_polled_more_often_as_it_nears_the_typical_duration() -> None:
    policy = PollPolicy(interval=5.0, tasks_per_second=2.0, typical_seconds=120.0)
    delays = [policy.delay(age=age, state=QUEUED, progress=None, in_flight=60) for age in (0.0, 60.0, 100.0, 500.0)]
    assert delays == [45.0, 30.0, 15.0, 15.0]  # an overdue queued task is still not "any moment"


def test_learning_moves_the_typical_duration_towards_what_was_observed() -> None:
    policy = PollPolicy(interval=5.0, tasks_per_second=2.0, typical_seconds=120.0)
    for _ in range(30):
        policy = policy.learned(40.0)
    assert abs(policy.typical_seconds - 40.0) < 1.0


@given(
    in_flight=st.integers(1, 2000),
    budget=st.floats(0.1, 50.0),
    interval=st.floats(0.05, 30.0),
    age=st.floats(0.0, 3600.0),
)
def test_no_task_is_polled_faster_than_the_interval_or_left_beyond_its_budget_share(
    in_flight: int, budget: float, interval: float, age: float
) -> None:
    policy = PollPolicy(interval=interval, tasks_per_second=budget)
    delay = policy.delay(age=age, state=QUEUED, progress=None, in_flight=in_flight)
    assert interval - 1e-9 <= delay <= max(interval, FAR_ROUND_TRIPS * in_flight / budget) + 1e-9
