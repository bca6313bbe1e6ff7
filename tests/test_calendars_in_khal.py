"""Each party's own calendar follows every session, proved with a real calendar client (#22, item 5).

The invitations one party received, imported into khal (a CalDAV-era command-line calendar that stores one
file per event UID) in the order they were sent, leave that calendar with each session once, at its latest
time and status — the acting party's calendar included: the member who booked, confirmed, moved or
cancelled gets the same invitation as the other side, and an account closed by an admin cancels its sessions
in the calendars of the people it worked with."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from datetime import datetime
from email.message import Message
from pathlib import Path

import psycopg
import pytest
from icalendar import Calendar

from portal.admin import close_account
from portal.appointments import answer, book, cancel, reschedule
from portal.db import Claims
from portal.db.local import LocalBackend
from portal.ics import my_calendar_file
from portal.practice import load_session_location, save_session_location
from portal.refusal import Refusal
from tests.care_parties import engage, register, retire
from tests.conftest import require_tool
from tests.mail_support import drain, invitation, mailer_for, open_times, pair

KHAL = shutil.which("khal")


class KhalCalendar:
    """One person's calendar: a khal vdir into which their invitations are imported as they arrive."""

    def __init__(self, root: Path) -> None:
        self.events = root / "events"
        self.events.mkdir(parents=True)
        self.config = root / "khal.conf"
        self.config.write_text(
            f"[calendars]\n[[mine]]\npath = {self.events}\ntype = calendar\n"
            "[locale]\nlocal_timezone = UTC\ndefault_timezone = UTC\n"
            "timeformat = %H:%M\ndateformat = %Y-%m-%d\nlongdateformat = %Y-%m-%d\n"
            "datetimeformat = %Y-%m-%d %H:%M\nlongdatetimeformat = %Y-%m-%d %H:%M\n"
        )

    def receive(self, messages: list[Message]) -> None:
        """Import each invitation in the order it arrived (an email without one, such as a closure's news, adds
        nothing to a calendar)."""
        for index, message in enumerate(messages):
            if not any(part.get_content_type() == "text/calendar" for part in message.walk()):
                continue
            ics = self.events.parent / f"invite-{index}.ics"
            ics.write_bytes(invitation(message).to_ical())
            subprocess.run(
                [KHAL, "-c", str(self.config), "import", "--batch", "-a", "mine", str(ics)],
                check=True,
                capture_output=True,
                timeout=60,
            )

    def sessions(self) -> dict[str, tuple[datetime, str]]:
        """{UID: (start, STATUS)} as khal stored them: one file per event."""
        found: dict[str, tuple[datetime, str]] = {}
        for path in self.events.glob("*.ics"):
            for event in Calendar.from_ical(path.read_bytes()).walk("VEVENT"):
                uid = str(event["uid"])
                assert uid not in found, f"{uid} is in the calendar twice"
                found[uid] = (event.decoded("dtstart"), str(event["status"]))
        return found


def uid_of(session: dict) -> str:
    return f"{session['id']}@peer-consultation-portal"


