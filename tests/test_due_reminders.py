"""Reminders reach members who are away (#13): the sender's sweep (write_due_reminders, run on each poll)
writes "session tomorrow" for every confirmed session starting within 24 hours, to both parties, and "final
session in 7 days" for every agreed plan, whether or not anyone opens a page: each once, in the app and in
the outbox, naming the other person and the time in the recipient's own zone. Two sweeps at once write each
reminder once and neither fails; only the service role may sweep.

Sessions are put at exact distances from now by inserting them as the owner (as the notice tests do); the
move and the cancellation go through the portal's own functions."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from portal.appointments import answer, cancel, reschedule
from portal.availability import open_slots
from portal.db import SERVICE, APIError, Claims
from portal.termination import my_plans, propose, sign, start
from tests.engagement_support import client_terms, local_text, pair  # noqa: F401 (pair: a fixture)
from tests.people_support import engaged_pair, member_id

SESSION, FINAL = "session_tomorrow", "final_session_soon"
TOKYO, BERLIN = "Asia/Tokyo", "Europe/Berlin"


@pytest.fixture
def two_zones(pair):  # noqa: F811 (the fixture imported above)
    """A consultant in Tokyo and a client in Berlin, engaged, the consultant open all day with no notice."""
    return pair


def sweep(backend) -> int:
    """What the sender does on each poll."""
    return backend.rpc("write_due_reminders", {}, as_user=SERVICE)


def notices(backend, claims: Claims, kind: str) -> list[str]:
    return [n["message"] for n in backend.rpc("my_notifications", {}, as_user=claims) if n["kind"] == kind]


def queued(embedded_db, claims: Claims, kind: str) -> list[tuple]:
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        return conn.execute(
            "select message, appointment_id::text, ics_method from private.outbox "
            "where recipient_id = %s and kind = %s order by id",
            (claims.sub, kind),
        ).fetchall()


def session_at(
    embedded_db, consultant: Claims, client: Claims, ahead: timedelta, status: str = "confirmed"
) -> tuple[str, str]:
    """A session of the pair `ahead` from now (the database's now): (appointment id, its start in ISO)."""
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        (engagement,) = conn.execute(
            "select id from public.engagements where seeker_id = %s and consultant_id = %s",
            (client.sub, consultant.sub),
        ).fetchone()
        appt, starts = conn.execute(
            "insert into public.appointments (consultant_id, client_id, engagement_id, starts_at, ends_at, "
            "blocked_until, status, requested_by) select %s, %s, %s, t, t + interval '50 minutes', "
            "t + interval '1 hour', %s, %s from (select date_trunc('minute', now() + %s) as t) x "
            "returning id, starts_at",
            (consultant.sub, client.sub, engagement, status, client.sub, ahead),
        ).fetchone()
    return str(appt), starts.isoformat()


def names(backend, consultant: Claims, client: Claims) -> tuple[str, str]:
    return (
        backend.rpc("get_my_profile", {}, as_user=consultant)["display_name"],
        backend.rpc("get_my_profile", {}, as_user=client)["display_name"],
    )


# --- a session within 24 hours ------------------------------------------------------------------------


def test_a_session_within_a_day_is_reminded_once_to_each_party_in_their_own_zone(backend, embedded_db, two_zones):
    consultant, client = two_zones  # Tokyo and Berlin
    consultant_name, client_name = names(backend, consultant, client)
    appt, starts = session_at(embedded_db, consultant, client, timedelta(hours=20))
    for _ in range(3):
        sweep(backend)

    assert notices(backend, consultant, SESSION) == [
        f"Reminder: your session with {client_name} is on {local_text(starts, TOKYO)}."
    ]
    assert notices(backend, client, SESSION) == [
        f"Reminder: your session with {consultant_name} is on {local_text(starts, BERLIN)}."
    ]
    # One email each, about that session (its subject names the time), and not a calendar invitation.
    for who, zone in ((consultant, TOKYO), (client, BERLIN)):
        [(message, about, method)] = queued(embedded_db, who, SESSION)
        assert local_text(starts, zone) in message and about == appt and method is None


def test_a_reminder_is_no_invitation_and_leaves_the_calendar_sequence_alone(backend, embedded_db, two_zones):
    consultant, client = two_zones
    appt, _ = session_at(embedded_db, consultant, client, timedelta(hours=20))
    sweep(backend)
    cancel(backend, consultant, appt, "Unwell", accept_late=True)
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        (sequence,) = conn.execute(
            "select ics_sequence from private.outbox where recipient_id = %s "
            "and appointment_id = %s and ics_method = 'CANCEL'",
            (client.sub, appt),
        ).fetchone()
    assert sequence == 0  # the client's calendar has seen no invitation of this session before


def test_sessions_that_will_not_take_place_within_a_day_are_not_reminded(backend, embedded_db, two_zones):
    consultant, client = two_zones
    session_at(embedded_db, consultant, client, timedelta(hours=30))  # more than a day ahead
    session_at(embedded_db, consultant, client, timedelta(hours=21), "requested")  # not confirmed
    session_at(embedded_db, consultant, client, timedelta(hours=-1, minutes=-10))  # over already
    cancelled, _ = session_at(embedded_db, consultant, client, timedelta(hours=20))
    cancel(backend, client, cancelled, "Travelling", accept_late=True)
    sweep(backend)
    assert notices(backend, consultant, SESSION) == notices(backend, client, SESSION) == []
    assert queued(embedded_db, consultant, SESSION) == queued(embedded_db, client, SESSION) == []


def slot_between(backend, consultant: Claims, client: Claims, low: timedelta, high: timedelta) -> str:
    now = datetime.now(UTC)
    today = now.date()
    slots = open_slots(backend, client, consultant.sub, today, today + timedelta(days=2), client.sub)
    return next(s["starts_at"] for s in slots if now + low < datetime.fromisoformat(s["starts_at"]) < now + high)


def test_a_session_moved_into_the_window_is_reminded_for_its_new_time_only(backend, embedded_db, two_zones):
    consultant, client = two_zones
    consultant_name, _ = names(backend, consultant, client)
    appt, old_start = session_at(embedded_db, consultant, client, timedelta(hours=30))
    sweep(backend)
    assert notices(backend, client, SESSION) == []
    new_start = slot_between(backend, consultant, client, timedelta(hours=18), timedelta(hours=23))
    moved = reschedule(backend, client, appt, new_start, "An exam moved", accept_late=True)
    sweep(backend)
    assert notices(backend, client, SESSION) == []  # proposed, not yet confirmed: it may not take place
    answer(backend, consultant, moved["id"], confirm=True)
    sweep(backend)
    sweep(backend)
    assert notices(backend, client, SESSION) == [
        f"Reminder: your session with {consultant_name} is on {local_text(new_start, BERLIN)}."
    ]
    assert len(notices(backend, consultant, SESSION)) == 1
    assert [about for _, about, _ in queued(embedded_db, client, SESSION)] == [moved["id"]]
    assert not any(local_text(old_start, BERLIN) in m for m in notices(backend, client, SESSION))


def test_a_reminded_session_moved_within_the_window_is_reminded_again_for_the_new_time(backend, embedded_db, two_zones):
    consultant, client = two_zones
    appt, first = session_at(embedded_db, consultant, client, timedelta(hours=10))
    sweep(backend)
    second = slot_between(backend, consultant, client, timedelta(hours=14), timedelta(hours=23))
    moved = reschedule(backend, consultant, appt, second, "A clash", accept_late=True)
    answer(backend, client, moved["id"], confirm=True)
    sweep(backend)
    sweep(backend)
    reminded = notices(backend, client, SESSION)
    assert len(reminded) == 2  # the old time's (written while it held) and the new time's, once each
    assert {local_text(second, BERLIN) in m for m in reminded} == {True, False}
    assert {local_text(first, BERLIN) in m for m in reminded} == {True, False}


# --- a final session within 7 days ---------------------------------------------------------------------


def agreed_plan(backend, embedded_db, final_in_days: int) -> tuple[Claims, Claims, str]:
    """A plan the client proposed and the consultant signed, its final session `final_in_days` from today.
    Nobody opens the Termination page (the page is what used to write the reminder)."""
    consultant_username, client_username = engaged_pair(backend, embedded_db)
    consultant, client = (Claims.user(member_id(backend, u)) for u in (consultant_username, client_username))
    engagement = backend.rpc("my_engagements", {}, as_user=client)[0]["id"]
    plan = start(
        backend,
        client,
        engagement,
        client_terms(final_session_on=datetime.now(UTC).date() + timedelta(days=final_in_days)),
    )
    propose(backend, client, plan, expected_version=1)
    assert sign(backend, consultant, plan, 1) == "agreed"
    return consultant, client, plan


def test_a_final_session_within_a_week_reaches_a_member_who_never_opened_the_page(backend, embedded_db):
    consultant, client, plan = agreed_plan(backend, embedded_db, final_in_days=5)
    consultant_name, client_name = names(backend, consultant, client)
    day = f"{datetime.now(UTC).date() + timedelta(days=5):%a %d %b}"
    sweep(backend)
    sweep(backend)
    assert notices(backend, client, FINAL) == [
        f"Your final session with {consultant_name} is on {day}, as your termination plan agreed."
    ]
    assert notices(backend, consultant, FINAL) == [
        f"Your final session with {client_name} is on {day}, as your termination plan agreed."
    ]
    assert [m for m, _, _ in queued(embedded_db, client, FINAL)] == notices(backend, client, FINAL)
    # Opening the page afterwards adds nothing: the page writes the same reminder under the same key.
    my_plans(backend, client)
    backend.rpc("refresh_termination_reminders", {}, as_user=consultant)
    assert len(notices(backend, client, FINAL)) == len(notices(backend, consultant, FINAL)) == 1
    assert len(queued(embedded_db, client, FINAL)) == 1


def test_a_member_who_opened_the_page_first_is_not_reminded_again_by_the_sweep(backend, embedded_db):
    consultant, client, _ = agreed_plan(backend, embedded_db, final_in_days=2)
    my_plans(backend, consultant)  # the consultant opens the page first
    assert len(notices(backend, consultant, FINAL)) == 1
    sweep(backend)
    assert len(notices(backend, consultant, FINAL)) == 1 and len(queued(embedded_db, consultant, FINAL)) == 1
    assert len(notices(backend, client, FINAL)) == 1  # and the client, who never opened it, is reminded


def test_a_final_session_further_than_a_week_is_not_reminded(backend, embedded_db):
    consultant, client, _ = agreed_plan(backend, embedded_db, final_in_days=12)
    sweep(backend)
    my_plans(backend, client)
    assert notices(backend, consultant, FINAL) == notices(backend, client, FINAL) == []


# --- two senders at once, and who may sweep --------------------------------------------------------------


def service_connection(embedded_db) -> psycopg.Connection:
    """A connection as the API's service role (as PostgREST with the service key), in an open transaction."""
    conn = psycopg.connect(embedded_db.api_conninfo)
    conn.execute("set local role service_role")
    return conn


def wait_until_blocked(embedded_db, pid: int) -> None:
    """Until the backend `pid` waits on a lock (another transaction's uncommitted row)."""
    with psycopg.connect(embedded_db.owner_conninfo, autocommit=True) as watcher:
        for _ in range(2000):
            (waiting,) = watcher.execute(
                "select wait_event_type = 'Lock' from pg_stat_activity where pid = %s", (pid,)
            ).fetchone()
            if waiting:
                return
            watcher.execute("select pg_sleep(0.01)")
    raise AssertionError("the second writer never waited for the first")


def test_two_sweeps_at_once_write_each_reminder_once_and_neither_fails(backend, embedded_db, two_zones):
    consultant, client = two_zones
    session_at(embedded_db, consultant, client, timedelta(hours=20))
    first, second = service_connection(embedded_db), service_connection(embedded_db)
    try:
        first.execute("select public.write_due_reminders()")  # still open: its reminders are uncommitted
        # The other sender's sweep, meanwhile: it finds a sweep under way and leaves it to it, without an error.
        assert second.execute("select public.write_due_reminders()").fetchone() == (0,)
        second.commit()
        first.commit()
    finally:
        first.close()
        second.close()
    assert len(notices(backend, consultant, SESSION)) == len(notices(backend, client, SESSION)) == 1
    assert len(queued(embedded_db, client, SESSION)) == 1


def test_two_writers_of_the_same_reminder_at_once_write_it_once_and_neither_fails(backend, embedded_db, two_zones):
    """Below the sweep's lock: the same reminder written by two transactions at once (a member's page and the
    sweep can meet so) is one row; the second waits for the first and then adds nothing."""
    consultant, client = two_zones
    session_at(embedded_db, consultant, client, timedelta(hours=20))
    results: dict[str, object] = {}
    with psycopg.connect(embedded_db.owner_conninfo) as first, psycopg.connect(embedded_db.owner_conninfo) as other:
        (written,) = first.execute("select private.remind_sessions_tomorrow(%s)", (client.sub,)).fetchone()
        assert written == 1
        other_pid = other.info.backend_pid

        def write_too() -> None:
            try:
                results["written"] = other.execute(
                    "select private.remind_sessions_tomorrow(%s)", (client.sub,)
                ).fetchone()[0]
                other.commit()
            except psycopg.Error as exc:  # pragma: no cover - the failure this test guards against
                results["error"] = exc

        thread = threading.Thread(target=write_too)
        thread.start()
        wait_until_blocked(embedded_db, other_pid)
        first.commit()
        thread.join()
    assert results == {"written": 0}
    assert len(notices(backend, client, SESSION)) == 1 and len(queued(embedded_db, client, SESSION)) == 1


def test_only_the_service_role_sweeps(backend, embedded_db, two_zones, api_conn):
    consultant, client = two_zones
    for caller in (consultant, client):
        with pytest.raises(APIError) as refused:
            backend.rpc("write_due_reminders", {}, as_user=caller)
        assert refused.value.code == "42501"
    for role in ("anon", "authenticated", "portal_member"):
        (allowed,) = api_conn.execute(
            "select has_function_privilege(%s, 'public.write_due_reminders()', 'execute')", (role,)
        ).fetchone()
        assert not allowed, role
    with psycopg.connect(embedded_db.owner_conninfo) as conn:  # the API roles cannot even name the private schema
        for helper in ("remind_sessions_tomorrow(uuid)", "remind_final_sessions(uuid)"):
            for role in ("anon", "authenticated", "portal_member", "service_role"):
                (allowed,) = conn.execute(
                    "select has_function_privilege(%s, %s, 'execute')", (role, f"private.{helper}")
                ).fetchone()
                assert not allowed, (role, helper)
    assert isinstance(sweep(backend), int)
