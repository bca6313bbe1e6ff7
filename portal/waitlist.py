"""The waitlist: a seeker asks to be told when a consultant who is full (or not taking new clients) has room.

The database decides who may wait (whoever could send the consultant a request), tells the waiting when room opens
(a trigger on the consultant's intake, whichever door opened it), and keeps who waits from the consultant, who reads
a count. A wait lasts 60 days from when it was asked or last renewed; telling ends it.
"""

from __future__ import annotations

from typing import Any

from portal.db import APIError, Backend, Claims, friendly_message
from portal.local_times import local_day

WAIT_DAYS = 60


class WaitRefused(Exception):
    """A refusal from the database as a sentence, with the field it concerns (when it names one)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def _refusal(exc: APIError) -> WaitRefused:
    text = friendly_message(exc)
    if exc.hint and exc.code == "P0001":
        text = f"{text} {exc.hint}"
    field = exc.details if exc.code == "P0001" and isinstance(exc.details, str) else None
    return WaitRefused(text, field)


def _call(backend: Backend, claims: Claims, fn: str, consultant_id: str) -> Any:
    try:
        return backend.rpc(fn, {"p_consultant": consultant_id}, as_user=claims)
    except APIError as exc:
        raise _refusal(exc) from exc


def join(backend: Backend, claims: Claims, consultant_id: str) -> dict[str, Any]:
    """Ask to be told when the consultant has room; asking twice keeps the first place."""
    return _call(backend, claims, "join_waitlist", consultant_id)


def renew(backend: Backend, claims: Claims, consultant_id: str) -> dict[str, Any]:
    """Keep a current wait for another 60 days from now (its place in line stays)."""
    return _call(backend, claims, "renew_my_wait", consultant_id)


def leave(backend: Backend, claims: Claims, consultant_id: str) -> bool:
    """Leave the consultant's waitlist; False when there was no wait to leave."""
    return bool(_call(backend, claims, "leave_waitlist", consultant_id))


def my_waits(backend: Backend, claims: Claims) -> list[dict[str, Any]]:
    return backend.rpc("my_waits", {}, as_user=claims)


def wait_for(backend: Backend, claims: Claims, consultant_id: str) -> dict[str, Any] | None:
    """The caller's wait for one consultant (waiting, told or expired), or None."""
    return next((w for w in my_waits(backend, claims) if w["consultant_id"] == consultant_id), None)


def waiting_count(backend: Backend, claims: Claims) -> int:
    """How many members wait to be told when the caller (a consultant) has room: a count, never who."""
    return int(backend.rpc("my_waitlist_count", {}, as_user=claims) or 0)


def wait_sentence(wait: dict[str, Any], zone: str) -> str:
    """What the seeker reads about their wait, dates in their own zone."""
    since, until = local_day(wait["asked_at"], zone), local_day(wait["expires_at"], zone)
    if wait["state"] == "told":
        return f"You were told on {local_day(wait['told_at'], zone)} that this consultant has room."
    if wait["state"] == "expired":
        return f"Your wait ended on {until}: a wait lasts {WAIT_DAYS} days unless renewed."
    return (
        f"You are on the waitlist since {since}, until {until}. You will be told here and by email when there is room."
    )


def count_sentence(count: int) -> str:
    """The consultant's line on My practice."""
    if count == 0:
        return "Nobody is waiting to be told when you have room."
    who = "1 colleague is" if count == 1 else f"{count} colleagues are"
    return (
        f"{who} waiting to be told when you have room. They are told, in the order they asked, as soon as a place "
        "opens; you see who only when they send a request."
    )
