"""Busy times from consultants' own calendars (issue 27). Headless: no Streamlit.

A consultant connects a secret iCalendar address (read over HTTPS with httpx) or a CalDAV account (read with
the `caldav` library, a date-range search). Recurring events are expanded with `recurring-ical-events`, their
moved and cancelled instances included, each in its own zone; all-day, cancelled and transparent ("free")
events are not busy. Only start and end leave this module: titles, attendees and descriptions are never kept.

The address or account is sealed with Fernet under the server's key (Settings.resolved_calendar_key) before it
reaches the database, and opened only here, by the sender's sweep or a "Read now". Each read has limits:
READ_SECONDS in all, MAX_BYTES of calendar data, MAX_OCCURRENCES expanded events.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import socket
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import httpx
import recurring_ical_events
from cryptography.fernet import Fernet, InvalidToken
from icalendar import Calendar, Event

from portal.db import SERVICE, APIError, Backend, Claims, DatabaseUnavailable
from portal.email_messages import UID_DOMAIN  # one UID per session: invitations, .ics file, own calendar
from portal.week_grid import HORIZON

log = logging.getLogger(__name__)

READ_SECONDS = 20.0  # one calendar's read, all requests together
MAX_BYTES = 5_000_000  # calendar data per read
MAX_OCCURRENCES = 20_000  # expanded events per read (a FREQ=MINUTELY rule stops here, not at a year of minutes)
MAX_BUSY = 5_000  # busy intervals kept per calendar (the database holds the same limit)
READ_EVERY_MINUTES = 5
PER_SWEEP = 5  # calendars read per sender sweep (once a minute)
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


class CalendarUnreadable(Exception):
    """A read that failed; the message is the sentence its owner sees."""


@dataclass(frozen=True)
class CalendarSecret:
    kind: str  # "ics_url" or "caldav"
    url: str
    username: str | None = None
    password: str | None = None


@dataclass(frozen=True)
class ReadLimits:
    seconds: float = READ_SECONDS
    max_bytes: int = MAX_BYTES
    max_occurrences: int = MAX_OCCURRENCES
    allow_loopback: bool = False  # plain http to this machine: the tests' Radicale only

    @classmethod
    def from_environment(cls) -> ReadLimits:
        """PORTAL_CALENDAR_LOOPBACK=1 lets the app read a calendar on this machine over plain http: the browser
        tests' Radicale. Never set it on a server."""
        return cls(allow_loopback=os.environ.get("PORTAL_CALENDAR_LOOPBACK") == "1")


# --- sealing -------------------------------------------------------------------------------------


def seal(key: bytes, secret: CalendarSecret) -> str:
    return Fernet(key).encrypt(json.dumps(asdict(secret)).encode()).decode()


def unseal(key: bytes, sealed: str) -> CalendarSecret:
    try:
        return CalendarSecret(**json.loads(Fernet(key).decrypt(sealed.encode())))
    except (InvalidToken, ValueError, TypeError) as exc:
        raise CalendarUnreadable(
            "The portal can no longer open this calendar's stored address (its key changed): remove it and "
            "connect it again."
        ) from exc


def mask(secret: CalendarSecret) -> str:
    """What the owner sees again: enough to recognise the calendar, never enough to read it."""
    parts = urlsplit(secret.url)
    if secret.kind == "ics_url":
        tail = parts.path.rstrip("/")[-4:]
        return f"{parts.scheme}://{parts.hostname}/…{tail}"
    user = secret.username or ""
    shown = user[:2] + "…" + (user[user.index("@") :] if "@" in user else "")
    return f"{shown} at {parts.scheme}://{parts.hostname}, app password ••••••"


# --- checking what a consultant typed ------------------------------------------------------------


def _is_loopback(host: str) -> bool:
    return host.lower() in LOOPBACK_NAMES


