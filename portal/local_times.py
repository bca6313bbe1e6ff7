"""Stored instants shown in the reader's own time zone, in the app's style."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo


def in_zone(value: str | datetime, zone: str) -> datetime:
    """A timestamptz as the API returns it (ISO text with an offset) or a datetime, in `zone` (an IANA name);
    naive means UTC."""
    instant = datetime.fromisoformat(value) if isinstance(value, str) else value
    return (instant if instant.tzinfo else instant.replace(tzinfo=UTC)).astimezone(ZoneInfo(zone))


def _day(local: datetime, now: datetime | None) -> str:
    """'Today', 'Yesterday', 'Tomorrow', else 'Tue 03 Mar' (with the year when it is not this year)."""
    today = (now or datetime.now(UTC)).astimezone(local.tzinfo).date()
    word = {today: "Today", today - timedelta(days=1): "Yesterday", today + timedelta(days=1): "Tomorrow"}
    if local.date() in word:
        return word[local.date()]
    return f"{local:%a %d %b}" if local.year == today.year else f"{local:%a %d %b %Y}"


def local_time(value: str | datetime, zone: str, *, now: datetime | None = None) -> str:
    """A stored instant for a reader in `zone` (an IANA name), in the app's style:
    'Today, 14:05', 'Yesterday, 09:30', 'Tue 03 Mar, 14:05', 'Mon 15 Dec 2025, 14:05' (another year)."""
    local = in_zone(value, zone)
    return f"{_day(local, now)}, {local:%H:%M}"


def local_day(value: str | datetime, zone: str, *, now: datetime | None = None) -> str:
    """The reader's calendar day of a stored instant, to sit inside a sentence ('sent today', 'since Tue 03 Mar')."""
    day = _day(in_zone(value, zone), now)
    return day.lower() if day in ("Today", "Yesterday", "Tomorrow") else day


def date_words(value: str | date | datetime, zone: str) -> str:
    """'Sun 6 Dec 2026': a stored date (ISO text or a date) as it is, or a stored instant's day in `zone`."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if "T" in value or " " in value else date.fromisoformat(value)
    day = in_zone(value, zone).date() if isinstance(value, datetime) else value
    return f"{day:%a} {day.day} {day:%b %Y}"


def zone_words(zone: str) -> str:
    """An IANA zone as people say it: 'America/New_York' -> 'New York time', 'America/Argentina/Buenos_Aires'
    -> 'Buenos Aires time'; 'UTC' -> 'UTC'."""
    if zone.upper() in ("UTC", "ETC/UTC", "GMT", "ETC/GMT"):
        return "UTC"
    return f"{zone.rsplit('/', 1)[-1].replace('_', ' ')} time"


def clock_in_words(value: str | datetime, zone: str) -> str:
    """'16:00 New York time': a time of day that names its zone."""
    return f"{in_zone(value, zone):%H:%M} {zone_words(zone)}"


def times_caption(zone: str, what: str = "Times") -> str:
    """Where a page says which zone its times (or dates) are in: 'Times are New York time (America/New_York).'"""
    words = zone_words(zone)
    return f"{what} are {words}." if words == zone else f"{what} are {words} ({zone})."
