"""The whole song's waveform picture and the clock its labels use."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from bot.audio.waveform import BACKGROUND, MARKER, format_clock, part_colour, render_waveform, seam_x, tick_step

DURATION = 90.0
SPANS = [(0.0, 30.0), (30.0, 55.0), (55.0, 90.0)]
SEAMS = [30.0, 55.0]


def render(width: int = 1200, height: int = 300) -> Image.Image:
    peaks = np.tile(np.array([[-0.5, 0.5]], dtype=np.float32), (1200, 1))
    png = render_waveform(peaks, DURATION, SPANS, SEAMS, width=width, height=height)
    assert png.startswith(b"\x89PNG")
    return Image.open(io.BytesIO(png)).convert("RGB")


def test_png_size() -> None:
    assert render().size == (1200, 300)
    assert render(width=600, height=160).size == (600, 160)


def test_each_part_has_its_colour_in_its_range() -> None:
    image = render()
    middle = image.height // 2
    for index, (start, end) in enumerate(SPANS):
        first, last = seam_x(start, DURATION, image.width) + 3, seam_x(end, DURATION, image.width) - 3
        row = {image.getpixel((x, middle)) for x in range(first, last)}
        assert row == {part_colour(index)}


def test_part_colours_differ_from_each_other_and_the_card() -> None:
    colours = {part_colour(index) for index in range(6)}
    assert len(colours) == 6
    assert BACKGROUND not in colours
    assert MARKER not in colours


def test_each_seam_is_marked() -> None:
    image = render()
    for seam in SEAMS:
        x = seam_x(seam, DURATION, image.width)
        column = [image.getpixel((x, y)) for y in range(30, image.height - 40)]
        assert all(pixel == MARKER for pixel in column)


def test_background_and_labels() -> None:
    image = render()
    assert image.getpixel((3, 3)) == BACKGROUND
    # The seam labels sit above the plot in the marker colour, tick labels below it.
    pixels = np.asarray(image)
    assert np.all(pixels[:22] == MARKER, axis=-1).any()
    assert np.any(pixels[-20:] != BACKGROUND, axis=-1).any()


def test_silence_still_draws_a_line() -> None:
    png = render_waveform(np.zeros((100, 2)), 10.0, [(0.0, 10.0)], [])
    image = Image.open(io.BytesIO(png)).convert("RGB")
    assert part_colour(0) in {image.getpixel((600, y)) for y in range(130, 150)}


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0:00"),
        (0.49, "0:00"),
        (0.5, "0:01"),
        (9.6, "0:10"),
        (59.4, "0:59"),
        (59.95, "1:00"),
        (65.5, "1:06"),
        (119.96, "2:00"),
        (462.0, "7:42"),
        (3599.49, "59:59"),
        (3599.99, "1:00:00"),
        (3725, "1:02:05"),
        (-5.2, "-0:05"),
    ],
)
def test_format_clock(seconds: float, text: str) -> None:
    assert format_clock(seconds) == text


def test_format_clock_refuses_nan() -> None:
    with pytest.raises(ValueError):
        format_clock(float("nan"))


@pytest.mark.parametrize(("duration", "step"), [(13.5, 5), (90, 10), (240, 30), (462, 60), (1500, 300)])
def test_tick_step(duration: float, step: int) -> None:
    assert tick_step(duration) == step