def check_address(url: str, field: str, *, allow_loopback: bool = False) -> str:
    """The address to read, or ValueError with a sentence naming the field. HTTPS only (webcal:// is read as
    https://); plain http only to this machine when the limits allow it (the tests' server). An address whose
    host is private, link-local or this machine is refused otherwise: the portal's server is not a proxy into
    its own network."""
    url = (url or "").strip()
    if url.lower().startswith("webcal://"):
        url = "https://" + url[len("webcal://") :]
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not host or parts.scheme not in ("https", "http"):
        raise ValueError(f"{field} must be a full https:// address.")
    if parts.scheme == "http" and not (allow_loopback and _is_loopback(host)):
        raise ValueError(f"{field} must start with https:// (the calendar travels encrypted).")
    if allow_loopback and _is_loopback(host):
        return urlunsplit(parts)
    try:
        addresses = {str(info[4][0]) for info in socket.getaddrinfo(host, parts.port or 443, proto=socket.IPPROTO_TCP)}
    except OSError as exc:
        raise ValueError(f"{field}: the server {host} could not be found.") from exc
    if any(not ipaddress.ip_address(a.split("%")[0]).is_global for a in addresses):
        raise ValueError(f"{field} must be a calendar on the internet, not a private or local address.")
    return urlunsplit(parts)


def new_secret(kind: str, url: str, username: str = "", password: str = "", *, allow_loopback=False) -> CalendarSecret:
    """A secret from the form, checked; ValueError names the field."""
    if kind == "ics_url":
        return CalendarSecret("ics_url", check_address(url, "Calendar address", allow_loopback=allow_loopback))
    if kind != "caldav":
        raise ValueError("Calendar kind must be an iCalendar address or a CalDAV account.")
    checked = check_address(url, "CalDAV server", allow_loopback=allow_loopback)
    if not username.strip():
        raise ValueError("CalDAV username is required.")
    if not password:
        raise ValueError("CalDAV app password is required.")
    return CalendarSecret("caldav", checked, username.strip(), password)


# --- reading ------------------------------------------------------------------------------------


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self.ends = time.monotonic() + seconds

    def check(self) -> None:
        if time.monotonic() > self.ends:
            raise CalendarUnreadable("The calendar took too long to read; it is tried again in a few minutes.")


def fetch_ics(url: str, limits: ReadLimits, deadline: _Deadline) -> bytes:
    """The calendar file at `url`, at most limits.max_bytes, within the deadline; every redirect is checked."""

    def checked(request: httpx.Request) -> None:
        try:
            check_address(str(request.url), "Calendar address", allow_loopback=limits.allow_loopback)
        except ValueError as exc:
            raise CalendarUnreadable(str(exc)) from exc

    body = bytearray()
    try:
        with httpx.Client(
            timeout=limits.seconds, follow_redirects=True, max_redirects=3, event_hooks={"request": [checked]}
        ) as client:
            with client.stream("GET", url, headers={"Accept": "text/calendar"}) as response:
                if response.status_code in (401, 403, 404, 410):
                    raise CalendarUnreadable(
                        f"The calendar address answered {response.status_code}: it may have been reset or removed. "
                        "Copy the secret address again."
                    )
                if response.status_code != 200:
                    raise CalendarUnreadable(f"The calendar address answered {response.status_code}.")
                for chunk in response.iter_bytes():
                    body.extend(chunk)
                    if len(body) > limits.max_bytes:
                        raise CalendarUnreadable(f"The calendar is larger than {limits.max_bytes // 1_000_000} MB.")
                    deadline.check()
    except httpx.HTTPError as exc:
        raise CalendarUnreadable(f"The calendar address could not be reached ({type(exc).__name__}).") from exc
    return bytes(body)


def _parse(data: bytes | str) -> Calendar:
    try:
        return Calendar.from_ical(data)
    except ValueError as exc:
        raise CalendarUnreadable("The address did not return a calendar (not iCalendar data).") from exc


def _caldav_client(secret: CalendarSecret, limits: ReadLimits):
    from caldav.davclient import DAVClient  # not `caldav.DAVClient`: the package's lazy __getattr__ is untyped

    host = urlsplit(secret.url).hostname or ""
    return DAVClient(
        url=secret.url,
        username=secret.username,
        password=secret.password,
        timeout=int(limits.seconds),
        require_tls=not (limits.allow_loopback and _is_loopback(host)),
        enable_rfc6764=False,
    )


