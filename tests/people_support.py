"""Members made for the page and notice suites on the embedded database: accounts, a licensed consultant, an
engaged pair open every day; looking members up and reading their notifications and open times."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import bcrypt

from portal.availability import open_slots
from portal.db import SERVICE, Claims


def make_account(backend, password: str = "Good-pass-123", *, home: str | None = "NY") -> str:
    """A member who (unless `home` is None) has said they live in `home`, where make_consultant's licence is."""
    from portal.db import Claims

    username = f"app_{uuid.uuid4().hex[:8]}"
    user_id = backend.rpc(
        "auth_register",
        {
            "p_username": username,
            "p_email": f"{username}@test.example",
            "p_display_name": "Casey Tester",
            "p_password_hash": bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode(),
        },
        as_user=SERVICE,
    )
    if home:
        backend.rpc("set_my_home_jurisdiction", {"p_jurisdiction": home}, as_user=Claims.user(user_id))
    return username


def make_consultant(backend, embedded_db, *, capacity: int = 3) -> tuple[str, str]:
    import psycopg

    username = make_account(backend)
    user_id = backend.rpc("auth_get_login", {"p_username": username}, as_user=SERVICE)["id"]
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        conn.execute(
            "update public.profiles set is_consultant = true, fee_usd = 130, years_in_practice = 9, "
            "display_name = %s where id = %s",
            (f"Casey {username}", user_id),
        )
        conn.execute(
            "insert into public.licenses (profile_id, license_type, license_number, jurisdiction, "
            "expires_on) values (%s, 'LPC', 'NY-555', 'NY', current_date + 300)",
            (user_id,),
        )
        conn.execute(
            "insert into public.competencies (consultant_id, modality, level, evidence_body) "
            "values (%s, 'ifs', 3, 'IFS Institute')",
            (user_id,),
        )
        conn.execute(
            "update public.availability_settings set capacity = %s where consultant_id = %s", (capacity, user_id)
        )
    return username, user_id


def engaged_pair(backend, embedded_db):
    """A consultant open every day (no notice) with one active client; returns their usernames."""
    import psycopg

    consultant_username, consultant_id = make_consultant(backend, embedded_db)
    client_username = make_account(backend)
    client_id = backend.rpc("auth_get_login", {"p_username": client_username}, as_user=SERVICE)["id"]
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        conn.execute(
            "update public.availability_settings set min_notice_hours = 0 where consultant_id = %s", (consultant_id,)
        )
        for weekday in range(1, 8):
            conn.execute(
                "insert into public.weekly_hours (consultant_id, weekday, starts_at, ends_at) "
                "values (%s, %s, '08:00', '20:00')",
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
    return consultant_username, client_username


def member_id(backend, username: str) -> str:
    return str(backend.rpc("auth_get_login", {"p_username": username}, as_user=SERVICE)["id"])


def first_slot(backend, client: Claims, consultant_id: str, *, after: timedelta = timedelta(hours=2)) -> str:
    today = datetime.now(UTC).date()
    return next(
        s["starts_at"]
        for s in open_slots(backend, client, consultant_id, today, today + timedelta(days=14), client.sub)
        if datetime.fromisoformat(s["starts_at"]) > datetime.now(UTC) + after
    )


def notifications_of(backend, who: Claims, kind: str) -> list[dict]:
    return [n for n in backend.rpc("my_notifications", {}, as_user=who) if n["kind"] == kind]
