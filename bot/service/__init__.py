"""The task service: intake, submission, polling, delivery and community rules, over the store and a provider.

Nothing here imports discord: the Discord side plugs in through `ports.TaskEvents`.
"""

# The longest text any provider takes: the commands' option limits (the chosen model's own are checked later).
from bot.providers import COMMAND_MAX_LENGTHS
from bot.service.ports import Accepted, ClipMedia, DeliveryError, Metrics, NoMetrics, PostedParts, TaskEvents
from bot.service.tasks import TaskService

__all__ = [
    "COMMAND_MAX_LENGTHS",
    "Accepted",
    "ClipMedia",
    "DeliveryError",
    "Metrics",
    "NoMetrics",
    "PostedParts",
    "TaskEvents",
    "TaskService",
]
