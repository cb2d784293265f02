"""Settings read from the environment (and `.env`), checked once at start-up.

Every setting is documented in `.env.example`; a bad one stops the bot with one line that names the variable.
"""

from __future__ import annotations

import ipaddress
import math
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, overload

from bot.domain.quota import QuotaPolicy
from bot.media import Origin, origin_of, parse_origins

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# Proxies trusted by default to say whom they forward for: those on this machine.
LOOPBACK: tuple[Network, ...] = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))

ProviderName = Literal["sunoapi", "apiframe", "sunoapi_org", "apiframe_v2", "suno_api"]
# Each provider's key variable, by the name SUNO_PROVIDER gives it (the registry in bot.providers has their code).
PROVIDER_KEY_VARIABLES: dict[ProviderName, str] = {
    "sunoapi": "SUNOAPI_KEY",
    "apiframe": "APIFRAME_KEY",
    "sunoapi_org": "SUNOAPI_ORG_KEY",
    "apiframe_v2": "APIFRAME_V2_KEY",
    "suno_api": "SUNO_API_KEY",
}
# Providers that run without a key: a self-hosted suno-api takes one only behind an operator's proxy.
KEY_OPTIONAL: frozenset[ProviderName] = frozenset({"suno_api"})
PROVIDERS: tuple[ProviderName, ...] = tuple(PROVIDER_KEY_VARIABLES)

DEFAULT_DISCORD_API_BASE = "https://discord.com/api/v10"
DEFAULT_DISCORD_GATEWAY_URL = "wss://gateway.discord.gg/"
DEFAULT_SUNOAPI_BASE_URL = "https://api.sunoapi.co"
DEFAULT_APIFRAME_BASE_URL = "https://api.apiframe.pro"
DEFAULT_SUNOAPI_ORG_BASE_URL = "https://api.sunoapi.org"
DEFAULT_APIFRAME_V2_BASE_URL = "https://api.apiframe.ai"
DEFAULT_SUNO_API_BASE_URL = "http://localhost:3000"  # gcui-art/suno-api's own default port
DEFAULT_SUNO_CDN_BASE_URL = "https://cdn1.suno.ai"
# Where the web server answers health checks: part of the operator's setup (Docker, a service manager, `check`).
HEALTH_PATH = "/healthz"


@dataclass(frozen=True, slots=True)
class VoiceLimits:
    """What `/listen` may take on: a song's length, a server's queue, sessions in this process, idle time."""

    max_song_seconds: float = 900.0
    queue_size: int = 50
    max_sessions: int = 10
    idle_seconds: float = 60.0


