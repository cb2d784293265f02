"""Benchmark of listening together: `python -m bench.voice [--sessions 1 10 50 100]` from the repository root.

(a) The one-time Opus encode of a 4-minute stereo MP3 (`bot.audio.opus.encode_opus`, PyAV's libopus), against the
    song's length (goal: at least 50× real time); best of three, wall and CPU time.
(b) N voice sessions in one process: discord.py's real voice clients, each playing the same cached packets through
    `OpusPacketSource`, against the fake Discord and the fake voice server, which run in a child process so that
    their decryption and bookkeeping do not count against the player. Per packet, its lateness is its arrival
    time against the session's clock (n × 20 ms after the session's median start; the first packet, which
    discord.py sends 40 ms before the second, is left out); an underrun is a gap over 60 ms between two
    packets (three frames: a listener's jitter buffer runs dry). CPU per session is this process's CPU time during
    playback divided by sessions and seconds played; RSS per session is the growth of this process's resident
    memory from before the first connection to the end of playback, divided by sessions (goals: 100 sessions on
    2 cores, lateness p99 under 10 ms, no underruns).

The fakes and the tone generator come from `tests` (this is a dev tool run from the repository root).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import discord
import yarl

from bench.procfs import proc_status_kb
from bot.__main__ import set_start_up_objects_aside
from bot.audio.opus import OpusSong, encode_opus
from bot.ui.voice import OpusPacketSource
from tests.fakes.discord import FakeDiscord
from tests.fakes.voice import FakeVoiceServer, make_certificates
from tests.fakes.voice.tls import TestCertificates
from tests.support.audio import make_tone_mp3

ENCODE_SECONDS = 240.0
PLAY_SECONDS = 20.0
UNDERRUN_GAP = 0.06


def rss_bytes() -> int:
    """This process's resident memory now (Linux)."""
    return proc_status_kb("self", "VmRSS") * 1024


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def bench_encode(folder: Path) -> dict[str, float]:
    mp3 = make_tone_mp3(folder / "four-minutes.mp3", freq_hz=440.0, seconds=ENCODE_SECONDS, channels=2)
    walls, cpus = [], []
    for _ in range(3):
        cpu, start = cpu_seconds(), time.perf_counter()
        song = encode_opus(mp3, folder / "four-minutes.opus")
        walls.append(time.perf_counter() - start)
        cpus.append(cpu_seconds() - cpu)
    wall = min(walls)
    return {
        "song_seconds": song.duration,
        "wall_s": round(wall, 2),
        "cpu_s": round(min(cpus), 2),
        "times_real_time": round(song.duration / wall, 1),
        "opus_kib": round((folder / "four-minutes.opus").stat().st_size / 1024),
    }


