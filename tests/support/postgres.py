"""A fresh PostgreSQL database per test on the shared test server (`ENCORE_TEST_DATABASE_URL`).

`scripts/test` starts a throwaway server and sets the variable; without one the PostgreSQL tests are skipped
with a notice in the summary, unless `ENCORE_REQUIRE_POSTGRES=1` (CI) makes that a failure.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

URL_VARIABLE = "ENCORE_TEST_DATABASE_URL"
REQUIRE_VARIABLE = "ENCORE_REQUIRE_POSTGRES"
SKIP_REASON = f"no PostgreSQL server for the tests: {URL_VARIABLE} is not set (scripts/test starts one)"


def server_url() -> str:
    """The test server's URL; skips the test (or fails it, when PostgreSQL is required) without one."""
    url = os.environ.get(URL_VARIABLE, "").strip()
    if url:
        return url
    if os.environ.get(REQUIRE_VARIABLE) == "1":
        pytest.fail(f"{REQUIRE_VARIABLE}=1 but {URL_VARIABLE} is not set: the PostgreSQL tests must run")
    pytest.skip(SKIP_REASON)


def with_database(url: str, database: str) -> str:
    """`url` pointing at another database of the same server (query parameters kept)."""
    head, _, query = url.partition("?")
    scheme, _, rest = head.partition("://")
    authority = rest.split("/", 1)[0]
    return f"{scheme}://{authority}/{database}" + (f"?{query}" if query else "")


@contextlib.asynccontextmanager
async def fresh_database() -> AsyncIterator[str]:
    """Create an empty database for one test, yield its URL, and drop it afterwards (closing what is left)."""
    url = server_url()
    name = f"encore_test_{uuid.uuid4().hex[:16]}"
    admin = await asyncpg.connect(url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield with_database(url, name)
    finally:
        admin = await asyncpg.connect(url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()
