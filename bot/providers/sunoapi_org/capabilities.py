"""What the sunoapi.org contract accepts (docs.sunoapi.org, the same on kie.ai and api.box): its models, newest
first, and the text limits of each in custom mode, as its generate page lists them."""

from __future__ import annotations

from bot.domain.capabilities import ProviderCapabilities, TextLimits

# `prompt` is a description (non-custom mode) of at most 500 characters; `lyrics` go in `prompt` in custom mode.
V4_LIMITS = TextLimits(title=80, style=200, lyrics=3000, prompt=500)
V45_LIMITS = TextLimits(title=100, style=1000, lyrics=5000, prompt=500)
V45ALL_LIMITS = TextLimits(title=80, style=1000, lyrics=5000, prompt=500)
MODEL_LIMITS: dict[str | None, TextLimits] = {
    "V5_5": V45_LIMITS,
    "V5": V45_LIMITS,
    "V4_5ALL": V45ALL_LIMITS,
    "V4_5PLUS": V45_LIMITS,
    "V4_5": V45_LIMITS,
    "V4": V4_LIMITS,
}
MODELS: tuple[str, ...] = tuple(model for model in MODEL_LIMITS if model)
DEFAULT_MODEL = "V5_5"

CAPABILITIES = ProviderCapabilities(
    name="sunoapi_org",
    label="sunoapi.org",
    # Every request names a model; none chosen means the newest, whose limits then apply.
    models={None: MODEL_LIMITS[DEFAULT_MODEL], **MODEL_LIMITS},
    default_generate_model=DEFAULT_MODEL,
    one_text=True,  # an extend sings its `prompt`: lyrics or a prompt, not both
    continue_before_end=True,  # `continueAt` "> 0 and < the source's duration"
    extend_keeps_model=True,  # "Model version must be consistent with the source music"
    needs_style_and_title=True,  # `defaultParamFlag: true` and custom mode require both
    instrumental=True,
    webhooks=True,
    # upload-extend fetches the track from its URL: at most 8 minutes (the current page); Encore measures it first
    # from a download of at most this size.
    uploads=True,
    upload_max_bytes=10 * 1024 * 1024,
    upload_max_seconds=8 * 60,
)
