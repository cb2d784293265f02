"""Cheap magic-byte checks, so a page served with a media content type (or as octet-stream) is not posted as media.

These only look at the first bytes; decoding is someone else's job.
"""

from __future__ import annotations

# Enough for every signature below (the longest needs 12 bytes).
SNIFF_BYTES = 12


def sniff_audio(first_bytes: bytes) -> bool:
    """True when the bytes start like an audio file: ID3, an MPEG or ADTS frame, WAVE, Ogg, FLAC or MP4."""
    head = first_bytes[:SNIFF_BYTES]
    if head.startswith(b"ID3") and len(head) >= 4 and head[3] in (2, 3, 4):
        return True
    if head.startswith((b"OggS", b"fLaC")):
        return True
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return True
    if head[4:8] == b"ftyp":
        return True
    return _mpeg_frame(head)


def _mpeg_frame(head: bytes) -> bool:
    """An MPEG audio frame header (sync 0xFFE plus valid fields) or an AAC ADTS header."""
    if len(head) < 3 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    version = (head[1] >> 3) & 0b11
    layer = (head[1] >> 1) & 0b11
    if layer == 0:
        # Layer "reserved" in MPEG audio; ADTS uses it with a 12-bit sync and MPEG version bits 1x.
        return head[1] & 0xF6 == 0xF0
    bitrate = head[2] >> 4
    sample_rate = (head[2] >> 2) & 0b11
    return version != 0b01 and bitrate != 0b1111 and sample_rate != 0b11


def sniff_image(first_bytes: bytes) -> str | None:
    """The file extension for a PNG, JPEG, GIF or WebP start; None for anything else."""
    head = first_bytes[:SNIFF_BYTES]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return None


IMAGE_TYPES = {"png": "image/png", "jpg": "image/jpeg", "gif": "image/gif", "webp": "image/webp"}


def image_type(first_bytes: bytes) -> str:
    """The MIME type of a picture from its first bytes (JPEG when unsure: Suno's covers are JPEG)."""
    return IMAGE_TYPES.get(sniff_image(first_bytes) or "", "image/jpeg")