class ConfigError(Exception):
    """A setting is missing or malformed; the message names the variable."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable


@dataclass(frozen=True, slots=True)
class Settings:
    """The bot's whole configuration. Secrets are kept out of `repr` so they never reach a log line."""

    discord_token: str = field(repr=False)
    # Every configured provider, in the operator's order (SUNO_PROVIDERS; the one with a key when left empty).
    providers: tuple[ProviderName, ...]
    sunoapi_key: str = field(default="", repr=False)
    apiframe_key: str = field(default="", repr=False)
    sunoapi_org_key: str = field(default="", repr=False)
    apiframe_v2_key: str = field(default="", repr=False)
    suno_api_key: str = field(default="", repr=False)
    discord_api_base: str = DEFAULT_DISCORD_API_BASE
    discord_gateway_url: str = DEFAULT_DISCORD_GATEWAY_URL
    sunoapi_base_url: str = DEFAULT_SUNOAPI_BASE_URL
    apiframe_base_url: str = DEFAULT_APIFRAME_BASE_URL
    sunoapi_org_base_url: str = DEFAULT_SUNOAPI_ORG_BASE_URL
    apiframe_v2_base_url: str = DEFAULT_APIFRAME_V2_BASE_URL
    suno_api_base_url: str = DEFAULT_SUNO_API_BASE_URL
    sunoapi_org_submits_per_second: float = 2.0  # 20 per 10 s, documented: never more than 2 in any second
    sunoapi_org_polls_per_second: float = 3.0
    suno_cdn_base_url: str = DEFAULT_SUNO_CDN_BASE_URL
    sunoapi_submit_interval: float = 4.0
    sunoapi_polls_per_second: float = 2.0
    database_path: Path = Path("data/encore.db")
    database_url: str = field(default="", repr=False)  # PostgreSQL, shared by processes; may carry a password
    audio_cache_dir: Path = Path("data/audio-cache")
    lease_seconds: float = 30.0
    shard_count: int = 1
    shard_ids: tuple[int, ...] | None = None  # None: every shard of `shard_count`; () with SHARD_IDS=none
    poll_interval: float = 5.0
    stall_timeout: float = 900.0
    dev_guild_id: int | None = None
    log_level: str = "INFO"
    log_format: str = "text"
    quota: QuotaPolicy = field(default_factory=QuotaPolicy)
    allowed_guild_ids: frozenset[int] = frozenset()
    public_webhook_url: str = ""
    webhook_host: str = "0.0.0.0"
    webhook_port: int = 8080
    webhook_poll_interval: float = 120.0
    trusted_media_origins: frozenset[Origin] = frozenset()
    http_port: int | None = None
    public_url: str = ""  # where the web server is reached from outside: song pages live under it
    trusted_proxies: tuple[Network, ...] = LOOPBACK  # peers whose X-Forwarded-For the pages' rate limit believes
    page_audio_bytes: int = 1024 * 1024 * 1024  # whole songs kept for their pages, apart from the clips' cache
    web_max_connections: int = 256
    web_request_timeout: float = 10.0
    voice: VoiceLimits = field(default_factory=VoiceLimits)
    # A provider that fails this many calls in a row (refused connections, timeouts, 5xx, rate limits) is skipped
    # for `provider_cooldown` seconds.
    provider_failures_before_cooldown: int = 3
    provider_cooldown: float = 60.0

    @property
    def provider(self) -> ProviderName:
        """The first provider: where new songs go while it is healthy."""
        return self.providers[0]

    @property
    def media_origins(self) -> frozenset[Origin]:
        """Origins Encore may fetch media from even at a private address: its own peers and the operator's list."""
        return self.trusted_media_origins | {
            origin_of(self.discord_api_base),
            origin_of(self.suno_cdn_base_url),
            *(origin_of(self.base_url_of(name)) for name in self.providers),
        }

    @property
    def web_server_port(self) -> int | None:
        """Where the web server (health, metrics, webhooks, song pages) listens: HTTP_PORT, else WEBHOOK_PORT with
        webhooks or pages on, else nowhere (no server)."""
        if self.http_port is not None:
            return self.http_port
        return self.webhook_port if self.public_webhook_url or self.public_url else None

    @property
    def runs_gateway(self) -> bool:
        """False for a worker (SHARD_IDS=none): REST only, the task loops, no commands."""
        return self.shard_ids != ()

    def key_of(self, provider: str) -> str:
        """The API key of a configured provider."""
        return self._provider_keys()[provider_name(provider)]

    def base_url_of(self, provider: str) -> str:
        """Where a configured provider is reached."""
        return self._provider_base_urls()[provider_name(provider)]

    def _provider_base_urls(self) -> dict[ProviderName, str]:
        return {
            "sunoapi": self.sunoapi_base_url,
            "apiframe": self.apiframe_base_url,
            "sunoapi_org": self.sunoapi_org_base_url,
            "apiframe_v2": self.apiframe_v2_base_url,
            "suno_api": self.suno_api_base_url,
        }

    def _provider_keys(self) -> dict[ProviderName, str]:
        return {
            "sunoapi": self.sunoapi_key,
            "apiframe": self.apiframe_key,
            "sunoapi_org": self.sunoapi_org_key,
            "apiframe_v2": self.apiframe_v2_key,
            "suno_api": self.suno_api_key,
        }

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every secret value, for the log redactor."""
        database_password = urllib.parse.urlsplit(self.database_url).password or ""
        candidates = (self.discord_token, *self._provider_keys().values(), self.database_url, database_password)
        return tuple(s for s in candidates if s)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Build settings from an environment mapping, raising `ConfigError` for the first bad variable."""
        reader = _EnvReader(env)
        database_path = Path(reader.text("DATABASE_PATH") or "data/encore.db")
        keys = {name: reader.text(variable) for name, variable in PROVIDER_KEY_VARIABLES.items()}
        shard_count = reader.count("SHARD_COUNT", 1)
        if shard_count < 1:
            raise ConfigError("SHARD_COUNT", "must be at least 1")
        providers = _choose_providers(reader, keys)
        web_max_connections = reader.count("WEB_MAX_CONNECTIONS", 256)
        if web_max_connections < 1:
            raise ConfigError("WEB_MAX_CONNECTIONS", "must be at least 1")
        return cls(
            discord_token=reader.required("DISCORD_TOKEN"),
            providers=providers,
            sunoapi_key=keys["sunoapi"],
            apiframe_key=keys["apiframe"],
            sunoapi_org_key=keys["sunoapi_org"],
            apiframe_v2_key=keys["apiframe_v2"],
            suno_api_key=keys["suno_api"],
            discord_api_base=reader.url("DISCORD_API_BASE", DEFAULT_DISCORD_API_BASE, ("http", "https")),
            discord_gateway_url=reader.url("DISCORD_GATEWAY_URL", DEFAULT_DISCORD_GATEWAY_URL, ("ws", "wss")),
            sunoapi_base_url=reader.url("SUNOAPI_BASE_URL", DEFAULT_SUNOAPI_BASE_URL, ("http", "https")),
            apiframe_base_url=reader.url("APIFRAME_BASE_URL", DEFAULT_APIFRAME_BASE_URL, ("http", "https")),
            sunoapi_org_base_url=reader.url("SUNOAPI_ORG_BASE_URL", DEFAULT_SUNOAPI_ORG_BASE_URL, ("http", "https")),
            apiframe_v2_base_url=reader.url("APIFRAME_V2_BASE_URL", DEFAULT_APIFRAME_V2_BASE_URL, ("http", "https")),
            suno_api_base_url=reader.url("SUNO_API_BASE_URL", DEFAULT_SUNO_API_BASE_URL, ("http", "https")),
            sunoapi_org_submits_per_second=reader.number("SUNOAPI_ORG_SUBMITS_PER_SECOND", 2.0, minimum=0.01),
            sunoapi_org_polls_per_second=reader.number("SUNOAPI_ORG_POLLS_PER_SECOND", 3.0, minimum=0.01),
            suno_cdn_base_url=reader.url("SUNO_CDN_BASE_URL", DEFAULT_SUNO_CDN_BASE_URL, ("http", "https")),
            sunoapi_submit_interval=reader.number("SUNOAPI_SUBMIT_INTERVAL_SECONDS", 4.0, minimum=0.0),
            sunoapi_polls_per_second=reader.number("SUNOAPI_POLLS_PER_SECOND", 2.0, minimum=0.01),
            database_path=database_path,
            database_url=reader.database_url("DATABASE_URL"),
            audio_cache_dir=Path(
                reader.text("AUDIO_CACHE_DIR")
                or Path(reader.text("DATABASE_PATH") or "data/encore.db").parent / "audio-cache"
            ),
            lease_seconds=reader.number("LEASE_SECONDS", 30.0, minimum=1.0),
            shard_count=shard_count,
            shard_ids=reader.shard_ids("SHARD_IDS", shard_count),
            poll_interval=reader.number("POLL_INTERVAL_SECONDS", 5.0, minimum=0.01),
            stall_timeout=reader.number("TASK_STALL_TIMEOUT_SECONDS", 900.0, minimum=1.0),
            dev_guild_id=reader.snowflake("DEV_GUILD_ID"),
            log_level=reader.choice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR")),
            log_format=reader.choice("LOG_FORMAT", "TEXT", ("TEXT", "JSON")).lower(),
            quota=QuotaPolicy(
                max_active_per_user=reader.count("MAX_ACTIVE_TASKS_PER_USER", 2),
                daily_per_user=reader.count("DAILY_TASKS_PER_USER", 20),
                daily_per_guild=reader.count("DAILY_TASKS_PER_GUILD", 0),
                cooldown_seconds=reader.number("USER_COOLDOWN_SECONDS", 5.0, minimum=0.0),
            ),
            allowed_guild_ids=reader.snowflakes("ALLOWED_GUILD_IDS"),
            public_webhook_url=reader.url("PUBLIC_WEBHOOK_URL", "", ("http", "https")),
            webhook_host=reader.text("WEBHOOK_HOST") or "0.0.0.0",
            webhook_port=reader.port("WEBHOOK_PORT", 8080),
            webhook_poll_interval=reader.number("WEBHOOK_POLL_INTERVAL_SECONDS", 120.0, minimum=0.01),
            trusted_media_origins=reader.origins("TRUSTED_MEDIA_ORIGINS"),
            http_port=reader.port("HTTP_PORT", None),
            provider_failures_before_cooldown=max(1, reader.count("PROVIDER_FAILURES_BEFORE_COOLDOWN", 3)),
            provider_cooldown=reader.number("PROVIDER_COOLDOWN_SECONDS", 60.0, minimum=0.1),
            public_url=reader.url("PUBLIC_URL", "", ("http", "https")),
            trusted_proxies=reader.networks("TRUSTED_PROXIES", LOOPBACK),
            page_audio_bytes=reader.megabytes("PAGE_AUDIO_MAX_MB", 1024),
            web_max_connections=web_max_connections,
            web_request_timeout=reader.number("WEB_REQUEST_TIMEOUT_SECONDS", 10.0, minimum=0.1),
            voice=VoiceLimits(
                max_song_seconds=reader.number("VOICE_MAX_SONG_SECONDS", 900.0, minimum=1.0),
                queue_size=reader.count("VOICE_QUEUE_SIZE", 50),
                max_sessions=reader.count("VOICE_MAX_SESSIONS", 10),
                idle_seconds=reader.number("VOICE_IDLE_SECONDS", 60.0, minimum=0.0),
            ),
        )


