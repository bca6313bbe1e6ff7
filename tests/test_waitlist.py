"""The waitlist for consultants who are full (issue 26, item 13), through the RPC API on both databases.

A seeker who finds a consultant full or not taking new clients asks to be told when there is room; they renew the
wait (it expires after 60 days) or leave it. When room opens, at any door (capacity raised, intake reopened, an
engagement ended by either party or by an account's closure, "I offer consultation" back on, through the page's
function or the member's own table write), those waiting are told in the order they asked, each screened as a
request would be, once; by a notice and an email that opens the consultant's profile. The consultant reads how many
wait, never who; nobody else reads anything (also through a real PostgREST with members' tokens).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest

from portal.db import APIError, Claims
from portal.db.local import LocalBackend
from portal.email_messages import build_message
from tests.care_parties import as_member, engage, register, retire
from tests.member_api import Api

PROFILE_WORDS = "has room for a new client again, as you asked to be told"


@pytest.fixture(scope="module")
def backend(deployed):
    b = LocalBackend(deployed.api_conninfo)
    yield b
    b.close()


@pytest.fixture(scope="module")
def made(deployed):
    consultants: list[Claims] = []
    yield consultants
    retire(deployed.owner_conninfo, consultants)


def owner_sql(deployed, statement: str, *params):
    with psycopg.connect(deployed.owner_conninfo, autocommit=True) as conn:
        cursor = conn.execute(statement, params)
        return cursor.fetchall() if cursor.description else None


@pytest.fixture
def full(deployed, made) -> tuple[Claims, Claims]:
    """(consultant, their one client): capacity 1, reached."""
    consultant = register(deployed.owner_conninfo, "Dr. Fern Full", consultant=True)
    made.append(consultant)
    client = register(deployed.owner_conninfo, "Cleo Client")
    engage(deployed.owner_conninfo, consultant, client)
    owner_sql(deployed, "update public.availability_settings set capacity = 1 where consultant_id = %s", consultant.sub)
    return consultant, client


def seekers(deployed, *names: str, home: str = "NY") -> list[Claims]:
    return [register(deployed.owner_conninfo, name, home=home) for name in names]


def join(backend, seeker: Claims, consultant: Claims) -> dict:
    return backend.rpc("join_waitlist", {"p_consultant": consultant.sub}, as_user=seeker)


def told(backend, who: Claims) -> list[dict]:
    return [n for n in backend.rpc("my_notifications", {}, as_user=who) if n["kind"] == "room_opened"]


def my_wait(backend, seeker: Claims, consultant: Claims) -> dict | None:
    return next((w for w in backend.rpc("my_waits", {}, as_user=seeker) if w["consultant_id"] == consultant.sub), None)


def count(backend, consultant: Claims) -> int:
    return backend.rpc("my_waitlist_count", {}, as_user=consultant)


def raise_capacity(backend, consultant: Claims, capacity: int = 2, *, accepting: bool = True) -> None:
    version = backend.rpc("get_my_practice", {}, as_user=consultant)["intake"]["version"]
    backend.rpc(
        "save_my_practice",
        {"p_competencies": [], "p_accepting": accepting, "p_capacity": capacity, "p_expected_version": version},
        as_user=consultant,
    )


def when(value: str) -> datetime:
    return datetime.fromisoformat(value)


# --- join, renew, leave -----------------------------------------------------------------------------------------------


def test_a_seeker_joins_renews_and_leaves(backend, deployed, full):
    consultant, _ = full
    (sam,) = seekers(deployed, "Sam Seeker")
    wait = join(backend, sam, consultant)
    assert (wait["state"], wait["told_at"], wait["has_room"]) == ("waiting", None, False)
    assert when(wait["expires_at"]) - when(wait["asked_at"]) == timedelta(days=60)
    assert join(backend, sam, consultant)["asked_at"] == wait["asked_at"]  # asking twice keeps the place
    owner_sql(
        deployed,
        "update public.waitlist set asked_at = now() - interval '50 days', expires_at = now() + interval '10 days' "
        "where seeker_id = %s",
        sam.sub,
    )
    renewed = backend.rpc("renew_my_wait", {"p_consultant": consultant.sub}, as_user=sam)
    assert when(renewed["expires_at"]) > datetime.now(UTC) + timedelta(days=59)
    assert when(renewed["asked_at"]) < datetime.now(UTC) - timedelta(days=49)  # renewing keeps the place in line
    assert count(backend, consultant) == 1
    assert backend.rpc("leave_waitlist", {"p_consultant": consultant.sub}, as_user=sam) is True
    assert my_wait(backend, sam, consultant) is None and count(backend, consultant) == 0
    assert backend.rpc("leave_waitlist", {"p_consultant": consultant.sub}, as_user=sam) is False
    with pytest.raises(APIError) as refused:
        backend.rpc("renew_my_wait", {"p_consultant": consultant.sub}, as_user=sam)
    assert (refused.value.code, refused.value.details) == ("P0001", "waitlist")
    assert refused.value.message == "You are not on this consultant's waitlist."


def test_joining_is_refused_as_a_request_would_be_and_while_there_is_room(backend, deployed, full, made):
    consultant, client = full
    (far,) = seekers(deployed, "Fay Faraway", home="CA")
    refusals = {
        "own consultant": (client, consultant.sub),
        "themselves": (consultant, consultant.sub),
        "no licence where they live": (far, consultant.sub),
    }
    got = {}
    for case, (who, target) in refusals.items():
        with pytest.raises(APIError) as refused:
            backend.rpc("join_waitlist", {"p_consultant": target}, as_user=who)
        got[case] = (refused.value.code, refused.value.details, refused.value.message)
    assert got == {
        "own consultant": ("P0001", "consultant", "You already work with this consultant."),
        "themselves": ("P0001", "consultant", "You cannot request a consultation with yourself."),
        "no licence where they live": (
            "P0001",
            "jurisdiction",
            "This consultant holds no current licence in California, where you live.",
        ),
    }
    roomy = register(deployed.owner_conninfo, "Dr. Roomy", consultant=True)
    made.append(roomy)
    (sam,) = seekers(deployed, "Sam Seeker")
    with pytest.raises(APIError) as refused:
        join(backend, sam, roomy)
    assert (refused.value.details, refused.value.message) == (
        "capacity",
        "This consultant has room now: send them a request instead of waiting.",
    )
    (blocked,) = seekers(deployed, "Bea Sister")
    backend.rpc("add_my_relationship", {"p_kind": "family", "p_counterpart_id": consultant.sub}, as_user=blocked)
    with pytest.raises(APIError) as hidden:
        join(backend, blocked, consultant)
    assert (hidden.value.code, hidden.value.message) == ("PT404", "This consultant is not available to you.")


# --- telling ----------------------------------------------------------------------------------------------------------


def test_the_waiting_are_told_in_the_order_they_asked_and_once(backend, deployed, full):
    consultant, _ = full
    first, second, third = seekers(deployed, "Ann First", "Ben Second", "Cy Third")
    for seeker in (second, first, third):
        join(backend, seeker, consultant)
    # The order asked, set apart by minutes (joins in one test run share the clock's resolution only).
    for minutes, seeker in ((30, first), (20, second), (10, third)):
        owner_sql(
            deployed,
            "update public.waitlist set asked_at = now() - make_interval(mins => %s) where seeker_id = %s",
            minutes,
            seeker.sub,
        )
    raise_capacity(backend, consultant, 2)
    rows = owner_sql(
        deployed,
        "select recipient_id::text, page from private.outbox where kind = 'room_opened' "
        "and recipient_id = any (%s::uuid[]) order by id",
        [s.sub for s in (first, second, third)],
    )
    assert rows == [(s.sub, f"consultant?id={consultant.sub}") for s in (first, second, third)]
    for seeker in (first, second, third):
        (notice,) = told(backend, seeker)
        assert notice["message"].startswith(f"Dr. Fern Full {PROFILE_WORDS}")
        assert my_wait(backend, seeker, consultant)["state"] == "told"
    assert count(backend, consultant) == 0
    raise_capacity(backend, consultant, 3)  # a second opening tells nobody twice
    assert [len(told(backend, s)) for s in (first, second, third)] == [1, 1, 1]


def test_no_one_is_told_about_a_consultant_they_could_not_ask(backend, deployed, full):
    consultant, _ = full
    eligible, conflicted, moved, engaged_elsewhere = seekers(deployed, "Eli Able", "Con Flict", "Mo Ved", "Pen Ding")
    for seeker in (eligible, conflicted, moved, engaged_elsewhere):
        join(backend, seeker, consultant)
    # After joining: a blocking conflict declared, a move out of the licence, and a pending request (made as the
    # owner: a full consultant takes none through the page).
    backend.rpc("add_my_relationship", {"p_kind": "supervisor", "p_counterpart_id": consultant.sub}, as_user=conflicted)
    owner_sql(deployed, "update public.profiles set home_jurisdiction = 'CA' where id = %s", moved.sub)
    owner_sql(
        deployed,
        "insert into public.consultation_requests (seeker_id, consultant_id, message) values (%s, %s, 'Hello')",
        engaged_elsewhere.sub,
        consultant.sub,
    )
    raise_capacity(backend, consultant, 2)
    assert len(told(backend, eligible)) == 1
    assert [told(backend, s) for s in (conflicted, moved, engaged_elsewhere)] == [[], [], []]
    assert [my_wait(backend, s, consultant)["state"] for s in (conflicted, moved)] == ["waiting", "waiting"]


def test_a_wait_expires_after_60_days_unless_renewed(backend, deployed, full):
    consultant, _ = full
    old, fresh = seekers(deployed, "Old Wait", "New Wait")
    for seeker in (old, fresh):
        join(backend, seeker, consultant)
    owner_sql(
        deployed,
        "update public.waitlist set asked_at = now() - interval '61 days', "
        "expires_at = now() - interval '1 day' where seeker_id = %s",
        old.sub,
    )
    assert my_wait(backend, old, consultant)["state"] == "expired"
    assert count(backend, consultant) == 1
    with pytest.raises(APIError) as refused:
        backend.rpc("renew_my_wait", {"p_consultant": consultant.sub}, as_user=old)
    assert refused.value.details == "waitlist"
    assert refused.value.message.startswith("Your wait ended on ") and "ask again" in refused.value.message
    raise_capacity(backend, consultant, 2)
    assert (len(told(backend, old)), len(told(backend, fresh))) == (0, 1)


def test_the_flood_cap_holds_without_refusing_the_change_that_opened_room(backend, deployed, full):
    """A consultant who has reached a waiting seeker 20 times today tells them nothing more today: the capacity
    change goes through, the seeker keeps waiting and is told at the next opening the cap allows."""
    consultant, _ = full
    (sam,) = seekers(deployed, "Sam Seeker")
    join(backend, sam, consultant)
    owner_sql(
        deployed,
        "insert into private.pair_deliveries (sender, recipient, what, on_day, actions) "
        "values (%s, %s, 'notices', (now() at time zone 'utc')::date, 20)",
        consultant.sub,
        sam.sub,
    )
    raise_capacity(backend, consultant, 2)
    assert backend.rpc("get_my_practice", {}, as_user=consultant)["intake"]["capacity"] == 2
    assert told(backend, sam) == [] and my_wait(backend, sam, consultant)["state"] == "waiting"
    owner_sql(deployed, "delete from private.pair_deliveries where sender = %s", consultant.sub)  # a new day
    raise_capacity(backend, consultant, 3)
    assert len(told(backend, sam)) == 1


def test_a_seeker_waits_for_at_most_20_consultants_at_once(backend, deployed, full):
    consultant, _ = full
    (sam,) = seekers(deployed, "Sam Many")
    others = [register(deployed.owner_conninfo, f"Dr. Other {n}") for n in range(20)]
    owner_sql(
        deployed,
        "insert into public.waitlist (seeker_id, consultant_id) select %s, unnest(%s::uuid[])",
        sam.sub,
        [other.sub for other in others],
    )
    with pytest.raises(APIError) as refused:
        join(backend, sam, consultant)
    assert (refused.value.code, refused.value.details) == ("P0001", "waitlist")
    assert refused.value.message.startswith("You are waiting for 20 consultants already")
    backend.rpc("leave_waitlist", {"p_consultant": others[0].sub}, as_user=sam)
    assert join(backend, sam, consultant)["state"] == "waiting"


# --- every door that frees room tells ---------------------------------------------------------------------------------


def end_by_plan(backend, deployed, consultant: Claims, client: Claims, completer: str) -> None:
    engagement = next(e["id"] for e in backend.rpc("my_engagements", {}, as_user=client) if e["status"] == "active")
    today = datetime.now(UTC).date()
    terms = {
        "reason": "consultant_capacity",
        "discussed_on": str(today),
        "final_session_on": str(today + timedelta(days=28)),
        "sessions_remaining": 2,
        "closing_sessions": 1,
        "referrals": [{"name": "Dr. External Colleague"}],
    }
    plan = backend.rpc("start_termination_plan", {"p_engagement": engagement, "p_terms": terms}, as_user=consultant)
    backend.rpc("propose_termination_plan", {"p_plan": plan, "p_expected_version": 1}, as_user=consultant)
    backend.rpc("sign_termination_plan", {"p_plan": plan, "p_version": 1}, as_user=client)
    with psycopg.connect(deployed.owner_conninfo, autocommit=True) as conn:  # time passes: the final date is behind
        conn.execute("alter table public.termination_plan_versions disable trigger termination_versions_immutable")
        conn.execute(
            "update public.termination_plan_versions set discussed_on = current_date - 30, "
            "final_session_on = current_date - 1 where plan_id = %s",
            (plan,),
        )
        conn.execute("alter table public.termination_plan_versions enable trigger termination_versions_immutable")
    backend.rpc("complete_termination_plan", {"p_plan": plan}, as_user=client if completer == "client" else consultant)


def direct_write(deployed, who: Claims, statement: str) -> None:
    """The member's own table write, as PostgREST runs a PATCH with their token."""
    with as_member(deployed.api_conninfo, who) as conn:
        conn.execute(statement, (who.sub,))


