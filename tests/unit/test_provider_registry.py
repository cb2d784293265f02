"""The provider registry is the one list of providers, and every place that must know a provider knows each one.

A new provider is its package and its line in `PLUGINS`; these tests say what else still names it (its settings,
`.env.example`, the import contracts) and fail if any is forgotten.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import aiohttp
import pytest

from bot.config import PROVIDER_KEY_VARIABLES, Settings
from bot.providers import CAPABILITIES, PLUGINS, create_provider
from bot.providers.plugin import ProviderPlugin

ROOT = Path(__file__).resolve().parents[2]
KEYS: dict[str, str] = {name: variable for name, variable in PROVIDER_KEY_VARIABLES.items()}


def settings_for(name: str, **env: str) -> Settings:
    return Settings.from_env({"DISCORD_TOKEN": "t", "SUNO_PROVIDER": name, KEYS[name]: "k", **env})


def test_every_plugin_has_its_setting_its_documentation_and_its_import_contracts() -> None:
    assert set(PLUGINS) == set(KEYS) == set(CAPABILITIES)
    example = (ROOT / ".env.example").read_text()
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    concrete = next(c for c in contracts if c["name"].startswith("Concrete providers"))
    independent = next(c for c in contracts if c["type"] == "independence" and "bot.providers.apiframe" in c["modules"])
    for name, plugin in PLUGINS.items():
        assert plugin.name == name == plugin.capabilities.name
        assert f"\n{KEYS[name]}=" in example
        assert f"bot.providers.{name}" in concrete["forbidden_modules"]
        assert f"bot.providers.{name}" in independent["modules"]


@pytest.mark.parametrize("name", sorted(PLUGINS))
def test_every_plugin_s_capabilities_are_consistent(name: str) -> None:
    caps = PLUGINS[name].capabilities
    assert caps.limits(None) and all(caps.limits(model) for model in caps.choosable_models)
    assert caps.default_generate_model in (None, *caps.choosable_models)
    assert bool(caps.fixed_model) != bool(caps.choosable_models)
    assert not caps.uploads or caps.upload_max_bytes > 0


@pytest.mark.parametrize("name", sorted(PLUGINS))
async def test_every_plugin_builds_its_client_and_brings_its_routes_only_with_a_secret(
    name: str, http_session: aiohttp.ClientSession
) -> None:
    plugin: ProviderPlugin = PLUGINS[name]
    polling = create_provider(settings_for(name), http_session)
    assert polling.name == name and polling.capabilities is plugin.capabilities
    assert polling.webhook_routes() == ()
    pushed = create_provider(
        settings_for(name, PUBLIC_WEBHOOK_URL="https://encore.example"), http_session, webhook_secret="s" * 32
    )
    routes = pushed.webhook_routes()
    assert bool(routes) == plugin.capabilities.webhooks
    assert all(route.path.startswith(f"/webhooks/{name}") for route in routes)
