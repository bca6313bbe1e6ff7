"""Engagements and their termination plans, shared by the plan, notice and reminder suites: fixtures for an
engaged pair (a plain one; one in Tokyo and Berlin; one whose plan both signed), and the terms of a plan.
A module binds the fixtures it uses (by import or assignment), so they are fixtures of no other module."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest

from portal.db import Claims
from portal.requests import my_engagements
from portal.termination import CHECKLIST, PlanTerms, propose, sign, start
from tests.conftest import licensed_where_the_clients_live
from tests.mail_support import LONDON, NEW_YORK
from tests.people_support import engaged_pair, member_id

TODAY = datetime.now(UTC).date()


@pytest.fixture
def engagement(backend, new_user, embedded_db):
    consultant, _ = new_user("ending_c")
    client, _ = new_user("ending_s")
    stranger, _ = new_user("ending_x")
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        conn.execute("update public.profiles set is_consultant = true where id = %s", (consultant,))
        request = conn.execute(
            "insert into public.consultation_requests (seeker_id, consultant_id, message, status) "
            "values (%s, %s, 'hi', 'accepted') returning id",
            (client, consultant),
        ).fetchone()[0]
        engagement_id = conn.execute(
            "insert into public.engagements (request_id, seeker_id, consultant_id) values (%s, %s, %s) returning id",
            (request, client, consultant),
        ).fetchone()[0]
    return str(engagement_id), Claims.user(consultant), Claims.user(client), Claims.user(stranger)


def consultant_terms(**changes) -> PlanTerms:
    terms = PlanTerms(
        reason="consultant_capacity",
        discussed_on=TODAY,
        final_session_on=TODAY + timedelta(days=28),
        sessions_remaining=4,
        closing_sessions=1,
        referrals=[{"name": "Dr. External Colleague"}],
    )
    return replace(terms, **changes)


@pytest.fixture
def pair(backend, new_user, embedded_db):
    """A consultant in Tokyo (open all day, no notice, 24 h late threshold) and a client in Berlin."""
    consultant, _ = new_user("zone_c")
    client, _ = new_user("zone_s")
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        conn.execute(
            "update public.profiles set is_consultant = true, fee_usd = 100, timezone = 'Asia/Tokyo', "
            "display_name = 'Kei Consultant' where id = %s",
            (consultant,),
        )
        conn.execute(
            "update public.profiles set timezone = 'Europe/Berlin', display_name = 'Berta Client' where id = %s",
            (client,),
        )
        conn.execute(
            "update public.availability_settings set min_notice_hours = 0, late_cancel_hours = 24, "
            "capacity = 10 where consultant_id = %s",
            (consultant,),
        )
        for weekday in range(1, 8):
            conn.execute(
                "insert into public.weekly_hours (consultant_id, weekday, starts_at, ends_at) "
                "values (%s, %s, '00:00', '23:59')",
                (consultant, weekday),
            )
        request = conn.execute(
            "insert into public.consultation_requests (seeker_id, consultant_id, message, "
            "status) values (%s, %s, 'hi', 'accepted') returning id",
            (client, consultant),
        ).fetchone()[0]
        conn.execute(
            "insert into public.engagements (request_id, seeker_id, consultant_id) values (%s, %s, %s)",
            (request, client, consultant),
        )
        licensed_where_the_clients_live(conn, consultant, client)
    return Claims.user(consultant), Claims.user(client)


def local_text(starts_at: str, zone: str) -> str:
    """How a notification must name the instant for a reader in `zone`."""
    words = "UTC" if zone == "UTC" else f"{zone.rsplit('/', 1)[-1].replace('_', ' ')} time"  # "Tokyo time"
    return f"{datetime.fromisoformat(starts_at).astimezone(ZoneInfo(zone)):%a %d %b at %H:%M} {words}"


def client_terms(**changes) -> PlanTerms:
    return replace(
        PlanTerms(
            reason="goals_met",
            discussed_on=TODAY,
            final_session_on=TODAY + timedelta(days=14),
            sessions_remaining=2,
            closing_sessions=1,
        ),
        **changes,
    )


@pytest.fixture
def agreed_plan(backend, embedded_db):
    """A plan both signed, the client in London and the consultant in New York:
    (consultant username, client username, plan id, consultant name, client name)."""
    consultant_username, client_username = engaged_pair(backend, embedded_db)
    consultant = Claims.user(member_id(backend, consultant_username))
    client = Claims.user(member_id(backend, client_username))
    engagement_id = next(e["id"] for e in my_engagements(backend, consultant) if e["status"] == "active")
    plan_id = start(backend, consultant, engagement_id, consultant_terms(checklist=list(CHECKLIST)))
    propose(backend, consultant, plan_id, expected_version=1)
    sign(backend, client, plan_id, 1)
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        conn.execute("update public.profiles set timezone = %s where id = %s", (NEW_YORK, consultant.sub))
        conn.execute(
            "update public.profiles set timezone = %s, display_name = 'Robin Client' where id = %s",
            (LONDON, client.sub),
        )
        conn.execute("update public.profiles set display_name = 'Casey Consultant' where id = %s", (consultant.sub,))
    yield consultant_username, client_username, plan_id, engagement_id
    with psycopg.connect(embedded_db.owner_conninfo) as conn:  # out of the directory other tests search
        conn.execute("update public.profiles set is_consultant = false where id = %s", (consultant.sub,))