def username(deployed, who: Claims) -> str:
    return owner_sql(deployed, "select username from private.credentials where user_id = %s", who.sub)[0][0]


DOORS: dict[str, Callable] = {
    "capacity raised on My practice": lambda backend, deployed, c, client: raise_capacity(backend, c, 2),
    "capacity raised by a table write": lambda backend, deployed, c, client: direct_write(
        deployed, c, "update public.availability_settings set capacity = 2 where consultant_id = %s"
    ),
    "the client completes the plan": lambda backend, deployed, c, client: end_by_plan(
        backend, deployed, c, client, "client"
    ),
    "the consultant completes the plan": lambda backend, deployed, c, client: end_by_plan(
        backend, deployed, c, client, "consultant"
    ),
    "the client closes their account": lambda backend, deployed, c, client: backend.rpc(
        "delete_my_account", {"p_confirm_username": username(deployed, client)}, as_user=client
    ),
}


@pytest.mark.parametrize("door", sorted(DOORS))
def test_every_door_that_frees_a_place_tells_the_waiting(backend, deployed, full, door):
    consultant, client = full
    (sam,) = seekers(deployed, "Sam Seeker")
    join(backend, sam, consultant)
    DOORS[door](backend, deployed, consultant, client)
    assert [n["page"] for n in told(backend, sam)] == [f"consultant?id={consultant.sub}"]


