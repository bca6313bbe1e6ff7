"""Busy times from the consultant's own calendar (issue 27), against a real CalDAV server (Radicale on loopback).

Events written into Radicale with the caldav library — a weekly series in New York time across a week where
New York and Berlin are not six hours apart (their daylight-saving changes fall on different Sundays), one
instance of it moved and one cancelled, an all-day event, a transparent event, a cancelled event and a plain
one in UTC — remove exactly the Berlin consultant's slots they cover, read over CalDAV and, the same calendar,
through Radicale's iCalendar export address. A booking over a busy time is refused with a sentence; the
stored address is read back masked by its owner only, never by a stranger or the admin (both backends).
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import caldav
import psycopg
import pytest

from portal import calendar_sync
from portal.appointments import book, cancel
from portal.availability import open_slots
from portal.db import SERVICE, APIError, Claims
from portal.db.local import LocalBackend
from portal.mailer import Mailer, MailSettings
from portal.refusal import Refusal
from tests.conftest import licensed_where_the_clients_live

BERLIN, NEW_YORK = ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")
KEY = calendar_sync.Fernet.generate_key()
LOOPBACK = calendar_sync.ReadLimits(allow_loopback=True)


def apart(day: date) -> timedelta:
    """How far Berlin's clock is ahead of New York's at noon on `day`."""
    noon = datetime.combine(day, time(12), UTC)
    return noon.astimezone(BERLIN).utcoffset() - noon.astimezone(NEW_YORK).utcoffset()


def tuesday_of_a_dst_gap() -> date:
    """The first Tuesday (a week or more ahead) when New York and Berlin are not 6 hours apart, with a usual
    Tuesday the week before: the week a zone-unaware reader puts a New York meeting at the wrong Berlin hour."""
    day = datetime.now(UTC).date() + timedelta(days=14 + (1 - datetime.now(UTC).date().weekday()) % 7)
    while apart(day) == timedelta(hours=6) or apart(day - timedelta(days=7)) != timedelta(hours=6):
        day += timedelta(days=7)
    return day


def vevent(uid: str, body: str) -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//portal tests//EN\r\n"
        f"BEGIN:VEVENT\r\nUID:{uid}\r\n{body}END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%S")


def at_(day: date, hour: int, zone=BERLIN) -> datetime:
    return datetime.combine(day, time(hour), zone)


@pytest.fixture(scope="module")
def consultant(embedded_db):
    """A Berlin consultant (weekdays 09:00–17:00, 50-minute sessions, 10-minute buffer, no notice) with a
    client they work with, licensed where the client lives."""
    backend = LocalBackend(embedded_db.api_conninfo)
    made, usernames = [], []
    for prefix in ("caldav_consultant", "caldav_client"):
        username = f"{prefix}_{uuid.uuid4().hex[:8]}"
        usernames.append(username)
        made.append(
            backend.rpc(
                "auth_register",
                {
                    "p_username": username,
                    "p_email": f"{username}@test.example",
                    "p_display_name": f"Test {prefix}",
                    "p_password_hash": "$2b$12$" + "x" * 53,
                },
                as_user=SERVICE,
            )
        )
    consultant_id, client_id = made
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        conn.execute(
            "update public.profiles set is_consultant = true, fee_usd = 100, timezone = 'Europe/Berlin' where id = %s",
            (consultant_id,),
        )
        conn.execute(
            "update public.availability_settings set min_notice_hours = 0, session_minutes = 50, buffer_minutes = 10,"
            " capacity = 10 where consultant_id = %s",
            (consultant_id,),
        )
        for weekday in range(1, 6):
            conn.execute(
                "insert into public.weekly_hours (consultant_id, weekday, starts_at, ends_at) "
                "values (%s, %s, '09:00', '17:00')",
                (consultant_id, weekday),
            )
        request = conn.execute(
            "insert into public.consultation_requests (seeker_id, consultant_id, message, status) "
            "values (%s, %s, 'hi', 'accepted') returning id",
            (client_id, consultant_id),
        ).fetchone()[0]
        conn.execute(
            "insert into public.engagements (request_id, seeker_id, consultant_id) values (%s, %s, %s)",
            (request, client_id, consultant_id),
        )
        licensed_where_the_clients_live(conn, consultant_id, client_id)
    yield backend, Claims.user(consultant_id), Claims.user(client_id), usernames[0]
    backend.close()


@pytest.fixture(scope="module")
def events(radicale):
    """The consultant's calendar in Radicale, and the instants of the slots its events must block."""
    gap = tuesday_of_a_dst_gap()
    usual = gap - timedelta(days=7)
    with caldav.DAVClient(url=radicale.url, username="therapist", password="app", require_tls=False) as client:
        calendar = client.principal().make_calendar(name="Private", cal_id="private")
        series = (
            "DTSTART;TZID=America/New_York:{s}\r\nDTEND;TZID=America/New_York:{e}\r\nSUMMARY:Supervision\r\n"
            "RRULE:FREQ=WEEKLY;COUNT=4\r\n"
        )
        first = datetime.combine(usual, time(4), NEW_YORK)
        moved_from = first + timedelta(days=14)
        cancelled = first + timedelta(days=21)
        moved_to = at_(moved_from.date() + timedelta(days=1), 14)
        calendar.save_event(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//portal tests//EN\r\n"
            "BEGIN:VEVENT\r\nUID:weekly\r\n"
            + series.format(s=stamp(first), e=stamp(first + timedelta(minutes=50)))
            + "END:VEVENT\r\n"
            f"BEGIN:VEVENT\r\nUID:weekly\r\nRECURRENCE-ID;TZID=America/New_York:{stamp(moved_from)}\r\n"
            f"DTSTART;TZID=Europe/Berlin:{stamp(moved_to)}\r\nDTEND;TZID=Europe/Berlin:"
            f"{stamp(moved_to + timedelta(minutes=50))}\r\nSUMMARY:Supervision (moved)\r\nEND:VEVENT\r\n"
            f"BEGIN:VEVENT\r\nUID:weekly\r\nRECURRENCE-ID;TZID=America/New_York:{stamp(cancelled)}\r\n"
            f"DTSTART;TZID=America/New_York:{stamp(cancelled)}\r\nDTEND;TZID=America/New_York:"
            f"{stamp(cancelled + timedelta(minutes=50))}\r\nSTATUS:CANCELLED\r\nSUMMARY:x\r\nEND:VEVENT\r\n"
            "END:VCALENDAR\r\n"
        )
        thursday, friday, monday = usual + timedelta(days=2), usual + timedelta(days=3), usual - timedelta(days=1)
        calendar.save_event(vevent("birthday", f"DTSTART;VALUE=DATE:{thursday:%Y%m%d}\r\nSUMMARY:Birthday\r\n"))
        calendar.save_event(
            vevent(
                "free",
                f"DTSTART;TZID=Europe/Berlin:{stamp(at_(friday, 12))}\r\n"
                f"DTEND;TZID=Europe/Berlin:{stamp(at_(friday, 13))}\r\nTRANSP:TRANSPARENT\r\nSUMMARY:Lunch\r\n",
            )
        )
        calendar.save_event(
            vevent(
                "called-off",
                f"DTSTART;TZID=Europe/Berlin:{stamp(at_(friday, 15))}\r\n"
                f"DTEND;TZID=Europe/Berlin:{stamp(at_(friday, 16))}\r\nSTATUS:CANCELLED\r\nSUMMARY:Called off\r\n",
            )
        )
        dentist = at_(monday, 11).astimezone(UTC)
        calendar.save_event(
            vevent(
                "dentist",
                f"DTSTART:{stamp(dentist)}Z\r\nDTEND:{stamp(dentist + timedelta(minutes=50))}Z\r\nSUMMARY:Dentist\r\n",
            )
        )
        blocked = {first, first + timedelta(days=7), moved_to, dentist}
        yield {
            "calendar_url": str(calendar.url),
            "account_url": radicale.url,
            "blocked": {b.astimezone(UTC) for b in blocked},
            "weeks": (monday, monday + timedelta(days=27)),
            "gap": gap,
        }


