"""A picture of the whole song: its waveform with each part of the chain in its own colour and every seam marked."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

Colour = tuple[int, int, int]

BACKGROUND: Colour = (0x4E, 0x50, 0x58)
"""An opaque mid-grey card, chosen over transparency.

Discord shows the image on #313338 (dark theme) or #ffffff (light theme). A transparent image would need colours
that read on both extremes, and its white labels would vanish on light. A card whose luminance sits between the
two stands out from either background, and on it the saturated, fairly light part colours and white text keep
good contrast: one rendering serves both themes.
"""

PALETTE: tuple[Colour, ...] = (
    (0xE9, 0x54, 0x20),  # Encore's orange (the embed colour)
    (0x2E, 0xD3, 0xB7),  # teal
    (0xFF, 0xC8, 0x3D),  # amber
    (0xB3, 0x9D, 0xFF),  # lavender
    (0x5C, 0xC8, 0xFF),  # sky
    (0xFF, 0x7A, 0xB6),  # pink
)
"""Part colours in chain order (repeating after six): saturated and distinct from each other and from the card."""

MARKER: Colour = (0xFF, 0xFF, 0xFF)
"""Continue-point lines and their labels: white, which no part colour is."""

AXIS: Colour = (0xC4, 0xC9, 0xCE)
"""The time axis, its ticks and labels: a quieter light grey."""

TICK_STEPS = (5, 10, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600)
"""Candidate tick intervals in seconds; the axis takes the smallest giving at most `MAX_TICKS` intervals."""

MAX_TICKS = 10

_LABEL_SIZE = 13


def format_clock(seconds: float) -> str:
    """`m:ss` (or `h:mm:ss` from an hour), rounded to the nearest second first so 59.95 reads `1:00`, not `0:59`.

    Rounding happens before splitting into minutes and seconds, so a value never shows 60 seconds; halves round
    up (59.5 → `1:00`). Negative values get a leading minus.
    """
    if not math.isfinite(seconds):
        raise ValueError(f"cannot write {seconds} as a time")
    sign = "-" if seconds < 0 else ""
    total = math.floor(abs(seconds) + 0.5)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{sign}{hours}:{minutes:02d}:{secs:02d}"
    return f"{sign}{minutes}:{secs:02d}"


def tick_step(duration: float) -> int:
    """Seconds between axis ticks for a song of `duration`: 30 s for a few minutes, 60 s for longer, and so on."""
    for step in TICK_STEPS:
        if duration / step <= MAX_TICKS:
            return step
    return TICK_STEPS[-1]


def part_colour(index: int) -> Colour:
    return PALETTE[index % len(PALETTE)]


def render_waveform(
    peaks: npt.ArrayLike,
    duration: float,
    spans: Sequence[tuple[float, float]],
    seams: Sequence[float],
    *,
    width: int = 1200,
    height: int = 300,
) -> bytes:
    """A PNG of the waveform: `peaks` are (min, max) pairs per column over `duration` seconds, as `stitch` gives."""
    pairs = np.asarray(peaks, dtype=np.float32).reshape(-1, 2)
    if width < 100 or height < 80:
        raise ValueError("the waveform needs at least 100×80 pixels")
    image = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=_LABEL_SIZE)
    left, right, top, bottom = 12, width - 12, 24, height - 30
    plot_width = right - left
    duration = max(duration, 1e-6)

    lows, highs = _columns(pairs, plot_width)
    scale = max(float(np.max(np.abs(pairs))) if pairs.size else 0.0, 0.05)
    middle = (top + bottom) / 2
    half = (bottom - top) / 2
    for column in range(plot_width):
        x = left + column
        time = (column + 0.5) / plot_width * duration
        colour = part_colour(_span_index(spans, time))
        y_top = middle - highs[column] / scale * half
        y_bottom = middle - lows[column] / scale * half
        if y_bottom - y_top < 1:
            y_top, y_bottom = middle - 0.5, middle + 0.5
        draw.line([(x, round(y_top)), (x, round(y_bottom))], fill=colour)

    draw.line([(left, bottom + 2), (right, bottom + 2)], fill=AXIS)
    step = tick_step(duration)
    for tick in range(0, math.floor(duration) + 1, step):
        x = left + round(tick / duration * plot_width)
        draw.line([(x, bottom + 2), (x, bottom + 7)], fill=AXIS)
        _label(draw, font, format_clock(tick), x, bottom + 9, AXIS, width)

    last_label_end = -math.inf
    for seam in seams:
        x = seam_x(seam, duration, width)
        draw.line([(x, top - 4), (x, bottom)], fill=MARKER, width=1)
        text = format_clock(seam)
        text_width = draw.textlength(text, font=font)
        if x - text_width / 2 > last_label_end + 4:
            last_label_end = _label(draw, font, text, x, 4, MARKER, width)

    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def seam_x(seam: float, duration: float, width: int) -> int:
    """The pixel column of a time on an image `width` wide (the plot spans all but 12 px each side)."""
    plot_width = width - 24
    return 12 + min(plot_width - 1, max(0, math.floor(seam / max(duration, 1e-6) * plot_width)))


def _columns(pairs: npt.NDArray[np.float32], count: int) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """The peaks regrouped to `count` columns, each taking the extremes of the peaks it covers."""
    if not len(pairs):
        zeros = np.zeros(count, dtype=np.float32)
        return zeros, zeros
    edges = np.linspace(0, len(pairs), count + 1)
    starts = np.minimum(np.floor(edges[:-1]).astype(np.int64), len(pairs) - 1)
    ends = np.maximum(np.ceil(edges[1:]).astype(np.int64), starts + 1)
    lows = np.array([pairs[a:b, 0].min() for a, b in zip(starts, ends, strict=True)], dtype=np.float32)
    highs = np.array([pairs[a:b, 1].max() for a, b in zip(starts, ends, strict=True)], dtype=np.float32)
    return lows, highs


def _span_index(spans: Sequence[tuple[float, float]], time: float) -> int:
    """Which part of the chain plays at `time` (the last one past the end)."""
    for index, (_, end) in enumerate(spans):
        if time < end:
            return index
    return max(len(spans) - 1, 0)


def _label(
    draw: ImageDraw.ImageDraw,
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont,
    text: str,
    x: float,
    y: float,
    colour: Colour,
    width: int,
) -> float:
    """Text centred on `x`, kept inside the image; returns where it ends."""
    text_width = draw.textlength(text, font=font)
    start = min(max(2.0, x - text_width / 2), width - 2 - text_width)
    draw.text((start, y), text, fill=colour, font=font)
    return start + text_width
