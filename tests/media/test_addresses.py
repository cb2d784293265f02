"""Address classes the media fetcher refuses, and parsing of the operator's trusted origins."""

from __future__ import annotations

import ipaddress

import pytest

from bot.media import Origin, is_public_address, is_safe_embed_url, origin_of, parse_origins, sniff_audio, sniff_image

NOT_PUBLIC = [
    "127.0.0.1",
    "127.255.255.254",
    "10.1.2.3",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.1.1",
    "169.254.169.254",  # cloud metadata
    "100.64.0.1",  # CGNAT
    "100.127.255.255",
    "0.0.0.0",
    "0.1.2.3",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    "192.0.0.8",
    "192.0.2.1",
    "198.18.0.1",
    "198.51.100.7",
    "203.0.113.9",
    "::",
    "::1",
    "fe80::1",
    "fe80::1%eth0",
    "fec0::1",  # site-local
    "fc00::1",
    "fd12:3456:789a::1",  # unique-local
    "ff02::1",
    "2001:db8::1",
    "2001::1",  # Teredo
    "100::1",
    "::ffff:127.0.0.1",  # IPv4-mapped loopback
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "::ffff:100.64.0.1",
    "::127.0.0.1",  # IPv4-compatible (deprecated)
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "2002:c0a8:101::1",  # 6to4 of 192.168.1.1
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    "not an address",
    "127.1",
    "",
]
PUBLIC = ["1.1.1.1", "8.8.8.8", "93.184.216.34", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"]


@pytest.mark.parametrize("address", NOT_PUBLIC)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert not is_public_address(address)


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(address: str) -> None:
    assert is_public_address(address)
    assert is_public_address(ipaddress.ip_address(address))


def test_origins_fill_in_default_ports_and_normalise_case() -> None:
    assert parse_origins("http://127.0.0.1:8080, https://CDN.example ,http://[::1]:9000/,") == frozenset(
        {Origin("http", "127.0.0.1", 8080), Origin("https", "cdn.example", 443), Origin("http", "::1", 9000)}
    )
    assert parse_origins("http://localhost") == {Origin("http", "localhost", 80)}
    assert parse_origins("") == frozenset()
    assert str(Origin("http", "::1", 9000)) == "http://[::1]:9000"


@pytest.mark.parametrize(
    "entry",
    ["cdn.example", "ftp://cdn.example", "https://", "https://cdn.example/path", "https://cdn.example?x=1",
     "https://user@cdn.example", "https://cdn.example:99999", "javascript:alert(1)", "file:///etc/passwd"],
)  # fmt: skip
def test_a_malformed_origin_is_a_clear_error(entry: str) -> None:
    with pytest.raises(ValueError, match=r"is not an origin like https://cdn\.example"):
        parse_origins(f"https://ok.example,{entry}")


def test_origin_of_a_url() -> None:
    assert origin_of("https://cdn1.suno.ai/abc.mp3?x=1") == Origin("https", "cdn1.suno.ai", 443)
    assert origin_of("http://127.0.0.1:80/x") == Origin("http", "127.0.0.1", 80)
    with pytest.raises(ValueError):
        origin_of("file:///etc/passwd")


@pytest.mark.parametrize("url", ["https://cdn.example/a.jpg", "http://127.0.0.1:8080/x.png"])
def test_safe_embed_urls(url: str) -> None:
    assert is_safe_embed_url(url)


@pytest.mark.parametrize(
    "url", [None, "", "file:///etc/passwd", "javascript:alert(1)", "data:image/png;base64,AAAA", "https://",
            "/cover.png", "cover.png", "https://cdn.example/a b.png", "https://cdn.example/" + "a" * 2100]
)  # fmt: skip
def test_unsafe_embed_urls(url: str | None) -> None:
    assert not is_safe_embed_url(url)


MPEG1_LAYER3_FRAME = bytes([0xFF, 0xFB, 0x90, 0x64]) + bytes(8)


@pytest.mark.parametrize(
    "head",
    [b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(4), MPEG1_LAYER3_FRAME, bytes([0xFF, 0xF3, 0x48, 0xC4]) + bytes(8),
     bytes([0xFF, 0xF1, 0x50, 0x80]) + bytes(8), b"RIFF\x24\x08\x00\x00WAVEfmt ", b"OggS\x00\x02" + bytes(6),
     b"fLaC\x00\x00\x00\x22" + bytes(4), b"\x00\x00\x00\x20ftypM4A " + bytes(4)],
)  # fmt: skip
def test_audio_magic_is_recognised(head: bytes) -> None:
    assert sniff_audio(head)


@pytest.mark.parametrize(
    "head",
    [b"", b"<!DOCTYPE html><html>", b'{"error": "nope"}', b"ID3", b"\xff\xff\xff\xff" + bytes(8),
     bytes([0xFF, 0xFB, 0xF0, 0x64]) + bytes(8), b"RIFF\x24\x08\x00\x00WEBPVP8 ", b"\x89PNG\r\n\x1a\n" + bytes(4)],
)  # fmt: skip
def test_non_audio_is_not_audio(head: bytes) -> None:
    assert not sniff_audio(head)


def test_image_magic_gives_the_extension() -> None:
    assert sniff_image(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR") == "png"
    assert sniff_image(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00") == "jpg"
    assert sniff_image(b"GIF89a\x01\x00\x01\x00") == "gif"
    assert sniff_image(b"RIFF\x24\x08\x00\x00WEBPVP8 ") == "webp"
    assert sniff_image(b"<svg xmlns=") is None
    assert sniff_image(b"RIFF\x24\x08\x00\x00WAVEfmt ") is None