def slot_instants(backend, consultant_claims, client_claims, first: date, last: date) -> set[datetime]:
    rows = open_slots(backend, client_claims, consultant_claims.sub, first, last, client_claims.sub)
    return {datetime.fromisoformat(r["starts_at"]).astimezone(UTC) for r in rows}


def connect_and_read(backend, consultant_claims, secret: calendar_sync.CalendarSecret) -> str:
    calendar_id = backend.rpc(
        "add_my_calendar",
        {
            "p_kind": secret.kind,
            "p_label": "Private",
            "p_sealed_secret": calendar_sync.seal(KEY, secret),
            "p_masked_secret": calendar_sync.mask(secret),
        },
        as_user=consultant_claims,
    )
    outcome = calendar_sync.sweep(backend, KEY, consultant_id=consultant_claims.sub, limits=LOOPBACK)
    assert outcome == {"read": 1, "failed": 0}
    return calendar_id


@pytest.mark.parametrize("path", ["caldav", "ics_url"])
def test_calendar_events_block_exactly_their_slots(consultant, events, path):
    backend, consultant_claims, client_claims, _ = consultant
    first, last = events["weeks"]
    before = slot_instants(backend, consultant_claims, client_claims, first, last)
    assert events["blocked"] <= before, "every event falls on a slot the weekly hours offer"
    # The series' Berlin hour moves in the gap week: a reader that ignored zones would block the wrong slot.
    usual_hour = min(events["blocked"]).astimezone(BERLIN).hour
    gap_hours = {b.astimezone(BERLIN).hour for b in events["blocked"] if b.astimezone(BERLIN).date() == events["gap"]}
    assert gap_hours and gap_hours != {usual_hour}

    if path == "caldav":
        secret = calendar_sync.new_secret(
            "caldav", events["account_url"], "therapist", "app password", allow_loopback=True
        )
    else:
        secret = calendar_sync.new_secret("ics_url", events["calendar_url"], allow_loopback=True)
    calendar_id = connect_and_read(backend, consultant_claims, secret)
    try:
        after = slot_instants(backend, consultant_claims, client_claims, first, last)
        assert before - after == events["blocked"]
        (status,) = backend.rpc("my_calendars", {}, as_user=consultant_claims)
        assert status["last_ok_at"] and status["last_error"] is None
    finally:
        backend.rpc("remove_my_calendar", {"p_calendar": calendar_id}, as_user=consultant_claims)
    assert slot_instants(backend, consultant_claims, client_claims, first, last) == before