def provider_name(name: str) -> ProviderName:
    """`name` as one of the known providers' names (a KeyError for any other, as a dict would raise)."""
    for known in PROVIDERS:
        if known == name:
            return known
    raise KeyError(name)


def _choose_providers(reader: _EnvReader, keys: Mapping[ProviderName, str]) -> tuple[ProviderName, ...]:
    """SUNO_PROVIDERS (several, in order) or SUNO_PROVIDER (one, or the one whose key is set); not both."""
    several = [part.strip().lower() for part in reader.text("SUNO_PROVIDERS").split(",") if part.strip()]
    if not several:
        return (_choose_provider(reader.text("SUNO_PROVIDER").lower(), keys),)
    if reader.text("SUNO_PROVIDER"):
        raise ConfigError("SUNO_PROVIDER", "set either SUNO_PROVIDER (one provider) or SUNO_PROVIDERS, not both")
    chosen: list[ProviderName] = []
    for requested in several:
        if requested not in PROVIDERS:
            raise ConfigError("SUNO_PROVIDERS", f"each must be one of {', '.join(PROVIDERS)}, not {requested!r}")
        name = provider_name(requested)
        if name in chosen:
            raise ConfigError("SUNO_PROVIDERS", f"lists {name} twice")
        if not keys[name] and name not in KEY_OPTIONAL:
            raise ConfigError(PROVIDER_KEY_VARIABLES[name], f"is required when SUNO_PROVIDERS lists {name}")
        chosen.append(name)
    return tuple(chosen)


