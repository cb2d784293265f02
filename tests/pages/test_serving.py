"""Song pages over plain HTTP: Range requests, ETags, the rate limit, unknown ids, the CSP and escaping, what a
page shows and hides, take-downs, and the gallery."""

from __future__ import annotations

import asyncio
import io
import ipaddress
import re
import sqlite3
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from multidict import CIMultiDict
from PIL import Image

from bot.audio.waveform import PALETTE
from bot.web.pages.guard import AddressLimiter
from bot.web.pages.site import CONTENT_SECURITY_POLICY, RENDERED_PAGE_SECONDS
from tests.pages.site import CHILD, GUILD, MEMBER, PUBLIC_URL, ROOT, PublishedSite, published_site


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[PublishedSite]:
    async with published_site(tmp_path) as published:
        yield published


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def get(http: aiohttp.ClientSession, url: str, **headers: str) -> tuple[int, CIMultiDict[str], bytes]:
    async with http.get(url, headers=headers, allow_redirects=False) as response:
        return response.status, CIMultiDict(response.headers), await response.read()


async def test_a_song_page_shows_its_song_and_hides_ids(site: PublishedSite, http: aiohttp.ClientSession) -> None:
    status, headers, body = await get(http, f"{site.base_url}/s/{site.song_page}")
    html = body.decode()
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert "by Ana Lúcia, Bo" in html and "chirp-v4-5" in html
    assert f'<audio id="song-audio" controls preload="metadata" src="/s/{site.song_page}/audio">' in html
    assert f'src="/s/{site.whole_page}/audio"' in html  # its whole song's player
    assert f'<a href="/s/{site.root_page}">First light</a>' in html and "continued from 0:08" in html
    assert f"https://discord.com/channels/{GUILD}/21/701" in html
    assert str(MEMBER) not in html and CHILD not in html  # no user id, and the clip id is not the page's id
    assert site.song_page not in CHILD


async def test_every_text_is_escaped_and_the_page_loads_nothing_from_elsewhere(
    site: PublishedSite, http: aiohttp.ClientSession
) -> None:
    _, headers, body = await get(http, f"{site.base_url}/s/{site.song_page}")
    html = body.decode()
    assert "<script" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&#34;&gt;&lt;img src=x onerror=alert(2)&gt;" in html
    assert headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "default-src 'none'" in CONTENT_SECURITY_POLICY and "script-src" not in CONTENT_SECURITY_POLICY
    loaded = re.findall(r'(?:src|href)="([^"]*)"', html)
    assert loaded and all(url.startswith("/") or url.startswith("https://discord.com/channels/") for url in loaded)


async def test_open_graph_and_twitter_tags_describe_the_song(site: PublishedSite, http: aiohttp.ClientSession) -> None:
    _, _, body = await get(http, f"{site.base_url}/s/{site.song_page}")
    tags = dict(re.findall(r'<meta (?:property|name)="([^"]+)" content="([^"]*)">', body.decode()))
    base = f"{PUBLIC_URL}/s/{site.song_page}"
    assert tags["og:url"] == base and tags["og:image"] == f"{base}/cover" and tags["og:audio"] == f"{base}/audio"
    assert tags["og:audio:type"] == "audio/mpeg" and tags["twitter:card"] == "summary_large_image"
    assert (
        tags["og:title"].startswith("&lt;script&gt;")
        and tags["og:description"] == "0:10 · by Ana Lúcia, Bo · made with Encore"
    )


async def test_audio_answers_range_requests_from_the_cache(site: PublishedSite, http: aiohttp.ClientSession) -> None:
    whole = site.audio[CHILD].read_bytes()
    url = f"{site.base_url}/s/{site.song_page}/audio"
    status, headers, body = await get(http, url)
    assert status == 200 and body == whole and headers["Content-Type"] == "audio/mpeg"
    assert headers["Accept-Ranges"] == "bytes"
    status, headers, body = await get(http, url, Range="bytes=100-199")
    assert status == 206 and body == whole[100:200] and headers["Content-Range"] == f"bytes 100-199/{len(whole)}"
    status, headers, body = await get(http, url, Range="bytes=-50")
    assert status == 206 and body == whole[-50:]
    status, _, _ = await get(http, url, Range=f"bytes={len(whole) + 10}-")
    assert status == 416
    assert site.media_host.requests == []  # the cached copy served it: nothing asked of the provider


