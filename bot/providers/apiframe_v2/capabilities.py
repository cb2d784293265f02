"""What apiframe v2 accepts (docs-v2.apiframe.ai/docs/music/suno): its models, newest first, and the text limits."""

from __future__ import annotations

from bot.domain.capabilities import ProviderCapabilities, TextLimits

# The page's limits (title 80, style 1000, prompt 5000; a description at most 500), narrowed for V4 to what Suno's
# V4 takes (style 200, lyrics 3000), so Encore never sends what the model would refuse after charging.
V4_LIMITS = TextLimits(title=80, style=200, lyrics=3000, prompt=500)
LIMITS = TextLimits(title=80, style=1000, lyrics=5000, prompt=500)
MODELS: tuple[str, ...] = ("V5_5", "V5", "V4_5PLUS", "V4_5ALL", "V4_5", "V4")
DEFAULT_MODEL = "V4_5PLUS"  # `model_version`'s documented default

CAPABILITIES = ProviderCapabilities(
    name="apiframe_v2",
    label="apiframe v2",
    models={None: LIMITS, **{model: V4_LIMITS if model == "V4" else LIMITS for model in MODELS}},
    default_generate_model=DEFAULT_MODEL,
    one_text=True,  # an extend has one `prompt`: the words sung next, or what the extension should be
    needs_parent_task=True,  # `parentJobId`: the apiframe job that made the song
    continue_before_end=True,  # `continueAt` must be below the track's duration, else 409
    extend_keeps_model=True,  # "Suno requires extends to use the same model": inherited from the parent job
    instrumental=True,
    webhooks=True,
)
