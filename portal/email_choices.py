"""Which emails a member gets: groups they can mute, and a quiet daily summary instead of single emails.
The notices in the app are never affected.

This module is the one Python source of the groups' names and what each contains (My profile shows them,
the tests compare them with what the database accepts: migration …1400's check constraint and
private.email_group)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from portal.db import Backend, Claims, Refusal
from portal.local_times import local_time


@dataclass(frozen=True)
class EmailGroup:
    name: str  # as stored in public.email_preferences.muted
    title: str  # the switch's label
    contains: str  # what the group's emails are about, in words


GROUPS: tuple[EmailGroup, ...] = (
    EmailGroup(
        "sessions",
        "Sessions",
        "A session proposed, confirmed, declined, moved or cancelled (late cancellations say so), "
        "with a calendar invitation your calendar adds, moves or removes.",
    ),
    EmailGroup("requests", "Consultation requests", "A request sent to you, and the answer to a request you sent."),
    EmailGroup(
        "plans",
        "Termination plans",
        "A plan proposed, changed, agreed, completed or withdrawn, and reminders: a plan awaiting your "
        "signature for 2 days, a final session within a week, a follow-up due.",
    ),
    EmailGroup(
        "attendance",
        "Attendance",
        "What the other party recorded about a session you had together, and an admin's decision "
        "when you recorded it differently.",
    ),
    EmailGroup(
        "account",
        "Accounts of people you work with",
        "For example, the account of a colleague you work with was closed.",
    ),
)
EMAIL_GROUPS: dict[str, str] = {g.name: g.contains for g in GROUPS}
SUMMARY_LABEL = "One quiet summary at 07:00 (your time zone) instead of single emails"


def my_email_choices(backend: Backend, claims: Claims) -> dict[str, Any]:
    return backend.rpc("get_my_email_preferences", {}, as_user=claims)


def save_email_choices(backend: Backend, claims: Claims, *, muted: list[str], summary: bool) -> dict[str, Any]:
    unknown = [g for g in muted if g not in EMAIL_GROUPS]
    if unknown:
        raise Refusal(f"Unknown email group: {', '.join(unknown)}.", "muted")
    try:
        return backend.rpc("save_my_email_preferences", {"p_muted": muted, "p_summary": summary}, as_user=claims)
    except Refusal as exc:
        raise Refusal(exc.message, exc.field, exc.code) from exc


def muted_from_switches(wanted: dict[str, bool]) -> list[str]:
    """The page's switches (on: send me these) as the groups to mute, in the groups' order."""
    return [g.name for g in GROUPS if not wanted.get(g.name, True)]


def choices_in_words(choices: dict[str, Any]) -> str:
    """The saved choices told back: which emails come, and how."""
    muted = set(choices.get("muted") or [])
    wanted = [
        g.title.lower() if g.name != "account" else "accounts of people you work with"
        for g in GROUPS
        if g.name not in muted
    ]
    if not wanted:
        return "You get no emails about your work on the portal; the notices in the app stay as they are."
    listed = wanted[0] if len(wanted) == 1 else ", ".join(wanted[:-1]) + " and " + wanted[-1]
    how = (
        "together in one summary at 07:00 your time" if choices.get("summary") else "as single emails when they happen"
    )
    return f"You get emails about {listed}, {how}."


def admin_outbox(backend: Backend, claims: Claims, limit: int = 100) -> list[dict[str, Any]]:
    """The latest outbox rows and where each stands (admins only)."""
    return backend.rpc("admin_outbox", {"p_limit": limit}, as_user=claims)


def outbox_status(row: dict[str, Any]) -> str:
    """Where an outbox row stands, in words: held and failed rows say why, a retry says what went wrong."""
    status, why = row["status"], row.get("last_error")
    if status == "sent":
        to = row.get("delivered_to") or ""
        return f"Sent to the local mailbox ({to.removeprefix('mailbox:')})" if to.startswith("mailbox:") else "Sent"
    if status == "held":
        return f"Held: {why}" if why else "Held"
    if status == "failed":
        return f"Failed: {why}" if why else "Failed"
    if status == "sending":
        return "Sending"
    if why:
        return f"Queued to try again: {why}"
    return "Queued for the morning summary" if row.get("summary") else "Queued"


def outbox_table(rows: list[dict[str, Any]], zone: str) -> list[dict[str, Any]]:
    """The admin's Outbox rows as the tab shows them, times in the admin's zone."""

    def when(value: Any) -> str:
        return local_time(value, zone) if value else "—"

    return [
        {
            "Written": when(r["created_at"]),
            "To": r["recipient"],
            "What": r["message"],
            "Kind": r["kind"],
            "Status": outbox_status(r),
            "Attempts": r["attempts"],
            "Next try": when(r.get("next_attempt_at")) if r["status"] in ("queued", "sending") else "—",
        }
        for r in rows
    ]
