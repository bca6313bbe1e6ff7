"""Consultation requests and engagements: the journey, capacity, and who sees what."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from portal.appointments import book
from portal.availability import open_slots
from portal.db import APIError, Claims
from portal.refusal import Refusal
from portal.requests import my_requests, request_consultation, respond
from tests.conftest import licensed_where_the_clients_live


@pytest.fixture
def pair(backend, new_user, embedded_db):
    """A seeker and a consultant (capacity 1) with no history; plus a stranger."""
    seeker, _ = new_user("seeker")
    consultant, _ = new_user("consultant")
    stranger, _ = new_user("stranger")
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        conn.execute("update public.profiles set is_consultant = true, fee_usd = 120 where id = %s", (consultant,))
        conn.execute("update public.availability_settings set capacity = 1 where consultant_id = %s", (consultant,))
        licensed_where_the_clients_live(conn, consultant, seeker, stranger)
    return Claims.user(seeker), Claims.user(consultant), Claims.user(stranger)


def test_request_then_accept_creates_an_engagement_and_uses_capacity(backend, pair):
    seeker, consultant, stranger = pair
    sent = request_consultation(backend, seeker, consultant.sub, ["cbt"], "Looking for weekly sessions.")
    assert sent["status"] == "pending"
    inbox = [r for r in my_requests(backend, consultant) if r["direction"] == "received"]
    assert [(r["other_id"], r["status"]) for r in inbox] == [(seeker.sub, "pending")]

    respond(backend, consultant, sent["id"], accept=True)
    outcome = [r for r in my_requests(backend, seeker) if r["direction"] == "sent"]
    assert [(r["other_id"], r["status"]) for r in outcome] == [(consultant.sub, "accepted")]
    assert backend.rpc("get_my_practice", {}, as_user=consultant)["active_clients"] == 1

    # Capacity 1 is now used: nobody else can ask.
    with pytest.raises(Refusal) as full:
        request_consultation(backend, stranger, consultant.sub, [], "Hello, do you have room?")
    assert full.value.field == "capacity"
    assert backend.rpc("consultant_can_take_requests", {"p_consultant": consultant.sub}, as_user=stranger) is False


def test_decline_needs_a_reason_and_the_seeker_sees_it(backend, pair):
    seeker, consultant, _ = pair
    sent = request_consultation(backend, seeker, consultant.sub, [], "Hello")
    with pytest.raises(Refusal) as no_reason:
        respond(backend, consultant, sent["id"], accept=False, reason="  ")
    assert no_reason.value.field == "reason"
    with pytest.raises(APIError) as db_refuses_too:
        backend.rpc(
            "respond_to_request", {"p_request": sent["id"], "p_accept": False, "p_reason": ""}, as_user=consultant
        )
    assert db_refuses_too.value.details == "reason"
    respond(backend, consultant, sent["id"], accept=False, reason="My caseload is full.")
    seen = my_requests(backend, seeker)[0]
    assert (seen["status"], seen["decline_reason"]) == ("declined", "My caseload is full.")
    with pytest.raises(Refusal, match="already answered"):
        respond(backend, consultant, sent["id"], accept=True)


def test_only_the_consultant_answers_and_only_once_pending_per_pair(backend, pair):
    seeker, consultant, stranger = pair
    sent = request_consultation(backend, seeker, consultant.sub, [], "Hello")
    for outsider in (seeker, stranger):
        with pytest.raises(Refusal, match="No such request"):
            respond(backend, outsider, sent["id"], accept=True)
    with pytest.raises(Refusal, match="already have a pending request"):
        request_consultation(backend, seeker, consultant.sub, [], "Hello again")
    with pytest.raises(Refusal, match="yourself"):
        request_consultation(backend, consultant, consultant.sub, [], "Me")


def test_a_consultant_not_accepting_or_a_non_consultant_cannot_be_requested(backend, pair, embedded_db):
    seeker, consultant, stranger = pair
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        conn.execute(
            "update public.availability_settings set accepting_new_clients = false where consultant_id = %s",
            (consultant.sub,),
        )
    with pytest.raises(Refusal) as closed:
        request_consultation(backend, seeker, consultant.sub, [], "Hello")
    assert closed.value.field == "capacity"
    with pytest.raises(Refusal, match="not available"):
        request_consultation(backend, seeker, stranger.sub, [], "You are not a consultant")


def test_strangers_never_see_requests_engagements_or_private_fields(backend, pair, api_conn):
    seeker, consultant, stranger = pair
    sent = request_consultation(backend, seeker, consultant.sub, [], "Private words")
    respond(backend, consultant, sent["id"], accept=True)
    assert my_requests(backend, stranger) == []
    from tests.db_support import act_as, refused

    act_as(api_conn, stranger)
    for table in ("public.consultation_requests", "public.engagements"):
        assert (
            api_conn.execute(
                f"select count(*) from {table} where %s in (seeker_id, consultant_id)", (seeker.sub,)
            ).fetchone()[0]
            == 0
        )
    # The seeker is not a consultant: their profile stays private to the stranger ...
    assert api_conn.execute("select count(*) from public.profiles where id = %s", (seeker.sub,)).fetchone()[0] == 0
    # ... the consultant's public fields are visible, the capacity counter is not.
    assert api_conn.execute("select display_name from public.profiles where id = %s", (consultant.sub,)).fetchone()[0]
    assert refused(api_conn, "select active_clients from public.availability_settings") == "42501"
    assert (
        refused(
            api_conn,
            "insert into public.engagements (request_id, seeker_id, consultant_id) values (%s, %s, %s)",
            (sent["id"], stranger.sub, consultant.sub),
        )
        == "42501"
    )
    # The consultant now sees the seeker's profile, because the seeker asked them.
    act_as(api_conn, consultant)
    assert api_conn.execute("select count(*) from public.profiles where id = %s", (seeker.sub,)).fetchone()[0] == 1


def test_a_blocked_or_missing_consultant_profile_reads_as_not_available(backend, pair):
    seeker, _, stranger = pair
    with pytest.raises(APIError) as missing:
        backend.rpc("get_consultant_profile", {"p_consultant": stranger.sub}, as_user=seeker)
    assert (missing.value.code, missing.value.message) == ("PT404", "This consultant is not available to you.")


def test_a_conflict_declared_after_the_request_stops_the_acceptance(backend, pair):
    seeker, consultant, _ = pair
    sent = request_consultation(backend, seeker, consultant.sub, [], "Hello")
    backend.rpc("add_my_relationship", {"p_kind": "friend", "p_counterpart_id": seeker.sub}, as_user=consultant)
    with pytest.raises(Refusal) as potential:
        respond(backend, consultant, sent["id"], accept=True)
    assert potential.value.field == "conflict" and "waiver" in potential.value.message
    backend.rpc("add_my_relationship", {"p_kind": "family", "p_counterpart_id": consultant.sub}, as_user=seeker)
    with pytest.raises(Refusal) as blocking:
        respond(backend, consultant, sent["id"], accept=True)
    assert "cannot be waived" in blocking.value.message
    assert my_requests(backend, seeker)[0]["status"] == "pending"


def test_a_blocking_conflict_hides_the_consultant_everywhere(backend, pair):
    seeker, consultant, _ = pair
    backend.rpc(
        "add_my_relationship", {"p_kind": "former_therapist", "p_counterpart_id": consultant.sub}, as_user=seeker
    )
    with pytest.raises(Refusal, match="not available"):
        request_consultation(backend, seeker, consultant.sub, [], "Hello")
    with pytest.raises(APIError) as hidden:
        backend.rpc("get_consultant_profile", {"p_consultant": consultant.sub}, as_user=seeker)
    assert hidden.value.message == "This consultant is not available to you."


def test_the_consultant_must_be_licensed_where_the_client_lives_at_every_door(backend, pair, embedded_db):
    """The issue's attempt: a seeker in Quebec opens a consultant licensed elsewhere by link and requests; a
    licence that expires between request and acceptance; a session booked after it expired."""
    seeker, consultant, stranger = pair  # the consultant is licensed in NY only

    def set_home(code):
        with psycopg.connect(embedded_db.owner_conninfo) as conn:
            conn.execute("update public.profiles set home_jurisdiction = %s where id = %s", (code, seeker.sub))

    set_home("QC")
    with pytest.raises(Refusal) as elsewhere:
        request_consultation(backend, seeker, consultant.sub, [], "Hello from Montréal.")
    assert elsewhere.value.field == "jurisdiction"
    assert elsewhere.value.message.startswith("This consultant holds no current licence in Quebec, where you live.")
    set_home(None)
    with pytest.raises(Refusal) as unsaid:
        request_consultation(backend, seeker, consultant.sub, [], "Hello.")
    assert unsaid.value.field == "home_jurisdiction" and "My profile" in unsaid.value.message
    assert [r for r in my_requests(backend, seeker)] == []  # nothing was written

    set_home("NY")
    sent = request_consultation(backend, seeker, consultant.sub, [], "Hello from Brooklyn.")
    request_consultation(backend, stranger, consultant.sub, [], "Hello from Queens.")  # waits for an answer
    inbox = [r for r in my_requests(backend, consultant) if r["direction"] == "received"]
    assert inbox[0]["client_lives_in"] == "New York"
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        conn.execute(
            "update public.licenses set expires_on = current_date - 1 where profile_id = %s", (consultant.sub,)
        )
    with pytest.raises(Refusal) as lapsed:
        respond(backend, consultant, sent["id"], accept=True)
    assert lapsed.value.field == "jurisdiction"
    assert lapsed.value.message.startswith("You hold no current licence in New York, where this client lives.")

    # Accepted while current; then it lapses: sessions of the engagement are still booked, new work is refused.
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        conn.execute(
            "update public.licenses set expires_on = current_date + 30 where profile_id = %s", (consultant.sub,)
        )
    respond(backend, consultant, sent["id"], accept=True)
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        conn.execute(
            "update public.availability_settings set min_notice_hours = 0 where consultant_id = %s", (consultant.sub,)
        )
        conn.execute(
            "insert into public.weekly_hours (consultant_id, weekday, starts_at, ends_at) "
            "select %s, d, '08:00', '18:00' from generate_series(1, 7) d",
            (consultant.sub,),
        )
    slot = open_slots(
        backend,
        seeker,
        consultant.sub,
        datetime.now(UTC).date() + timedelta(days=2),
        datetime.now(UTC).date() + timedelta(days=6),
        seeker.sub,
    )[0]["starts_at"]
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        conn.execute(
            "update public.licenses set expires_on = current_date - 1 where profile_id = %s", (consultant.sub,)
        )
    # New work is what the rule guards: a first session proposed with the waiting request is refused.
    with pytest.raises(Refusal) as refused:
        book(backend, stranger, consultant.sub, slot)
    assert refused.value.code == "jurisdiction"
    assert "your consultant holds no current licence in New York, where you live" in refused.value.message
    # Care already under way continues (issue 22, item 4): either party of the engagement still books.
    assert book(backend, seeker, consultant.sub, slot)["status"] == "requested"
