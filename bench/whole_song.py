"""Benchmark of the whole-song build: `python -m bench.whole_song` from the repository root.

A chain of three 4-minute stereo tone MP3s cut at 1:40 and 2:00 gives a 7.7-minute whole song. Measured in
one run:

(a) the floor: PyAV/LAME encoding 7.7 minutes of the same tones with the same settings, from ready-made frames;
(b) decoding (and resampling) all three parts, whole, with nothing else;
(c) Encore's `stitch` wall time, and its ratio to the floor (goal ≤ 1.2×);
(d) peak RSS of a child process doing the stitch, against a child that only imports the same modules
    (goal under 150 MB; 7.7 minutes of stereo float PCM alone is about 163 MB, so holding the song is ruled out).

The tones come from `tests.support.audio` (the one tone generator in the project); this is a dev tool run from
the repository root, so importing the tests' helpers is fine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from bot.audio.stitch import (
    BITRATE_LADDER,
    LAME_OPTIONS,
    LAYOUT,
    SAMPLE_FORMAT,
    SAMPLE_RATE,
    Part,
    SongTags,
)
from tests.support.audio import TONE_AMPLITUDE, make_tone_mp3

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
TONES = (440, 660, 880)
"""Whole numbers of cycles per second, so a one-second block loops seamlessly for the floor."""
CUTS = (100.0, 120.0)
PART_SECONDS = 240.0
BITRATE = BITRATE_LADDER[0]
RATIO_GOAL = 1.2
RSS_GOAL_MB = 150.0
IMPORTS = "import av, numpy, mutagen.id3, PIL.Image; import bot.audio.stitch, bot.audio.waveform"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.whole_song", description=__doc__.splitlines()[0])
    parser.add_argument("--part-seconds", type=float, default=PART_SECONDS, help="length of each part (240)")
    parser.add_argument("--cuts", type=float, nargs=2, default=CUTS, help="the two continue points (100 120)")
    parser.add_argument("--child", nargs=2, metavar=("PARTS_DIR", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    cuts = (float(args.cuts[0]), float(args.cuts[1]))
    if args.child:
        return _child_stitch(Path(args.child[0]), Path(args.child[1]), cuts)

    with tempfile.TemporaryDirectory(prefix="encore-bench-") as folder:
        work = Path(folder)
        print(f"Writing three {args.part_seconds:.0f} s stereo tone MP3s…", flush=True)
        for index, tone in enumerate(TONES):
            make_tone_mp3(work / f"c{index}.mp3", freq_hz=tone, seconds=args.part_seconds)
        song_seconds = cuts[0] + cuts[1] + args.part_seconds
        lengths = (cuts[0], cuts[1], args.part_seconds)

        floor = _floor(work / "floor.mp3", lengths)
        decode = _decode_only([work / f"c{index}.mp3" for index in range(3)])
        baseline_rss = _child_rss([sys.executable, "-c", IMPORTS])
        child, stitch_rss = _run_child(work, cuts)

    ratio = child["stitch_seconds"] / floor
    pcm_mb = song_seconds * SAMPLE_RATE * 2 * 4 / 1e6
    rows = [
        (
            "whole song",
            f"{song_seconds / 60:.2f} min ({song_seconds:.0f} s), {child['size'] / 1e6:.1f} MB at "
            f"{BITRATE // 1000} kbit/s",
        ),
        ("LAME settings", f"libmp3lame CBR {BITRATE // 1000} kbit/s, {_options()}"),
        ("(a) floor: bare encode", f"{floor:.2f} s"),
        ("(b) decode all 3 parts", f"{decode:.2f} s ({3 * args.part_seconds / 60:.0f} min of audio)"),
        ("(c) stitch", f"{child['stitch_seconds']:.2f} s = {ratio:.2f}× floor (goal ≤ {RATIO_GOAL}×)"),
        ("    waveform PNG", f"{child['waveform_seconds'] * 1000:.0f} ms"),
        ("(d) peak RSS, import only", f"{baseline_rss:.0f} MB"),
        (
            "(d) peak RSS, stitch",
            f"{stitch_rss:.0f} MB (+{stitch_rss - baseline_rss:.0f} MB; goal < {RSS_GOAL_MB:.0f} MB;"
            f" the song's PCM would be {pcm_mb:.0f} MB)",
        ),
    ]
    width = max(len(name) for name, _ in rows)
    print()
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    ratio_ok, rss_ok = ratio <= RATIO_GOAL, stitch_rss < RSS_GOAL_MB
    print()
    print(f"goal stitch ≤ {RATIO_GOAL}× floor: {'met' if ratio_ok else 'MISSED'}")
    print(f"goal peak RSS < {RSS_GOAL_MB:.0f} MB: {'met' if rss_ok else 'MISSED'}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    summary = {
        "song_seconds": song_seconds,
        "floor_seconds": floor,
        "decode_seconds": decode,
        "stitch_seconds": child["stitch_seconds"],
        "ratio": ratio,
        "baseline_rss_mb": baseline_rss,
        "stitch_rss_mb": stitch_rss,
        "size_bytes": child["size"],
        "lame_options": LAME_OPTIONS,
    }
    (RESULTS / "whole_song.json").write_text(json.dumps(summary, indent=2) + "\n")
    return 0 if ratio_ok and rss_ok else 1


def _options() -> str:
    return ", ".join(f"{key}={value}" for key, value in LAME_OPTIONS.items()) or "LAME defaults"


def _floor(out: Path, lengths: tuple[float, ...]) -> float:
    """Seconds for LAME alone to encode the song's tones from ready-made frames of its own frame size."""
    periods = []
    for tone in TONES:
        t = np.arange(SAMPLE_RATE, dtype=np.float64) / SAMPLE_RATE
        wave = (TONE_AMPLITUDE * np.sin(2 * np.pi * tone * t)).astype(np.float32)
        periods.append(np.tile(np.tile(wave, 2), (2, 1)))
    started = time.perf_counter()
    with av.open(str(out), "w", format="mp3", options={"id3v2_version": "0"}) as container:
        stream = container.add_stream("libmp3lame", rate=SAMPLE_RATE, options=dict(LAME_OPTIONS))
        stream.bit_rate = BITRATE
        stream.layout = LAYOUT
        stream.format = SAMPLE_FORMAT
        container.start_encoding()
        size = stream.codec_context.frame_size or 1152
        pts = 0
        for period, seconds in zip(periods, lengths, strict=True):
            total = round(seconds * SAMPLE_RATE)
            for start in range(0, total, size):
                offset = start % SAMPLE_RATE
                frame = av.AudioFrame.from_ndarray(
                    np.ascontiguousarray(period[:, offset : offset + min(size, total - start)]),
                    format=SAMPLE_FORMAT,
                    layout=LAYOUT,
                )
                frame.sample_rate = SAMPLE_RATE
                frame.pts = pts
                frame.time_base = Fraction(1, SAMPLE_RATE)
                pts += frame.samples
                container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return time.perf_counter() - started