async def test_audio_missing_from_the_cache_is_fetched_once_from_the_provider(
    site: PublishedSite, http: aiohttp.ClientSession
) -> None:
    url = f"{site.base_url}/s/{site.root_page}/audio"
    answers = await asyncio.gather(*(get(http, url) for _ in range(4)))
    assert {status for status, _, _ in answers} == {200}
    assert all(body == site.audio["aaaaaaaa-0000-4000-8000-000000000001"].read_bytes() for _, _, body in answers)
    assert site.media_host.requests == ["/root.mp3"]


async def test_provider_audio_that_is_not_an_mp3_is_neither_served_nor_cached(
    site: PublishedSite, http: aiohttp.ClientSession
) -> None:
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(b"\x00\x10" * 8000)
    site.media_host.files["root.mp3"] = (out.getvalue(), "audio/mpeg")
    status, _, _ = await get(http, f"{site.base_url}/s/{site.root_page}/audio")
    assert status == 404 and site.media_host.requests == ["/root.mp3"]
    assert site.cache.find(ROOT) is None


async def test_pages_and_media_carry_etags_and_answer_304(site: PublishedSite, http: aiohttp.ClientSession) -> None:
    for path in ("", "/cover", "/waveform.png", "/audio"):
        url = f"{site.base_url}/s/{site.song_page}{path}"
        status, headers, body = await get(http, url)
        assert status == 200 and body and headers.get("ETag") and "max-age" in headers["Cache-Control"], path
        again, again_headers, again_body = await get(http, url, **{"If-None-Match": headers["ETag"]})
        assert (again, again_body, again_headers["ETag"]) == (304, b"", headers["ETag"])
    changed, _, _ = await get(http, f"{site.base_url}/s/{site.song_page}", **{"If-None-Match": '"other"'})
    assert changed == 200


async def test_the_whole_songs_picture_shows_each_part_in_its_colour(
    site: PublishedSite, http: aiohttp.ClientSession
) -> None:
    status, headers, body = await get(http, f"{site.base_url}/s/{site.whole_page}/waveform.png")
    assert status == 200 and headers["Content-Type"] == "image/png"
    image = Image.open(io.BytesIO(body)).convert("RGB")
    assert image.size == (1200, 300)
    colours = {colour for _, colour in image.getcolors(maxcolors=1 << 16) or []}
    assert PALETTE[0] in colours and PALETTE[1] in colours
    _, _, page = await get(http, f"{site.base_url}/s/{site.whole_page}")
    assert "2 parts joined" in page.decode()
    status, _, song_picture = await get(http, f"{site.base_url}/s/{site.song_page}/waveform.png")
    assert status == 200 and Image.open(io.BytesIO(song_picture)).size == (1200, 300)


