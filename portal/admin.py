"""Administrator actions (the database checks the caller is an admin)."""

from __future__ import annotations

import time
import unicodedata
from collections.abc import MutableMapping
from typing import Any

from portal.db import APIError, Backend, Claims, Refusal, friendly_message
from portal.email_choices import outbox_table
from portal.local_times import local_day, local_time, zone_words
from portal.plain_text import plain
from portal.search import LEVELS

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


def level_names(item: str) -> str:
    """'CPT level 3' -> 'CPT level 3 (Certified)'."""
    head, _, level = item.rpartition(" level ")
    return f"{head} level {level} ({LEVELS[int(level)]})" if level.isdigit() and head else item


def list_accounts(
    backend: Backend, claims: Claims, *, query: str = "", limit: int = 25, offset: int = 0
) -> tuple[list[dict[str, Any]], int]:
    rows = backend.rpc(
        "admin_list_accounts", {"p_query": query or "", "p_limit": limit, "p_offset": offset}, as_user=claims
    )
    return rows, (rows[0]["total"] if rows else 0)


def find_closable_accounts(backend: Backend, claims: Claims, query: str, limit: int = 20) -> list[dict[str, Any]]:
    """Accounts an admin may close whose name, username or email contains `query`, searched in the database across
    every account (not only the page of the table on screen); none for an empty query."""
    if not (query or "").strip():
        return []
    rows, _ = list_accounts(backend, claims, query=query.strip(), limit=limit)
    return [r for r in rows if not r["is_admin"]]


def unlock_account(backend: Backend, claims: Claims, user_id: str) -> None:
    backend.rpc("admin_unlock_account", {"p_user_id": user_id}, as_user=claims)


def _admin_call(backend: Backend, claims: Claims, fn: str, params: dict[str, Any]) -> Any:
    try:
        return backend.rpc(fn, params, as_user=claims)
    except APIError as exc:
        field = exc.details if exc.code == "P0001" and isinstance(exc.details, str) else None
        raise Refusal(friendly_message(exc), field) from exc


def close_account(backend: Backend, claims: Claims, user_id: str, reason: str) -> int:
    """Close a member's account for a documented reason (audited); returns how many clients were told."""
    if len((reason or "").strip()) < 20:
        raise Refusal(
            "Give the reason for closing this account (at least 20 characters); every affected client reads it.",
            "reason",
        )
    return _admin_call(backend, claims, "admin_close_account", {"p_user": user_id, "p_reason": reason})[
        "clients_notified"
    ]


def closure_preview(backend: Backend, claims: Claims, user_id: str) -> dict[str, Any]:
    """What closing `user_id`'s account would end, read from the rows admin_close_account changes (admins only)."""
    return _admin_call(backend, claims, "admin_closure_preview", {"p_member": user_id})


PLAN_STATUS_WORDS = {"draft": "a draft", "proposed": "proposed, awaiting a signature", "agreed": "agreed"}
SESSION_STATUS_WORDS = {"requested": "proposed", "confirmed": "confirmed"}


def closure_consequences(preview: dict[str, Any], zone: str) -> dict[str, list[str]]:
    """The preview as the admin reads it before confirming: a heading for each kind of thing that ends, with one
    Markdown-safe line per item (members' names through `plain`), sessions' times in the admin's `zone`. Kinds with
    nothing in them are left out."""
    engagements = [
        f"{plain(e['client'])}, their client since {local_day(e['started_at'], zone)}"
        if e["their_client"]
        else f"with {plain(e['consultant'])}, their consultant since {local_day(e['started_at'], zone)}"
        for e in preview["engagements"]
    ]
    sessions = [
        f"{local_time(a['starts_at'], zone)} ({zone_words(zone)}): {plain(a['consultant'])} with "
        f"{plain(a['client'])}, {SESSION_STATUS_WORDS.get(a['status'], a['status'])}"
        for a in preview["sessions"]
    ]
    plans = [
        f"{plain(t['consultant'])} with {plain(t['client'])}: {PLAN_STATUS_WORDS.get(t['status'], t['status'])}"
        for t in preview["plans"]
    ]
    requests = [f"{plain(r['seeker'])} asked {plain(r['consultant'])}" for r in preview["requests"]]
    sections = {
        "Active engagements that end": engagements,
        "Upcoming sessions that are cancelled": sessions,
        "Open termination plans that are withdrawn": plans,
        "Pending consultation requests that are withdrawn": requests,
        "Told, with your reason": [plain(name) for name in preview["told"]],
    }
    return {heading: lines for heading, lines in sections.items() if lines}