def test_a_booking_over_a_busy_time_is_refused_with_a_sentence(consultant, embedded_db):
    backend, consultant_claims, client_claims, _ = consultant
    day = datetime.now(UTC).date() + timedelta(days=3)
    slots = open_slots(backend, client_claims, consultant_claims.sub, day, day + timedelta(days=6), client_claims.sub)
    shown = datetime.fromisoformat(slots[0]["starts_at"])
    calendar_id = backend.rpc(
        "add_my_calendar",
        {"p_kind": "ics_url", "p_label": "Home", "p_sealed_secret": "sealed", "p_masked_secret": "https://x/…ics"},
        as_user=consultant_claims,
    )
    try:
        # The calendar is read after the slot was shown: its first 20 minutes are now busy.
        busy = [[shown.isoformat(), (shown + timedelta(minutes=20)).isoformat()]]
        backend.rpc("calendar_reading_done", {"p_calendar": calendar_id, "p_busy": busy}, as_user=SERVICE)
        with pytest.raises(Refusal) as refused:
            book(backend, client_claims, consultant_claims.sub, shown)
        assert refused.value.code == "slot_taken" and "no longer open" in refused.value.message
        # The trigger refuses it whichever way the row is written, not only through the booking function.
        with psycopg.connect(embedded_db.owner_conninfo) as conn, pytest.raises(psycopg.errors.RaiseException) as raw:
            conn.execute(
                "insert into public.appointments (consultant_id, client_id, starts_at, ends_at, blocked_until, "
                "requested_by, status) values (%s, %s, %s, %s, %s, %s, 'requested')",
                (
                    consultant_claims.sub,
                    client_claims.sub,
                    shown,
                    shown + timedelta(minutes=50),
                    shown + timedelta(minutes=60),
                    client_claims.sub,
                ),
            )
        assert "no longer open" in str(raw.value)
        # The buffer after a busy time counts: a slot starting within 10 minutes of its end is not offered.
        remaining = {
            s["starts_at"]
            for s in open_slots(backend, client_claims, consultant_claims.sub, day, day + timedelta(days=6))
        }
        assert slots[0]["starts_at"] not in remaining and slots[1]["starts_at"] in remaining
    finally:
        backend.rpc("remove_my_calendar", {"p_calendar": calendar_id}, as_user=consultant_claims)
    assert book(backend, client_claims, consultant_claims.sub, shown)["starts_at"]


