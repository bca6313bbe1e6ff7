"""The outbox (#13): every notice is queued in the same transaction as the change, and a separate
sender delivers it over SMTP — here to a real SMTP server on loopback (aiosmtpd) — with a calendar
invitation for sessions: one UID across a move, SEQUENCE rising, REQUEST then CANCEL, times in UTC.
A server that is down leaves rows queued until it returns; two senders never send a row twice;
nothing goes to an unverified or reserved address; a change that fails queues nothing."""

from __future__ import annotations

import email
import threading
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest
from aiosmtpd.controller import Controller

from portal.appointments import answer, book, cancel, reschedule
from portal.db import Claims
from portal.mailer import Mailer, MailSettings, reserved_address
from portal.refusal import Refusal
from tests.mail_support import (
    LONDON,
    drain,
    event_of,
    invitation,
    mailer_for,
    open_times,
    outbox_rows,
    pair,
)


def subject_of(message) -> str:
    """A message's subject as a mail program shows it: a long one is folded onto a second header line."""
    return " ".join(str(message["Subject"]).split())


def what_happened(subject: str) -> str:
    """A subject's first words, what happened: "Session proposed with Casey Tester: Tue 8 Dec, …" -> "Session
    proposed" (the other party and the time follow)."""
    return subject.split(":")[0].split(" with ")[0]


def test_a_session_booked_confirmed_moved_and_cancelled_reaches_both_calendars(backend, embedded_db, smtp_server):
    controller, inbox = smtp_server
    consultant, client, consultant_address, client_address = pair(backend, embedded_db)
    mailer = mailer_for(backend, controller)
    drain(mailer)  # the engagement's own notice ("asked you for a consultation")
    inbox.messages.clear()
    first, second = open_times(backend, client, consultant)
    booked = book(backend, client, consultant.sub, first)
    answer(backend, consultant, booked["id"], confirm=True)
    reschedule(backend, client, booked["id"], second, "A clash at work; sorry.", accept_late=True)
    moved = next(a for a in backend.rpc("my_appointments", {}, as_user=client) if a["status"] == "requested")
    answer(backend, consultant, moved["id"], confirm=True)
    cancel(backend, consultant, moved["id"], "I am unwell.", accept_late=True)
    drain(mailer)

    # Both calendars follow every change, the acting party's included (#22.5): whoever booked, confirmed, moved
    # or cancelled gets the same invitation as the other side.
    to_consultant, to_client = inbox.to(consultant_address), inbox.to(client_address)
    both = ["Session proposed", "Session confirmed", "Session moved", "Session confirmed", "Late cancellation"]
    assert [what_happened(subject_of(m)) for m in to_consultant] == both
    assert [what_happened(subject_of(m)) for m in to_client] == both
    # Each in the recipient's own zone, naming it.
    assert all("New York time" in subject_of(m) for m in to_consultant)
    assert all("London time" in subject_of(m) for m in to_client)
    london = datetime.fromisoformat(first).astimezone(ZoneInfo(LONDON))
    assert f"{london:%H:%M} London time" in subject_of(to_client[0])
    plain_text = next(p for p in to_client[0].walk() if p.get_content_type() == "text/plain")
    assert b"You proposed this session" in plain_text.get_payload(decode=True)

    # The calendar: one event (one UID) across the move, SEQUENCE rising per recipient, UTC times.
    for events in ([event_of(invitation(m)) for m in to_client], [event_of(invitation(m)) for m in to_consultant]):
        assert [str(e["status"]) for e in events] == ["TENTATIVE", "CONFIRMED", "TENTATIVE", "CONFIRMED", "CANCELLED"]
        assert len({str(e["uid"]) for e in events}) == 1
        assert [int(e["sequence"]) for e in events] == [0, 1, 2, 3, 4]
        starts = [e.decoded("dtstart") for e in events]
        assert all(s.utcoffset() == timedelta(0) for s in starts)
        assert starts[0] == datetime.fromisoformat(first) and starts[2] == datetime.fromisoformat(second)
    assert [str(invitation(m).get("method")) for m in to_client] == ["REQUEST"] * 4 + ["CANCEL"]
    assert str(event_of(invitation(to_client[0]))["uid"]) == str(event_of(invitation(to_consultant[0]))["uid"])
    assert "America/New_York" in str(event_of(invitation(to_consultant[0]))["description"])
    # A link to the exact page, and a plain-text part beside the HTML.
    body = next(p for p in to_client[0].walk() if p.get_content_type() == "text/plain").get_payload(decode=True)
    assert b"https://portal.example.org/appointments" in body