def test_each_party_calendar_holds_every_session_once_at_its_latest_time_and_status(
    backend, embedded_db, smtp_server, tmp_path, new_user
):
    require_tool(KHAL is not None, "khal (Debian package)")
    controller, inbox = smtp_server
    consultant, client, consultant_address, client_address = pair(backend, embedded_db)
    mailer = mailer_for(backend, controller)
    drain(mailer)
    inbox.messages.clear()
    first, second, third, fourth = open_times(backend, client, consultant, 4)

    kept = book(backend, client, consultant.sub, first)  # booked, confirmed, moved, confirmed again
    answer(backend, consultant, kept["id"], confirm=True)
    reschedule(backend, client, kept["id"], second, "A clash at work; sorry.", accept_late=True)
    moved = next(a for a in backend.rpc("my_appointments", {}, as_user=client) if a["status"] == "requested")
    answer(backend, consultant, moved["id"], confirm=True)
    dropped = book(backend, client, consultant.sub, third)  # booked, confirmed, cancelled by the client
    answer(backend, consultant, dropped["id"], confirm=True)
    cancel(backend, client, dropped["id"], "I have to travel.", accept_late=True)
    declined = book(backend, client, consultant.sub, fourth)  # declined by the consultant
    answer(backend, consultant, declined["id"], confirm=False, reason="I am away that week.")
    drain(mailer)

    expected = {
        uid_of(kept): (datetime.fromisoformat(second), "CONFIRMED"),
        uid_of(dropped): (datetime.fromisoformat(third), "CANCELLED"),
        uid_of(declined): (datetime.fromisoformat(fourth), "CANCELLED"),
    }
    calendars = {}
    for who, address in (("consultant", consultant_address), ("client", client_address)):
        calendars[who] = KhalCalendar(tmp_path / who)
        calendars[who].receive(inbox.to(address))
        assert calendars[who].sessions() == expected, who

    # The downloaded file names each session as the emails did (one UID per series, the SEQUENCE seen so far):
    # imported on top of them it changes nothing and adds no second event.
    download = tmp_path / "download.ics"
    download.write_bytes(
        my_calendar_file(
            backend, client, backend.rpc("my_appointments", {}, as_user=client), viewer_timezone="Europe/London"
        )
    )
    subprocess.run(
        [KHAL, "-c", str(calendars["client"].config), "import", "--batch", "-a", "mine", str(download)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    assert calendars["client"].sessions() == expected
    sequences = {str(e["uid"]): int(e["sequence"]) for e in Calendar.from_ical(download.read_bytes()).walk("VEVENT")}
    assert sequences[uid_of(kept)] == 3  # proposed, confirmed, moved, confirmed: the fourth invitation

    # An admin closes the consultant's account: the client's calendar loses the session that was still on.
    admin_id, _ = new_user("calendar_admin")
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        conn.execute("update private.credentials set is_admin = true where user_id = %s", (admin_id,))
    inbox.messages.clear()
    close_account(backend, Claims.user(admin_id), consultant.sub, f"Licence suspended ({uuid.uuid4().hex[:6]}).")
    drain(mailer)
    calendars["client"].receive(inbox.to(client_address))
    assert calendars["client"].sessions() == expected | {uid_of(kept): (datetime.fromisoformat(second), "CANCELLED")}


def test_an_invitation_is_a_meeting_that_calendars_recognise(backend, embedded_db, smtp_server, new_user):
    # Gmail, Outlook and Apple Calendar: a text/calendar alternative with the METHOD beside the text and HTML, the
    # same file attached; the consultant organises by name at the portal's address; both parties attend; LOCATION
    # is where the consultant said sessions happen, which no other member can read.
    controller, inbox = smtp_server
    consultant, client, consultant_address, client_address = pair(backend, embedded_db)
    link = "https://telehealth.example.org/room/quinn"
    assert save_session_location(backend, consultant, f"  {link}  ") == link
    with pytest.raises(Refusal) as two_lines:
        save_session_location(backend, consultant, "Room 4\nSecond floor")
    assert two_lines.value.fields == {"location": "Where your sessions happen is one line of at most 300 characters."}
    stranger = Claims.user(new_user("location_stranger")[0])
    assert load_session_location(backend, stranger) == ""
    assert backend.rpc("get_my_session_location", {}, as_user=client) is None
    with psycopg.connect(embedded_db.api_conninfo) as conn, conn.transaction():
        conn.execute("select set_config('role', 'portal_member', true)")
        conn.execute(
            "select set_config('request.jwt.claims', %s, true)",
            (f'{{"sub": "{client.sub}", "role": "portal_member"}}',),
        )
        assert conn.execute("select count(*) from public.session_locations").fetchone()[0] == 0

    mailer = mailer_for(backend, controller)
    drain(mailer)
    inbox.messages.clear()
    session = book(backend, client, consultant.sub, open_times(backend, client, consultant, 1)[0])
    drain(mailer)
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        [consultant_name] = conn.execute(
            "select display_name from public.profiles where id = %s", (consultant.sub,)
        ).fetchone()
    for address in (consultant_address, client_address):
        [message] = inbox.to(address)
        assert message.get_content_type() == "multipart/mixed"
        alternative = message.get_payload()[0]
        assert alternative.get_content_type() == "multipart/alternative"
        parts = [part.get_content_type() for part in alternative.get_payload()]
        assert parts == ["text/plain", "text/html", "text/calendar"]
        assert alternative.get_payload()[2].get_param("method") == "REQUEST"
        attached = [p for p in message.walk() if p.get_filename() == "invite.ics"]
        assert len(attached) == 1 and attached[0].get_param("method") == "REQUEST"
        event = next(iter(invitation(message).walk("VEVENT")))
        assert str(event["location"]) == link
        assert str(event["uid"]) == uid_of(session)
        assert str(event["organizer"]) == "mailto:no-reply@portal.test"
        assert str(event["organizer"].params["cn"]) == consultant_name
        attendees = event["attendee"] if isinstance(event["attendee"], list) else [event["attendee"]]
        assert len(attendees) == 2 and str(attendees[0]) == f"mailto:{address}"
        # The other party is named, never addressed: no member's login email reaches the other.
        assert all("clinic-" not in str(a) for a in attendees[1:])


def test_both_calendars_follow_on_both_databases(deployed):
    # The rule runs at commit (a deferred trigger): on Postgres 15 and 17 as the member, on 18 as the role that
    # queued it. Both deployments queue an invitation for each party, the acting one included.
    api = LocalBackend(deployed.api_conninfo)
    try:
        consultant = register(deployed.owner_conninfo, "Dr. Calendar Both", consultant=True)
        client = register(deployed.owner_conninfo, "Casey Both")
        engage(deployed.owner_conninfo, consultant, client)
        session = book(api, client, consultant.sub, open_times(api, client, consultant, 1)[0])
        answer(api, consultant, session["id"], confirm=True)
        with psycopg.connect(deployed.owner_conninfo) as conn:
            queued = conn.execute(
                "select recipient_id::text, kind, ics_method from private.outbox where appointment_id = %s order by id",
                (session["id"],),
            ).fetchall()
    finally:
        api.close()
        retire(deployed.owner_conninfo, [consultant])  # the shared databases keep no test consultant
    assert sorted(queued) == sorted(
        [
            (consultant.sub, "booked", "REQUEST"),  # the notice to the consultant
            (client.sub, "booked", "REQUEST"),  # the client's own calendar: they proposed it
            (client.sub, "confirmed", "REQUEST"),  # the notice to the client
            (consultant.sub, "confirmed", "REQUEST"),  # the consultant's own calendar: they confirmed it
        ]
    )