def _without_password(url: str) -> str:
    """`url` with the password of its user part replaced, also when the rest of it does not parse."""
    scheme, sep, rest = url.partition("://")
    user_part, at, after = rest.rpartition("@")  # the last @: a password may hold one
    if not at or ":" not in user_part:
        return url
    return f"{scheme}{sep}{user_part.partition(':')[0]}:***@{after}"


def _choose_provider(requested: str, keys: Mapping[ProviderName, str]) -> ProviderName:
    """Pick the provider: the one asked for, else the one whose key is set."""
    if requested:
        chosen = next((name for name in PROVIDERS if name == requested), None)
        if chosen is None:
            raise ConfigError("SUNO_PROVIDER", f"must be one of {', '.join(PROVIDERS)}, not {requested!r}")
        if not keys[chosen] and chosen not in KEY_OPTIONAL:
            raise ConfigError(PROVIDER_KEY_VARIABLES[chosen], f"is required when SUNO_PROVIDER={chosen}")
        return chosen
    with_keys = [name for name in PROVIDERS if keys[name]]
    variables = " or ".join(PROVIDER_KEY_VARIABLES.values())
    if not with_keys:
        raise ConfigError("SUNOAPI_KEY", f"set {variables} (and SUNO_PROVIDER if several)")
    if len(with_keys) > 1:
        named = " and ".join(PROVIDER_KEY_VARIABLES[name] for name in with_keys)
        raise ConfigError("SUNO_PROVIDER", f"{named} are set: choose one provider")
    return with_keys[0]