REOPENINGS: dict[str, Callable] = {
    "intake reopened on My practice": lambda backend, deployed, c: raise_capacity(backend, c, 8, accepting=True),
    "intake reopened by a table write": lambda backend, deployed, c: direct_write(
        deployed, c, "update public.availability_settings set accepting_new_clients = true where consultant_id = %s"
    ),
}


@pytest.mark.parametrize("door", sorted(REOPENINGS))
def test_intake_reopened_tells_the_waiting(backend, deployed, made, door):
    consultant = register(deployed.owner_conninfo, "Dr. Closed Intake", consultant=True)
    made.append(consultant)
    raise_capacity(backend, consultant, 8, accepting=False)
    (sam,) = seekers(deployed, "Sam Seeker")
    join(backend, sam, consultant)
    REOPENINGS[door](backend, deployed, consultant)
    assert len(told(backend, sam)) == 1


def test_offering_consultation_again_tells_the_waiting(backend, deployed, made):
    consultant = register(deployed.owner_conninfo, "Dr. Back Soon", consultant=True)
    made.append(consultant)
    raise_capacity(backend, consultant, 8, accepting=False)
    (sam,) = seekers(deployed, "Sam Seeker")
    join(backend, sam, consultant)
    direct_write(deployed, consultant, "update public.profiles set is_consultant = false where id = %s")
    raise_capacity(backend, consultant, 8, accepting=True)  # room, but not offering: nobody told
    assert told(backend, sam) == []
    direct_write(deployed, consultant, "update public.profiles set is_consultant = true where id = %s")
    assert len(told(backend, sam)) == 1