def _named_calendars(client, secret: CalendarSecret) -> list:
    """The calendar the URL names, or all the account's calendars when it names the account."""
    calendars = client.principal().calendars()
    named = [c for c in calendars if str(c.url).rstrip("/") == secret.url.rstrip("/")]
    return named or calendars


def _caldav_errors(action: str):
    """CalDAV and network failures as the sentence the owner sees."""
    from contextlib import contextmanager

    from caldav.lib import error as dav_error
    from niquests.exceptions import RequestException

    @contextmanager
    def translated():
        try:
            yield
        except dav_error.AuthorizationError as exc:
            raise CalendarUnreadable("The CalDAV server refused the username or app password.") from exc
        except (dav_error.DAVError, RequestException, OSError) as exc:
            raise CalendarUnreadable(f"The CalDAV server could not be {action} ({type(exc).__name__}).") from exc

    return translated()


def fetch_caldav(secret: CalendarSecret, start: datetime, end: datetime, limits: ReadLimits, deadline: _Deadline):
    """The events of the account's calendars (or of the one calendar its URL names) between start and end."""
    with _caldav_errors("read"), _caldav_client(secret, limits) as client:
        found, size = [], 0
        for calendar in _named_calendars(client, secret):
            deadline.check()
            for item in calendar.search(start=start, end=end, event=True, expand=False):
                size += len(item.data)
                if size > limits.max_bytes:
                    raise CalendarUnreadable(f"The calendar is larger than {limits.max_bytes // 1_000_000} MB.")
                found.append(_parse(item.data))
        return found


def session_event(series_id: str, starts_at: str, ends_at: str, status: str) -> str:
    """A portal session as the consultant's own calendar holds it: the invitations' UID, no one's name."""
    event = Event()
    event.add("uid", f"{series_id}@{UID_DOMAIN}")
    event.add("dtstamp", datetime.now(UTC))
    event.add("dtstart", datetime.fromisoformat(starts_at).astimezone(UTC))
    event.add("dtend", datetime.fromisoformat(ends_at).astimezone(UTC))
    event.add("summary", "Peer consultation session")
    event.add("status", "CONFIRMED" if status == "confirmed" else "TENTATIVE")
    calendar = Calendar()
    calendar.add("prodid", "-//Peer Consultation Portal//sessions//EN")
    calendar.add("version", "2.0")
    calendar.add_component(event)
    return calendar.to_ical().decode()


def write_sessions(secret: CalendarSecret, sessions: list[dict], limits: ReadLimits, *, now: datetime | None = None):
    """Make the calendar hold exactly the portal's coming sessions: add or move each, remove the rest of the
    portal's events (a cancelled or declined session leaves the calendar). Other events are never touched."""
    start = (now or datetime.now(UTC)) - timedelta(days=1)
    wanted = {f"{s['series_id']}@{UID_DOMAIN}": s for s in sessions}
    with _caldav_errors("written to"), _caldav_client(secret, limits) as client:
        calendar = _named_calendars(client, secret)[0]
        held = {}
        for item in calendar.search(start=start, end=start + HORIZON + timedelta(days=2), event=True, expand=False):
            uid = str(item.icalendar_component.get("UID", ""))
            if uid.endswith("@" + UID_DOMAIN):
                held[uid] = item
        for uid, item in held.items():
            if uid not in wanted:
                item.delete()
        for uid, session in wanted.items():
            text = session_event(session["series_id"], session["starts_at"], session["ends_at"], session["status"])
            if uid in held:
                held[uid].data = text
                held[uid].save()
            else:
                calendar.save_event(text)


