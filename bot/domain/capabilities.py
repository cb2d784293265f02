"""What each provider accepts, in one table: validation reads it instead of branching on provider names.

Suno's input limits change with its models and are third-party reports; they live here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TextLimits:
    """Suno's length limits (characters) for one model family, as third parties report them."""

    title: int
    style: int
    lyrics: int
    prompt: int


LEGACY_LIMITS = TextLimits(title=80, style=200, lyrics=3000, prompt=3000)
V4_LIMITS = TextLimits(title=80, style=200, lyrics=3000, prompt=500)
V45_LIMITS = TextLimits(title=80, style=1000, lyrics=5000, prompt=500)


@dataclass(frozen=True, slots=True)
class ProviderCapabilities:
    """One provider's contract as validation needs it."""

    label: str
    # Models a member may pick, with the text limits of each; `None` is the limit when no model is given.
    models: Mapping[str | None, TextLimits]
    fixed_model: str = ""  # what the provider always runs when there is no choice ("v3.5")
    default_generate_model: str | None = None
    one_text: bool = False  # takes lyrics or a prompt, not both (a single `prompt` field)
    needs_parent_task: bool = False  # an extend names the provider task that made the song
    uploads: bool = False  # members can extend their own tracks
    instrumental: bool = False
    webhooks: bool = False
    upload_max_bytes: int = 0

    @property
    def choosable_models(self) -> tuple[str, ...]:
        """The models a member may name; empty when the provider runs one fixed model."""
        return tuple(model for model in self.models if model is not None)

    def limits(self, model: str | None) -> TextLimits:
        return self.models[model]


APIFRAME_MODELS: tuple[str, ...] = ("V4", "V4_5", "V4_5PLUS", "V4_5ALL", "V5")

CAPABILITIES: dict[str, ProviderCapabilities] = {
    "sunoapi": ProviderCapabilities(
        label="sunoapi.co", models={None: LEGACY_LIMITS}, fixed_model="v3.5", one_text=True
    ),
    "apiframe": ProviderCapabilities(
        label="apiframe",
        models={None: V4_LIMITS, **{model: V4_LIMITS if model == "V4" else V45_LIMITS for model in APIFRAME_MODELS}},
        # apiframe's `suno-imagine` requires a model; this one is used when the member picks none.
        default_generate_model="V4_5",
        needs_parent_task=True,
        uploads=True,
        instrumental=True,
        webhooks=True,
        upload_max_bytes=10 * 1024 * 1024,
    ),
}


def capabilities(provider: str) -> ProviderCapabilities:
    return CAPABILITIES[provider]


def offering(feature: str) -> str:
    """The providers that offer `feature` ("apiframe"), for messages that say where it would work."""
    return " or ".join(caps.label for caps in CAPABILITIES.values() if getattr(caps, feature))


def offering_models() -> str:
    return " or ".join(caps.label for caps in CAPABILITIES.values() if caps.choosable_models)


# The longest text any provider takes: the ceiling of the command options' `max_length`.
COMMAND_MAX_LENGTHS = TextLimits(
    title=max(limit.title for caps in CAPABILITIES.values() for limit in caps.models.values()),
    style=max(limit.style for caps in CAPABILITIES.values() for limit in caps.models.values()),
    lyrics=max(limit.lyrics for caps in CAPABILITIES.values() for limit in caps.models.values()),
    prompt=max(limit.prompt for caps in CAPABILITIES.values() for limit in caps.models.values()),
)