def test_a_calendar_that_fails_keeps_its_busy_times_and_tells_its_owner_once(consultant, radicale):
    backend, consultant_claims, client_claims, _ = consultant
    gone = calendar_sync.new_secret("ics_url", radicale.url + "therapist/no-such-calendar/", allow_loopback=True)
    calendar_id = backend.rpc(
        "add_my_calendar",
        {
            "p_kind": "ics_url",
            "p_label": "Old",
            "p_sealed_secret": calendar_sync.seal(KEY, gone),
            "p_masked_secret": calendar_sync.mask(gone),
        },
        as_user=consultant_claims,
    )
    try:
        day = datetime.now(UTC).date() + timedelta(days=20)
        slot = open_slots(backend, client_claims, consultant_claims.sub, day, day + timedelta(days=6))[0]
        busy = [[slot["starts_at"], slot["ends_at"]]]
        backend.rpc("calendar_reading_done", {"p_calendar": calendar_id, "p_busy": busy}, as_user=SERVICE)
        for _ in range(2):
            assert calendar_sync.sweep(backend, KEY, consultant_id=consultant_claims.sub, limits=LOOPBACK) == {
                "read": 0,
                "failed": 1,
            }
        (status,) = [c for c in backend.rpc("my_calendars", {}, as_user=consultant_claims) if c["id"] == calendar_id]
        assert "answered 404" in status["last_error"] and status["last_ok_at"] and status["last_read_at"]
        still = {
            s["starts_at"]
            for s in open_slots(backend, client_claims, consultant_claims.sub, day, day + timedelta(days=6))
        }
        assert slot["starts_at"] not in still
        told = [
            n
            for n in backend.rpc("my_notifications", {}, as_user=consultant_claims)
            if n["kind"] == "calendar_unread" and '"Old"' in n["message"]
        ]
        assert len(told) == 1 and "answered 404" in told[0]["message"]
    finally:
        backend.rpc("remove_my_calendar", {"p_calendar": calendar_id}, as_user=consultant_claims)


def test_the_sender_re_reads_calendars(consultant, events, tmp_path):
    backend, consultant_claims, _, _ = consultant
    secret = calendar_sync.new_secret("ics_url", events["calendar_url"], allow_loopback=True)
    calendar_id = backend.rpc(
        "add_my_calendar",
        {
            "p_kind": "ics_url",
            "p_label": "Swept",
            "p_sealed_secret": calendar_sync.seal(KEY, secret),
            "p_masked_secret": calendar_sync.mask(secret),
        },
        as_user=consultant_claims,
    )
    try:
        mailer = Mailer(
            backend,
            MailSettings(mailbox_dir=tmp_path),
            calendars=calendar_sync.CalendarSweep(backend, KEY, limits=LOOPBACK),
        )
        mailer.run_once()
        (swept,) = [c for c in backend.rpc("my_calendars", {}, as_user=consultant_claims) if c["id"] == calendar_id]
        assert swept["last_ok_at"] and swept["last_error"] is None
        busy = backend.rpc(
            "my_busy_times",
            {"p_from": at_(events["weeks"][0], 0).isoformat(), "p_to": at_(events["weeks"][1], 0).isoformat()},
            as_user=consultant_claims,
        )
        assert {datetime.fromisoformat(b["starts_at"]) for b in busy} == events["blocked"]
        assert set(busy[0]) == {"starts_at", "ends_at"}  # when, never why
    finally:
        backend.rpc("remove_my_calendar", {"p_calendar": calendar_id}, as_user=consultant_claims)


