"""The notifications inbox."""

from __future__ import annotations

from typing import Any

from portal.db import Backend, Claims


def unread_count(backend: Backend, claims: Claims) -> int:
    return backend.rpc("unread_notification_count", {}, as_user=claims)


def my_notifications(backend: Backend, claims: Claims, limit: int = 50) -> list[dict[str, Any]]:
    return backend.rpc("my_notifications", {"p_limit": limit}, as_user=claims)


def mark_read(backend: Backend, claims: Claims, ids: list[str] | None = None) -> int:
    return backend.rpc("mark_notifications_read", {"p_ids": ids}, as_user=claims)
