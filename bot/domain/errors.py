"""Why Encore turns a request down: each a message for the member, none of them a fault of Encore's."""

from __future__ import annotations


class Refusal(Exception):
    """Encore will not take this request; the message says why and what to do, and nothing was spent."""


class InputError(Refusal, ValueError):
    """A member's input cannot become a request; the message tells them how to write it right."""


class QuotaRefused(Refusal):
    """A credit-protection limit (active tasks, cooldown, daily limits) turned the request down.

    `limit` names it and `retry_at` (epoch seconds) is when the member may try again, if known: the Discord side
    words it, with a timestamp each reader sees in their own time zone.
    """

    def __init__(self, limit: str, retry_at: float | None) -> None:
        super().__init__(limit)
        self.limit = limit
        self.retry_at = retry_at


class DuplicateRequest(Refusal):
    """The same member sent the same request moments ago; it is already queued."""


class RerollRefused(Refusal):
    """This member may not reroll this result, or it is not a finished result."""


class NotAccepting(Refusal):
    """Encore takes no new work here: it is restarting, or this server is not allowed."""


class UploadFailed(Refusal):
    """The member's track could not be uploaded to the provider; nothing was spent."""