def _instant(value) -> datetime | None:
    """An event boundary as an aware instant; None for a date (an all-day event). A floating time (no zone)
    is read as UTC: the calendar gave no zone to read it in."""
    if not isinstance(value, datetime):
        return None
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def busy_intervals(
    calendars: Iterable[Calendar], start: datetime, end: datetime, limits: ReadLimits, deadline: _Deadline
) -> list[tuple[datetime, datetime]]:
    """Merged busy intervals between start and end: timed, not cancelled, not transparent."""
    spans: list[tuple[datetime, datetime]] = []
    seen = 0
    for calendar in calendars:
        for event in recurring_ical_events.of(calendar, skip_bad_series=True).after(start):
            seen += 1
            if seen > limits.max_occurrences:
                raise CalendarUnreadable(f"The calendar has more than {limits.max_occurrences} events in a year.")
            if seen % 500 == 0:
                deadline.check()
            if str(event.get("UID", "")).endswith("@" + UID_DOMAIN):
                continue  # a portal session written back: the session itself already holds its time
            begins, ends = _instant(event.get("DTSTART").dt), None
            if begins is None:
                continue  # all-day: a birthday or a holiday marker, not a busy time
            if begins >= end:
                break
            if str(event.get("STATUS", "")).upper() == "CANCELLED" or str(event.get("TRANSP", "")).upper() == (
                "TRANSPARENT"
            ):
                continue
            ends = _instant(event.end) if event.get("DTEND") or event.get("DURATION") else begins
            if ends is not None and ends > begins and ends > start:
                spans.append((max(begins, start), min(ends, end)))
    return merged(spans)


def merged(spans: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    out: list[tuple[datetime, datetime]] = []
    for begins, ends in sorted(spans):
        if out and begins <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], ends))
        else:
            out.append((begins, ends))
    if len(out) > MAX_BUSY:
        raise CalendarUnreadable(f"The calendar has more than {MAX_BUSY} busy times in the booking horizon.")
    return out


def read_calendar(
    secret: CalendarSecret, *, now: datetime | None = None, limits: ReadLimits = ReadLimits()
) -> list[tuple[datetime, datetime]]:
    """The busy intervals of one calendar from now to the booking horizon."""
    start = (now or datetime.now(UTC)).replace(microsecond=0)
    end = start + HORIZON + timedelta(days=1)
    deadline = _Deadline(limits.seconds)
    if secret.kind == "ics_url":
        url = check_address(secret.url, "Calendar address", allow_loopback=limits.allow_loopback)
        calendars = [_parse(fetch_ics(url, limits, deadline))]
    else:
        check_address(secret.url, "CalDAV server", allow_loopback=limits.allow_loopback)
        calendars = fetch_caldav(secret, start, end, limits, deadline)
    return busy_intervals(calendars, start, end, limits, deadline)


# --- the sweep ----------------------------------------------------------------------------------


def sweep(
    backend: Backend,
    key: bytes,
    *,
    consultant_id: str | None = None,
    limits: ReadLimits = ReadLimits(),
    every_minutes: int = READ_EVERY_MINUTES,
    limit: int = 20,
) -> dict[str, int]:
    """Read the calendars due (or all of one consultant's) and store what each gave: its busy intervals, or
    the sentence saying why it could not be read (its last busy intervals are then kept)."""
    outcomes = {"read": 0, "failed": 0}
    rows = backend.rpc(
        "calendars_due",
        {"p_every_minutes": every_minutes, "p_limit": limit, "p_consultant": consultant_id},
        as_user=SERVICE,
    )
    for row in rows or []:
        try:
            try:
                secret = unseal(key, row["sealed_secret"])
                busy = read_calendar(secret, limits=limits)
            except ValueError as exc:  # the stored address no longer passes the checks
                raise CalendarUnreadable(str(exc)) from exc
            if row.get("write_sessions") and secret.kind == "caldav":
                sessions = backend.rpc("calendar_sessions", {"p_calendar": row["id"]}, as_user=SERVICE) or []
                write_sessions(secret, sessions, limits)
        except CalendarUnreadable as exc:
            outcomes["failed"] += 1
            backend.rpc("calendar_reading_done", {"p_calendar": row["id"], "p_error": str(exc)}, as_user=SERVICE)
            continue
        pairs = [[b.isoformat(), e.isoformat()] for b, e in busy]
        backend.rpc("calendar_reading_done", {"p_calendar": row["id"], "p_busy": pairs}, as_user=SERVICE)
        outcomes["read"] += 1
    return outcomes


