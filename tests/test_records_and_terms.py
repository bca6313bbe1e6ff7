"""Records tell the truth, and a session keeps the terms it was booked under (issue 22, items 1 and 3).

Through the RPC API (the local backend, which does per call what PostgREST does) on both deployments: the
embedded Postgres 18 and the Postgres 15 the Supabase CLI deployed. Each rule is tried from both parties' side.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from portal.appointments import answer, book, cancel, record_attendance, record_summary, reschedule
from portal.availability import open_slots
from portal.db import Claims
from portal.db.local import LocalBackend
from portal.refusal import Refusal
from tests.conftest import licensed_where_the_clients_live


@pytest.fixture(scope="module")
def api(deployed):
    backend = LocalBackend(deployed.api_conninfo)
    yield backend
    backend.close()


#: Consultants this module made, per deployment: they leave the directory when the module ends (the database is
#: shared with later modules, and some count every consultant a search finds).
MADE: dict[str, list[str]] = {}


@pytest.fixture(scope="module", autouse=True)
def consultants_leave_the_directory(deployed):
    yield
    with psycopg.connect(deployed.owner_conninfo, autocommit=True) as conn:
        conn.execute(
            "update public.profiles set is_consultant = false where id = any (%s::uuid[])",
            (MADE.pop(deployed.owner_conninfo, []),),
        )


def member(conn: psycopg.Connection, prefix: str) -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    return str(
        conn.execute(
            "select public.auth_register(%s, %s, %s, %s)",
            (name, f"{name}@test.example", f"Test {prefix}", "$2b$12$" + "x" * 53),
        ).fetchone()[0]
    )


@pytest.fixture
def pair(deployed):
    """A consultant (open all week, no minimum notice, 24-hour late threshold) working with one client."""
    with psycopg.connect(deployed.owner_conninfo, autocommit=True) as conn:
        consultant, client, stranger = member(conn, "rec_c"), member(conn, "rec_s"), member(conn, "rec_x")
        MADE.setdefault(deployed.owner_conninfo, []).append(consultant)
        conn.execute("update public.profiles set is_consultant = true, fee_usd = 100 where id = %s", (consultant,))
        conn.execute(
            "update public.availability_settings set min_notice_hours = 0, late_cancel_hours = 24, capacity = 10 "
            "where consultant_id = %s",
            (consultant,),
        )
        for weekday in range(1, 8):
            conn.execute(
                "insert into public.weekly_hours (consultant_id, weekday, starts_at, ends_at) "
                "values (%s, %s, '00:00', '23:59')",
                (consultant, weekday),
            )
        request = conn.execute(
            "insert into public.consultation_requests (seeker_id, consultant_id, message, status) "
            "values (%s, %s, 'hi', 'accepted') returning id",
            (client, consultant),
        ).fetchone()[0]
        conn.execute(
            "insert into public.engagements (request_id, seeker_id, consultant_id) values (%s, %s, %s)",
            (request, client, consultant),
        )
        licensed_where_the_clients_live(conn, consultant, client)
    return {
        "consultant": Claims.user(consultant),
        "client": Claims.user(client),
        "stranger": Claims.user(stranger),
        "owner": deployed.owner_conninfo,
    }


def past_session(owner: str, consultant: Claims, client: Claims, days_ago: int) -> str:
    """A confirmed session that has started, inserted as the demo world and old data are."""
    starts = datetime.now(UTC) - timedelta(days=days_ago)
    with psycopg.connect(owner, autocommit=True) as conn:
        return str(
            conn.execute(
                "insert into public.appointments (consultant_id, client_id, engagement_id, starts_at, ends_at, "
                "blocked_until, status, requested_by) select %s, %s, e.id, %s, %s, %s, 'confirmed', %s "
                "from public.engagements e where e.consultant_id = %s and e.seeker_id = %s returning id",
                (
                    consultant.sub,
                    client.sub,
                    starts,
                    starts + timedelta(minutes=50),
                    starts + timedelta(minutes=60),
                    client.sub,
                    consultant.sub,
                    client.sub,
                ),
            ).fetchone()[0]
        )


def record(api, who: Claims, member_id: str) -> dict:
    return api.rpc("professionalism_record", {"p_member": member_id}, as_user=who)


def booked_and_confirmed(api, pair, *, hours_ahead: float) -> str:
    """A session booked by the client through the RPC and confirmed by the consultant, then brought to start
    `hours_ahead` from now (as time passing would)."""
    consultant, client = pair["consultant"], pair["client"]
    day = datetime.now(UTC).date() + timedelta(days=3)
    slot = open_slots(api, client, consultant.sub, day, day + timedelta(days=6), client.sub)[0]["starts_at"]
    appointment = book(api, client, consultant.sub, slot)["id"]
    answer(api, consultant, appointment, confirm=True)
    starts = datetime.now(UTC) + timedelta(hours=hours_ahead)
    with psycopg.connect(pair["owner"], autocommit=True) as conn:
        conn.execute(
            "update public.appointments set starts_at = %s, ends_at = %s, blocked_until = %s where id = %s",
            (starts, starts + timedelta(minutes=50), starts + timedelta(minutes=60), appointment),
        )
    return appointment


def set_threshold(pair, hours: int) -> None:
    """The consultant changes their policy (the door does not matter here: the session's terms do)."""
    with psycopg.connect(pair["owner"], autocommit=True) as conn:
        conn.execute(
            "update public.availability_settings set late_cancel_hours = %s where consultant_id = %s",
            (hours, pair["consultant"].sub),
        )


# --- item 1: the record blames only who missed -------------------------------------------------------------------


def test_a_clients_absence_is_on_the_clients_record_only(api, pair):
    consultant, client, stranger = pair["consultant"], pair["client"], pair["stranger"]
    absent = past_session(pair["owner"], consultant, client, days_ago=1)
    record_attendance(api, consultant, absent, "client_absent", "Waited 20 minutes.")
    held = past_session(pair["owner"], consultant, client, days_ago=8)
    record_attendance(api, consultant, held, "held")

    # The consultant kept both sessions they were due at: the client's absence is not theirs.
    theirs = record(api, consultant, consultant.sub)
    assert (theirs["side"], theirs["sessions"], theirs["sessions_kept"], theirs["consultant_no_shows"]) == (
        "consultant",
        1,
        1,
        0,
    )
    assert "client_no_shows" not in theirs
    assert record_summary(theirs) == "1 of 1 sessions kept"
    # The client's own record holds it, in words spoken to them.
    mine = record(api, client, client.sub)
    assert (mine["side"], mine["sessions"], mine["sessions_kept"], mine["client_no_shows"]) == ("client", 2, 1, 1)
    assert record_summary(mine) == "1 of 2 sessions attended; 1 session missed by you"

    # Public once it rests on five events: still no blame for the client's absence, on cards and the profile.
    for days_ago in (15, 22, 29, 36):
        record_attendance(api, client, past_session(pair["owner"], consultant, client, days_ago), "held")
    public = record(api, stranger, consultant.sub)
    card = api.rpc("consultant_records", {"p_consultants": [consultant.sub]}, as_user=stranger)[consultant.sub]
    for shown in (public, card):
        assert (shown["sessions"], shown["sessions_kept"], shown["consultant_no_shows"]) == (5, 5, 0)
        assert "client_no_shows" not in shown and "as_client" not in shown
    assert record_summary(card) == "5 of 5 sessions kept"


def test_a_consultants_absence_is_on_the_consultants_record_only(api, pair):
    consultant, client = pair["consultant"], pair["client"]
    missed = past_session(pair["owner"], consultant, client, days_ago=2)
    record_attendance(api, client, missed, "consultant_absent", "Nobody joined the call.")
    theirs = record(api, consultant, consultant.sub)
    assert (theirs["sessions"], theirs["sessions_kept"], theirs["consultant_no_shows"]) == (1, 0, 1)
    assert record_summary(theirs) == "0 of 1 sessions kept; 1 session missed by the consultant"
    mine = record(api, client, client.sub)
    assert (mine["sessions"], mine["client_no_shows"]) == (0, 0)


def test_each_partys_cancellations_count_only_on_their_own_record(api, pair):
    consultant, client = pair["consultant"], pair["client"]
    late_by_client = booked_and_confirmed(api, pair, hours_ahead=5)
    cancel(api, client, late_by_client, "Ill today", accept_late=True)
    in_time_by_consultant = booked_and_confirmed(api, pair, hours_ahead=72)
    cancel(api, consultant, in_time_by_consultant, "Training day")

    theirs = record(api, consultant, consultant.sub)
    assert (theirs["cancellations"], float(theirs["cancellations_with_notice_share"])) == (1, 1.0)
    assert record_summary(theirs) == "1 of 1 cancellation by the consultant in good time"
    mine = record(api, client, client.sub)
    assert (mine["cancellations"], float(mine["cancellations_with_notice_share"])) == (1, 0.0)
    assert record_summary(mine) == "0 of 1 cancellation by you in good time"


def test_a_consultant_who_is_someones_client_reads_that_side_alone(api, pair, deployed):
    consultant, client, stranger = pair["consultant"], pair["client"], pair["stranger"]
    # The consultant is also in therapy with a colleague, and missed a session there.
    with psycopg.connect(deployed.owner_conninfo, autocommit=True) as conn:
        their_own = member(conn, "rec_t")
        MADE[deployed.owner_conninfo].append(their_own)
        conn.execute("update public.profiles set is_consultant = true where id = %s", (their_own,))
        request = conn.execute(
            "insert into public.consultation_requests (seeker_id, consultant_id, message, status) "
            "values (%s, %s, 'hi', 'accepted') returning id",
            (consultant.sub, their_own),
        ).fetchone()[0]
        conn.execute(
            "insert into public.engagements (request_id, seeker_id, consultant_id) values (%s, %s, %s)",
            (request, consultant.sub, their_own),
        )
    therapist = Claims.user(their_own)
    missed = past_session(deployed.owner_conninfo, therapist, consultant, days_ago=3)
    record_attendance(api, therapist, missed, "client_absent")
    for days_ago in (1, 8, 15, 22, 29):
        record_attendance(api, client, past_session(pair["owner"], consultant, client, days_ago), "held")

    own = record(api, consultant, consultant.sub)
    assert (own["sessions"], own["sessions_kept"]) == (5, 5)
    assert (own["as_client"]["sessions"], own["as_client"]["client_no_shows"]) == (1, 1)
    public = record(api, stranger, consultant.sub)
    assert (public["sessions"], public["sessions_kept"]) == (5, 5) and "as_client" not in public
    # Their therapist's record does not carry the absence either.
    assert record(api, therapist, therapist.sub)["sessions"] == 0


# --- item 3: a session keeps the cancellation policy it was booked under -----------------------------------------


def stored(pair, appointment: str) -> tuple[int, bool, float | None, str]:
    with psycopg.connect(pair["owner"]) as conn:
        threshold, late, notice, status = conn.execute(
            "select late_cancel_hours, late, notice_hours, status from public.appointments where id = %s",
            (appointment,),
        ).fetchone()
    return threshold, late, None if notice is None else float(notice), status


def listed(api, who: Claims, appointment: str) -> dict:
    return next(a for a in api.rpc("my_appointments", {}, as_user=who) if a["id"] == appointment)


@pytest.mark.parametrize("side", ["consultant", "client"])
def test_lowering_the_threshold_to_zero_does_not_excuse_a_late_cancellation(api, pair, side):
    """24 h -> 0 h: a session booked under 24 hours, cancelled 5 hours ahead, is late, whoever cancels."""
    session = booked_and_confirmed(api, pair, hours_ahead=5)
    set_threshold(pair, 0)
    for who in (pair["consultant"], pair["client"]):
        assert listed(api, who, session)["late_cancel_hours"] == 24
    with pytest.raises(Refusal) as warned:
        cancel(api, pair[side], session, "Something came up")
    assert warned.value.code == "late"
    assert "inside the 24-hour threshold it was booked under" in warned.value.message
    cancel(api, pair[side], session, "Something came up", accept_late=True)
    threshold, late, notice, status = stored(pair, session)
    assert (threshold, late, status) == (24, True, "cancelled") and 4.8 <= notice < 5
    mine = record(api, pair[side], pair[side].sub)
    assert (mine["cancellations"], float(mine["cancellations_with_notice_share"])) == (1, 0.0)


@pytest.mark.parametrize("side", ["consultant", "client"])
def test_raising_the_threshold_to_a_week_does_not_make_a_timely_cancellation_late(api, pair, side):
    """24 h -> 168 h: a session booked under 24 hours, cancelled 61 hours ahead, is in good time."""
    session = booked_and_confirmed(api, pair, hours_ahead=61)
    set_threshold(pair, 168)
    cancelled = cancel(api, pair[side], session, "Travelling")  # no warning: not late under its own terms
    assert (cancelled["late"], cancelled["late_cancel_hours"]) == (False, 24)
    mine = record(api, pair[side], pair[side].sub)
    assert (mine["cancellations"], float(mine["cancellations_with_notice_share"])) == (1, 1.0)
    other = "client" if side == "consultant" else "consultant"
    assert record(api, pair[other], pair[other].sub)["cancellations"] == 0


def test_a_change_applies_to_sessions_booked_after_it(api, pair):
    set_threshold(pair, 168)
    session = booked_and_confirmed(api, pair, hours_ahead=61)
    assert listed(api, pair["client"], session)["late_cancel_hours"] == 168
    with pytest.raises(Refusal) as warned:
        cancel(api, pair["client"], session, "Travelling")
    assert "inside the 168-hour threshold it was booked under" in warned.value.message


@pytest.mark.parametrize("side", ["consultant", "client"])
def test_a_move_keeps_the_terms_and_is_judged_by_them(api, pair, side):
    session = booked_and_confirmed(api, pair, hours_ahead=61)
    set_threshold(pair, 168)
    day = datetime.now(UTC).date() + timedelta(days=10)
    new_time = open_slots(api, pair["client"], pair["consultant"].sub, day, day + timedelta(days=6), pair["client"].sub)
    moved = reschedule(api, pair[side], session, new_time[0]["starts_at"], "Clash")  # in good time under 24 h
    assert stored(pair, session)[:2] == (24, False)
    assert moved["late_cancel_hours"] == 24  # the new session continues the old one's terms
    # Raising the threshold of the new session directly is not a door either: agreed terms do not change.
    with psycopg.connect(pair["owner"], autocommit=True) as conn:
        conn.execute("update public.appointments set late_cancel_hours = 0 where id = %s", (moved["id"],))
    assert stored(pair, moved["id"])[0] == 24


def test_an_account_deletion_judges_lateness_by_the_sessions_own_terms(api, pair):
    session = booked_and_confirmed(api, pair, hours_ahead=5)
    set_threshold(pair, 0)
    with psycopg.connect(pair["owner"]) as conn:
        username = conn.execute(
            "select username from private.credentials where user_id = %s", (pair["client"].sub,)
        ).fetchone()[0]
    api.rpc("delete_my_account", {"p_confirm_username": username}, as_user=pair["client"])
    threshold, late, notice, status = stored(pair, session)
    assert (threshold, late, status) == (24, True, "cancelled") and 4.8 <= notice < 5  # rounded down, never up


def test_an_admin_closure_judges_lateness_by_the_sessions_own_terms(api, pair):
    timely = booked_and_confirmed(api, pair, hours_ahead=61)
    set_threshold(pair, 168)
    with psycopg.connect(pair["owner"], autocommit=True) as conn:
        conn.execute("update private.credentials set is_admin = true where user_id = %s", (pair["stranger"].sub,))
    api.rpc(
        "admin_close_account",
        {"p_user": pair["consultant"].sub, "p_reason": "Licence revoked by the board."},
        as_user=pair["stranger"],
    )
    threshold, late, notice, status = stored(pair, timely)
    assert (threshold, late, status) == (24, False, "cancelled") and 60.8 <= notice < 61
