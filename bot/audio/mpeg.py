"""MPEG audio Layer III at the byte level: frame headers, side information, the Xing/Info + LAME tag.

Enough of the format to copy a file's frames unchanged, to find the bytes a frame borrows from the bit reservoir
(`main_data_begin`) and to write the tag players read a file's length, delay and padding from. Sources: ISO/IEC
11172-3 §2.4.1, mp3-tech.org's frame header tables, the "Mp3 Info Tag rev 1" specification (gabriel.mp3-tech.org)
and FFmpeg's `libavformat/mp3enc.c`, which writes the same tag.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

import numpy as np
import numpy.typing as npt


class MpegVersion(IntEnum):
    """The header's two version bits."""

    MPEG25 = 0
    MPEG2 = 2
    MPEG1 = 3


_BITRATES_KBPS = {
    True: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),  # MPEG-1 Layer III
    False: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),  # MPEG-2 and 2.5 Layer III
}
_SAMPLE_RATES = {
    MpegVersion.MPEG1: (44_100, 48_000, 32_000),
    MpegVersion.MPEG2: (22_050, 24_000, 16_000),
    MpegVersion.MPEG25: (11_025, 12_000, 8_000),
}
MONO = 3
"""The channel-mode value of a single-channel stream."""

XING_SIZE = 156
"""Bytes from the `Xing`/`Info` id to the end of the LAME tag, with every optional field present."""


@dataclass(frozen=True, slots=True)
class FrameHeader:
    """One Layer III frame's 4-byte header, decoded."""

    version: MpegVersion
    protected: bool
    bitrate_index: int
    sample_rate_index: int
    padding: int
    channel_mode: int
    raw: bytes

    @property
    def mpeg1(self) -> bool:
        return self.version is MpegVersion.MPEG1

    @property
    def bitrate(self) -> int:
        """Bits per second."""
        return _BITRATES_KBPS[self.mpeg1][self.bitrate_index] * 1000

    @property
    def sample_rate(self) -> int:
        return _SAMPLE_RATES[self.version][self.sample_rate_index]

    @property
    def channels(self) -> int:
        return 1 if self.channel_mode == MONO else 2

    @property
    def samples(self) -> int:
        """Samples per channel the frame decodes to: two granules of 576 in MPEG-1, one in MPEG-2 and 2.5."""
        return 1152 if self.mpeg1 else 576

    @property
    def length(self) -> int:
        """The whole frame in bytes, header included."""
        return frame_length(self.version, self.bitrate_index, self.sample_rate_index, self.padding)

    @property
    def side_info_size(self) -> int:
        if self.mpeg1:
            return 17 if self.channels == 1 else 32
        return 9 if self.channels == 1 else 17

    @property
    def main_data_offset(self) -> int:
        """Where the frame's payload (the main-data stream's bytes) starts, from the start of the frame."""
        return 4 + (2 if self.protected else 0) + self.side_info_size

    def stream_key(self) -> tuple[MpegVersion, int, int]:
        """What frames must share to be joined into one stream: version, sample rate, channel count."""
        return (self.version, self.sample_rate, self.channels)

    def with_bitrate(self, bitrate_index: int) -> FrameHeader:
        """The same header at another bit rate, without padding (a frame written whole, not a CBR average)."""
        raw = bytes((self.raw[0], self.raw[1], (bitrate_index << 4) | (self.raw[2] & 0x0C), self.raw[3]))
        return parse_header(raw) or self


def frame_length(version: MpegVersion, bitrate_index: int, sample_rate_index: int, padding: int) -> int:
    """Layer III: floor(144 × bitrate / sample rate) + padding in MPEG-1, half of the 144 in MPEG-2 and 2.5."""
    bitrate = _BITRATES_KBPS[version is MpegVersion.MPEG1][bitrate_index] * 1000
    factor = 144 if version is MpegVersion.MPEG1 else 72
    return factor * bitrate // _SAMPLE_RATES[version][sample_rate_index] + padding


def parse_header(data: bytes | memoryview, offset: int = 0) -> FrameHeader | None:
    """The Layer III frame header at `offset`, or `None` when those bytes are not one (free format is refused)."""
    if offset + 4 > len(data):
        return None
    b0, b1, b2, b3 = data[offset], data[offset + 1], data[offset + 2], data[offset + 3]
    if b0 != 0xFF or (b1 & 0xE0) != 0xE0:
        return None
    version_bits, layer_bits = (b1 >> 3) & 3, (b1 >> 1) & 3
    bitrate_index, sample_rate_index = b2 >> 4, (b2 >> 2) & 3
    if version_bits == 1 or layer_bits != 1 or bitrate_index in (0, 15) or sample_rate_index == 3:
        return None
    return FrameHeader(
        version=MpegVersion(version_bits),
        protected=not b1 & 1,
        bitrate_index=bitrate_index,
        sample_rate_index=sample_rate_index,
        padding=(b2 >> 1) & 1,
        channel_mode=b3 >> 6,
        raw=bytes((b0, b1, b2, b3)),
    )