def clients_named(preview: dict[str, Any]) -> list[str]:
    """The member's own clients (they are the consultant of an active engagement), as stored."""
    return [e["client"] for e in preview["engagements"] if e["their_client"]]


def disputed_sessions(backend: Backend, claims: Claims) -> list[dict[str, Any]]:
    return backend.rpc("admin_disputed_sessions", {}, as_user=claims)


def resolve_attendance(backend: Backend, claims: Claims, appointment_id: str, outcome: str, note: str) -> dict:
    if len((note or "").strip()) < 10:
        raise Refusal("Say briefly how you decided (at least 10 characters); both parties read it.", "note")
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


_APOSTROPHES = "'’‘ʼ"


def search_words(text: str | None) -> list[str]:
    """The words of `text` for matching, folded (`fold`): an apostrophe joins ("O'Brien" is "obrien"), any other
    punctuation separates ("Nguyễn-Smith," is "nguyen", "smith")."""
    joined = "".join(c for c in fold(text) if c not in _APOSTROPHES)
    return "".join(c if c.isalnum() else " " for c in joined).split()


def queue_matches(queue: list[dict[str, Any]], wanted: str) -> list[dict[str, Any]]:
    """The queue items whose member name or credential contains every word of `wanted`, in any order, ignoring
    accents, case and punctuation ("zoe obrien" finds "Zoë O'Brien", "nguyen siobhan" finds "Siobhán
    O'Connor-Nguyễn"); everything for an empty filter."""
    terms = [term for term in search_words(wanted) if term]
    if not terms:
        return list(queue)
    return [item for item in queue if all(term in _haystack(item) for term in terms)]


def _haystack(item: dict[str, Any]) -> str:
    """Each word as `search_words` splits it, and each hyphenated word whole too ("annemarie" finds Anne-Marie)."""
    text = f"{item['member_name']} {item['item']}"
    return " ".join(search_words(text) + ["".join(search_words(word)) for word in text.split()])


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


def conflict_rules(backend: Backend, claims: Claims) -> list[dict[str, Any]]:
    """How each relationship counts in screening, as the rules tab edits them."""
    return backend.rpc("list_conflict_rules", {}, as_user=claims)


# Outbox kinds the generic wording ("attendance_disputed" -> "Attendance disputed") would say less well.
OUTBOX_KIND_WORDS = {
    "request": "Consultation request",
    "accepted": "Request accepted",
    "booked": "Session proposed",
    "confirmed": "Session confirmed",
    "cancelled": "Session cancelled",
    "rescheduled": "Session moved",
    "session_tomorrow": "Session tomorrow",
    "plan_awaiting_2_days": "Plan awaiting a signature for 2 days",
    "licence_gap": "Licence no longer covers a client",
    "calendar_unread": "Calendar could not be read",
    "room_opened": "Room at a consultant the member waits for",
}


def outbox_kind(kind: str) -> str:
    """An outbox row's kind in words: "attendance_disputed" -> "Attendance disputed"."""
    return OUTBOX_KIND_WORDS.get(kind) or kind.replace("_", " ").strip().capitalize()


def outbox_rows(rows: list[dict[str, Any]], zone: str) -> list[dict[str, Any]]:
    """The Outbox tab's rows: where each stands first (the column an admin looks for, kept on screen at 1,280 px),
    then what kind of notice it is in words, to whom, and the rest."""
    return [
        {
            "Status": shown["Status"],
            "Kind": outbox_kind(row["kind"]),
            "To": shown["To"],
            "Written": shown["Written"],
            "What": shown["What"],
            "Attempts": shown["Attempts"],
            "Next try": shown["Next try"],
        }
        for row, shown in zip(rows, outbox_table(rows, zone), strict=True)
    ]
