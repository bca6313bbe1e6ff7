"""Booking, answering, cancelling (with notice recorded), rescheduling and marking sessions."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple

from portal.db import APIError, Backend, Claims, Refusal, friendly_message
from portal.local_times import in_zone, local_day, zone_words
from portal.plain_text import plain
from portal.week_grid import HORIZON, monday_of


def _refused(exc: APIError) -> Refusal:
    code = exc.details if isinstance(exc.details, str) else None
    message = friendly_message(exc)
    if exc.hint and exc.code in ("P0001",):
        message = f"{message} {exc.hint}"
    return Refusal(message, code)


def _call(backend: Backend, claims: Claims, fn: str, params: dict[str, Any]) -> dict[str, Any]:
    try:
        return backend.rpc(fn, params, as_user=claims)
    except APIError as exc:
        raise _refused(exc) from exc


def book(backend: Backend, claims: Claims, other_id: str, starts_at: datetime | str) -> dict[str, Any]:
    start = starts_at.isoformat() if isinstance(starts_at, datetime) else starts_at
    return _call(backend, claims, "book_appointment", {"p_other": other_id, "p_starts_at": start})


def answer(
    backend: Backend, claims: Claims, appointment_id: str, *, confirm: bool, reason: str | None = None
) -> dict[str, Any]:
    if not confirm and not (reason or "").strip():
        raise Refusal("Give a reason when you decline a proposed time.", "reason")
    return _call(
        backend,
        claims,
        "respond_to_appointment",
        {"p_appointment": appointment_id, "p_confirm": confirm, "p_reason": reason},
    )


def cancel(
    backend: Backend, claims: Claims, appointment_id: str, reason: str, *, accept_late: bool = False
) -> dict[str, Any]:
    if not (reason or "").strip():
        raise Refusal("Give a reason for cancelling.", "reason")
    return _call(
        backend,
        claims,
        "cancel_appointment",
        {"p_appointment": appointment_id, "p_reason": reason, "p_accept_late": accept_late},
    )


def reschedule(
    backend: Backend, claims: Claims, appointment_id: str, new_start: str, reason: str, *, accept_late: bool = False
) -> dict[str, Any]:
    if not (reason or "").strip():
        raise Refusal("Give a reason for moving the session.", "reason")
    return _call(
        backend,
        claims,
        "reschedule_appointment",
        {
            "p_appointment": appointment_id,
            "p_new_starts_at": new_start,
            "p_reason": reason,
            "p_accept_late": accept_late,
        },
    )


def mark(backend: Backend, claims: Claims, appointment_id: str, outcome: str) -> dict[str, Any]:
    return _call(backend, claims, "mark_appointment", {"p_appointment": appointment_id, "p_outcome": outcome})


# What either party can say happened at a session (record_attendance), in the page's words.
OUTCOMES = {
    "held": "It was held",
    "ended_early": "It ended early",
    "client_absent": "The client did not come",
    "consultant_absent": "The consultant did not come",
}
RECORDABLE = ("confirmed", "completed", "no_show", "consultant_no_show", "disputed")


def record_attendance(
    backend: Backend, claims: Claims, appointment_id: str, outcome: str, note: str | None = None
) -> dict[str, Any]:
    if outcome not in OUTCOMES:
        raise Refusal("Say what happened at the session.", "outcome")
    return _call(
        backend,
        claims,
        "record_attendance",
        {"p_appointment": appointment_id, "p_outcome": outcome, "p_note": note or None},
    )


def attendance_line(appt: dict[str, Any]) -> str:
    """Both statements on a session in sentences, as the reader reads them: "You said it was held · Ana said you
    did not come", "You have not said what happened yet · Ana said it ended early", "Neither of you has said what
    happened yet"."""
    other = plain(appt["other_name"])
    mine, theirs = appt.get("my_statement"), appt.get("their_statement")
    if not mine and not theirs:
        line = "Neither of you has said what happened yet"
    else:
        you = f"You said {_what_happened(appt, mine, by_me=True)}" if mine else "You have not said what happened yet"
        them = f"{other} said {_what_happened(appt, theirs, by_me=False)}" if theirs else f"{other} has not said yet"
        line = f"{you} · {them}"
    if appt.get("their_note"):
        line += f" (“{plain(appt['their_note'])}”)"
    if appt["status"] == "disputed":
        line += " · disputed: counts for neither of you until an administrator has looked at it"
    if appt.get("resolution_note"):
        line += f" · resolved by an administrator: {plain(appt['resolution_note'])}"
    return line