def test_sessions_are_written_into_the_calendar_and_leave_it_when_cancelled(consultant, radicale):
    backend, consultant_claims, client_claims, _ = consultant
    with caldav.DAVClient(url=radicale.url, username="writer", password="app", require_tls=False) as client:
        calendar = client.principal().make_calendar(name="Work", cal_id="work")
    secret = calendar_sync.new_secret("caldav", str(calendar.url), "writer", "app", allow_loopback=True)
    calendar_id = backend.rpc(
        "add_my_calendar",
        {
            "p_kind": "caldav",
            "p_label": "Work",
            "p_sealed_secret": calendar_sync.seal(KEY, secret),
            "p_masked_secret": calendar_sync.mask(secret),
            "p_write_sessions": True,
        },
        as_user=consultant_claims,
    )

    def portal_events() -> dict[str, tuple[datetime, str]]:
        with caldav.DAVClient(url=radicale.url, username="writer", password="app", require_tls=False) as client:
            items = client.calendar(url=str(calendar.url)).events()
            return {
                str(e.icalendar_component["UID"]): (
                    e.icalendar_component.start.astimezone(UTC),
                    str(e.icalendar_component.get("SUMMARY")),
                )
                for e in items
            }

    try:
        day = datetime.now(UTC).date() + timedelta(days=40)
        slot = open_slots(backend, client_claims, consultant_claims.sub, day, day + timedelta(days=6))[0]
        booked = book(backend, client_claims, consultant_claims.sub, slot["starts_at"])
        calendar_sync.sweep(backend, KEY, consultant_id=consultant_claims.sub, limits=LOOPBACK)
        series = backend.rpc("calendar_sessions", {"p_calendar": calendar_id}, as_user=SERVICE)
        uid = f"{[s for s in series if s['starts_at'] == booked['starts_at']][0]['series_id']}@peer-consultation-portal"
        assert portal_events()[uid] == (datetime.fromisoformat(slot["starts_at"]), "Peer consultation session")
        # Read back, the portal's own event is not a busy time of its own (the session already holds the time).
        (status,) = [c for c in backend.rpc("my_calendars", {}, as_user=consultant_claims) if c["id"] == calendar_id]
        assert status["last_error"] is None
        busy = backend.rpc(
            "my_busy_times",
            {"p_from": slot["starts_at"], "p_to": slot["ends_at"]},
            as_user=consultant_claims,
        )
        assert busy == []
        cancel(backend, client_claims, booked["id"], "Plans changed", accept_late=True)
        calendar_sync.sweep(backend, KEY, consultant_id=consultant_claims.sub, limits=LOOPBACK)
        assert uid not in portal_events()
    finally:
        backend.rpc("remove_my_calendar", {"p_calendar": calendar_id}, as_user=consultant_claims)


def test_addresses_are_checked_and_masked():
    with pytest.raises(ValueError, match="Calendar address must start with https://"):
        calendar_sync.new_secret("ics_url", "http://calendar.example.com/secret.ics")
    with pytest.raises(ValueError, match="not a private or local address"):
        calendar_sync.new_secret("ics_url", "https://127.0.0.1/secret.ics")
    with pytest.raises(ValueError, match="CalDAV app password is required"):
        calendar_sync.new_secret("caldav", "https://127.0.0.1:1/", "me", "", allow_loopback=True)
    secret = calendar_sync.CalendarSecret(
        "ics_url", "https://calendar.google.com/calendar/ical/x/private-abc123/basic.ics"
    )
    assert "private-abc123" not in calendar_sync.mask(secret) and calendar_sync.mask(secret).endswith(".ics")
    account = calendar_sync.CalendarSecret("caldav", "https://caldav.icloud.com/", "someone@icloud.com", "abcd-efgh")
    assert "abcd" not in calendar_sync.mask(account) and "someone" not in calendar_sync.mask(account)
    assert calendar_sync.unseal(KEY, calendar_sync.seal(KEY, account)) == account
    with pytest.raises(calendar_sync.CalendarUnreadable, match="key changed"):
        calendar_sync.unseal(calendar_sync.Fernet.generate_key(), calendar_sync.seal(KEY, account))


