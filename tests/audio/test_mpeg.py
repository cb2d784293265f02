"""The MPEG audio frame format at the byte level: headers, frame lengths, the CRC-16 of the LAME tag."""

from __future__ import annotations

import random

import pytest

from bot.audio.mpeg import MpegVersion, crc16, frame_length, parse_header


def bitwise_crc16(data: bytes) -> int:
    """CRC-16/ARC one bit at a time, straight from its definition (reflected polynomial 0xA001, initial 0)."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def test_crc16_is_crc16_arc() -> None:
    assert crc16(b"123456789") == 0xBB3D  # the catalogued check value of CRC-16/ARC


@pytest.mark.parametrize("size", [0, 1, 2, 3, 255, 16_383, 16_384, 16_385, 100_003, 1_048_577])
def test_crc16_matches_the_definition_at_any_size_and_in_pieces(size: int) -> None:
    data = random.Random(size).randbytes(size)
    assert crc16(data) == bitwise_crc16(data)
    cut = size // 3
    assert crc16(data[cut:], crc16(data[:cut])) == bitwise_crc16(data)


@pytest.mark.parametrize(
    ("raw", "version", "rate", "bitrate", "channels", "length"),
    [
        (b"\xff\xfb\xb4\x64", MpegVersion.MPEG1, 48_000, 192_000, 2, 576),
        (b"\xff\xfb\xb0\x64", MpegVersion.MPEG1, 44_100, 192_000, 2, 626),
        (b"\xff\xfb\xb2\x64", MpegVersion.MPEG1, 44_100, 192_000, 2, 627),
        (b"\xff\xfb\xe4\xc4", MpegVersion.MPEG1, 48_000, 320_000, 1, 960),
        (b"\xff\xf3\x84\x64", MpegVersion.MPEG2, 24_000, 64_000, 2, 192),
    ],
)
def test_headers_and_frame_lengths(
    raw: bytes, version: MpegVersion, rate: int, bitrate: int, channels: int, length: int
) -> None:
    header = parse_header(raw)
    assert header is not None
    assert (header.version, header.sample_rate, header.bitrate, header.channels) == (version, rate, bitrate, channels)
    assert (
        header.length == length == frame_length(version, header.bitrate_index, header.sample_rate_index, header.padding)
    )


@pytest.mark.parametrize(
    "raw", [b"\xff\xfb\xf4\x64", b"\xff\xfb\x04\x64", b"\xff\xfb\xbc\x64", b"\xff\xfd\xb4\x64", b"ID3\x04"]
)
def test_what_is_not_a_layer_iii_header(raw: bytes) -> None:
    assert parse_header(raw) is None  # bad bit rate, free format, bad sample rate, Layer II, a tag
