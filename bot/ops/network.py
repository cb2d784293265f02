"""Why a host could not be reached, in a few words, for the one-line messages of start-up and `check`."""

from __future__ import annotations

import aiohttp


def connection_failure(error: BaseException) -> str:
    if isinstance(error, aiohttp.ClientConnectorError):  # DNS failures included
        return f"cannot connect to {error.host}:{error.port} ({error.os_error.strerror or error.os_error})"
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