def _what_happened(appt: dict[str, Any], outcome: str, *, by_me: bool) -> str:
    """A statement as the clause after "said": the absent party is "you" to the reader, named when the reader
    says it of the other, and "they" when the other says it of themselves."""
    if outcome == "held":
        return "it was held"
    if outcome == "ended_early":
        return "it ended early"
    absent_role = "client" if outcome == "client_absent" else "consultant"
    if absent_role == appt.get("my_role"):
        who = "you"
    else:
        who = plain(appt["other_name"]) if by_me else "they"
    return f"{who} did not come"


def my_appointments(
    backend: Backend, claims: Claims, first: datetime | None = None, last: datetime | None = None
) -> list[dict[str, Any]]:
    return backend.rpc(
        "my_appointments",
        {"p_from": first.isoformat() if first else None, "p_to": last.isoformat() if last else None},
        as_user=claims,
    )


def professionalism_record(backend: Backend, claims: Claims, member_id: str) -> dict[str, Any]:
    return backend.rpc("professionalism_record", {"p_member": member_id}, as_user=claims)


def notice_given(hours: float | str, *, short: bool = False) -> str:
    """The notice a cancellation gave, in whole hours and never rounded up: with 15.6 hours recorded and a
    16-hour threshold, "16 hours' notice" would contradict the late-cancellation warning ("15.6 hours before
    the session, inside the 16-hour threshold"). `short` is the same figure for a list line ("15 h notice"):
    the confirmation and the lists name the same number of hours."""
    whole = math.floor(float(hours))
    if short:
        return "less than 1 h notice" if whole < 1 else f"{whole} h notice"
    if whole < 1:
        return "less than an hour's notice"
    return "1 hour's notice" if whole == 1 else f"{whole} hours' notice"


def cancellation_policy(backend: Backend, claims: Claims, consultant_id: str) -> dict[str, Any]:
    """The consultant's late-cancellation threshold and minimum notice (hours) today: the terms a new booking
    is made under. A booked session keeps its own (`late_cancel_hours` on my_appointments)."""
    return backend.rpc("cancellation_policy", {"p_consultant": consultant_id}, as_user=claims) or {}


#: Said beside a session's own late rule (issue 22, item 3): the terms in force at booking travel with it.
KEPT_TERMS = (
    "This is the rule the session was booked under; a later change of the consultant's policy applies only to "
    "sessions booked after it."
)


