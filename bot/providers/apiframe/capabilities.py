"""What apiframe (v1) accepts: its models (docs.apiframe.ai/suno-ai-api/extend) and Suno's text limits for each."""

from __future__ import annotations

from bot.domain.capabilities import ProviderCapabilities, TextLimits

V4_LIMITS = TextLimits(title=80, style=200, lyrics=3000, prompt=500)
V45_LIMITS = TextLimits(title=80, style=1000, lyrics=5000, prompt=500)
# Newest first, as the model choices list them.
MODELS: tuple[str, ...] = ("V5", "V4_5ALL", "V4_5PLUS", "V4_5", "V4")

CAPABILITIES = ProviderCapabilities(
    name="apiframe",
    label="apiframe",
    models={None: V4_LIMITS, **{model: V4_LIMITS if model == "V4" else V45_LIMITS for model in MODELS}},
    # apiframe's `suno-imagine` requires a model; this one is used when the member picks none.
    default_generate_model="V4_5",
    needs_parent_task=True,
    uploads=True,
    instrumental=True,
    webhooks=True,
    upload_max_bytes=10 * 1024 * 1024,
)