def test_a_request_ends_the_wait(backend, deployed, full):
    consultant, _ = full
    (sam,) = seekers(deployed, "Sam Seeker")
    join(backend, sam, consultant)
    raise_capacity(backend, consultant, 2)
    assert my_wait(backend, sam, consultant)["state"] == "told"
    backend.rpc(
        "request_consultation", {"p_consultant": consultant.sub, "p_modalities": [], "p_message": "Hi"}, as_user=sam
    )
    assert my_wait(backend, sam, consultant) is None


# --- who sees what ----------------------------------------------------------------------------------------------------


def test_the_consultant_sees_a_count_and_nobody_else_sees_anything(backend, deployed, full):
    consultant, client = full
    sam, sue = seekers(deployed, "Sam Seeker", "Sue Seeker")
    (stranger,) = seekers(deployed, "Stan Stranger")
    for seeker in (sam, sue):
        join(backend, seeker, consultant)
    assert count(backend, consultant) == 2
    assert count(backend, stranger) == 0 and count(backend, sam) == 0
    for who in (consultant, client, stranger):
        assert backend.rpc("my_waits", {}, as_user=who) == []
        with as_member(deployed.api_conninfo, who) as conn:
            assert conn.execute("select count(*) from public.waitlist").fetchone()[0] == 0
    with as_member(deployed.api_conninfo, sam) as conn:
        assert conn.execute("select seeker_id::text from public.waitlist").fetchall() == [(sam.sub,)]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("insert into public.waitlist (seeker_id, consultant_id) values (%s, %s)", (sam.sub, sue.sub))


