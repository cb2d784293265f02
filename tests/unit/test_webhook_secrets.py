"""Each provider signs or addresses its webhooks with a secret of its own, kept across restarts.

apiframe v1 is sent its secret in every submission (it echoes it back), so a secret shared with sunoapi.org, whose
per-task callback URLs are HMACs under it, would let apiframe forge sunoapi.org callbacks.
"""

from __future__ import annotations

from pathlib import Path

from bot.providers.sunoapi_org.callbacks import callback_path
from bot.store.sqlite import SqliteStore
from bot.web.server import webhook_secret


async def test_each_provider_has_its_own_secret_and_apiframe_keeps_the_one_earlier_versions_made(
    tmp_path: Path,
) -> None:
    store = await SqliteStore.open(tmp_path / "encore.db")
    try:
        await store.set_meta("apiframe_webhook_secret", "the-secret-an-earlier-version-gave-apiframe")
        apiframe = await webhook_secret(store, "apiframe")
        sunoapi_org = await webhook_secret(store, "sunoapi_org")
        assert apiframe == "the-secret-an-earlier-version-gave-apiframe"
        assert sunoapi_org != apiframe and len(sunoapi_org) >= 32
        assert callback_path(sunoapi_org, 7) != callback_path(apiframe, 7)  # apiframe's secret opens no callback
        assert await webhook_secret(store, "sunoapi_org") == sunoapi_org  # kept, not made anew
    finally:
        await store.close()