async def test_a_parent_taken_down_leaves_the_childs_page_and_takes_the_whole_song_with_it(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    async with published_site(tmp_path, child_title="Second light") as site:
        _, _, before = await get(http, f"{site.base_url}/s/{site.song_page}")
        assert f'<a href="/s/{site.root_page}">First light</a>' in before.decode()
        assert await site.store.take_down_pages(site.root_task) == 2  # its page, and the whole song it is part of
        _, _, after = await get(http, f"{site.base_url}/s/{site.song_page}")
        html = after.decode()
        assert "First light" not in html and site.root_page not in html and site.whole_page not in html
        assert "A song not shown here" in html and "continued from" in html
        assert (await get(http, f"{site.base_url}/s/{site.whole_page}/audio"))[0] == 404


async def test_a_rendered_page_is_reused_until_a_take_down_a_settings_change_or_its_time_runs_out(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    """What neither the page's row nor its server's stamp tells (a parent renamed behind the store's back) shows
    only once the rendering is due; a settings change and a take-down (of the page or of a parent it names) show
    at once, with no waiting."""
    now = [1_000_000.0]
    async with published_site(tmp_path, child_title="Second light", clock=lambda: now[0]) as site:
        page_url = f"{site.base_url}/s/{site.song_page}"
        _, first_headers, first = await get(http, page_url)
        assert b">First light</a>" in first
        with sqlite3.connect(tmp_path / "encore.db") as db:
            db.execute("UPDATE songs SET title = 'Renamed light' WHERE clip_id = ?", (ROOT,))
        status, headers, reused = await get(http, page_url)
        assert (status, reused, headers["ETag"]) == (200, first, first_headers["ETag"])
        assert (await get(http, page_url, **{"If-None-Match": first_headers["ETag"]}))[0] == 304

        await site.store.set_gallery(GUILD, "GalleryOfTheServer0001")  # a settings change: rendered again
        _, changed_headers, changed = await get(http, page_url)
        assert b">Renamed light</a>" in changed and changed_headers["ETag"] != first_headers["ETag"]

        with sqlite3.connect(tmp_path / "encore.db") as db:
            db.execute("UPDATE songs SET title = 'Last light' WHERE clip_id = ?", (ROOT,))
        assert b">Renamed light</a>" in (await get(http, page_url))[2]
        now[0] += RENDERED_PAGE_SECONDS
        assert b">Last light</a>" in (await get(http, page_url))[2]

        await site.store.set_pages_on(GUILD, False)
        assert (await get(http, page_url))[0] == 404
        await site.store.set_pages_on(GUILD, True)
        assert (await get(http, page_url))[0] == 200

        # A parent taken down that leaves the child's row as it was (its whole song's post is not made, so the
        # child links no whole song): the server's stamp alone tells the rendering is out of date.
        with sqlite3.connect(tmp_path / "encore.db") as db:
            db.execute("UPDATE song_pages SET message_id = NULL WHERE page_id = ?", (site.whole_page,))
        assert b">Last light</a>" in (await get(http, page_url))[2]
        assert await site.store.take_down_pages(site.root_task) == 2
        html = (await get(http, page_url))[2].decode()
        assert "Last light" not in html and site.root_page not in html and "A song not shown here" in html

        assert await site.store.take_down_pages(site.child_task) == 1  # right after a rendering: gone at once
        assert (await get(http, page_url))[0] == 404


async def test_unknown_and_malformed_ids_are_404_before_any_lookup(
    site: PublishedSite, http: aiohttp.ClientSession
) -> None:
    for path in (
        "/s/AAAAAAAAAAAAAAAAAAAAAA",
        "/s/AAAAAAAAAAAAAAAAAAAAAA/audio",
        "/s/AAAAAAAAAAAAAAAAAAAAAA/cover",
        "/s/AAAAAAAAAAAAAAAAAAAAAA/waveform.png",
        f"/s/{CHILD}x",
        "/s/short",
        "/s/%3Cscript%3E",
        "/g/AAAAAAAAAAAAAAAAAAAAAA",
    ):
        status, headers, body = await get(http, site.base_url + path)
        assert (status, body) == (404, b"There is no page here.\n"), path
        assert headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY


async def test_a_taken_down_page_and_a_server_with_pages_off_answer_404(
    site: PublishedSite, http: aiohttp.ClientSession
) -> None:
    assert await site.store.take_down_pages(site.child_task) == 2
    for page in (site.song_page, site.whole_page):
        for path in ("", "/audio", "/waveform.png"):
            assert (await get(http, f"{site.base_url}/s/{page}{path}"))[0] == 404
    _, _, root = await get(http, f"{site.base_url}/s/{site.root_page}")
    assert root.count(b"<audio") == 1  # the whole song it no longer links
    await site.store.set_pages_on(GUILD, False)
    assert (await get(http, f"{site.base_url}/s/{site.root_page}"))[0] == 404


async def test_the_gallery_is_404_while_off_and_lists_the_servers_songs_when_on(
    site: PublishedSite, http: aiohttp.ClientSession
) -> None:
    gallery_id = "GalleryOfTheServer0001"
    assert (await get(http, f"{site.base_url}/g/{gallery_id}"))[0] == 404
    await site.store.add_star(site.child_task, 5)
    await site.store.set_gallery(GUILD, gallery_id)
    status, headers, body = await get(http, f"{site.base_url}/g/{gallery_id}")
    html = body.decode()
    assert status == 200 and headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert f'<a href="/s/{site.song_page}">&lt;script&gt;' in html and "1 ⭐" in html
    assert "No song has reached the showcase yet." in html


async def test_the_rate_limit_answers_429_per_address(tmp_path: Path, http: aiohttp.ClientSession) -> None:
    async with published_site(tmp_path, limiter=AddressLimiter(rate=0.01, burst=5)) as site:
        url = f"{site.base_url}/s/{site.song_page}"
        statuses = [(await get(http, url))[0] for _ in range(5)]
        status, headers, _ = await get(http, url)
        assert statuses == [200] * 5 and status == 429
        assert int(headers["Retry-After"]) >= 1 and headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY


async def test_a_whole_songs_audio_outlives_the_clip_caches_evictions(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    """Clips posted after the whole song push the oldest out of the clips' cache; the whole song's page still plays
    it (the post's copy on Discord expires, so nothing else could)."""
    bound = 2 * 1024 * 1024
    async with published_site(tmp_path, clip_cache_bytes=bound) as site:
        filler = site.audio[ROOT]
        for number in range(bound // filler.stat().st_size + 1):
            assert site.cache.put(f"later-clip-{number}", filler)
        assert site.cache.find(CHILD) is None  # the clips' cache did evict
        status, _, body = await get(http, f"{site.base_url}/s/{site.whole_page}/audio")
        assert status == 200 and body == site.audio["whole"].read_bytes()


async def forwarded_statuses(url: str, source: str, forwarded_for: list[str]) -> list[int]:
    """The statuses of one request per forwarded address, all sent from `source` (a proxy's address)."""
    connector = aiohttp.TCPConnector(local_addr=(source, 0), force_close=True)
    async with aiohttp.ClientSession(connector=connector) as proxy:
        return [
            (await get(proxy, url, **{"X-Forwarded-For": f"203.0.113.9, {address}"}))[0] for address in forwarded_for
        ]


@pytest.mark.parametrize(("trusted", "expected"), [("127.0.0.2/32", [200] * 4), ("10.0.0.0/8", [200, 200, 429, 429])])
async def test_the_rate_limit_believes_x_forwarded_for_only_from_a_trusted_proxy(
    tmp_path: Path, trusted: str, expected: list[int]
) -> None:
    """A proxy at 127.0.0.2, as in a container network: trusted, each visitor it forwards for has their own bucket;
    not trusted, its header is ignored and everything it sends shares the proxy's one bucket."""
    networks = [ipaddress.ip_network(trusted)]
    limiter = AddressLimiter(rate=0.01, burst=2)
    async with published_site(tmp_path, limiter=limiter, trusted_proxies=networks) as site:
        url = f"{site.base_url}/s/{site.song_page}"
        visitors = ["198.51.100.1", "198.51.100.1", "198.51.100.2", "198.51.100.2"]
        assert await forwarded_statuses(url, "127.0.0.2", visitors) == expected


def test_the_limiter_refills_and_keeps_a_bounded_table() -> None:
    now = [0.0]
    limiter = AddressLimiter(rate=2.0, burst=2, max_addresses=3, clock=lambda: now[0])
    assert [limiter.allow("a") for _ in range(3)] == [None, None, 0.5]
    now[0] += 0.5
    assert limiter.allow("a") is None and limiter.allow("a") is not None
    for address in ("b", "c", "d"):
        limiter.allow(address)
    assert limiter.allow("a") is None  # forgotten (least recently seen): a fresh bucket
