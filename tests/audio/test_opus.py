"""The one-time Opus encode for voice: real tone MP3s in, 20 ms packets out that decode back to the same tone."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.audio.opus import FRAME_SECONDS, encode_opus, read_packets
from bot.audio.stitch import AudioError
from tests.fakes.voice.audio import SAMPLE_RATE, decode
from tests.support.audio import dominant_frequency, make_tone_mp3


@pytest.mark.parametrize("channels", [1, 2])
def test_a_tone_is_encoded_once_to_20_ms_packets_that_decode_to_it(tmp_path: Path, channels: int) -> None:
    mp3 = make_tone_mp3(tmp_path / "tone.mp3", freq_hz=523.0, seconds=1.5, channels=channels)
    encoded = encode_opus(mp3, tmp_path / "tone.opus")
    assert read_packets(tmp_path / "tone.opus").packets == encoded.packets
    assert abs(len(encoded.peaks) - len(encoded.packets)) <= 2  # one (min, max) per 20 ms frame, for the picture
    highs = [high for _, high in encoded.peaks[5:-5]]
    lows = [low for low, _ in encoded.peaks[5:-5]]
    assert min(highs) > 0.3 and max(highs) - min(highs) < 0.01  # a steady tone (mono is spread at -3 dB)
    assert max(lows) < -0.3 and max(lows) - min(lows) < 0.01
    assert abs(encoded.duration - 1.5) <= 2 * FRAME_SECONDS
    samples = decode(encoded.packets)
    assert len(samples) == len(encoded.packets) * int(FRAME_SECONDS * SAMPLE_RATE)  # every packet is 20 ms
    assert abs(dominant_frequency(samples[4800:-4800], SAMPLE_RATE) - 523.0) < 3


def test_a_song_over_the_limit_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    mp3 = make_tone_mp3(tmp_path / "long.mp3", freq_hz=440.0, seconds=3.0)
    with pytest.raises(AudioError, match="longer than 2 s"):
        encode_opus(mp3, tmp_path / "long.opus", max_seconds=2.0)
    assert not (tmp_path / "long.opus").exists()


def test_not_audio_and_a_cut_off_packet_file_are_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp3"
    junk.write_bytes(b"not audio at all" * 100)
    with pytest.raises(AudioError):
        encode_opus(junk, tmp_path / "junk.opus")
    mp3 = make_tone_mp3(tmp_path / "tone.mp3", freq_hz=440.0, seconds=0.5)
    encode_opus(mp3, tmp_path / "tone.opus")
    data = (tmp_path / "tone.opus").read_bytes()
    (tmp_path / "cut.opus").write_bytes(data[:-3])
    with pytest.raises(AudioError, match="cut off"):
        read_packets(tmp_path / "cut.opus")