def test_a_stopped_server_leaves_rows_queued_until_it_returns(backend, embedded_db, smtp_server):
    controller, inbox = smtp_server
    consultant, client, consultant_address, _ = pair(backend, embedded_db)
    mailer = mailer_for(backend, controller)
    drain(mailer)  # whatever other tests left
    controller.stop()
    book(backend, client, consultant.sub, open_times(backend, client, consultant, 1)[0])
    drain(mailer)
    [(kind, status, attempts, error)] = outbox_rows(embedded_db, consultant.sub)[1:]
    assert (kind, status, attempts) == ("booked", "queued", 1) and "could not be reached" in error

    restarted = Controller(inbox, hostname="127.0.0.1", port=controller.port)
    restarted.start()
    try:
        drain(mailer)
        assert not [m for m in inbox.to(consultant_address) if subject_of(m).startswith("Session proposed")], (
            "sent before its back-off was over"
        )
        with psycopg.connect(embedded_db.owner_conninfo) as conn:  # ... the minute passes
            conn.execute("update private.outbox set next_attempt_at = now() where recipient_id = %s", (consultant.sub,))
        drain(mailer)
    finally:
        restarted.stop()
    assert [what_happened(subject_of(m)) for m in inbox.to(consultant_address)] == [
        "New consultation request",
        "Session proposed",
    ]
    assert outbox_rows(embedded_db, consultant.sub)[1:] == [("booked", "sent", 2, None)]


def test_two_senders_at_once_never_send_a_row_twice(backend, embedded_db, smtp_server):
    controller, inbox = smtp_server
    consultant, _, consultant_address, _ = pair(backend, embedded_db)
    drain(mailer_for(backend, controller))
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        for n in range(60):
            conn.execute(
                "insert into public.notifications (user_id, kind, message, page) "
                "values (%s, 'request', %s, 'requests')",
                (consultant.sub, f"Notice number {n}."),
            )
    errors: list[BaseException] = []

    def sender() -> None:
        try:
            mailer = mailer_for(backend, controller)
            for _ in range(100):
                if not sum(mailer.run_once(limit=7).values()):
                    return
        except BaseException as exc:  # noqa: BLE001 (reported by the test thread)
            errors.append(exc)

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    received = [m for m in inbox.to(consultant_address) if "Notice number" in m.as_string()]
    assert len(received) == 60
    assert len({m["Message-ID"] for m in received}) == 60
    assert {s for _, s, _, _ in outbox_rows(embedded_db, consultant.sub)} == {"sent"}


def test_nothing_goes_to_an_unverified_or_reserved_address(backend, embedded_db, smtp_server, tmp_path: Path):
    controller, inbox = smtp_server
    consultant, client, consultant_address, _ = pair(backend, embedded_db, verified=False)
    book(backend, client, consultant.sub, open_times(backend, client, consultant, 1)[0])
    drain(mailer_for(backend, controller, mailbox_dir=tmp_path))
    assert inbox.to(consultant_address) == []
    assert [(kind, status, error) for kind, status, _, error in outbox_rows(embedded_db, consultant.sub)] == [
        ("request", "held", "The address is not verified yet."),
        ("booked", "held", "The address is not verified yet."),
    ]
    assert reserved_address("seeker01@demo.peerconsult.example") and not reserved_address("a@clinic.org")
    # With a mail server set up, nothing is written to the local mailbox (issue 23, item 3): it is local mode's
    # stand-in for a server, not a copy of what was sent.
    assert list(tmp_path.glob("*.eml")) == []


