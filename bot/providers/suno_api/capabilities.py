"""What a self-hosted gcui-art/suno-api accepts: Suno's own model names, newest first, and Suno's text limits."""

from __future__ import annotations

from bot.domain.capabilities import ProviderCapabilities, TextLimits

# Suno's limits as third parties report them: v4 takes less style and fewer lyrics than v4.5 and later. v3.5,
# suno-api's own default, is not offered: Suno retired it and the API providers no longer list it.
OLDER_LIMITS = TextLimits(title=80, style=200, lyrics=3000, prompt=500)
NEWER_LIMITS = TextLimits(title=100, style=1000, lyrics=5000, prompt=500)
MODEL_LIMITS: dict[str | None, TextLimits] = {
    "chirp-fenix": NEWER_LIMITS,  # v5.5
    "chirp-crow": NEWER_LIMITS,  # v5
    "chirp-bluejay": NEWER_LIMITS,  # v4.5+
    "chirp-auk": NEWER_LIMITS,  # v4.5
    "chirp-v4": OLDER_LIMITS,
}
MODELS: tuple[str, ...] = tuple(model for model in MODEL_LIMITS if model)
# suno-api's own default is chirp-v3-5, retired by Suno: Encore always names a model, the newest unless chosen.
DEFAULT_MODEL = "chirp-fenix"

CAPABILITIES = ProviderCapabilities(
    name="suno_api",
    label="suno-api",
    models={None: MODEL_LIMITS[DEFAULT_MODEL], **MODEL_LIMITS},
    default_generate_model=DEFAULT_MODEL,
    one_text=True,  # extend_audio and custom_generate sing `prompt`; /api/generate takes a description instead
    continue_before_end=True,  # Suno continues from a point inside the clip
    instrumental=True,
)
