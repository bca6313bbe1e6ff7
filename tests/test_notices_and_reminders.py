"""Notification times in the recipient's zone, honest cancellation notice, the termination
plan header, reminders refreshed only when they can change, settings read once per environment."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from portal.appointments import answer, book, cancel, notice_given, reschedule
from portal.availability import open_slots
from portal.config import Settings
from portal.db import SERVICE, Claims
from portal.db.local import LocalBackend
from portal.plain_text import plain
from portal.refusal import Refusal
from portal.termination import propose, revise, sign, start
from tests import engagement_support
from tests.engagement_support import client_terms, local_text
from tests.page_support import PAGES, app, no_exceptions, texts
from tests.people_support import engaged_pair

TODAY = datetime.now(UTC).date()
pair = engagement_support.pair  # the fixture, for this module's tests


# --- notification texts name times in the recipient's zone ----------------------------------------


def slots(backend, consultant: Claims, client: Claims, days_ahead: int) -> list[str]:
    first = TODAY + timedelta(days=days_ahead)
    return [
        s["starts_at"]
        for s in open_slots(backend, client, consultant.sub, first, first + timedelta(days=2), client.sub)
    ]


def messages(backend, claims: Claims, kind: str) -> list[str]:
    return [n["message"] for n in backend.rpc("my_notifications", {}, as_user=claims) if n["kind"] == kind]


def test_booking_and_cancellation_name_the_same_time_in_the_recipients_zone(backend, pair):
    consultant, client = pair
    start_at = slots(backend, consultant, client, days_ahead=5)[0]
    appt = book(backend, client, consultant.sub, start_at)
    assert messages(backend, consultant, "booked") == [
        f"Berta Client proposed a session on {local_text(start_at, 'Asia/Tokyo')}."
    ]
    answer(backend, consultant, appt["id"], confirm=True)
    cancel(backend, client, appt["id"], "Travelling")
    assert messages(backend, consultant, "cancelled") == [
        f"Berta Client cancelled the session on {local_text(start_at, 'Asia/Tokyo')}: Travelling"
    ]


def test_each_party_reads_the_time_in_their_own_zone(backend, pair):
    consultant, client = pair
    start_at = slots(backend, consultant, client, days_ahead=6)[0]
    appt = book(backend, consultant, client.sub, start_at)  # the consultant proposes; the client is told
    assert messages(backend, client, "booked") == [
        f"Kei Consultant proposed a session on {local_text(start_at, 'Europe/Berlin')}."
    ]
    cancel(backend, consultant, appt["id"], "Conference")
    assert messages(backend, client, "cancelled") == [
        f"Kei Consultant cancelled the session on {local_text(start_at, 'Europe/Berlin')}: Conference"
    ]


def test_a_late_cancellation_keeps_its_notice_and_names_the_local_time(backend, pair):
    consultant, client = pair
    soon = [
        s
        for s in slots(backend, consultant, client, days_ahead=0)
        if datetime.fromisoformat(s) > datetime.now(UTC) + timedelta(hours=3)
    ][0]
    appt = book(backend, client, consultant.sub, soon)
    answer(backend, consultant, appt["id"], confirm=True)
    done = cancel(backend, client, appt["id"], "Sick child", accept_late=True)
    assert done["late"] is True
    assert messages(backend, consultant, "late_cancellation") == [
        f"Berta Client cancelled the session on {local_text(soon, 'Asia/Tokyo')} "
        f"(late: {notice_given(done['notice_hours'])}): Sick child"
    ]


def test_a_move_names_both_times_in_the_recipients_zone_and_nothing_in_utc(backend, pair):
    consultant, client = pair
    options = slots(backend, consultant, client, days_ahead=8)
    appt = book(backend, client, consultant.sub, options[0])
    before = backend.rpc("my_notifications", {}, as_user=client)
    reschedule(backend, consultant, appt["id"], options[3], "Clash with a hearing")
    # One notice per move, naming both times (not a cancellation plus a booking plus a third notice).
    assert len(backend.rpc("my_notifications", {}, as_user=client)) == len(before) + 1
    assert messages(backend, client, "rescheduled") == [
        f"Kei Consultant asked to move the session on {local_text(options[0], 'Europe/Berlin')} to "
        f"{local_text(options[3], 'Europe/Berlin')}: Clash with a hearing. Confirm or decline the new time."
    ]
    assert messages(backend, client, "cancelled") == [] and messages(backend, client, "booked") == []
    everything = [
        n["message"] for who in (consultant, client) for n in backend.rpc("my_notifications", {}, as_user=who)
    ]
    assert not [m for m in everything if "UTC" in m], everything


def test_the_time_helper_is_private_and_falls_back_to_utc(embedded_db):
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        (text,) = conn.execute(
            "select private.local_time_text('2030-01-15 13:05+00', %s)", (str(uuid.uuid4()),)
        ).fetchone()  # nobody: no profile, no zone
        assert text == "Tue 15 Jan at 13:05 UTC"
        definer, callers = conn.execute("""
            select p.prosecdef, array(select r from unnest(array['anon', 'authenticated', 'portal_member',
                                                                 'service_role']) r
                                      where has_function_privilege(r, p.oid, 'EXECUTE'))
            from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
            where n.nspname = 'private' and p.proname = 'local_time_text'""").fetchone()
        conn.rollback()
    assert definer is False and callers == []


# --- Appointments: the notice shown after cancelling is never rounded up ----------------------------


def user_id(backend, username: str) -> str:
    return backend.rpc("auth_get_login", {"p_username": username}, as_user=SERVICE)["id"]


def confirmed_session_ahead(backend, embedded_db, ahead: str) -> tuple[str, str, str, str]:
    """A new engaged pair whose consultant has a 16-hour late-cancellation threshold and a confirmed session
    `ahead` (an interval) from now: (client username, consultant id, client id, appointment id)."""
    consultant_username, client_username = engaged_pair(backend, embedded_db)
    consultant, client = user_id(backend, consultant_username), user_id(backend, client_username)
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        conn.execute(
            "update public.availability_settings set late_cancel_hours = 16 where consultant_id = %s", (consultant,)
        )
        (engagement,) = conn.execute(
            "select id from public.engagements where seeker_id = %s and consultant_id = %s", (client, consultant)
        ).fetchone()
        (appt,) = conn.execute(
            "insert into public.appointments (consultant_id, client_id, engagement_id, starts_at, ends_at, "
            "blocked_until, status, requested_by) select %s, %s, %s, t, t + interval '50 minutes', "
            "t + interval '1 hour', 'confirmed', %s from (select now() + %s::interval as t) x "
            "returning id",
            (consultant, client, engagement, client, ahead),
        ).fetchone()
    return client_username, consultant, client, appt


def test_cancelling_states_the_notice_without_rounding_it_up_past_the_threshold(backend, embedded_db):
    # 15 h 36 min ahead: 15.6 hours' notice, inside a 16-hour threshold.
    client_username, consultant, client, appt = confirmed_session_ahead(backend, embedded_db, "15 hours 36 minutes")

    at = app(client_username).run()
    at.switch_page(PAGES["appointments"]).run()
    at.text_input(key=f"appt_cancel_reason_{appt}").input("Unwell today")
    at.button(key=f"appt_cancel_{appt}").click().run()
    assert any("late cancellation" in w for w in texts(at, "warning"))
    at.checkbox(key=f"appt_accept_late_{appt}").check()
    at.button(key=f"appt_cancel_{appt}").click().run()
    no_exceptions(at)
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        recorded, late = conn.execute(
            "select notice_hours, late from public.appointments where id = %s", (appt,)
        ).fetchone()
    assert late is True and recorded < 16
    other = backend.rpc("get_my_profile", {}, as_user=Claims.user(consultant))["display_name"]
    # The name as text (portal.plain_text.plain escapes Markdown in what Streamlit renders).
    assert texts(at, "success") == [
        f"Cancelled with {math.floor(recorded)} hours' notice. {plain(other)} was notified."
    ]


def test_notice_in_words():
    from portal.appointments import notice_given

    assert notice_given(15.6) == "15 hours' notice"
    assert notice_given("15.96") == "15 hours' notice"
    assert notice_given(40.0) == "40 hours' notice"
    assert notice_given(1.5) == "1 hour's notice"
    assert notice_given(0.4) == "less than an hour's notice"


# --- Termination plans: the header, and reminders refreshed only when they can change ---------------


def plan_between(backend, embedded_db) -> tuple[str, str, Claims, Claims, str]:
    """A plan the client started and proposed (signed by the client only)."""
    consultant_username, client_username = engaged_pair(backend, embedded_db)
    consultant = Claims.user(user_id(backend, consultant_username))
    client = Claims.user(user_id(backend, client_username))
    engagement = backend.rpc("my_engagements", {}, as_user=client)[0]["id"]
    plan = start(backend, client, engagement, client_terms())
    propose(backend, client, plan, expected_version=1)
    return consultant_username, client_username, consultant, client, plan


def test_the_agreed_plan_header_has_separators_only_between_parts(backend, embedded_db):
    consultant_username, client_username, consultant, client, plan = plan_between(backend, embedded_db)
    sign(backend, consultant, plan, 1)  # agreed: no signature is awaited, so that part is empty

    at = app(consultant_username).run()
    at.switch_page(PAGES["termination"]).run()
    no_exceptions(at)
    client_name = backend.rpc("get_my_profile", {}, as_user=client)["display_name"]
    headers = [m.value for m in at.markdown if m.value.startswith(f"**{client_name}**")]
    assert headers == [f"**{client_name}** (your client) · :green-badge[Agreed] · version 1"]


def test_a_proposed_plan_header_names_whose_signature_it_awaits(backend, embedded_db):
    consultant_username, _, _, client, _ = plan_between(backend, embedded_db)
    at = app(consultant_username).run()
    at.switch_page(PAGES["termination"]).run()
    client_name = backend.rpc("get_my_profile", {}, as_user=client)["display_name"]
    headers = [m.value for m in at.markdown if m.value.startswith(f"**{client_name}**")]
    assert headers == [
        f"**{client_name}** (your client) · :orange-badge[Proposed] · version 1 · Awaiting your signature"
    ]


@pytest.fixture
def refresh_calls(monkeypatch) -> list[str]:
    """Who called refresh_termination_reminders, through any LocalBackend (the app's is one too)."""
    calls: list[str] = []
    original = LocalBackend.rpc

    def rpc(self, fn, params=None, *, as_user):
        if fn == "refresh_termination_reminders":
            calls.append(as_user.sub)
        return original(self, fn, params, as_user=as_user)

    monkeypatch.setattr(LocalBackend, "rpc", rpc)
    return calls


def test_reminders_are_refreshed_when_the_plans_change_not_on_every_rerun(backend, embedded_db, refresh_calls):
    consultant_username, _, consultant, client, plan = plan_between(backend, embedded_db)
    at = app(consultant_username).run()
    at.switch_page(PAGES["termination"]).run()
    no_exceptions(at)
    assert refresh_calls == [consultant.sub]
    assert any("Awaiting your signature" in m.value for m in at.markdown)
    # One event, one notice: the proposal already said the plan awaits the consultant's signature.
    assert len(messages(backend, consultant, "plan_proposed")) == 1
    assert messages(backend, consultant, "plan_awaiting") == []

    at.run()
    at.run()
    no_exceptions(at)
    assert refresh_calls == [consultant.sub], "reruns with nothing changed must not write reminders again"

    # The client changes the plan: a new version awaits the consultant's signature, and its reminder is written.
    revise(backend, client, plan, client_terms(sessions_remaining=3), expected_version=1)
    at.run()
    no_exceptions(at)
    assert refresh_calls == [consultant.sub, consultant.sub]
    assert len(messages(backend, consultant, "plan_changed")) == 1  # the change says version 2 awaits them
    assert messages(backend, consultant, "plan_awaiting") == []
    assert any("version 2" in m.value for m in at.markdown)


# --- app.py: settings and the cookie key read once per environment ----------------------------------


def test_settings_and_the_cookie_key_are_read_once_per_environment(backend, monkeypatch):
    reads: list[str] = []
    original = Settings.resolved_cookie_key

    def resolved_cookie_key(self):
        reads.append(key := original(self))
        return key

    monkeypatch.setattr(Settings, "resolved_cookie_key", resolved_cookie_key)
    at = app("seeker01")
    for _ in range(3):
        at.run()
        no_exceptions(at)
    assert len(reads) <= 1, "settings and the cookie-key file were read again on a rerun"

    before = len(reads)
    fresh = f"test-cookie-key-{uuid.uuid4().hex}"
    monkeypatch.setenv("PORTAL_COOKIE_KEY", fresh)  # a new environment is read again, once
    for _ in range(2):
        at.run()
        no_exceptions(at)
    assert reads[before:] == [fresh]


def test_a_notice_just_under_the_threshold_is_late_and_recorded_rounded_down(backend, embedded_db):
    """15 h 58 min before a session with a 16-hour threshold: late (it used to round to 16.0 and pass as on time)."""
    _, _, client, appt = confirmed_session_ahead(backend, embedded_db, "15 hours 58 minutes")
    with pytest.raises(Refusal) as refused:
        cancel(backend, Claims.user(client), str(appt), "Unwell")
    assert refused.value.code == "late" and "15.9 hours before the session, inside the 16-hour threshold" in str(
        refused.value.message
    )
    done = cancel(backend, Claims.user(client), str(appt), "Unwell", accept_late=True)
    assert done["late"] is True and float(done["notice_hours"]) == 15.9


# --- notices say what and who, once per event (#13) -------------------------------------------------


def test_a_confirmation_names_the_session_in_the_recipients_zone(backend, pair):
    consultant, client = pair
    start_at = slots(backend, consultant, client, days_ahead=6)[0]
    appt = book(backend, client, consultant.sub, start_at)
    answer(backend, consultant, appt["id"], confirm=True)
    assert messages(backend, client, "confirmed") == [
        f"Kei Consultant confirmed the session on {local_text(start_at, 'Europe/Berlin')}."
    ]
    assert "Berlin time" in messages(backend, client, "confirmed")[0]


def test_plan_notices_say_who_and_which_plan_and_come_once(backend, embedded_db):
    consultant_username, client_username, consultant, client, plan = plan_between(backend, embedded_db)
    client_name = backend.rpc("get_my_profile", {}, as_user=client)["display_name"]
    consultant_name = backend.rpc("get_my_profile", {}, as_user=consultant)["display_name"]
    backend.rpc("refresh_termination_reminders", {}, as_user=consultant)  # the page does this on every visit
    assert messages(backend, consultant, "plan_awaiting") == []  # the proposal already said it awaits them
    assert messages(backend, consultant, "plan_proposed") == [
        f"{client_name} proposed a termination plan for your work together; it awaits your signature."
    ]
    revise(backend, consultant, plan, client_terms(sessions_remaining=3), expected_version=1)
    assert messages(backend, client, "plan_changed") == [
        f"{consultant_name} changed the termination plan for your work together (now version 2); "
        "it awaits your signature."
    ]
    sign(backend, client, plan, 2)
    assert messages(backend, client, "plan_agreed") == [
        f"Your termination plan with {consultant_name} is agreed by both of you."
    ]
    assert messages(backend, consultant, "plan_agreed") == [
        f"Your termination plan with {client_name} is agreed by both of you."
    ]
    # Every notice is one event: no sentence reached the same person twice.
    for who in (consultant, client):
        notices = [(n["kind"], n["message"]) for n in backend.rpc("my_notifications", {}, as_user=who)]
        assert len(notices) == len(set(notices)), notices


def test_the_same_notice_twice_in_one_change_is_written_once_and_queued_once(embedded_db, new_user):
    member, _ = new_user("once")
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        for _ in range(2):
            conn.execute(
                "select private.notify(%s, 'plan_safety', 'This plan ends treatment early.', 'requests')", (member,)
            )
        conn.execute("select private.notify(%s, 'plan_safety', 'Another sentence.', 'requests')", (member,))
        written = conn.execute("select count(*) from public.notifications where user_id = %s", (member,)).fetchone()
        queued = conn.execute("select count(*) from private.outbox where recipient_id = %s", (member,)).fetchone()
    assert written == queued == (2,)