class CalendarSweep:
    """The sender's periodic re-read: at most once a minute it asks for the calendars not read for a while."""

    def __init__(
        self, backend: Backend, key: bytes, *, check_every_s: float = 60.0, limits: ReadLimits = ReadLimits()
    ) -> None:
        self.backend, self.key, self.check_every_s, self.limits = backend, key, check_every_s, limits
        self._checked_at: float | None = None

    def run_if_due(self) -> None:
        now = time.monotonic()
        if self._checked_at is not None and now - self._checked_at < self.check_every_s:
            return
        self._checked_at = now
        try:
            # A few calendars a minute: each read may take READ_SECONDS, and the sender's email must not wait long.
            sweep(self.backend, self.key, limits=self.limits, limit=PER_SWEEP)
        except (APIError, DatabaseUnavailable) as exc:  # read on the next sweep; delivery goes on
            log.warning("calendars not read this time: %s", exc)


# --- for the owner's page -----------------------------------------------------------------------


def my_calendars(backend: Backend, claims: Claims) -> list[dict]:
    """The member's own calendars, each with its mask and how its last read went (never the secret)."""
    return backend.rpc("my_calendars", {}, as_user=claims) or []


def connect_calendar(
    backend: Backend, claims: Claims, key: bytes, secret: CalendarSecret, label: str, *, write_sessions: bool
) -> None:
    """Keep `secret` sealed under the server's `key`, with the mask its owner sees; a CalDAV calendar may also
    take the member's sessions (an iCalendar address is read-only)."""
    backend.rpc(
        "add_my_calendar",
        {
            "p_kind": secret.kind,
            "p_label": label,
            "p_sealed_secret": seal(key, secret),
            "p_masked_secret": mask(secret),
            "p_write_sessions": secret.kind == "caldav" and write_sessions,
        },
        as_user=claims,
    )


def remove_calendar(backend: Backend, claims: Claims, calendar_id: str) -> None:
    """Forget one of the member's calendars and the busy times read from it."""
    backend.rpc("remove_my_calendar", {"p_calendar": calendar_id}, as_user=claims)


def status_sentence(row: dict, now: datetime | None = None) -> str:
    """How a calendar stands, for its owner: when it was last read, and if that failed, why and when it last
    worked."""
    now = now or datetime.now(UTC)
    if not row.get("last_read_at"):
        return "Not read yet: it is read within a few minutes."
    read = _ago(row["last_read_at"], now)
    if row.get("last_error"):
        worked = f"it last worked {_ago(row['last_ok_at'], now)}" if row.get("last_ok_at") else "it has never worked"
        return (
            f"Could not be read {read}: {row['last_error']} Its last busy times are kept until it reads again; "
            f"{worked}."
        )
    return f"Read {read}."


def _ago(value: str | datetime, now: datetime) -> str:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    minutes = max(int((now - moment).total_seconds() // 60), 0)
    if minutes < 1:
        return "just now"
    if minutes < 120:
        return f"{minutes} minute{'s' if minutes != 1 else ''} ago"
    hours = minutes // 60
    return f"{hours} hours ago" if hours < 48 else f"on {moment:%d %b %Y}"


def busy_on_clock(busy: list[dict], zone: str) -> list[tuple[datetime, datetime]]:
    """The owner's busy times (instants) on `zone`'s clock, each split at that clock's midnights, so a week chart
    draws each piece on its own day."""
    shown = ZoneInfo(zone)
    pieces = []
    for row in busy:
        begins = datetime.fromisoformat(str(row["starts_at"])).astimezone(shown)
        ends = datetime.fromisoformat(str(row["ends_at"])).astimezone(shown)
        while begins < ends:
            midnight = datetime.combine(begins.date() + timedelta(days=1), datetime.min.time(), shown)
            pieces.append((begins, min(ends, midnight)))
            begins = midnight
    return pieces
