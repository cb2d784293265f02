"""Settings: defaults, provider choice, and one clear error naming the variable."""

from __future__ import annotations

import ipaddress
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ConfigError, Settings

BASE = {"DISCORD_TOKEN": "discord-token-value", "SUNOAPI_KEY": "sunoapi-key-value"}


def test_defaults() -> None:
    settings = Settings.from_env(BASE)
    assert settings.provider == "sunoapi"
    assert settings.sunoapi_base_url == "https://api.sunoapi.co"
    assert settings.apiframe_base_url == "https://api.apiframe.pro"
    assert settings.suno_cdn_base_url == "https://cdn1.suno.ai"
    assert settings.discord_api_base == "https://discord.com/api/v10"
    assert settings.database_path == Path("data/encore.db")
    assert settings.poll_interval == 5.0
    assert settings.dev_guild_id is None


def test_secrets_stay_out_of_repr() -> None:
    text = repr(Settings.from_env({**BASE, "APIFRAME_KEY": "apiframe-key-value", "SUNO_PROVIDER": "apiframe"}))
    for secret in ("discord-token-value", "sunoapi-key-value", "apiframe-key-value"):
        assert secret not in text


def test_provider_is_the_one_with_a_key_unless_named() -> None:
    assert Settings.from_env({"DISCORD_TOKEN": "t", "APIFRAME_KEY": "k"}).provider == "apiframe"
    both = {**BASE, "APIFRAME_KEY": "k"}
    with pytest.raises(ConfigError, match="SUNO_PROVIDER"):
        Settings.from_env(both)
    assert Settings.from_env({**both, "SUNO_PROVIDER": "APIFRAME"}).provider == "apiframe"


def test_apiframe_v2_needs_its_key_and_a_self_hosted_suno_api_runs_without_one() -> None:
    v2 = Settings.from_env({"DISCORD_TOKEN": "t", "APIFRAME_V2_KEY": "afk_k"})
    assert (v2.provider, v2.base_url_of(v2.provider), v2.key_of(v2.provider)) == (
        "apiframe_v2",
        "https://api.apiframe.ai",
        "afk_k",
    )
    with pytest.raises(ConfigError, match="APIFRAME_V2_KEY"):
        Settings.from_env({"DISCORD_TOKEN": "t", "SUNO_PROVIDER": "apiframe_v2"})
    own = Settings.from_env(
        {"DISCORD_TOKEN": "t", "SUNO_PROVIDER": "suno_api", "SUNO_API_BASE_URL": "http://box:3000/"}
    )
    assert (own.provider, own.base_url_of("suno_api"), own.key_of("suno_api")) == ("suno_api", "http://box:3000", "")
    proxied = Settings.from_env({"DISCORD_TOKEN": "t", "SUNO_PROVIDER": "suno_api", "SUNO_API_KEY": "proxy-secret"})
    assert proxied.base_url_of("suno_api") == "http://localhost:3000" and "proxy-secret" in proxied.secrets
    assert "proxy-secret" not in repr(proxied)
    with pytest.raises(ConfigError, match="SUNO_API_BASE_URL"):
        Settings.from_env({"DISCORD_TOKEN": "t", "SUNO_PROVIDER": "suno_api", "SUNO_API_BASE_URL": "localhost:3000"})


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"SUNOAPI_KEY": "k"}, "DISCORD_TOKEN"),
        ({"DISCORD_TOKEN": "t"}, "SUNOAPI_KEY"),
        ({**BASE, "SUNO_PROVIDER": "udio"}, "SUNO_PROVIDER"),
        ({**BASE, "SUNO_PROVIDER": "apiframe"}, "APIFRAME_KEY"),
        ({**BASE, "POLL_INTERVAL_SECONDS": "fast"}, "POLL_INTERVAL_SECONDS"),
        ({**BASE, "POLL_INTERVAL_SECONDS": "-1"}, "POLL_INTERVAL_SECONDS"),
        ({**BASE, "POLL_INTERVAL_SECONDS": "nan"}, "POLL_INTERVAL_SECONDS"),
        ({**BASE, "DEV_GUILD_ID": "my-guild"}, "DEV_GUILD_ID"),
        ({**BASE, "SUNOAPI_BASE_URL": "ftp://x"}, "SUNOAPI_BASE_URL"),
        ({**BASE, "SUNO_CDN_BASE_URL": "cdn1.suno.ai"}, "SUNO_CDN_BASE_URL"),
        ({**BASE, "DISCORD_GATEWAY_URL": "http://x"}, "DISCORD_GATEWAY_URL"),
        ({**BASE, "HTTP_PORT": "80808"}, "HTTP_PORT"),
        ({**BASE, "LOG_FORMAT": "xml"}, "LOG_FORMAT"),
        ({**BASE, "TRUSTED_PROXIES": "172.16.0.0/12,proxy.local"}, "TRUSTED_PROXIES"),
        ({**BASE, "TRUSTED_PROXIES": "10.0.0.1/8"}, "TRUSTED_PROXIES"),
        ({**BASE, "PAGE_AUDIO_MAX_MB": "0"}, "PAGE_AUDIO_MAX_MB"),
        ({**BASE, "PAGE_AUDIO_MAX_MB": "1.5"}, "PAGE_AUDIO_MAX_MB"),
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    assert caught.value.variable == variable
    assert str(caught.value).startswith(variable)


