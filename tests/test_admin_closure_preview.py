"""What closing an account ends, read before it is closed (issue 26, item 1), through the RPC API on both databases.

admin_closure_preview answers from the rows admin_close_account changes: the preview is checked against what the
closure then really did (each session it listed cancelled and no other, each plan withdrawn, each engagement ended,
each person it named told). A member is refused with the admin functions' sentence, anon by its grants.
"""

from __future__ import annotations

import psycopg
import pytest

from portal.db import APIError, Claims
from portal.db.local import LocalBackend
from tests.care_parties import book, engage, register, retire

QUINN = "Dr. Quinn Closing"
REASON = "Licence suspended by the state board in March."
REASON_WORDS = REASON.removesuffix(".")  # notices quote it in brackets, as a sentence: "(… in March)."


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


@pytest.fixture
def admin(deployed) -> Claims:
    admin = register(deployed.owner_conninfo, "Ada Admin")
    with psycopg.connect(deployed.owner_conninfo, autocommit=True) as conn:
        conn.execute("update private.credentials set is_admin = true where user_id = %s", (admin.sub,))
    return admin


@pytest.fixture
def practice(deployed, backend, made):
    """Quinn, a consultant with two clients (a session ahead each, Ben's second one cancelled already, a draft plan
    with Ana), a seeker whose request waits, and Quinn's own consultant (Quinn is their client)."""
    conninfo = deployed.owner_conninfo
    quinn = register(conninfo, QUINN, consultant=True)
    supervisor = register(conninfo, "Dr. Sol Supervisor", consultant=True)
    made.extend([quinn, supervisor])
    ana, ben, cleo = (register(conninfo, name) for name in ("Ana Diaz", "Ben Okafor", "Cleo Waiting"))
    engagements = {who.sub: engage(conninfo, quinn, who) for who in (ana, ben)}
    engage(conninfo, supervisor, quinn)
    sessions = [book(backend, client, quinn, client)["id"] for client in (ana, ben)]
    dropped = book(backend, ben, quinn, ben, days=6)["id"]
    backend.rpc("cancel_appointment", {"p_appointment": dropped, "p_reason": "Away that week"}, as_user=ben)
    plan = backend.rpc(
        "start_termination_plan",
        {
            "p_engagement": engagements[ana.sub],
            "p_terms": {
                "initiated_by": "client",
                "reason": "goals_met",
                "discussed_on": "2030-01-01",
                "final_session_on": "2030-02-01",
                "sessions_remaining": 3,
                "closing_sessions": 1,
            },
        },
        as_user=ana,
    )
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(
            "insert into public.consultation_requests (seeker_id, consultant_id, message) values (%s, %s, 'Room?')",
            (cleo.sub, quinn.sub),
        )
    return {"quinn": quinn, "ana": ana, "ben": ben, "cleo": cleo, "sessions": sessions, "plan": plan}


def test_the_preview_names_what_closing_ends_and_the_closure_does_exactly_that(backend, admin, practice):
    quinn = practice["quinn"]
    preview = backend.rpc("admin_closure_preview", {"p_member": quinn.sub}, as_user=admin)
    assert preview["member"]["display_name"] == QUINN and preview["member"]["is_consultant"] is True
    assert sorted((e["client"], e["their_client"]) for e in preview["engagements"]) == [
        ("Ana Diaz", True),
        ("Ben Okafor", True),
        (QUINN, False),  # Quinn's own consultant's engagement with them ends too
    ]
    assert sorted(a["id"] for a in preview["sessions"]) == sorted(practice["sessions"])  # not the cancelled one
    assert [(t["id"], t["client"], t["status"]) for t in preview["plans"]] == [(practice["plan"], "Ana Diaz", "draft")]
    assert [(r["seeker"], r["consultant"]) for r in preview["requests"]] == [("Cleo Waiting", QUINN)]
    assert preview["told"] == ["Ana Diaz", "Ben Okafor", "Cleo Waiting", "Dr. Sol Supervisor"]

    backend.rpc("admin_close_account", {"p_user": quinn.sub, "p_reason": REASON}, as_user=admin)
    for client in (practice["ana"], practice["ben"]):
        theirs = {a["id"]: a["status"] for a in backend.rpc("my_appointments", {}, as_user=client)}
        assert {theirs[s["id"]] for s in preview["sessions"] if s["id"] in theirs} == {"cancelled"}
        assert any(REASON_WORDS in n["message"] for n in backend.rpc("my_notifications", {}, as_user=client))
    plans = backend.rpc("my_termination_plans", {}, as_user=practice["ana"])
    assert [p["status"] for p in plans if p["id"] == practice["plan"]] == ["withdrawn"]
    assert any(REASON_WORDS in n["message"] for n in backend.rpc("my_notifications", {}, as_user=practice["cleo"]))


def test_after_the_closure_the_preview_has_nothing_left_to_end(backend, admin, practice):
    quinn = practice["quinn"]
    backend.rpc("admin_close_account", {"p_user": quinn.sub, "p_reason": REASON}, as_user=admin)
    with pytest.raises(APIError) as gone:  # the credentials are gone with the account
        backend.rpc("admin_closure_preview", {"p_member": quinn.sub}, as_user=admin)
    assert (gone.value.code, gone.value.message) == ("PT404", "No such account.")


def test_a_member_is_refused_the_preview_as_other_admin_functions_refuse_them(backend, practice):
    for member in (practice["ana"], practice["quinn"]):
        with pytest.raises(APIError) as refused:
            backend.rpc("admin_closure_preview", {"p_member": practice["quinn"].sub}, as_user=member)
        assert refused.value.code == "42501"
        assert refused.value.message == "Only administrators can see what closing an account ends."


def test_anon_cannot_call_the_preview(backend, practice):
    with pytest.raises(APIError) as refused:
        backend.rpc("admin_closure_preview", {"p_member": practice["quinn"].sub}, as_user=None)
    assert refused.value.code == "42501"
    assert "permission denied" in refused.value.json()["message"]  # Postgres's words; the Refusal words them for people


def test_an_account_is_found_by_its_email_too(backend, deployed, admin, practice):
    email = f"cleo.w.{practice['cleo'].sub[:8]}@clinic.example"  # shares nothing with her name or username
    with psycopg.connect(deployed.owner_conninfo) as conn:
        conn.execute("update private.credentials set email = %s where user_id = %s", (email, practice["cleo"].sub))
    rows = backend.rpc("admin_list_accounts", {"p_query": email.upper()}, as_user=admin)
    assert [(r["id"], r["display_name"]) for r in rows] == [(practice["cleo"].sub, "Cleo Waiting")]
    assert "email" not in rows[0]  # matched, never shown
