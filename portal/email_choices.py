"""Which emails a member gets: groups they can mute, and a quiet daily summary instead of single emails.
The notices in the app are never affected."""

from __future__ import annotations

from typing import Any

from portal.db import APIError, Backend, Claims, friendly_message

EMAIL_GROUPS = {
    "sessions": "Sessions: proposed, confirmed, declined, moved, cancelled (with calendar invitations)",
    "requests": "Consultation requests and their answers",
    "plans": "Termination plans: proposed, changed, agreed, completed",
    "attendance": "What the other party recorded about a session",
    "account": "Accounts of people you work with",
}


class EmailChoiceRefused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def my_email_choices(backend: Backend, claims: Claims) -> dict[str, Any]:
    return backend.rpc("get_my_email_preferences", {}, as_user=claims)


def save_email_choices(backend: Backend, claims: Claims, *, muted: list[str], summary: bool) -> dict[str, Any]:
    unknown = [g for g in muted if g not in EMAIL_GROUPS]
    if unknown:
        raise EmailChoiceRefused(f"Unknown email group: {', '.join(unknown)}.")
    try:
        return backend.rpc("save_my_email_preferences", {"p_muted": muted, "p_summary": summary}, as_user=claims)
    except APIError as exc:
        raise EmailChoiceRefused(friendly_message(exc)) from exc


def admin_outbox(backend: Backend, claims: Claims, limit: int = 100) -> list[dict[str, Any]]:
    """The latest outbox rows and where each stands (admins only)."""
    return backend.rpc("admin_outbox", {"p_limit": limit}, as_user=claims)
