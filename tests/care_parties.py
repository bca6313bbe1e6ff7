"""The people of an engagement, made on any deployment (`deployed.owner_conninfo`) for tests that call the RPC API
on both databases; and a member's own connection for the table writes their grants allow (what PostgREST does for a
PATCH or DELETE with their token)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import psycopg

from portal.db import Backend, Claims


def register(conninfo: str, name: str, *, consultant: bool = False, home: str = "NY") -> Claims:
    """A fresh member named `name`, living in `home`, registered as the service role would (auth_register)."""
    username = f"care_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(conninfo, autocommit=True) as conn:
        user_id = conn.execute(
            "select public.auth_register(%s, %s, %s, %s)",
            (username, f"{username}@test.example", name, "$2b$12$" + "x" * 53),
        ).fetchone()[0]
        conn.execute(
            "update public.profiles set is_consultant = %s, home_jurisdiction = %s, fee_usd = 120 where id = %s",
            (consultant, home, user_id),
        )
        if consultant:  # licensed in NY, open every day from 08:00 to 20:00, no notice, room for 8 clients
            conn.execute(
                "insert into public.licenses (profile_id, license_type, license_number, jurisdiction, expires_on) "
                "values (%s, 'LCSW', 'NY-1234', 'NY', current_date + 300)",
                (user_id,),
            )
            conn.execute(
                "update public.availability_settings set min_notice_hours = 0 where consultant_id = %s", (user_id,)
            )
            conn.execute(
                "insert into public.weekly_hours (consultant_id, weekday, starts_at, ends_at) "
                "select %s, d, '08:00', '20:00' from generate_series(1, 7) d",
                (user_id,),
            )
    return Claims.user(str(user_id))


def engage(conninfo: str, consultant: Claims, client: Claims) -> str:
    """An active engagement, as an accepted request leaves it."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        request = conn.execute(
            "insert into public.consultation_requests (seeker_id, consultant_id, message, status) "
            "values (%s, %s, 'hello', 'accepted') returning id",
            (client.sub, consultant.sub),
        ).fetchone()[0]
        return str(
            conn.execute(
                "insert into public.engagements (request_id, seeker_id, consultant_id) values (%s, %s, %s) "
                "returning id",
                (request, client.sub, consultant.sub),
            ).fetchone()[0]
        )


def retire(conninfo: str, consultants: list[Claims]) -> None:
    """Test consultants leave the directory when their module ends (later modules count who a search finds); as
    the owner, which no member's rule concerns."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(
            "update public.profiles set is_consultant = false where id = any (%s::uuid[])",
            ([c.sub for c in consultants],),
        )


def open_times(backend: Backend, who: Claims, consultant: Claims, client: Claims, *, days: int = 3) -> list[str]:
    """The consultant's open start times from `days` ahead, as `who` sees them for `client`."""
    start = (datetime.now(UTC) + timedelta(days=days)).date()
    slots = backend.rpc(
        "open_slots",
        {
            "p_consultant": consultant.sub,
            "p_from": str(start),
            "p_to": str(start + timedelta(days=2)),
            "p_client": client.sub,
        },
        as_user=who,
    )
    return [s["starts_at"] for s in slots]


def book(backend: Backend, who: Claims, consultant: Claims, client: Claims, *, days: int = 3) -> dict:
    """`who` (either party) books the first open time `days` ahead; returns the session."""
    other = client if who.sub == consultant.sub else consultant
    starts_at = open_times(backend, who, consultant, client, days=days)[0]
    return backend.rpc("book_appointment", {"p_other": other.sub, "p_starts_at": starts_at}, as_user=who)


@contextmanager
def as_member(conninfo: str, claims: Claims) -> Iterator[psycopg.Connection]:
    """A connection in the member's role with their claims, as PostgREST sets them for a table request; the
    transaction commits when the block ends without an error."""
    with psycopg.connect(conninfo) as conn:
        conn.execute(
            "select set_config('role', %s, true), set_config('request.jwt.claims', %s, true)",
            (claims.role, json.dumps(claims.as_jwt_payload())),
        )
        yield conn


def past_session(conninfo: str, consultant: Claims, client: Claims, *, days_ago: int = 1) -> str:
    """A confirmed 50-minute session of their engagement that started `days_ago` days ago (on the hour), inserted as
    the owner: no one can book one in the past."""
    starts = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=days_ago)
    with psycopg.connect(conninfo) as conn:
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


def username_of(conninfo: str, member: Claims) -> str:
    """The member's sign-in name (register makes one up), read as the owner: a page test signs in with it."""
    with psycopg.connect(conninfo) as conn:
        return conn.execute("select username from private.credentials where user_id = %s", (member.sub,)).fetchone()[0]