# --- nobody else reads the credentials: RPC level, on both deployments --------------------------------------


@pytest.fixture(scope="module")
def deployed_backend(deployed):
    b = LocalBackend(deployed.api_conninfo)
    yield b
    b.close()


def registered(backend, prefix: str) -> str:
    username = f"{prefix}_{uuid.uuid4().hex[:8]}"
    return backend.rpc(
        "auth_register",
        {
            "p_username": username,
            "p_email": f"{username}@test.example",
            "p_display_name": f"Test {prefix}",
            "p_password_hash": "$2b$12$" + "x" * 53,
        },
        as_user=SERVICE,
    )


def test_only_the_owner_reads_their_calendar_and_only_masked(deployed, deployed_backend):
    backend = deployed_backend
    owner, stranger, admin = (registered(backend, p) for p in ("cal_owner", "cal_stranger", "cal_admin"))
    with psycopg.connect(deployed.owner_conninfo, autocommit=True) as conn:
        conn.execute("update public.profiles set is_consultant = true, fee_usd = 100 where id = %s", (owner,))
        conn.execute("update private.credentials set is_admin = true where user_id = %s", (admin,))
    secret = calendar_sync.CalendarSecret("caldav", "https://caldav.example.com/", "owner@example.com", "s3cret-pw")
    sealed = calendar_sync.seal(KEY, secret)
    calendar_id = backend.rpc(
        "add_my_calendar",
        {
            "p_kind": "caldav",
            "p_label": "Mine",
            "p_sealed_secret": sealed,
            "p_masked_secret": calendar_sync.mask(secret),
        },
        as_user=Claims.user(owner),
    )
    (mine,) = backend.rpc("my_calendars", {}, as_user=Claims.user(owner))
    assert mine["id"] == calendar_id and mine["masked_secret"] == calendar_sync.mask(secret)
    assert sealed not in str(mine) and "s3cret" not in str(mine)
    for other in (stranger, admin):
        assert backend.rpc("my_calendars", {}, as_user=Claims.user(other)) == []
        with pytest.raises(APIError) as not_found:
            backend.rpc("remove_my_calendar", {"p_calendar": calendar_id}, as_user=Claims.user(other))
        assert not_found.value.code == "PT404"
        for fn, params in (
            ("calendars_due", {"p_consultant": owner}),
            ("calendar_reading_done", {"p_calendar": calendar_id, "p_busy": []}),
        ):
            with pytest.raises(APIError) as refused:
                backend.rpc(fn, params, as_user=Claims.user(other))
            assert refused.value.code == "42501", fn
    with pytest.raises(APIError) as refused:
        backend.rpc(
            "add_my_calendar",
            {"p_kind": "ics_url", "p_label": "x", "p_sealed_secret": "s", "p_masked_secret": "m"},
            as_user=Claims.user(stranger),
        )
    assert "Only a consultant" in refused.value.message and refused.value.details == "kind"
    # The tables themselves are out of every member's reach.
    with psycopg.connect(deployed.api_conninfo) as conn:
        conn.execute("set role portal_member")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select sealed_secret from private.consultant_calendars")
    backend.rpc("remove_my_calendar", {"p_calendar": calendar_id}, as_user=Claims.user(owner))
    assert backend.rpc("my_calendars", {}, as_user=Claims.user(owner)) == []


# --- the page ------------------------------------------------------------------------------------------------------