@pytest.fixture(scope="module")
def http(postgrest):
    with httpx.Client(base_url=postgrest.url, timeout=60.0) as client:
        yield client


def test_through_postgrest_only_the_seeker_reads_their_wait(backend, deployed, postgrest, http, full):
    consultant, _ = full
    (sam,) = seekers(deployed, "Sam Seeker")
    (stranger,) = seekers(deployed, "Stan Stranger")
    as_sam, as_consultant, as_stranger = (Api(http, postgrest.jwt_secret, w.sub) for w in (sam, consultant, stranger))
    assert as_sam.ok("join_waitlist", {"p_consultant": consultant.sub})["state"] == "waiting"
    assert [w["consultant_id"] for w in as_sam.ok("my_waits")] == [consultant.sub]
    assert as_consultant.ok("my_waitlist_count") == 1
    for api in (as_consultant, as_stranger):
        assert api.get("waitlist", select="seeker_id").json() == []
        assert api.ok("my_waits") == []
    assert [r["seeker_id"] for r in as_sam.get("waitlist", select="seeker_id").json()] == [sam.sub]
    assert as_sam.post("waitlist", [{"seeker_id": sam.sub, "consultant_id": stranger.sub}]).status_code in (401, 403)
    for fn in ("my_waits", "my_waitlist_count", "join_waitlist"):
        anon = http.post(f"/rpc/{fn}", json={"p_consultant": consultant.sub} if fn == "join_waitlist" else {})
        assert anon.status_code in (401, 403), (fn, anon.status_code)
    assert http.get("/waitlist").status_code in (401, 403)
    renewed = as_sam.rpc("renew_my_wait", {"p_consultant": stranger.sub})
    assert renewed.status_code == 400 and renewed.json()["details"] == "waitlist"


# --- the email --------------------------------------------------------------------------------------------------------


def test_the_email_says_what_happened_and_opens_the_profile():
    row = {
        "id": 7,
        "kind": "room_opened",
        "page": "consultant?id=0b6c3c9e-0000-4000-8000-000000000001",
        "message": f"Dr. Fern Full {PROFILE_WORDS}. Send them a request from their profile while the place is open.",
        "recipient_name": "Sam Seeker",
        "recipient_email": "sam@test.example",
    }
    message = build_message(row, sender="Portal <no-reply@portal.example>", base_url="https://portal.example/")
    assert message["Subject"] == "A consultant you are waiting for has room for a new client"
    text = message.get_body(("plain",)).get_content()
    assert "https://portal.example/consultant?id=0b6c3c9e-0000-4000-8000-000000000001" in text
    assert "Open their profile" in text


def test_the_export_holds_my_waits_and_the_consultants_holds_none(backend, deployed, full):
    consultant, _ = full
    (sam,) = seekers(deployed, "Sam Exporter")
    join(backend, sam, consultant)
    mine = backend.rpc("export_my_data", {}, as_user=sam)
    assert [w["consultant_id"] for w in mine["waitlist"]] == [consultant.sub]
    assert {"id": consultant.sub, "display_name": "Dr. Fern Full"} in mine["people"]
    theirs = backend.rpc("export_my_data", {}, as_user=consultant)
    assert theirs["waitlist"] == [] and sam.sub not in str(theirs)