def main_data_begin(frame: bytes | memoryview, header: FrameHeader) -> int:
    """How many bytes before its own payload the frame's main data starts (the bytes it borrows)."""
    at = 4 + (2 if header.protected else 0)
    if header.mpeg1:
        return (frame[at] << 1) | (frame[at + 1] >> 7)
    return int(frame[at])


def set_main_data_begin(frame: bytearray, header: FrameHeader, value: int) -> None:
    """Write `main_data_begin` into a frame without a CRC (the frames LAME writes)."""
    at = 4
    if header.mpeg1:
        frame[at] = value >> 1
        frame[at + 1] = (frame[at + 1] & 0x7F) | ((value & 1) << 7)
    else:
        frame[at] = value


def main_data_size(frame: bytes | memoryview, header: FrameHeader) -> int:
    """Bytes of main data (scale factors and Huffman code) the frame's granules use: the sum of `part2_3_length`."""
    reader = _Bits(bytes(frame[4 + (2 if header.protected else 0) : header.main_data_offset]))
    channels = header.channels
    if header.mpeg1:
        reader.skip(9 + (5 if channels == 1 else 3) + 4 * channels)
        granules, rest = 2, 59 - 12
    else:
        reader.skip(8 + (1 if channels == 1 else 2))
        granules, rest = 1, 63 - 12
    bits = 0
    for _ in range(granules * channels):
        bits += reader.read(12)
        reader.skip(rest)
    return (bits + 7) // 8


class _Bits:
    """A big-endian bit reader over a few bytes of side information."""

    def __init__(self, data: bytes) -> None:
        self.value = int.from_bytes(data, "big")
        self.left = len(data) * 8

    def read(self, count: int) -> int:
        self.left -= count
        return (self.value >> self.left) & ((1 << count) - 1)

    def skip(self, count: int) -> None:
        self.left -= count


@dataclass(frozen=True, slots=True)
class LameTag:
    """What a file's Xing/Info frame says: its frame count (if stated) and the encoder's delay and padding."""

    frames: int | None
    delay: int
    padding: int
    encoder: bytes


def read_info_tag(frame: bytes | memoryview, header: FrameHeader) -> LameTag | None:
    """The Xing/Info frame's facts, or `None` when the frame is audio (no tag) or its tag has no LAME part."""
    at = 4 + header.side_info_size
    ident = bytes(frame[at : at + 4])
    if ident not in (b"Xing", b"Info") or len(frame) < at + 8:
        return None
    (flags,) = struct.unpack_from(">I", frame, at + 4)
    cursor = at + 8
    frames = None
    if flags & 1:
        (frames,) = struct.unpack_from(">I", frame, cursor)
        cursor += 4
    cursor += (4 if flags & 2 else 0) + (100 if flags & 4 else 0) + (4 if flags & 8 else 0)
    if len(frame) < cursor + 24:
        return None
    encoder = bytes(frame[cursor : cursor + 9])
    if not encoder.startswith((b"LAME", b"Lavf", b"Lavc", b"L3.9")):
        return None
    packed = int.from_bytes(frame[cursor + 21 : cursor + 24], "big")
    return LameTag(frames=frames, delay=packed >> 12, padding=packed & 0xFFF, encoder=encoder)


def build_info_frame(
    template: FrameHeader,
    *,
    frames: int,
    total_bytes: int,
    toc: bytes,
    delay: int,
    padding: int,
    vbr: bool,
    encoder: bytes,
    audio_crc: int,
) -> bytes:
    """A silent frame holding a Xing (VBR) or Info (CBR) tag and a LAME tag, as FFmpeg's muxer writes them.

    `total_bytes` counts this frame and every audio frame after it; `audio_crc` is the CRC-16 of the audio frames.
    """
    offset = 4 + template.side_info_size
    header = info_frame_header(template)
    frame = bytearray(header.length)
    frame[:4] = header.raw
    tag = b"Xing" if vbr else b"Info"
    body = struct.pack(">4sIII", tag, 0x0F, frames, total_bytes) + toc + struct.pack(">I", 0)
    body += encoder.ljust(9, b"\0")[:9] + bytes(12)
    body += ((min(delay, 0xFFF) << 12) | min(padding, 0xFFF)).to_bytes(3, "big")
    body += bytes(4) + struct.pack(">IH", total_bytes, audio_crc)
    frame[offset : offset + len(body)] = body
    struct.pack_into(">H", frame, offset + XING_SIZE - 2, crc16(bytes(frame[:190])))
    return bytes(frame)


