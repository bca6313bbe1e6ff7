"""Administrator actions (the database checks the caller is an admin)."""

from __future__ import annotations

import time
import unicodedata
from collections.abc import MutableMapping
from typing import Any

from portal.db import APIError, Backend, Claims, Refusal, friendly_message

QUEUE_READ_LIMIT = 500  # the most admin_verification_queue returns; the filter searches all of them
QUEUE_TTL_SECONDS = 30  # how long one admin's read of the queue is reused between reruns of the page
QUEUE_PAGE_SIZE = 25  # cards drawn at a time; "Show more" draws the next ones
QUEUE_CACHE_KEY = "verify_queue_cache"

# Letters that are not a base letter plus combining marks, so NFKD leaves them whole.
_UNDECOMPOSABLE = str.maketrans(
    {
        "đ": "d",
        "Đ": "D",
        "ø": "o",
        "Ø": "O",
        "ł": "l",
        "Ł": "L",
        "ı": "i",
        "æ": "ae",
        "Æ": "AE",
        "œ": "oe",
        "Œ": "OE",
        "’": "'",
        "‘": "'",
        "ʼ": "'",
    }
)


def list_accounts(
    backend: Backend, claims: Claims, *, query: str = "", limit: int = 25, offset: int = 0
) -> tuple[list[dict[str, Any]], int]:
    rows = backend.rpc(
        "admin_list_accounts", {"p_query": query or "", "p_limit": limit, "p_offset": offset}, as_user=claims
    )
    return rows, (rows[0]["total"] if rows else 0)


def unlock_account(backend: Backend, claims: Claims, user_id: str) -> None:
    backend.rpc("admin_unlock_account", {"p_user_id": user_id}, as_user=claims)


AdminRefused = Refusal  # the one refusal (portal/refusal.py); the alias goes once views/admin.py names Refusal


def _admin_call(backend: Backend, claims: Claims, fn: str, params: dict[str, Any]) -> Any:
    try:
        return backend.rpc(fn, params, as_user=claims)
    except APIError as exc:
        field = exc.details if exc.code == "P0001" and isinstance(exc.details, str) else None
        raise AdminRefused(friendly_message(exc), field) from exc


def close_account(backend: Backend, claims: Claims, user_id: str, reason: str) -> int:
    """Close a member's account for a documented reason (audited); returns how many clients were told."""
    if len((reason or "").strip()) < 20:
        raise AdminRefused(
            "Give the reason for closing this account (at least 20 characters); every affected client reads it.",
            "reason",
        )
    return _admin_call(backend, claims, "admin_close_account", {"p_user": user_id, "p_reason": reason})[
        "clients_notified"
    ]


def disputed_sessions(backend: Backend, claims: Claims) -> list[dict[str, Any]]:
    return backend.rpc("admin_disputed_sessions", {}, as_user=claims)


def resolve_attendance(backend: Backend, claims: Claims, appointment_id: str, outcome: str, note: str) -> dict:
    if len((note or "").strip()) < 10:
        raise AdminRefused("Say briefly how you decided (at least 10 characters); both parties read it.", "note")
    return _admin_call(
        backend,
        claims,
        "admin_resolve_attendance",
        {"p_appointment": appointment_id, "p_outcome": outcome, "p_note": note},
    )


def verification_queue(backend: Backend, claims: Claims, limit: int = 50) -> list[dict[str, Any]]:
    return backend.rpc("admin_verification_queue", {"p_limit": limit}, as_user=claims)


def fold(text: str | None) -> str:
    """Text for accent- and case-insensitive matching: "Siobhán O’Connor-Nguyễn" -> "siobhan o'connor-nguyen"."""
    decomposed = unicodedata.normalize("NFKD", (text or "").translate(_UNDECOMPOSABLE))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def queue_matches(queue: list[dict[str, Any]], wanted: str) -> list[dict[str, Any]]:
    """The queue items whose member name or credential contains every word of `wanted`, ignoring accents and
    case ("nguyen siobhan" finds "Siobhán O'Connor-Nguyễn"); everything for an empty filter."""
    terms = fold(wanted).split()
    if not terms:
        return list(queue)
    return [item for item in queue if all(term in fold(f"{item['member_name']} {item['item']}") for term in terms)]


def cached_queue(
    backend: Backend,
    claims: Claims,
    store: MutableMapping[str, Any],
    *,
    now: float | None = None,
    ttl: float = QUEUE_TTL_SECONDS,
    refresh: bool = False,
) -> list[dict[str, Any]]:
    """The verification queue (up to QUEUE_READ_LIMIT items), read once and kept in `store` (the admin's session
    state) for `ttl` seconds, so typing in the filter or paging does not read it again. A read by another admin
    is never reused; decisions taken here are taken out at once (`forget_decided`)."""
    now = time.monotonic() if now is None else now
    cache = store.get(QUEUE_CACHE_KEY)
    if (
        refresh
        or not isinstance(cache, dict)
        or cache.get("admin") != claims.sub
        or not 0 <= now - cache["read_at"] < ttl
    ):
        cache = {
            "admin": claims.sub,
            "read_at": now,
            "items": verification_queue(backend, claims, limit=QUEUE_READ_LIMIT),
        }
        store[QUEUE_CACHE_KEY] = cache
    return cache["items"]


def forget_decided(store: MutableMapping[str, Any], item_id: str) -> None:
    """Take a verified or rejected item out of the kept queue (the rest stays as read)."""
    cache = store.get(QUEUE_CACHE_KEY)
    if isinstance(cache, dict):
        cache["items"] = [item for item in cache["items"] if item["id"] != item_id]


def forget_queue(store: MutableMapping[str, Any]) -> None:
    """Read the queue afresh next time (e.g. after a decision the database refused: someone else took it)."""
    store.pop(QUEUE_CACHE_KEY, None)


def verify_credential(
    backend: Backend, claims: Claims, kind: str, item_id: str, *, approve: bool, note: str | None = None
) -> None:
    backend.rpc(
        "admin_verify_credential",
        {"p_kind": kind, "p_id": item_id, "p_approve": approve, "p_note": note},
        as_user=claims,
    )


def add_modality(backend: Backend, claims: Claims, code: str, name: str, description: str | None = None) -> dict:
    return backend.rpc(
        "admin_add_modality", {"p_code": code, "p_name": name, "p_description": description}, as_user=claims
    )


def update_rule(
    backend: Backend, claims: Claims, kind: str, severity: str, window_years: int | None, waivable: bool
) -> dict:
    return backend.rpc(
        "admin_update_conflict_rule",
        {"p_kind": kind, "p_severity": severity, "p_window_years": window_years, "p_waivable": waivable},
        as_user=claims,
    )