@dataclass(frozen=True, slots=True)
class _EnvReader:
    """Typed reads of environment variables; blank values count as unset."""

    env: Mapping[str, str]

    def text(self, name: str) -> str:
        return self.env.get(name, "").strip()

    def required(self, name: str) -> str:
        value = self.text(name)
        if not value:
            raise ConfigError(name, "is required")
        return value

    def number(self, name: str, default: float, *, minimum: float) -> float:
        raw = self.text(name)
        if not raw:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(name, f"must be a number, not {raw!r}") from None
        if not math.isfinite(value) or value < minimum:
            raise ConfigError(name, f"must be a number of at least {minimum:g}, not {raw!r}")
        return value

    def count(self, name: str, default: int) -> int:
        raw = self.text(name)
        if not raw:
            return default
        if not raw.isdigit():
            raise ConfigError(name, f"must be a whole number of 0 or more, not {raw!r}")
        return int(raw)

    @overload
    def port(self, name: str, default: int) -> int: ...

    @overload
    def port(self, name: str, default: None) -> int | None: ...

    def port(self, name: str, default: int | None) -> int | None:
        raw = self.text(name)
        if not raw:
            return default
        if not raw.isdigit() or not 0 <= int(raw) <= 65535:
            raise ConfigError(name, f"must be a TCP port number (0-65535), not {raw!r}")
        return int(raw)

    def snowflake(self, name: str) -> int | None:
        raw = self.text(name)
        if not raw:
            return None
        if not raw.isdigit():
            raise ConfigError(name, f"must be a Discord id (digits only), not {raw!r}")
        return int(raw)

    def snowflakes(self, name: str) -> frozenset[int]:
        raw = self.text(name)
        parts = [part.strip() for part in raw.split(",") if part.strip()]
        bad = [part for part in parts if not part.isdigit()]
        if bad:
            raise ConfigError(name, f"must be comma-separated Discord ids, not {bad[0]!r}")
        return frozenset(int(part) for part in parts)

    def shard_ids(self, name: str, shard_count: int) -> tuple[int, ...] | None:
        """`0,1` (some shards of `shard_count`), `none` (no gateway: a worker), or blank (every shard)."""
        raw = self.text(name)
        if not raw:
            return None
        if raw.lower() == "none":
            return ()
        parts = [part.strip() for part in raw.split(",") if part.strip()]
        if not parts or not all(part.isdigit() for part in parts):
            raise ConfigError(name, f"must be comma-separated shard numbers (e.g. 0,1) or none, not {raw!r}")
        ids = tuple(int(part) for part in parts)
        if len(set(ids)) != len(ids) or max(ids) >= shard_count:
            raise ConfigError(name, f"must list distinct shards below SHARD_COUNT ({shard_count}), not {raw!r}")
        return ids

    def url(self, name: str, default: str, schemes: tuple[str, ...]) -> str:
        raw = self.text(name)
        if not raw:
            return default
        scheme, sep, rest = raw.partition("://")
        if not sep or scheme.lower() not in schemes or not rest:
            raise ConfigError(name, f"must be a {' or '.join(schemes)} URL, not {raw!r}")
        return raw.rstrip("/") if scheme.lower() in ("http", "https") else raw

    def database_url(self, name: str) -> str:
        """A PostgreSQL URL whose host and port parse; a bad one is named with its password redacted."""
        raw = self.text(name)
        if not raw:
            return ""
        shown = _without_password(raw)
        scheme, sep, rest = raw.partition("://")
        if not sep or scheme.lower() not in ("postgresql", "postgres") or not rest:
            raise ConfigError(name, f"must be a postgresql:// URL, not {shown!r}")
        try:
            port = urllib.parse.urlsplit(raw).port  # a bad host (an IPv6 literal) or port raises here
        except ValueError as error:
            raise ConfigError(name, f"is not a valid URL ({error}): {shown!r}") from None
        if port == 0:
            raise ConfigError(name, f"has port 0, which no server listens on: {shown!r}")
        return raw

    def megabytes(self, name: str, default: int) -> int:
        megabytes = self.count(name, default)
        if megabytes < 1:
            raise ConfigError(name, "must be a whole number of megabytes, at least 1")
        return megabytes * 1024 * 1024

    def networks(self, name: str, default: tuple[Network, ...]) -> tuple[Network, ...]:
        raw = self.text(name)
        if not raw:
            return default
        try:
            return tuple(ipaddress.ip_network(part.strip()) for part in raw.split(",") if part.strip())
        except ValueError as error:
            raise ConfigError(
                name, f"must be addresses or networks such as 172.16.0.0/12, comma-separated ({error})"
            ) from None

    def origins(self, name: str) -> frozenset[Origin]:
        try:
            return parse_origins(self.text(name))
        except ValueError as error:
            raise ConfigError(name, str(error)) from None

    def choice(self, name: str, default: str, options: tuple[str, ...]) -> str:
        raw = self.text(name).upper()
        if not raw:
            return default
        if raw not in options:
            raise ConfigError(name, f"must be one of {', '.join(options)}, not {raw!r}")
        return raw
