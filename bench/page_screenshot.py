"""Not a benchmark: the README's screenshot of a song page, `docs/song-page.png` (`python -m bench.page_screenshot`).

The page is the one the browser tests open: a real store, real MP3s that pulse on their beat (the last one fading
out), the whole song built by the stitcher, and the page routes on 127.0.0.1, photographed by Debian's chromium
through Playwright at a phone's width, in the dark theme.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

from tests.pages.site import published_site
from tests.support.browser import ARGS, CHROMIUM

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "song-page.png"


async def shoot() -> None:
    from playwright.async_api import async_playwright

    with tempfile.TemporaryDirectory(prefix="encore-page-shot-") as folder:
        async with (
            published_site(Path(folder), child_title="Night Drive (extended)") as site,
            async_playwright() as playwright,
        ):
            browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
            try:
                context = await browser.new_context(
                    viewport={"width": 430, "height": 900}, device_scale_factor=2, color_scheme="dark"
                )
                page = await context.new_page()
                await page.goto(f"{site.base_url}/s/{site.whole_page}")
                await page.wait_for_load_state("networkidle")
                await page.screenshot(path=str(OUT), full_page=True)
            finally:
                await browser.close()


def main() -> int:
    asyncio.run(shoot())
    print(f"{OUT.relative_to(ROOT)}: {OUT.stat().st_size // 1024} kB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
