"""Song pages in a real browser (headless Chromium): they render, play and draw, without a console error or a
request to anywhere else, hostile titles stay text, the unfurl tags are there, and a phone can read them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest
from playwright.async_api import Browser, BrowserContext, ConsoleMessage, Dialog, Page, Request

from bot.web.pages.site import CONTENT_SECURITY_POLICY
from tests.pages.site import CHILD_SECONDS, GUILD, HOSTILE_TITLE, PublishedSite, published_site
from tests.support.browser import chromium

LOADED = "(id) => document.getElementById(id).readyState >= 1"  # HAVE_METADATA: the duration is known


@dataclass
class Watched:
    """What a page did that a test must see: console errors, script errors, dialogs, and every request's URL."""

    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


def watch(page: Page) -> Watched:
    seen = Watched()

    def on_console(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            seen.errors.append(message.text)

    async def on_dialog(dialog: Dialog) -> None:
        seen.dialogs.append(dialog.message)
        await dialog.dismiss()

    def on_request(request: Request) -> None:
        seen.requests.append(request.url)

    page.on("console", on_console)
    page.on("pageerror", lambda error: seen.errors.append(str(error)))
    page.on("dialog", on_dialog)
    page.on("request", on_request)
    return seen


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[PublishedSite]:
    async with published_site(tmp_path) as published:
        yield published


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    context = await browser.new_context()
    yield context
    await context.close()


async def test_a_song_page_renders_plays_and_draws_with_nothing_from_elsewhere(
    site: PublishedSite, context: BrowserContext
) -> None:
    page = await context.new_page()
    seen = watch(page)
    response = await page.goto(f"{site.base_url}/s/{site.song_page}")
    assert response is not None and response.status == 200
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    await page.wait_for_function(LOADED, arg="song-audio")
    duration = await page.eval_on_selector("#song-audio", "audio => audio.duration")
    assert abs(duration - CHILD_SECONDS) < 0.1
    await page.wait_for_function("() => document.getElementById('waveform').complete")
    assert await page.eval_on_selector("#waveform", "img => [img.naturalWidth, img.naturalHeight]") == [1200, 300]
    assert await page.eval_on_selector(".cover", "img => img.naturalWidth") == 64
    assert await page.locator("h1").inner_text() == HOSTILE_TITLE
    assert await page.locator(".makers").first.inner_text() == "by Ana Lúcia, Bo"
    assert await page.locator(".lineage a").inner_text() == "First light"
    await page.wait_for_load_state("networkidle")
    assert seen.errors == [] and seen.dialogs == []
    assert seen.requests and all(url.startswith(site.base_url + "/") for url in seen.requests)


async def test_a_hostile_title_stays_text(site: PublishedSite, context: BrowserContext) -> None:
    page = await context.new_page()
    seen = watch(page)
    await page.goto(f"{site.base_url}/s/{site.song_page}")
    await page.wait_for_load_state("networkidle")
    assert await page.locator("script").count() == 0
    assert await page.locator("img[src='x']").count() == 0
    assert await page.title() == HOSTILE_TITLE
    assert seen.dialogs == [] and not any(url.rsplit("/", 1)[-1] == "x" for url in seen.requests)


async def test_open_graph_and_twitter_tags_unfurl_the_song(site: PublishedSite, context: BrowserContext) -> None:
    page = await context.new_page()
    await page.goto(f"{site.base_url}/s/{site.song_page}")

    async def meta(attribute: str, name: str) -> str | None:
        return await page.locator(f'meta[{attribute}="{name}"]').get_attribute("content")

    assert await meta("property", "og:title") == HOSTILE_TITLE
    assert (await meta("property", "og:image") or "").endswith(f"/s/{site.song_page}/cover")
    assert (await meta("property", "og:audio") or "").endswith(f"/s/{site.song_page}/audio")
    assert await meta("property", "og:type") == "music.song"
    assert await meta("name", "twitter:card") == "summary_large_image"
    assert await meta("name", "twitter:image") == await meta("property", "og:image")


async def test_the_whole_song_page_plays_the_whole_song(site: PublishedSite, context: BrowserContext) -> None:
    page = await context.new_page()
    seen = watch(page)
    await page.goto(f"{site.base_url}/s/{site.whole_page}")
    await page.wait_for_function(LOADED, arg="song-audio")
    duration = await page.eval_on_selector("#song-audio", "audio => audio.duration")
    assert abs(duration - (8.0 + CHILD_SECONDS)) < 0.3  # the first part cut at its continue point, then the second
    await page.wait_for_function("() => document.getElementById('waveform').complete")
    assert await page.eval_on_selector("#waveform", "img => img.naturalWidth") == 1200
    assert "2 parts joined" in await page.locator("figcaption").inner_text()
    await page.wait_for_load_state("networkidle")
    assert seen.errors == []


async def test_the_gallery_is_404_while_off_and_a_taken_down_page_is_gone(
    site: PublishedSite, context: BrowserContext
) -> None:
    page = await context.new_page()
    gallery = f"{site.base_url}/g/GalleryOfTheServer0001"
    response = await page.goto(gallery)
    assert response is not None and response.status == 404
    await site.store.set_gallery(GUILD, "GalleryOfTheServer0001")
    response = await page.goto(gallery)
    assert response is not None and response.status == 200
    assert await page.locator(f'a[href="/s/{site.song_page}"]').count() == 0  # no ⭐ and no showcase yet

    await site.store.take_down_pages(site.child_task)
    response = await page.goto(f"{site.base_url}/s/{site.song_page}")
    assert response is not None and response.status == 404
    assert await page.locator("h1").count() == 0


async def test_a_phone_reads_it_in_either_theme_without_javascript(site: PublishedSite, browser: Browser) -> None:
    schemes: tuple[tuple[Literal["dark", "light"], str], ...] = (
        ("dark", "rgb(22, 23, 26)"),
        ("light", "rgb(255, 255, 255)"),
    )
    for scheme, background in schemes:
        context = await browser.new_context(
            viewport={"width": 390, "height": 844},
            device_scale_factor=2,
            is_mobile=True,
            has_touch=True,
            color_scheme=scheme,
            java_script_enabled=False,
        )
        try:
            page = await context.new_page()
            seen = watch(page)
            await page.goto(f"{site.base_url}/s/{site.song_page}")
            await page.wait_for_load_state("networkidle")
            width = await page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390  # nothing sticks out sideways
            box = await page.locator("#waveform").bounding_box()
            audio = await page.locator("#song-audio").bounding_box()
            assert box is not None and audio is not None
            assert box["width"] <= 390 and box["height"] < 120 and audio["width"] <= 390
            assert await page.eval_on_selector("body", "b => getComputedStyle(b).backgroundColor") == background
            assert seen.errors == []
        finally:
            await context.close()