def test_my_availability_connects_a_calendar_shows_it_masked_and_busy_times_without_why(
    consultant, events, monkeypatch
):
    from streamlit.testing.v1 import AppTest

    from components.sign_in_sessions import SESSION_KEY
    from portal.auth import SignInSession

    backend, consultant_claims, _, username = consultant
    monkeypatch.setenv("PORTAL_CALENDAR_LOOPBACK", "1")  # the test's Radicale serves plain http on loopback
    state = backend.rpc("auth_record_successful_login", {"p_username": username}, as_user=SERVICE)
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=60)
    at.session_state["authentication_status"] = True
    at.session_state["username"] = username
    at.session_state[SESSION_KEY] = SignInSession(consultant_claims.sub, state["session"], username)
    at.run()
    at.switch_page("views/my_availability.py").run()
    assert not at.exception
    at.radio(key="calendar_kind").set_value("ics_url").run()
    at.text_input(key="calendar_label").input("Private life")
    at.text_input(key="calendar_url").input("calendar.example.org/private.ics")
    at.button(key="calendar_add").click().run()
    # Refused in a sentence naming the field, below the form; what was typed stays.
    assert [e.value for e in at.error] == ["Calendar address must be a full https:// address."] and not at.success
    assert at.text_input(key="calendar_label").value == "Private life"
    at.text_input(key="calendar_url").input(events["calendar_url"])
    at.button(key="calendar_add").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert [s.value for s in at.success] == ["Read 1 calendar."]
    shown = " ".join(str(e.value) for e in (*at.markdown, *at.caption, *at.warning))
    shown = shown.replace("\\", "").replace("\u2060", "")  # as read: without plain()'s Markdown escapes
    assert "Private life" in shown and "Read just now." in shown
    assert events["calendar_url"] not in shown and "/private/" not in shown  # the address comes back masked
    (calendar,) = backend.rpc("my_calendars", {}, as_user=consultant_claims)
    # Tomorrow 10:00–10:50 on the consultant's clock becomes busy: the preview says when, never why.
    tomorrow = datetime.now(BERLIN).date() + timedelta(days=1)
    busy = [[at_(tomorrow, 10).isoformat(), (at_(tomorrow, 10) + timedelta(minutes=50)).isoformat()]]
    backend.rpc("calendar_reading_done", {"p_calendar": calendar["id"], "p_busy": busy}, as_user=SERVICE)
    at.run()
    preview = " ".join(m.value for m in at.markdown)
    assert "busy in your calendar 10:00–10:50" in preview and "Supervision" not in preview
    at.button(key=f"calendar_remove_{calendar['id']}").click().run()
    assert [s.value for s in at.success] == ["Calendar removed; its busy times are gone."]
    assert backend.rpc("my_calendars", {}, as_user=consultant_claims) == []


def test_the_calendar_key_comes_from_the_settings_or_once_from_the_data_directory(tmp_path, monkeypatch):
    from portal.config import ConfigurationError, Settings

    monkeypatch.delenv("PORTAL_CALENDAR_KEY", raising=False)
    monkeypatch.setenv("PORTAL_DATA_DIR", str(tmp_path))
    local = Settings.load({"PORTAL_BACKEND": "local"})
    first = local.resolved_calendar_key()
    assert local.resolved_calendar_key() == first and (tmp_path / "calendar_key").stat().st_mode & 0o777 == 0o600
    calendar_sync.unseal(
        first, calendar_sync.seal(first, calendar_sync.CalendarSecret("ics_url", "https://x.example/"))
    )
    with pytest.raises(ConfigurationError, match="Set PORTAL_CALENDAR_KEY"):
        Settings.load({"PORTAL_BACKEND": "supabase"}).resolved_calendar_key()
    with pytest.raises(ConfigurationError, match="must be a Fernet key"):
        Settings.load({"PORTAL_BACKEND": "supabase", "PORTAL_CALENDAR_KEY": "too-short"}).resolved_calendar_key()
    configured = calendar_sync.Fernet.generate_key().decode()
    assert Settings.load({"PORTAL_CALENDAR_KEY": configured}).resolved_calendar_key() == configured.encode()
