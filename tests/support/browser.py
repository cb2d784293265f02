"""Headless Chromium for the page tests: Debian's `chromium`, driven by Playwright's Python package (which never
downloads a browser here). Without it the browser tests are skipped with a notice, unless `ENCORE_REQUIRE_BROWSER=1`
(CI, set by `.ci/run`) makes that a failure, as `ENCORE_REQUIRE_POSTGRES` does for PostgreSQL."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright

CHROMIUM = Path("/usr/bin/chromium")
REQUIRE_VARIABLE = "ENCORE_REQUIRE_BROWSER"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> Path:
    """Debian's chromium; skips the test without it (or fails it, when the browser is required)."""
    if CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    reason = f"no browser for the page tests: {CHROMIUM} is missing (apt-get install chromium)"
    if os.environ.get(REQUIRE_VARIABLE) == "1":
        pytest.fail(f"{REQUIRE_VARIABLE}=1 but {reason}")
    pytest.skip(reason)


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """A fresh headless Chromium, closed afterwards."""
    path = chromium_path()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(path), args=ARGS, headless=True)
        try:
            yield browser
        finally:
            await browser.close()
