"""The kept record facts are always what private.record_facts says (issue 25, item 1).

Cards and profiles read each member's professionalism facts from private.record_facts_kept, written by triggers
when appointments or answered requests change. Here every door that changes a fact (and some that must not) is
walked through on both deployments, and after each step every side of every member involved is compared with
private.record_facts' live answer, which reads the appointments themselves.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from portal.admin import resolve_attendance
from portal.appointments import answer, book, cancel, record_attendance, reschedule
from portal.db import Claims
from portal.db.local import LocalBackend
from portal.mydata import delete_my_account
from portal.requests import request_consultation, respond
from tests.care_parties import engage, open_times, register, retire

MADE: dict[str, list[Claims]] = {}


@pytest.fixture(scope="module")
def api(deployed):
    backend = LocalBackend(deployed.api_conninfo)
    yield backend
    backend.close()
    retire(deployed.owner_conninfo, MADE.pop(deployed.owner_conninfo, []))


@pytest.fixture
def people(deployed):
    """A consultant (late threshold 24 hours) with an engaged client, a second client and an admin."""
    owner = deployed.owner_conninfo
    consultant = register(owner, "Kept Consultant", consultant=True)
    MADE.setdefault(owner, []).append(consultant)
    client, other = register(owner, "Kept Client"), register(owner, "Kept Other")
    admin = register(owner, "Kept Admin")
    with psycopg.connect(owner, autocommit=True) as conn:
        conn.execute("update private.credentials set is_admin = true where user_id = %s", (admin.sub,))
        conn.execute(
            "update public.availability_settings set late_cancel_hours = 24, capacity = 10 where consultant_id = %s",
            (consultant.sub,),
        )
    engage(owner, consultant, client)
    return {"owner": owner, "consultant": consultant, "client": client, "other": other, "admin": admin}


def usernames(owner: str, member: Claims) -> str:
    with psycopg.connect(owner) as conn:
        return conn.execute("select username from private.credentials where user_id = %s", (member.sub,)).fetchone()[0]


def differences(owner: str, *members: Claims) -> list[tuple]:
    """(member, side, kept, live) wherever the kept facts differ from private.record_facts; no kept row stands for
    a member with nothing on record, whose live facts are those of a member who never did anything. Every kept
    row of the whole table is compared too."""
    with psycopg.connect(owner) as conn:
        named = conn.execute(
            """select m::text, v.side, k.facts, private.record_facts(m, v.side)
               from unnest(%s::uuid[]) m
               cross join (values ('consultant'), ('client')) v(side)
               left join private.record_facts_kept k on k.member_id = m and k.side = v.side
               where coalesce(k.facts, private.record_facts(gen_random_uuid(), v.side))
                     is distinct from private.record_facts(m, v.side)""",
            ([m.sub for m in members],),
        ).fetchall()
        anywhere = conn.execute(
            """select k.member_id::text, k.side, k.facts, private.record_facts(k.member_id, k.side)
               from private.record_facts_kept k
               where k.facts is distinct from private.record_facts(k.member_id, k.side)"""
        ).fetchall()
    return named + anywhere


def kept(owner: str, member: Claims, side: str) -> dict | None:
    with psycopg.connect(owner) as conn:
        row = conn.execute(
            "select facts from private.record_facts_kept where member_id = %s and side = %s", (member.sub, side)
        ).fetchone()
    return row[0] if row else None


def past_session(owner: str, consultant: Claims, client: Claims, *, days_ago: int) -> str:
    """A confirmed session that has started (inserted as old data is: confirmed counts on no record)."""
    starts = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(days=days_ago)
    with psycopg.connect(owner, autocommit=True) as conn:
        return str(
            conn.execute(
                "insert into public.appointments (consultant_id, client_id, engagement_id, starts_at, ends_at, "
                "blocked_until, status, requested_by) select %s, %s, e.id, %s, %s, %s, 'confirmed', %s "
                "from public.engagements e where e.consultant_id = %s and e.seeker_id = %s returning id",
                (consultant.sub, client.sub, starts, starts + timedelta(minutes=50), starts + timedelta(minutes=60))
                + (client.sub, consultant.sub, client.sub),
            ).fetchone()[0]
        )


def confirmed_ahead(api, people, *, hours_ahead: float, days: int = 3) -> str:
    """Booked by the client, confirmed by the consultant, then brought to start `hours_ahead` from now."""
    consultant, client = people["consultant"], people["client"]
    appointment = book(api, client, consultant.sub, open_times(api, client, consultant, client, days=days)[0])["id"]
    answer(api, consultant, appointment, confirm=True)
    starts = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(hours=hours_ahead)
    with psycopg.connect(people["owner"], autocommit=True) as conn:
        conn.execute(
            "update public.appointments set starts_at = %s, ends_at = %s, blocked_until = %s where id = %s",
            (starts, starts + timedelta(minutes=50), starts + timedelta(minutes=60), appointment),
        )
    return appointment


def test_answered_requests_are_kept_as_they_are_answered(api, people):
    consultant, other, owner = people["consultant"], people["other"], people["owner"]
    request = request_consultation(api, other, consultant.sub, [], "Could we work together on a hard case?")
    assert kept(owner, consultant, "consultant") is None  # a request waiting for an answer counts on no record
    assert differences(owner, consultant, other) == []
    respond(api, consultant, request["id"], accept=False, reason="My caseload is full this month.")
    assert kept(owner, consultant, "consultant")["requests_answered"] == 1
    assert differences(owner, consultant, other) == []

    again = request_consultation(api, other, consultant.sub, [], "A room opened up, maybe?")
    respond(api, consultant, again["id"], accept=True)
    assert kept(owner, consultant, "consultant")["requests_answered"] == 2
    assert differences(owner, consultant, other) == []
    with psycopg.connect(owner, autocommit=True) as conn:  # an answer's time corrected, a request removed
        conn.execute(
            "update public.consultation_requests set responded_at = created_at + interval '30 hours' where id = %s",
            (request["id"],),
        )
        assert differences(owner, consultant, other) == []
        conn.execute("delete from public.consultation_requests where id = %s", (again["id"],))
    assert kept(owner, consultant, "consultant")["requests_answered"] == 1
    assert differences(owner, consultant, other) == []


def test_attendance_disputes_and_resolutions_are_kept(api, people):
    consultant, client, admin, owner = people["consultant"], people["client"], people["admin"], people["owner"]
    booked = book(api, client, consultant.sub, open_times(api, client, consultant, client)[0])["id"]
    answer(api, consultant, booked, confirm=True)  # a booking and its confirmation count on no record
    assert kept(owner, consultant, "consultant") is None and kept(owner, client, "client") is None

    held = past_session(owner, consultant, client, days_ago=1)
    record_attendance(api, consultant, held, "held")
    assert differences(owner, consultant, client) == []
    absent = past_session(owner, consultant, client, days_ago=8)
    record_attendance(api, consultant, absent, "client_absent", "Waited 20 minutes.")
    assert kept(owner, client, "client")["client_no_shows"] == 1
    assert differences(owner, consultant, client) == []
    missed = past_session(owner, consultant, client, days_ago=15)
    record_attendance(api, client, missed, "consultant_absent", "Nobody joined the call.")
    assert kept(owner, consultant, "consultant")["consultant_no_shows"] == 1
    assert differences(owner, consultant, client) == []

    # The client contests their absence: disputed, it counts for neither; an admin decides it was held.
    record_attendance(api, client, absent, "held", "I was in the waiting room.")
    assert kept(owner, client, "client")["client_no_shows"] == 0
    assert differences(owner, consultant, client) == []
    resolve_attendance(api, admin, absent, "held", "The platform's log shows both joined.")
    assert kept(owner, client, "client")["sessions_kept"] == 2
    assert differences(owner, consultant, client) == []


def test_cancellations_and_moves_are_kept(api, people):
    consultant, client, owner = people["consultant"], people["client"], people["owner"]
    late = confirmed_ahead(api, people, hours_ahead=5)
    cancel(api, client, late, "Ill today", accept_late=True)
    assert kept(owner, client, "client")["cancellations"] == 1
    assert differences(owner, consultant, client) == []
    in_time = confirmed_ahead(api, people, hours_ahead=72)
    cancel(api, consultant, in_time, "Training day")
    assert kept(owner, consultant, "consultant")["cancellations"] == 1
    assert differences(owner, consultant, client) == []

    moved_late = confirmed_ahead(api, people, hours_ahead=6)
    later = open_times(api, client, consultant, client, days=5)[0]
    reschedule(api, consultant, moved_late, later, "A clash came up", accept_late=True)
    assert kept(owner, consultant, "consultant")["cancellations"] == 2
    assert differences(owner, consultant, client) == []
    moved_in_time = confirmed_ahead(api, people, hours_ahead=96, days=7)
    elsewhere = open_times(api, client, consultant, client, days=9)[0]
    reschedule(api, client, moved_in_time, elsewhere, "Another day suits me")  # in good time: costs nobody
    assert kept(owner, client, "client")["cancellations"] == 1
    assert differences(owner, consultant, client) == []

    with psycopg.connect(owner, autocommit=True) as conn:  # lateness corrected on a cancellation, as the owner
        conn.execute("update public.appointments set late = not late where id = %s", (late,))
    assert float(kept(owner, client, "client")["cancellations_with_notice_share"]) == 1.0
    assert differences(owner, consultant, client) == []


def test_many_rows_at_once_deletions_and_departures_are_kept(api, people):
    consultant, client, other, owner = people["consultant"], people["client"], people["other"], people["owner"]
    engage(owner, consultant, other)
    with psycopg.connect(owner, autocommit=True) as conn:
        # One statement, many sessions of two clients: each side recomputed once.
        conn.execute(
            "insert into public.appointments (consultant_id, client_id, engagement_id, starts_at, ends_at, "
            "blocked_until, status, requested_by) "
            "select e.consultant_id, e.seeker_id, e.id, now() - d * interval '1 day', "
            "now() - d * interval '1 day' + interval '50 minutes', now() - d * interval '1 day' + interval '1 hour', "
            "case when d %% 4 = 0 then 'no_show' else 'completed' end, e.seeker_id "
            "from public.engagements e cross join generate_series(20, 40) d where e.consultant_id = %s",
            (consultant.sub,),
        )
        assert kept(owner, consultant, "consultant")["sessions"] == 30  # 2 clients x 15 held (absences are theirs)
        assert differences(owner, consultant, client, other) == []
        # Many changed in one statement: every missed session becomes a held one.
        conn.execute(
            "update public.appointments set status = 'completed' where consultant_id = %s and status = 'no_show'",
            (consultant.sub,),
        )
        assert differences(owner, consultant, client, other) == []
        conn.execute(
            "delete from public.appointments where id = (select id from public.appointments where client_id = %s "
            "and status = 'completed' limit 1)",
            (other.sub,),
        )
        assert differences(owner, consultant, client, other) == []

    # A client who leaves: their sessions stay on the consultant's record as the live answer has them.
    delete_my_account(api, other, usernames(owner, other))
    assert differences(owner, consultant, client, other) == []
    with psycopg.connect(owner, autocommit=True) as conn:  # a member removed outright: their rows go with them
        conn.execute("delete from public.profiles where id = %s", (client.sub,))
    assert kept(owner, client, "client") is None
    assert differences(owner, consultant, client, other) == []


def test_cards_and_profiles_read_the_kept_facts(api, people):
    consultant, client, other, owner = people["consultant"], people["client"], people["other"], people["owner"]
    for days_ago in range(1, 7):
        record_attendance(api, consultant, past_session(owner, consultant, client, days_ago=days_ago * 7), "held")
    live = kept(owner, consultant, "consultant")
    assert live["enough_events"] is True
    card = api.rpc("consultant_records", {"p_consultants": [consultant.sub, str(uuid.uuid4())]}, as_user=other)
    profile = api.rpc("professionalism_record", {"p_member": consultant.sub}, as_user=other)
    assert card == {consultant.sub: live}
    assert profile == {**live, "shown": True}
    assert differences(owner, consultant, client) == []