def info_frame_header(template: FrameHeader) -> FrameHeader:
    """The header of the tag frame for a stream like `template`'s (its flags kept): no CRC, no padding, big enough
    for the tag."""
    index = template.bitrate_index
    while (
        frame_length(template.version, index, template.sample_rate_index, 0) < 4 + template.side_info_size + XING_SIZE
    ):
        index += 1
    raw = template.with_bitrate(index).raw
    header = parse_header(bytes((raw[0], raw[1] | 1, raw[2] & 0xFC, raw[3])))
    assert header is not None
    return header


def toc(frame_offsets: npt.NDArray[np.int64], total_bytes: int) -> bytes:
    """The Xing seek table: for each percent of the frames, where its frame starts, in 256ths of the bytes."""
    count = len(frame_offsets)
    if count == 0 or total_bytes <= 0:
        return bytes(100)
    picks = frame_offsets[np.minimum(np.arange(100) * count // 100, count - 1)]
    return bytes(np.minimum(picks * 256 // total_bytes, 255).astype(np.uint8).tolist())


def crc16(data: bytes | memoryview, crc: int = 0) -> int:
    """CRC-16/ARC (polynomial 0x8005 reflected, initial 0) of `data`, going on from `crc`: the LAME tag's CRCs,
    FFmpeg's `AV_CRC_16_ANSI_LE`.

    Megabytes of frames are checked at numpy speed. A 16-bit state is absorbed by the next two bytes, so `crc` is
    XORed into them and the rest starts from 0; zeros in front then change nothing, so the bytes are split into
    equal rows, every row runs through a two-byte table at once, and the rows' CRCs are folded pairwise, the left
    one carried past the right one's length of zero bytes by a linear map.
    """
    size = len(data)
    if size < 2:
        table = _tables().byte
        for byte in bytes(data):
            crc = int(table[(crc ^ byte) & 0xFF]) ^ (crc >> 8)
        return crc
    tables = _tables()
    row_words = max(1, -(-size // (2 * _CRC_ROWS)))
    rows = -(-size // (2 * row_words))
    padded = np.zeros(rows * row_words * 2, dtype=np.uint8)
    padded[-size:] = np.frombuffer(data, dtype=np.uint8)
    padded[-size] ^= crc & 0xFF
    padded[-size + 1] ^= crc >> 8
    words = np.ascontiguousarray(padded.view("<u2").reshape(rows, row_words).T)
    state = np.zeros(rows, dtype=np.uint16)
    for column in words:
        state = tables.word[state ^ column]
    span = row_words
    while len(state) > 1:
        if len(state) % 2:
            state = np.concatenate((np.zeros(1, dtype=np.uint16), state))
        shift = tables.zero_shift(span)
        state = shift[0][state[0::2] & 0xFF] ^ shift[1][state[0::2] >> 8] ^ state[1::2]
        span *= 2
    return int(state[0])


_CRC_ROWS = 8192


@dataclass
class _Crc16Tables:
    """The byte table, the two-byte table, and the maps "state → state after 2^k zero words", by the state's byte.

    Any other run of zero words is a composition of those (one per set bit of its length), so the cache holds at
    most one map per power of two whatever lengths come by.
    """

    byte: npt.NDArray[np.uint16]
    word: npt.NDArray[np.uint16]
    powers: list[npt.NDArray[np.uint16]]

    def zero_shift(self, words: int) -> tuple[npt.NDArray[np.uint16], npt.NDArray[np.uint16]]:
        basis = np.concatenate((np.arange(256, dtype=np.uint16), np.arange(256, dtype=np.uint16) << 8))
        states = basis
        bit = 0
        while words >> bit:
            while len(self.powers) <= bit:
                self.powers.append(_compose(self.powers[-1], self.powers[-1]) if self.powers else self.word[basis])
            if words >> bit & 1:
                states = _compose(states, self.powers[bit])
            bit += 1
        return states[:256], states[256:]


def _compose(first: npt.NDArray[np.uint16], then: npt.NDArray[np.uint16]) -> npt.NDArray[np.uint16]:
    """The 512 basis images of `first` followed by `then` (both given as images of the 256 low and 256 high bytes)."""
    images: npt.NDArray[np.uint16] = then[first & 0xFF] ^ then[256 + (first >> 8)]
    return images


_CRC16: _Crc16Tables | None = None


def _tables() -> _Crc16Tables:
    global _CRC16
    if _CRC16 is None:
        byte = np.zeros(256, dtype=np.uint16)
        for value in range(256):
            crc = value
            for _ in range(8):
                crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
            byte[value] = crc
        state = np.arange(65536, dtype=np.uint32)
        state = byte[state & 0xFF].astype(np.uint32) ^ (state >> 8)
        word = byte[state & 0xFF] ^ (state >> 8).astype(np.uint16)
        _CRC16 = _Crc16Tables(byte=byte, word=word, powers=[])
    return _CRC16
