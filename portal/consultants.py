"""A consultant's profile as a colleague sees it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from portal.appointments import cancellation_policy
from portal.db import APIError, Backend, Claims, DatabaseUnavailable, Refusal

# The database's answer for a consultant one may not see (get_consultant_profile), said alike for a malformed id.
NOT_AVAILABLE = "This consultant is not available to you."

WEEKDAYS = {1: "Mon", 2: "Tue", 3: "Wed", 4: "Thu", 5: "Fri", 6: "Sat", 7: "Sun"}
BUCKET_NAMES = {1: "weekday mornings", 2: "weekday afternoons", 4: "weekday evenings", 8: "weekends"}


def get_consultant(backend: Backend, claims: Claims, consultant_id: str) -> dict[str, Any]:
    """A consultant's profile; an address whose id is no id at all (`?id=garbage`) reads like any consultant one may
    not see (the database's own not-found answer), never as a format error."""
    try:
        uuid.UUID(str(consultant_id))
    except ValueError:
        raise Refusal(NOT_AVAILABLE, code="PT404") from None
    return backend.rpc("get_consultant_profile", {"p_consultant": consultant_id}, as_user=claims)


def availability_summary(availability: dict[str, Any], timezone: str) -> str:
    buckets = availability.get("time_buckets") or 0
    times = [name for bit, name in BUCKET_NAMES.items() if buckets & bit]
    hours = availability.get("weekly_hours") or []
    if not hours:
        return "No weekly hours published yet."
    by_day: dict[int, list[str]] = {}
    for h in hours:
        by_day.setdefault(h["weekday"], []).append(f"{h['starts_at'][:5]}–{h['ends_at'][:5]}")
    week = "; ".join(f"{WEEKDAYS[d]} {', '.join(r)}" for d, r in sorted(by_day.items()))
    city = timezone.rsplit("/", 1)[-1].replace("_", " ")
    return f"Usually {', '.join(times)}, {city} time: {week}."


@dataclass(frozen=True)
class NoticeRule:
    """A consultant's minimum notice as the database keeps it: no session may start before `bookable_from`."""

    hours: int
    bookable_from: datetime

    @classmethod
    def at(cls, hours: int, now: datetime) -> NoticeRule:
        """The rule as open_slots applies it at `now`: a start at or after now + min_notice_hours."""
        return cls(hours, now + timedelta(hours=hours))


def notice_hours(backend: Backend, claims: Claims, consultant_id: str) -> int | None:
    """The minimum notice the database applies to bookings with this consultant, read as booking reads it
    (cancellation_policy): the saved rule, not a form's. None when it cannot be read now."""
    try:
        return int(cancellation_policy(backend, claims, consultant_id).get("min_notice_hours") or 0)
    except (APIError, DatabaseUnavailable):
        return None
