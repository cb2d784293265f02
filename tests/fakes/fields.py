"""Strict readers of a request's JSON fields, shared by the provider fakes that answer `{"error": "..."}`.

Each raises `Refused` (the HTTP status and the reason) for a body the contract refuses, so a fake can never be
looser than its documentation about a field's type, presence or length.
"""

from __future__ import annotations

from typing import Any


class Refused(Exception):
    """A request the API refuses: the HTTP status and `error`."""

    def __init__(self, status: int, error: str) -> None:
        super().__init__(error)
        self.status = status
        self.error = error


def json_object(value: Any, what: str = "The body") -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Refused(400, f"{what} must be a JSON object")
    return value


def only(body: dict[str, Any], allowed: frozenset[str]) -> None:
    """Refuse a field the contract does not list: a client must not rely on one being ignored."""
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise Refused(400, f"Unknown field: {unknown[0]}")


def boolean(body: dict[str, Any], name: str) -> bool:
    """An optional JSON boolean (false when absent)."""
    value = body.get(name, False)
    if not isinstance(value, bool):
        raise Refused(400, f"{name} must be a boolean")
    return value


def text(body: dict[str, Any], name: str, limit: int, *, required: bool = False) -> None:
    """A string of at most `limit` characters; a required one must not be blank."""
    value = body.get(name)
    if value is None and not required:
        return
    if not isinstance(value, str) or (required and not value.strip()):
        raise Refused(400, f"{name} is required" if required else f"{name} must be a string")
    if len(value) > limit:
        raise Refused(400, f"{name} must be at most {limit} characters")
