"""Not a benchmark: draw the README's `docs/waveform.png` from a real whole song (`python -m bench.waveform_picture`).

Three MP3s from the project's test generator, each pulsing on its beat like a song (a hit per beat, the bar's first
loudest, a slow swell) and the last fading out, are joined as Encore joins a chain (c0 cut at 1:05, c1 at 1:05, so
the seams sit at 1:05 and 2:10), and the picture is drawn from that build's own peaks, exactly as a whole-song post
and its song page show it.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from bot.audio.stitch import Part, SongTags, stitch
from bot.audio.waveform import render_waveform
from tests.support.audio import make_tone_mp3

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "waveform.png"
PARTS = ((440.0, 90.0, 65.0, 96.0, 0.0), (660.0, 90.0, 65.0, 120.0, 0.0), (550.0, 100.0, None, 132.0, 20.0))
"""(tone in Hz, clip length, continue point of the next clip on this one's timeline, beats per minute, fade-out)."""


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="encore-picture-") as folder:
        work = Path(folder)
        parts = [
            Part(
                make_tone_mp3(
                    work / f"c{index}.mp3", freq_hz=tone, seconds=length, beats_per_minute=bpm, fade_seconds=fade
                ),
                cut,
            )
            for index, (tone, length, cut, bpm, fade) in enumerate(PARTS)
        ]
        result = stitch(parts, work / "whole.mp3", tags=SongTags(title="Encore's README"))
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_bytes(render_waveform(result.peaks, result.duration, result.spans, result.seams))
    print(f"{OUT.relative_to(ROOT)}: {result.duration:.1f} s, seams at {', '.join(f'{s:.1f}' for s in result.seams)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
