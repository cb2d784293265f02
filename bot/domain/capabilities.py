"""The shape of what a provider accepts: validation reads it instead of branching on provider names.

Each provider's own entry (its models and their text limits) lives in its package under `bot.providers`; the
registry hands them to whoever validates, so the domain never imports a provider.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TextLimits:
    """Suno's length limits (characters) for one model family, as third parties report them."""

    title: int
    style: int
    lyrics: int
    prompt: int


def ceiling(limits: Iterable[TextLimits]) -> TextLimits:
    """The largest of each limit: what a command option may take before the chosen model's limit is checked."""
    every = list(limits)
    return TextLimits(
        title=max(limit.title for limit in every),
        style=max(limit.style for limit in every),
        lyrics=max(limit.lyrics for limit in every),
        prompt=max(limit.prompt for limit in every),
    )


@dataclass(frozen=True, slots=True)
class ProviderCapabilities:
    """One provider's contract as validation needs it."""

    name: str  # the registry's name, as in SUNO_PROVIDER and the songs it made ("apiframe")
    label: str  # how members and operators know it ("apiframe", "sunoapi.co")
    # Models a member may pick, newest first, with the text limits of each; `None` is the limit when no model is
    # given.
    models: Mapping[str | None, TextLimits]
    fixed_model: str = ""  # what the provider always runs when there is no choice ("v3.5")
    default_generate_model: str | None = None
    one_text: bool = False  # takes lyrics or a prompt, not both (a single `prompt` field)
    needs_parent_task: bool = False  # an extend names the provider task that made the song
    continue_before_end: bool = False  # a continue point must be strictly inside the song, never at its end
    extend_keeps_model: bool = False  # an extend runs the model of the song it continues, and no other
    needs_style_and_title: bool = False  # an extend, and a song from lyrics, must have a style and a title
    uploads: bool = False  # members can extend their own tracks
    instrumental: bool = False
    webhooks: bool = False
    upload_max_bytes: int = 0
    upload_max_seconds: float | None = None  # the longest track it extends, when it says

    @property
    def choosable_models(self) -> tuple[str, ...]:
        """The models a member may name; empty when the provider runs one fixed model."""
        return tuple(model for model in self.models if model is not None)

    def limits(self, model: str | None) -> TextLimits:
        return self.models[model]
