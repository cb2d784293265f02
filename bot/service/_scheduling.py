"""When to poll a task next: spend the provider's poll budget on the tasks most likely to be done.

Pure arithmetic, no I/O: the task service asks `PollPolicy.delay` after every poll answer and stores the result
as the task's `next_attempt_at`, so the schedule survives restarts. The store hands out due tasks earliest first,
so a short delay is also a high priority.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain.models import ProviderState

# A Suno extend usually takes one to three minutes; the estimate until Encore has seen some finish.
DEFAULT_TYPICAL_SECONDS = 120.0
# A task far from done is still polled at least once per this many round trips of the budget: far tasks use at
# most 1/FAR_ROUND_TRIPS of it, the rest goes to the tasks likely done, and none is forgotten.
FAR_ROUND_TRIPS = 1.5
# How much the typical duration moves towards each newly observed one (an exponential moving average).
LEARNING_RATE = 0.2


@dataclass(frozen=True, slots=True)
class PollPolicy:
    """The poll timing rules for one provider.

    `interval` is the gap between polls of a task that may finish any moment (POLL_INTERVAL_SECONDS).
    `tasks_per_second` is the provider's poll budget counted in tasks (polls per second × tasks per poll), or
    None when the provider documents no limit: then every task is simply polled every `interval`.
    `webhook_interval`, when set, is how often a task that reports by webhook is polled, as a safety net.
    """

    interval: float
    tasks_per_second: float | None = None
    webhook_interval: float | None = None
    typical_seconds: float = DEFAULT_TYPICAL_SECONDS

    def remaining(self, age: float, state: ProviderState, progress: int | None) -> float:
        """Estimated seconds until the task is done, from its age (since submission), state and progress."""
        if state is ProviderState.RUNNING:
            if progress and progress < 100:
                return age * (100 - progress) / progress
            return 0.0  # generating without a percentage (sunoapi's `streaming`): the end may come any moment
        # Queued (or unknown): done around the typical duration, but never "any moment" while still queued.
        return max(self.typical_seconds - age, self.typical_seconds / 4)

    def delay(
        self, *, age: float, state: ProviderState, progress: int | None, in_flight: int, by_webhook: bool = False
    ) -> float:
        """Seconds until the next poll of a task, given how many tasks (`in_flight`) share the budget.

        `by_webhook`: the task was submitted with a webhook URL, so polling it is only a safety net (a task
        submitted before webhooks were turned on has none and is polled as usual).
        """
        if by_webhook and self.webhook_interval is not None:
            return self.webhook_interval
        if self.tasks_per_second is None:
            return self.interval
        round_trip = in_flight / self.tasks_per_second  # how long polling every task once takes at full budget
        if round_trip <= self.interval:
            return self.interval  # the budget covers every task at full speed
        # Likely done soon: full speed. Otherwise come back halfway to the estimated end, but no later than the
        # far tasks' share of the budget allows (the store polls the earliest due first, so near tasks lead).
        remaining = self.remaining(age, state, progress)
        return min(FAR_ROUND_TRIPS * round_trip, max(self.interval, remaining / 2))

    def learned(self, observed_seconds: float) -> PollPolicy:
        """This policy with its typical duration moved towards one more observed submit-to-finish time."""
        typical = self.typical_seconds + LEARNING_RATE * (observed_seconds - self.typical_seconds)
        return PollPolicy(self.interval, self.tasks_per_second, self.webhook_interval, max(self.interval, typical))
