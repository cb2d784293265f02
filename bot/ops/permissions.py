"""Discord permission bits Encore needs, and Discord's computation of a member's permissions in a channel.

The bits are Discord's documented values (a unit test holds them to discord.py's `Permissions`), so the core can
compute the invite URL and check a server's setup from REST answers without importing discord.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

ADMINISTRATOR = 1 << 3
ALL_PERMISSIONS = (1 << 64) - 1
# What Encore does in a results channel, in the order the check names them.
NEEDED: dict[str, int] = {
    "view the channel": 1 << 10,
    "send messages": 1 << 11,
    "embed links": 1 << 14,
    "attach files": 1 << 15,
    "add reactions": 1 << 6,
    "read message history": 1 << 16,
}
# What `/listen` needs in a voice or stage channel.
VOICE_NEEDED: dict[str, int] = {"connect": 1 << 20, "speak": 1 << 21}
VOICE_CHANNEL_TYPES = frozenset({2, 13})
INVITE_PERMISSIONS = sum(NEEDED.values()) | sum(VOICE_NEEDED.values())
INVITE_SCOPES = ("bot", "applications.commands")


def invite_url(application_id: int) -> str:
    scopes = "+".join(INVITE_SCOPES)
    return (
        f"https://discord.com/oauth2/authorize?client_id={application_id}&scope={scopes}"
        f"&permissions={INVITE_PERMISSIONS}"
    )


def effective_permissions(
    guild: Mapping[str, Any], member: Mapping[str, Any], user_id: int, channel: Mapping[str, Any] | None
) -> int:
    """A member's permissions from the guild's roles and, in a channel, its overwrites (@everyone, roles, member)."""
    if int(guild["owner_id"]) == user_id:
        return ALL_PERMISSIONS
    guild_id = int(guild["id"])
    roles = {int(role["id"]): int(role["permissions"]) for role in guild.get("roles") or []}
    member_roles = [int(role_id) for role_id in member.get("roles") or []]
    permissions = roles.get(guild_id, 0)
    for role_id in member_roles:
        permissions |= roles.get(role_id, 0)
    if permissions & ADMINISTRATOR:
        return ALL_PERMISSIONS
    if channel is None:
        return permissions
    overwrites = {int(o["id"]): (int(o["allow"]), int(o["deny"])) for o in channel.get("permission_overwrites") or []}
    if guild_id in overwrites:
        allow, deny = overwrites[guild_id]
        permissions = permissions & ~deny | allow
    role_allow = role_deny = 0
    for role_id in member_roles:
        if role_id in overwrites:
            role_allow |= overwrites[role_id][0]
            role_deny |= overwrites[role_id][1]
    permissions = permissions & ~role_deny | role_allow
    if user_id in overwrites:
        allow, deny = overwrites[user_id]
        permissions = permissions & ~deny | allow
    return permissions


def missing(permissions: int) -> list[str]:
    """The names of what Encore needs and `permissions` lacks (all of them without View Channel)."""
    if not permissions & NEEDED["view the channel"]:
        return list(NEEDED)
    return [name for name, bit in NEEDED.items() if not permissions & bit]


def missing_in_voice(permissions: int) -> list[str]:
    """What `/listen` needs in a voice channel and `permissions` lack; nothing for a channel the bot cannot see
    (members there cannot be reached either way)."""
    if not permissions & NEEDED["view the channel"]:
        return []
    return [name for name, bit in VOICE_NEEDED.items() if not permissions & bit]
