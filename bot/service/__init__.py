"""The task service: intake, submission, polling, delivery and community rules, over the store and a provider.

Nothing here imports discord: the Discord side plugs in through `ports.TaskEvents`.
"""

from bot.service.ports import Accepted, ClipMedia, DeliveryError, Metrics, NoMetrics, PostedParts, TaskEvents
from bot.service.tasks import TaskService

__all__ = ["Accepted", "ClipMedia", "DeliveryError", "Metrics", "NoMetrics", "PostedParts", "TaskEvents", "TaskService"]
