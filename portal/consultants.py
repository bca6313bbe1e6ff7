"""A consultant's profile as a colleague sees it."""

from __future__ import annotations

import uuid
from typing import Any

from portal.db import Backend, Claims, Refusal

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