def test_a_change_that_fails_queues_nothing(backend, embedded_db):
    consultant, client, _, _ = pair(backend, embedded_db)
    when = open_times(backend, client, consultant, 1)[0]
    book(backend, client, consultant.sub, when)
    before = outbox_rows(embedded_db, consultant.sub)
    with pytest.raises(Refusal):
        book(backend, client, consultant.sub, when)  # the same time again: refused, rolled back
    assert outbox_rows(embedded_db, consultant.sub) == before


def test_without_a_mail_server_messages_land_in_the_local_mailbox(backend, embedded_db, tmp_path: Path):
    consultant, client, consultant_address, _ = pair(backend, embedded_db)
    book(backend, client, consultant.sub, open_times(backend, client, consultant, 1)[0])
    drain(Mailer(backend, MailSettings(mailbox_dir=tmp_path)))
    [saved] = [p for p in tmp_path.glob("*-booked.eml") if consultant_address in p.read_text()]
    message = email.message_from_bytes(saved.read_bytes())
    assert subject_of(message).startswith("Session proposed") and invitation(message).get("method") == "REQUEST"
    assert [status for _, status, _, _ in outbox_rows(embedded_db, consultant.sub)] == ["sent", "sent"]


# --- members choose: muted groups, a quiet daily summary ------------------------------------------


def test_a_muted_group_queues_nothing_and_the_app_notice_stays(backend, embedded_db):
    from portal.email_choices import my_email_choices, save_email_choices

    consultant, client, _, _ = pair(backend, embedded_db)
    assert my_email_choices(backend, consultant) == {"muted": [], "summary": False}
    save_email_choices(backend, consultant, muted=["sessions"], summary=False)
    book(backend, client, consultant.sub, open_times(backend, client, consultant, 1)[0])
    assert [k for k, *_ in outbox_rows(embedded_db, consultant.sub)] == ["request"]  # the booking queued nothing
    assert any(n["kind"] == "booked" for n in backend.rpc("my_notifications", {}, as_user=consultant))
    with pytest.raises(Refusal, match="Unknown email group"):
        save_email_choices(backend, consultant, muted=["everything"], summary=False)
    refused = backend.rpc  # the database says the same to a caller who skips the page's check
    with pytest.raises(Exception, match="Choose among sessions"):
        refused("save_my_email_preferences", {"p_muted": ["everything"], "p_summary": False}, as_user=consultant)


def test_a_summary_waits_for_the_morning_and_folds_the_day_into_one_email(backend, embedded_db, smtp_server):
    from portal.email_choices import save_email_choices

    controller, inbox = smtp_server
    consultant, client, consultant_address, _ = pair(backend, embedded_db)
    mailer = mailer_for(backend, controller)
    drain(mailer)
    save_email_choices(backend, consultant, muted=[], summary=True)
    first, second = open_times(backend, client, consultant)
    book(backend, client, consultant.sub, first)
    book(backend, client, consultant.sub, second)
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        due = conn.execute(
            "select distinct next_attempt_at at time zone 'America/New_York' from private.outbox "
            "where recipient_id = %s and summary",
            (consultant.sub,),
        ).fetchall()
    assert len(due) == 1 and due[0][0].strftime("%H:%M") == "07:00"  # 07:00 on the consultant's clock
    drain(mailer)
    assert [m for m in inbox.to(consultant_address) if "summary" in subject_of(m)] == []  # not yet morning
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        conn.execute("update private.outbox set next_attempt_at = now() where recipient_id = %s", (consultant.sub,))
    drain(mailer)
    [summary] = [m for m in inbox.to(consultant_address) if "summary" in subject_of(m)]
    assert subject_of(summary) == "Your portal summary: 2 notices"
    assert len([p for p in summary.walk() if p.get_content_type() == "text/calendar"]) == 2
    assert [s for _, s, _, _ in outbox_rows(embedded_db, consultant.sub)][-2:] == ["sent", "sent"]