async def serve(sessions: int, folder: Path) -> None:
    """The child: the fakes, their addresses on stdout, then per-session arrival stats when stdin says `report`."""
    certificates = make_certificates(folder / "tls")
    async with FakeVoiceServer(certificates) as voice, FakeDiscord(voice=voice) as fake:
        guilds = []
        for number in range(sessions):
            guild_id, _ = await fake.add_guild(f"Server {number}")
            guilds.append((guild_id, await fake.add_voice_channel("Lounge", guild_id=guild_id)))
        print(
            json.dumps(
                {"api": fake.api_base, "gateway": fake.gateway_url, "ca": str(certificates.ca), "guilds": guilds}
            )
        )
        sys.stdout.flush()
        await asyncio.to_thread(sys.stdin.readline)
        lateness, gaps, underruns, packets = [], [], 0, 0
        for session in voice.sessions:
            heard = session.audio
            packets += len(heard)
            if len(heard) < 2:
                continue
            offsets = [p.at - i * 0.02 for i, p in enumerate(heard)][1:]  # discord.py waits 40 ms after the first
            clock = statistics.median(offsets)
            lateness += [(offset - clock) * 1000 for offset in offsets]
            steps = [b.at - a.at for a, b in itertools.pairwise(heard)]
            gaps.append(max(steps))
            underruns += sum(step > UNDERRUN_GAP for step in steps)
        lateness.sort()
        print(
            json.dumps(
                {
                    "packets": packets,
                    "refused": sum(len(s.refused) for s in voice.sessions),
                    "lateness_p50_ms": round(lateness[len(lateness) // 2], 2) if lateness else None,
                    "lateness_p99_ms": round(lateness[int(len(lateness) * 0.99)], 2) if lateness else None,
                    "lateness_max_ms": round(lateness[-1], 2) if lateness else None,
                    "longest_gap_ms": round(max(gaps) * 1000, 1) if gaps else None,
                    "underruns": underruns,
                }
            )
        )
        sys.stdout.flush()


def waker(loop: asyncio.AbstractEventLoop, event: asyncio.Event) -> Callable[[Exception | None], None]:
    """discord.py's `after`, called in its player thread: set the event on the loop."""

    def after(_error: Exception | None) -> None:
        loop.call_soon_threadsafe(event.set)

    return after


class Listener(discord.Client):
    """A bare discord.py client with the intents voice needs: connects, plays, and reports when every song ends."""

    def __init__(self) -> None:
        intents = discord.Intents.none()
        intents.guilds = True
        intents.voice_states = True
        super().__init__(intents=intents)
        self.ready_once = asyncio.Event()

    async def on_ready(self) -> None:
        self.ready_once.set()


async def bench_sessions(sessions: int, song: OpusSong, folder: Path) -> dict[str, Any]:
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.voice", "--serve", str(sessions), "--folder", str(folder),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
    )  # fmt: skip
    assert child.stdout is not None and child.stdin is not None
    setup = json.loads(await child.stdout.readline())
    TestCertificates(Path(setup["ca"]), Path(), Path()).trust_in_process()
    discord.http.Route.BASE = setup["api"]
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(setup["gateway"])
    client = Listener()
    runner = asyncio.create_task(client.start("bench-token"))
    try:
        await asyncio.wait_for(client.ready_once.wait(), 60)
        rss_before = rss_bytes()
        voices: list[discord.VoiceClient] = []
        for guild_id, channel_id in setup["guilds"]:
            channel = client.get_channel(channel_id)
            assert isinstance(channel, discord.VoiceChannel), (guild_id, channel_id)
            voices.append(await channel.connect(timeout=30, self_deaf=True, cls=discord.VoiceClient))
        loop = asyncio.get_running_loop()
        done = [asyncio.Event() for _ in voices]
        cpu, start = cpu_seconds(), time.perf_counter()
        for voice, finished in zip(voices, done, strict=True):
            voice.play(OpusPacketSource(song), after=waker(loop, finished))
        peak = rss_bytes()
        for finished in done:
            await finished.wait()
            peak = max(peak, rss_bytes())
        played, used = time.perf_counter() - start, cpu_seconds() - cpu
        for voice in voices:
            await voice.disconnect()
    finally:
        await client.close()
        await runner
    child.stdin.write(b"report\n")
    await child.stdin.drain()
    report = json.loads(await child.stdout.readline())
    await child.wait()
    return {
        "sessions": sessions,
        "cpu_ms_per_session_second": round(used / sessions / played * 1000, 2),
        "cpu_percent_of_one_core": round(used / played * 100, 1),
        "rss_mib_per_session": round((peak - rss_before) / sessions / 2**20, 2),
        **report,
    }


def table(encode: dict[str, float], rows: list[dict[str, Any]]) -> str:
    lines = [
        f"One-time Opus encode of a {encode['song_seconds'] / 60:.0f}-minute stereo MP3: {encode['wall_s']} s wall, "
        f"{encode['cpu_s']} s CPU = {encode['times_real_time']}× real time (goal ≥ 50×); {encode['opus_kib']} KiB.",
        "",
        "| sessions | lateness p50 / p99 / max | longest gap | underruns | CPU per session | process CPU "
        "| RSS per session |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['sessions']} | {row['lateness_p50_ms']} / {row['lateness_p99_ms']} / {row['lateness_max_ms']} ms "
            f"| {row['longest_gap_ms']} ms | {row['underruns']} | {row['cpu_ms_per_session_second']} ms/s "
            f"| {row['cpu_percent_of_one_core']} % | {row['rss_mib_per_session']} MiB |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 10, 50, 100])
    parser.add_argument("--seconds", type=float, default=PLAY_SECONDS, help="length of the song each session plays")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = parser.parse_args()
    if args.serve is not None:
        asyncio.run(serve(args.serve, args.folder))
        return 0
    with tempfile.TemporaryDirectory(prefix="encore-bench-voice-") as name:
        folder = Path(name)
        encode = bench_encode(folder)
        mp3 = make_tone_mp3(folder / "song.mp3", freq_hz=523.0, seconds=args.seconds, channels=2)
        song = encode_opus(mp3, folder / "song.opus")
        set_start_up_objects_aside()  # as `python -m bot` does, whose process the players share
        rows = []
        for count in args.sessions:
            rows.append(asyncio.run(bench_sessions(count, song, folder / f"run-{count}")))
            print(json.dumps(rows[-1]), file=sys.stderr)
    print(table(encode, rows))
    if args.json:
        print(json.dumps({"encode": encode, "sessions": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
