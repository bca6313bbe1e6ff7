"""Booking, answering, cancelling (with notice recorded), rescheduling and marking sessions."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from portal.db import APIError, Backend, Claims, friendly_message


class BookingRefused(Exception):
    """`code` says what the page should do: 'slot_taken' (show fresh slots), 'late' (ask to confirm), ..."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def _refused(exc: APIError) -> BookingRefused:
    code = exc.details if isinstance(exc.details, str) else None
    message = friendly_message(exc)
    if exc.hint and exc.code in ("P0001",):
        message = f"{message} {exc.hint}"
    return BookingRefused(message, code)


def _call(backend: Backend, claims: Claims, fn: str, params: dict[str, Any]) -> dict[str, Any]:
    try:
        return backend.rpc(fn, params, as_user=claims)
    except APIError as exc:
        raise _refused(exc) from exc


def book(backend: Backend, claims: Claims, other_id: str, starts_at: datetime | str) -> dict[str, Any]:
    start = starts_at.isoformat() if isinstance(starts_at, datetime) else starts_at
    return _call(backend, claims, "book_appointment", {"p_other": other_id, "p_starts_at": start})


def answer(backend: Backend, claims: Claims, appointment_id: str, *, confirm: bool,
           reason: str | None = None) -> dict[str, Any]:
    if not confirm and not (reason or "").strip():
        raise BookingRefused("Give a reason when you decline a proposed time.", "reason")
    return _call(backend, claims, "respond_to_appointment",
                 {"p_appointment": appointment_id, "p_confirm": confirm, "p_reason": reason})


def cancel(backend: Backend, claims: Claims, appointment_id: str, reason: str, *,
           accept_late: bool = False) -> dict[str, Any]:
    if not (reason or "").strip():
        raise BookingRefused("Give a reason for cancelling.", "reason")
    return _call(backend, claims, "cancel_appointment",
                 {"p_appointment": appointment_id, "p_reason": reason, "p_accept_late": accept_late})


def reschedule(backend: Backend, claims: Claims, appointment_id: str, new_start: str, reason: str, *,
               accept_late: bool = False) -> dict[str, Any]:
    if not (reason or "").strip():
        raise BookingRefused("Give a reason for moving the session.", "reason")
    return _call(backend, claims, "reschedule_appointment",
                 {"p_appointment": appointment_id, "p_new_starts_at": new_start, "p_reason": reason,
                  "p_accept_late": accept_late})


def mark(backend: Backend, claims: Claims, appointment_id: str, outcome: str) -> dict[str, Any]:
    return _call(backend, claims, "mark_appointment", {"p_appointment": appointment_id, "p_outcome": outcome})


def my_appointments(backend: Backend, claims: Claims, first: datetime | None = None,
                    last: datetime | None = None) -> list[dict[str, Any]]:
    return backend.rpc("my_appointments", {"p_from": first.isoformat() if first else None,
                                           "p_to": last.isoformat() if last else None}, as_user=claims)


def professionalism_record(backend: Backend, claims: Claims, member_id: str) -> dict[str, Any]:
    return backend.rpc("professionalism_record", {"p_member": member_id}, as_user=claims)


def notice_given(hours: float | str) -> str:
    """The notice a cancellation gave, in whole hours and never rounded up: with 15.6 hours recorded and a
    16-hour threshold, "16 hours' notice" would contradict the late-cancellation warning ("15.6 hours before
    the session, inside the 16-hour threshold")."""
    whole = math.floor(float(hours))
    if whole < 1:
        return "less than an hour's notice"
    return "1 hour's notice" if whole == 1 else f"{whole} hours' notice"


def record_summary(record: dict[str, Any]) -> str:
    """The record in one line, as the profile and search show it."""
    parts = []
    if record.get("median_answer_hours") is not None:
        parts.append(f"answers requests in {record['median_answer_hours']:g} h (median)")
    if record.get("cancellations"):
        share = round(100 * float(record["cancellations_with_notice_share"] or 0))
        parts.append(f"{share}% of cancellations with notice")
    if record.get("sessions"):
        parts.append(f"{record['sessions_kept']} of {record['sessions']} sessions kept")
    return "; ".join(parts) or "No events yet."