def test_the_local_sender_thread_delivers_while_running_and_stops_when_told(backend, embedded_db, tmp_path: Path):
    import time

    consultant, client, consultant_address, _ = pair(backend, embedded_db)
    stop = threading.Event()
    thread = threading.Thread(
        target=Mailer(backend, MailSettings(mailbox_dir=tmp_path)).run_forever,
        args=(stop,),
        kwargs={"poll_seconds": 0.1},
        daemon=True,
    )
    thread.start()
    try:
        book(backend, client, consultant.sub, open_times(backend, client, consultant, 1)[0])
        deadline = time.monotonic() + 30  # waiting for an event, not measuring a speed
        while time.monotonic() < deadline and not [
            p for p in tmp_path.glob("*-booked.eml") if consultant_address in p.read_text()
        ]:
            time.sleep(0.1)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert [p for p in tmp_path.glob("*-booked.eml") if consultant_address in p.read_text()]
    assert not thread.is_alive()


def test_admins_read_the_outbox_and_members_do_not(backend, embedded_db):
    from portal.demo import demo_world
    from portal.email_choices import admin_outbox

    consultant, client, _, _ = pair(backend, embedded_db)
    book(backend, client, consultant.sub, open_times(backend, client, consultant, 1)[0])
    admin = Claims.user(str(next(p.id for p in demo_world() if p.username == "admin")))
    rows = admin_outbox(backend, admin, limit=50)
    assert any(r["kind"] == "booked" and r["status"] in ("queued", "sent", "held") for r in rows)
    with pytest.raises(Exception, match="Only administrators"):
        admin_outbox(backend, client)


def test_the_app_starts_one_local_sender_per_process(embedded_db, monkeypatch):
    from components.mail_sender import stop_local_senders
    from tests.page_support import app, no_exceptions

    monkeypatch.setenv("PORTAL_LOCAL_MAILER", "1")
    try:
        for _ in range(2):  # two sessions (two runs of app.py), one thread
            no_exceptions(app("seeker01").run())
        assert [t.name for t in threading.enumerate()].count("portal-mailer") == 1
    finally:
        stop_local_senders()
    assert "portal-mailer" not in [t.name for t in threading.enumerate()]


def test_held_notices_that_still_matter_go_out_once_the_address_is_verified(backend, embedded_db, smtp_server):
    # #22.7: a session proposed while the consultant's address was unverified reaches their calendar once they
    # confirm it; a session cancelled in the meantime never does (their calendar never had it); nothing twice.
    controller, inbox = smtp_server
    consultant, client, consultant_address, _ = pair(backend, embedded_db, verified=False)
    mailer = mailer_for(backend, controller)
    kept, dropped = open_times(backend, client, consultant)
    session = book(backend, client, consultant.sub, kept)
    gone = book(backend, client, consultant.sub, dropped)
    cancel(backend, client, gone["id"], "Plans changed.", accept_late=True)
    drain(mailer)
    assert inbox.to(consultant_address) == []

    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        conn.execute("update private.credentials set email_verified_at = now() where user_id = %s", (consultant.sub,))
    drain(mailer)
    delivered = inbox.to(consultant_address)
    assert [what_happened(subject_of(m)) for m in delivered] == ["Session proposed"]
    event = event_of(invitation(delivered[0]))
    assert event.decoded("dtstart") == datetime.fromisoformat(kept)
    assert str(event["uid"]).startswith(str(session["id"]))

    # Once: a later change of the same column releases nothing again, and the request's notice stays held.
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        conn.execute("update private.credentials set email_verified_at = now() where user_id = %s", (consultant.sub,))
    drain(mailer)
    assert len(inbox.to(consultant_address)) == 1
    assert ("request", "held") in [(kind, status) for kind, status, _, _ in outbox_rows(embedded_db, consultant.sub)]
