"""Fetching provider media safely: only public addresses (or origins the operator trusts), only real audio and images.

Nothing here knows about Discord, so the checks can be tested against local servers alone.
"""

from __future__ import annotations

from bot.media.addresses import Origin, is_public_address, origin_of, parse_origin, parse_origins
from bot.media.download import FetchResult, MediaFetcher, MediaKind, MediaRefused, MediaTooLarge, is_safe_embed_url
from bot.media.sniff import image_type, sniff_audio, sniff_image

__all__ = [
    "FetchResult",
    "MediaFetcher",
    "MediaKind",
    "MediaRefused",
    "MediaTooLarge",
    "Origin",
    "image_type",
    "is_public_address",
    "is_safe_embed_url",
    "origin_of",
    "parse_origin",
    "parse_origins",
    "sniff_audio",
    "sniff_image",
]
