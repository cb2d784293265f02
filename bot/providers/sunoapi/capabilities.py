"""What sunoapi.co accepts: one fixed model (v3.5) and one text field, with Suno's v3.5 limits."""

from __future__ import annotations

from bot.domain.capabilities import ProviderCapabilities, TextLimits

LEGACY_LIMITS = TextLimits(title=80, style=200, lyrics=3000, prompt=3000)

CAPABILITIES = ProviderCapabilities(
    name="sunoapi", label="sunoapi.co", models={None: LEGACY_LIMITS}, fixed_model="v3.5", one_text=True
)
