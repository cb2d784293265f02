"""Every setting the bot reads is documented in `.env.example` (with a comment) and in the README."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def settings_read_by_the_bot() -> set[str]:
    source = (ROOT / "bot" / "config.py").read_text()
    return set(re.findall(r'reader\.\w+\(\s*"([A-Z][A-Z0-9_]+)"', source))


def test_every_setting_is_in_env_example_with_a_comment() -> None:
    lines = (ROOT / ".env.example").read_text().splitlines()
    documented = {
        line.split("=", 1)[0]: index for index, line in enumerate(lines) if re.match(r"^[A-Z][A-Z0-9_]*=", line)
    }
    settings = settings_read_by_the_bot()
    assert len(settings) >= 15
    assert settings <= set(documented), settings - set(documented)
    for name in settings:
        assert lines[documented[name] - 1].startswith("#") or lines[documented[name] - 1].startswith(
            tuple(f"{other}=" for other in documented)
        ), f"{name} has no comment above it"


def test_every_setting_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = {name for name in settings_read_by_the_bot() if f"`{name}`" not in readme}
    assert not missing