def hours_and_minutes(span: timedelta) -> str:
    """A duration as a person reads it: '44 hours 48 minutes', '1 hour', '5 minutes' (never '44.8 hours')."""
    minutes = max(0, int(span.total_seconds() // 60))
    hours, minutes = divmod(minutes, 60)
    parts = [f"{hours} hour{'s' if hours != 1 else ''}"] if hours else []
    if minutes or not hours:
        parts.append(f"{minutes} minute{'s' if minutes != 1 else ''}")
    return " ".join(parts)


def late_rule(
    late_cancel_hours: int | None,
    starts_at: str | datetime | None = None,
    zone: str | None = None,
    *,
    now: datetime | None = None,
) -> str:
    """What counts as late, in a sentence: 'Cancelling or moving it less than 24 hours before it starts (from
    Mon 11 Jan at 16:00 New York time) counts as a late cancellation on the record.' When that moment has already
    passed, it says so plainly: from now on, cancelling or moving this session counts as late."""
    if late_cancel_hours is None:
        return "Cancelling or moving a session is recorded with the notice given."
    if late_cancel_hours == 0:
        return "Cancelling or moving is never counted as late by this consultant; the notice given is recorded."
    hours = "1 hour" if late_cancel_hours == 1 else f"{late_cancel_hours} hours"
    after = ""
    if starts_at is not None:
        start = _moment(starts_at)
        left = start - (now or datetime.now(UTC))
        if left < timedelta(hours=late_cancel_hours):
            return (
                f"It starts in {hours_and_minutes(left)}, inside the {hours} the late rule gives: cancelling or "
                "moving this session at any time from now on counts as a late cancellation on the record."
            )
        if zone is not None:
            cutoff = start - timedelta(hours=late_cancel_hours)
            # 'from tomorrow at 09:00', never 'after Tomorrow, 09:00' (read as the day after tomorrow)
            after = f" (from {local_day(cutoff, zone, now=now)} at {in_zone(cutoff, zone):%H:%M} {zone_words(zone)})"
    return (
        f"Cancelling or moving it less than {hours} before it starts{after} counts as a late cancellation "
        "on the record."
    )


#: A session's status in the page's words.
STATUS_WORDS = {
    "requested": "Proposed",
    "confirmed": "Confirmed",
    "declined": "Declined",
    "cancelled": "Cancelled",
    "moved": "Moved",
    "completed": "Completed",
    "no_show": "No-show",
    "consultant_no_show": "Consultant absent",
    "disputed": "Disputed",
}

# How far back Appointments lists sessions; ahead, as far as the week view books ("Go to week of"), so what was
# booked is listed.
LISTED_BEFORE = timedelta(days=60)


def listing_window(now: datetime) -> tuple[datetime, datetime]:
    """The instants between which Appointments reads the member's sessions (my_appointments)."""
    return now - LISTED_BEFORE, now + HORIZON + timedelta(days=8)


def weeks_listed(today: date) -> tuple[date, date]:
    """The first and last Mondays whose whole week lies inside listing_window, on the member's calendar (`today`
    is theirs): the Appointments week moves between these, so a week it shows is never half read."""
    return monday_of(today - LISTED_BEFORE + timedelta(days=7)), monday_of(today + HORIZON)


def week_shown(wanted: str | None, today: date) -> date:
    """The Monday of the week Appointments shows: the one asked for (ISO date), kept within weeks_listed; this
    week when none was asked for."""
    first, last = weeks_listed(today)
    monday = monday_of(date.fromisoformat(wanted)) if wanted else monday_of(today)
    return min(max(monday, first), last)


# The Appointments page's sections (st.tabs labels; the tabs keep their selection in session state under
# TAB_STATE_KEY, so another page can open Appointments on a section). "Past & cancelled" keeps the word "Past":
# the browser journey finds the tab by that name.
BOOK, UPCOMING, WEEK, PAST = "Book", "Upcoming", "Week", "Past & cancelled"
TABS = (BOOK, UPCOMING, WEEK, PAST)
TAB_STATE_KEY = "appointments_tab"
ACTIVE = ("requested", "confirmed")


def _moment(value: datetime | str) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def sections(appointments: list[dict[str, Any]], now: datetime | None = None) -> dict[str, list[dict[str, Any]]]:
    """Where each session is listed, in time order:

    - `upcoming`: proposed or confirmed, not yet over: the sessions that will take place and may need an answer;
    - `called_off`: cancelled or declined while its time is still ahead. It will not take place and needs no
      action, so it is not among the upcoming cards; it is not past either. A clinician looks for "what was
      called off, by whom, with how much notice" next to the session history, under its own heading;
    - `past`: every session whose time is over, whatever became of it (kept, missed, cancelled, never answered).
    """
    now = now or datetime.now(UTC)
    ordered = sorted(appointments, key=lambda a: (_moment(a["starts_at"]), str(a.get("id"))))
    result: dict[str, list[dict[str, Any]]] = {"upcoming": [], "called_off": [], "past": []}
    for appt in ordered:
        result[section_of(appt, now)].append(appt)
    return result


def section_of(appt: dict[str, Any], now: datetime) -> str:
    """The one section (see sections) that lists a session."""
    if _moment(appt["ends_at"]) < now:
        return "past"
    return "upcoming" if appt["status"] in ACTIVE else "called_off"


def tab_listing(appt: dict[str, Any], now: datetime | None = None) -> str:
    """The Appointments tab that lists a session: Upcoming while it will take place, otherwise Past & cancelled
    (which also lists the called-off sessions still ahead; see sections)."""
    return UPCOMING if section_of(appt, now or datetime.now(UTC)) == "upcoming" else PAST


NO_SUCH_SESSION = (
    "This link names a session that is not among yours, or no longer exists; the portal does not "
    "say which. Your sessions are listed below."
)


def first_session_proposal(
    backend: Backend, claims: Claims, consultant_id: str, now: datetime | None = None
) -> dict[str, Any] | None:
    """The first session a seeker proposed with a pending request (still proposed, or already confirmed) and
    not yet over, or None: while it stands the database refuses a second proposal, so the page shows it
    instead of a slot picker."""
    now = now or datetime.now(UTC)
    mine = [
        a
        for a in my_appointments(backend, claims, now)
        if a["other_id"] == consultant_id and a["status"] in ACTIVE and _moment(a["ends_at"]) >= now
    ]
    return mine[0] if mine else None


class BeforeAnEngagement(NamedTuple):
    """A sentence the Book tab says to a member who works with no one yet; `consultant_id` names the consultant
    whose profile the sentence leads to (None: no link)."""

    sentence: str
    consultant_id: str | None = None
    consultant_name: str | None = None


def before_an_engagement(requests: list[dict[str, Any]], *, is_consultant: bool) -> list[BeforeAnEngagement]:
    """What the Book tab says before there is anyone to book with, addressed to whoever reads it: how an
    engagement begins for them, then each pending request (my_requests) and what it allows meanwhile: the
    seeker may propose a first session from the consultant's profile (linked), which the consultant answers
    like any proposed session."""
    said = [
        BeforeAnEngagement(
            "Sessions are booked here once you work with someone: an engagement begins when you accept a "
            "client's request, or when a consultant accepts yours."
            if is_consultant
            else "Sessions are booked here once you work with a consultant: an engagement begins when a "
            "consultant accepts your request."
        )
    ]
    for request in (r for r in requests if r["status"] == "pending"):
        name = plain(request["other_name"])
        if request["direction"] == "sent":
            said.append(
                BeforeAnEngagement(
                    f"Your request to {name} is pending. Meanwhile you can propose a first session from "
                    f"{name}'s profile.",
                    str(request["other_id"]),
                    request["other_name"],
                )
            )
        else:
            said.append(
                BeforeAnEngagement(
                    f"{name} asked to work with you and awaits your answer on Requests. Meanwhile {name} can "
                    "propose a first session from your profile, which you confirm or decline under Upcoming."
                )
            )
    return said


#: What a record counts, said where a record is shown: nobody is blamed for what the other party did.
RECORD_COUNTS_ONLY_YOURS = (
    "A record counts only what its member did: the other party's absences and cancellations are never on it, "
    "and a disputed session counts for neither."
)


def record_summary(record: dict[str, Any]) -> str:
    """The record in one line, as the profile and search show it. Every fact is about what this member did in
    one role (`side`): a consultant's record never counts a client's absence or cancellation, and a client's
    record (read by the client alone) speaks to them."""
    client = record.get("side") == "client"
    who = "you" if client else "the consultant"
    parts = []
    if record.get("median_answer_hours") is not None:
        hours = float(record["median_answer_hours"])
        parts.append(
            "answers requests within the hour (median)" if hours < 1 else f"answers requests in {hours:g} h (median)"
        )
    if record.get("cancellations"):
        # "In good time": outside the session's own late-cancellation threshold (which can be days).
        count = int(record["cancellations"])
        in_time = round(count * float(record["cancellations_with_notice_share"] or 0))
        parts.append(f"{in_time} of {count} cancellation{'s' if count != 1 else ''} by {who} in good time")
    if record.get("sessions"):
        parts.append(f"{record['sessions_kept']} of {record['sessions']} sessions {'attended' if client else 'kept'}")
    if missed := record.get("client_no_shows" if client else "consultant_no_shows"):
        parts.append(f"{missed} session{'s' if missed != 1 else ''} missed by {who}")
    return "; ".join(parts) or "No events yet."