def test_the_web_server_runs_on_http_port_or_with_webhooks_on_webhook_port() -> None:
    assert Settings.from_env(BASE).web_server_port is None
    assert Settings.from_env({**BASE, "HTTP_PORT": "9100"}).web_server_port == 9100
    webhooks = {**BASE, "PUBLIC_WEBHOOK_URL": "https://encore.example", "WEBHOOK_PORT": "8081"}
    assert Settings.from_env(webhooks).web_server_port == 8081
    assert Settings.from_env({**webhooks, "HTTP_PORT": "9100"}).web_server_port == 9100


def test_trusted_proxies_default_to_this_machine_or_are_the_listed_networks() -> None:
    assert Settings.from_env(BASE).trusted_proxies == (
        ipaddress.ip_network("127.0.0.0/8"),
        ipaddress.ip_network("::1/128"),
    )
    listed = Settings.from_env({**BASE, "TRUSTED_PROXIES": " 172.16.0.0/12, 10.1.2.3 ,fd00::/8"}).trusted_proxies
    assert listed == (
        ipaddress.ip_network("172.16.0.0/12"),
        ipaddress.ip_network("10.1.2.3/32"),
        ipaddress.ip_network("fd00::/8"),
    )


def test_whole_songs_for_pages_are_kept_within_their_own_bound() -> None:
    assert Settings.from_env(BASE).page_audio_bytes == 1024 * 1024 * 1024
    assert Settings.from_env({**BASE, "PAGE_AUDIO_MAX_MB": "200"}).page_audio_bytes == 200 * 1024 * 1024


def test_poll_interval_may_be_below_one_second() -> None:
    assert Settings.from_env({**BASE, "POLL_INTERVAL_SECONDS": "0.2"}).poll_interval == 0.2


def test_python_m_bot_exits_with_one_line_naming_the_variable(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "SUNOAPI_KEY": "sunoapi-key-value", "POLL_INTERVAL_SECONDS": "soon"}
    result = subprocess.run(
        [sys.executable, "-m", "bot"],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == ["encore: configuration error: DISCORD_TOKEN: is required"]
    assert "Traceback" not in result.stderr


def test_a_database_url_selects_postgresql_and_stays_secret() -> None:
    url = "postgresql://encore:pg-password-value@db.example:5432/encore"
    settings = Settings.from_env({**BASE, "DATABASE_URL": url})
    assert settings.database_url == url
    assert "pg-password-value" not in repr(settings)
    assert {url, "pg-password-value"} <= set(settings.secrets)
    assert Settings.from_env(BASE).database_url == ""
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        Settings.from_env({**BASE, "DATABASE_URL": "mysql://db/encore"})


def test_shards_some_all_or_none() -> None:
    assert (Settings.from_env(BASE).shard_count, Settings.from_env(BASE).shard_ids) == (1, None)
    some = Settings.from_env({**BASE, "SHARD_COUNT": "4", "SHARD_IDS": "0, 2"})
    assert (some.shard_count, some.shard_ids, some.runs_gateway) == (4, (0, 2), True)
    worker = Settings.from_env({**BASE, "SHARD_IDS": "none"})
    assert (worker.shard_ids, worker.runs_gateway) == ((), False)
    for bad in ({"SHARD_COUNT": "0"}, {"SHARD_IDS": "1"}, {"SHARD_COUNT": "2", "SHARD_IDS": "0,0"}, {"SHARD_IDS": "x"}):
        with pytest.raises(ConfigError) as caught:
            Settings.from_env({**BASE, **bad})
        assert caught.value.variable in bad


def test_several_providers_in_order_each_with_its_key() -> None:
    env = {"DISCORD_TOKEN": "t", "SUNOAPI_ORG_KEY": "org", "APIFRAME_V2_KEY": "afk_k"}
    settings = Settings.from_env({**env, "SUNO_PROVIDERS": " apiframe_v2, SUNOAPI_ORG "})
    assert (settings.provider, settings.providers) == ("apiframe_v2", ("apiframe_v2", "sunoapi_org"))
    assert (settings.key_of("sunoapi_org"), settings.base_url_of("sunoapi_org")) == ("org", "https://api.sunoapi.org")
    assert settings.provider_failures_before_cooldown == 3 and settings.provider_cooldown == 60.0
    # A self-hosted suno-api needs no key; the one-provider form is still one provider.
    assert Settings.from_env({**env, "SUNO_PROVIDERS": "sunoapi_org,suno_api"}).providers[-1] == "suno_api"
    assert Settings.from_env({**env, "SUNO_PROVIDER": "sunoapi_org"}).providers == ("sunoapi_org",)


@pytest.mark.parametrize(
    ("extra", "variable", "problem"),
    [
        ({"SUNO_PROVIDERS": "sunoapi_org,udio"}, "SUNO_PROVIDERS", "not 'udio'"),
        ({"SUNO_PROVIDERS": "sunoapi_org,sunoapi_org"}, "SUNO_PROVIDERS", "twice"),
        ({"SUNO_PROVIDERS": "sunoapi_org,apiframe"}, "APIFRAME_KEY", "SUNO_PROVIDERS lists apiframe"),
        ({"SUNO_PROVIDERS": "sunoapi_org", "SUNO_PROVIDER": "sunoapi_org"}, "SUNO_PROVIDER", "not both"),
        ({"SUNO_PROVIDERS": "sunoapi_org", "PROVIDER_COOLDOWN_SECONDS": "soon"}, "PROVIDER_COOLDOWN_SECONDS", "number"),
    ],
)
def test_bad_provider_lists_name_the_variable(extra: dict[str, str], variable: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem) as refused:
        Settings.from_env({"DISCORD_TOKEN": "t", "SUNOAPI_ORG_KEY": "org", **extra})
    assert refused.value.variable == variable