def _decode_only(paths: list[Path]) -> float:
    """Seconds to decode and resample every part whole, to the stitch's format, keeping nothing."""
    started = time.perf_counter()
    for path in paths:
        resampler = av.AudioResampler(format=SAMPLE_FORMAT, layout=LAYOUT, rate=SAMPLE_RATE, frame_size=16_384)
        with av.open(str(path)) as container:
            for frame in container.decode(container.streams.audio[0]):
                for out in resampler.resample(frame):
                    out.to_ndarray()
        resampler.resample(None)
    return time.perf_counter() - started


def _child_rss(command: list[str]) -> float:
    """Peak RSS in MB of a child that runs `command` (the first child of this process to be measured)."""
    subprocess.run(command, check=True, cwd=ROOT, env=_env())
    return _children_max_rss()


def _run_child(work: Path, cuts: tuple[float, float]) -> tuple[dict[str, Any], float]:
    """Stitch in a fresh child; returns its report and the largest child RSS seen so far (it, being the biggest)."""
    command = [sys.executable, "-m", "bench.whole_song", "--child", str(work), str(work / "whole.mp3")]
    command += ["--cuts", str(cuts[0]), str(cuts[1])]
    finished = subprocess.run(command, check=True, cwd=ROOT, env=_env(), capture_output=True, text=True)
    return json.loads(finished.stdout.strip().splitlines()[-1]), _children_max_rss()


def _children_max_rss() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def _child_stitch(work: Path, out: Path, cuts: tuple[float, float]) -> int:
    """The measured child: stitch the chain, draw its waveform, print a JSON line."""
    from bot.audio.stitch import stitch
    from bot.audio.waveform import render_waveform

    parts = [Part(work / "c0.mp3", cuts[0]), Part(work / "c1.mp3", cuts[1]), Part(work / "c2.mp3", None)]
    tags = SongTags(title="Benchmark (whole song)", artists=("Ann", "Bob", "Cy"))
    started = time.perf_counter()
    result = stitch(parts, out, bitrate=BITRATE, tags=tags, cover=b"\xff\xd8\xff\xe0" + bytes(30_000))
    stitched = time.perf_counter() - started
    started = time.perf_counter()
    render_waveform(result.peaks, result.duration, result.spans, result.seams)
    drawn = time.perf_counter() - started
    report = {"stitch_seconds": stitched, "waveform_seconds": drawn, "size": result.size, "duration": result.duration}
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
