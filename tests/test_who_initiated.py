"""Who initiated an ending is a fact of the plan (issue 22, item 2), through the RPC API on both databases.

The consultant proposes an ending in 28 days; the client revises it to 35 days with one more closing session: the
plan, as both parties read it (the page's function and the data export), still says the consultant initiated it.
It is derived by the database from who started the plan, whatever a caller sends or writes, and the guardrails keep
their meaning: every version the consultant writes on their own ending meets them (safety aside); a client may
always propose an earlier ending, which the consultant may sign; a consultant cannot shorten a client's ending
below them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from portal.db import APIError, Claims
from portal.db.local import LocalBackend
from tests.care_parties import as_member, engage, register, retire

TODAY = datetime.now(UTC).date()


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
def pair(deployed, made):
    """(consultant, client, engagement id), working together."""
    consultant = register(deployed.owner_conninfo, "Dr. Casey Ending", consultant=True)
    made.append(consultant)
    client = register(deployed.owner_conninfo, "Robin Client")
    return consultant, client, engage(deployed.owner_conninfo, consultant, client)


def terms(days: int, sessions: int, closing: int = 1, *, referral: bool = True, **more) -> dict:
    return {
        "reason": "consultant_capacity",
        "discussed_on": str(TODAY),
        "final_session_on": str(TODAY + timedelta(days=days)),
        "sessions_remaining": sessions,
        "closing_sessions": closing,
        "referrals": [{"name": "Dr. External Colleague"}] if referral else [],
        **more,
    }


def plan(backend, who: Claims, plan_id: str) -> dict:
    return next(p for p in backend.rpc("my_termination_plans", {}, as_user=who) if p["id"] == plan_id)


def exported(backend, who: Claims, plan_id: str) -> tuple[dict, list[dict]]:
    data = backend.rpc("export_my_data", {}, as_user=who)
    mine = next(p for p in data["termination_plans"] if p["id"] == plan_id)
    return mine, [v for v in data["termination_plan_versions"] if v["plan_id"] == plan_id]


def started(backend, who: Claims, engagement: str, version_terms: dict) -> str:
    plan_id = backend.rpc("start_termination_plan", {"p_engagement": engagement, "p_terms": version_terms}, as_user=who)
    backend.rpc("propose_termination_plan", {"p_plan": plan_id, "p_expected_version": 1}, as_user=who)
    return plan_id


def revise(backend, who: Claims, plan_id: str, version_terms: dict, expected: int) -> int:
    return backend.rpc(
        "revise_termination_plan",
        {"p_plan": plan_id, "p_terms": version_terms, "p_expected_version": expected},
        as_user=who,
    )


def refused_fields(call) -> tuple[dict, str]:
    with pytest.raises(APIError) as refused:
        call()
    assert refused.value.code == "P0001"
    return json.loads(refused.value.details), refused.value.hint


def test_a_clients_kinder_revision_leaves_the_ending_the_consultants(backend, pair):
    consultant, client, engagement = pair
    plan_id = started(backend, consultant, engagement, terms(28, 4))
    assert revise(backend, client, plan_id, terms(35, 5, closing=2), 1) == 2
    for who in (consultant, client):  # both parties read the same fact, from the plan
        seen = plan(backend, who, plan_id)
        assert seen["initiated_by"] == "consultant"
        assert all("initiated_by" not in v for v in seen["versions"])
        assert [v["final_session_on"] for v in seen["versions"]][-1] == str(TODAY + timedelta(days=35))
        record, versions = exported(backend, who, plan_id)
        assert record["initiated_by"] == "consultant" and len(versions) == 2
        assert all("initiated_by" not in v for v in versions)
    assert backend.rpc("sign_termination_plan", {"p_plan": plan_id, "p_version": 2}, as_user=consultant) == "agreed"
    assert plan(backend, client, plan_id)["initiated_by"] == "consultant"


def test_a_client_may_propose_an_earlier_ending_the_consultant_may_sign_but_not_write(backend, pair):
    consultant, client, engagement = pair
    plan_id = started(backend, consultant, engagement, terms(28, 4))
    sooner = terms(5, 1, referral=False, reason="client_choice")
    assert revise(backend, client, plan_id, sooner, 1) == 2  # the client's earlier ending: no guardrail applies
    assert backend.rpc("sign_termination_plan", {"p_plan": plan_id, "p_version": 2}, as_user=consultant) == "agreed"
    # The same terms written by the consultant, on their own ending: refused, each rule with what would pass.
    fields, hint = refused_fields(lambda: revise(backend, consultant, plan_id, {**sooner, "aftercare_notes": "x"}, 2))
    assert set(fields) == {"final_session_on", "sessions_remaining", "referrals"}
    assert "client may propose an earlier ending" in hint
    # Safety aside, with its written justification.
    safety = {**sooner, "reason": "safety", "safety_justification": "Threats made in session; board consulted."}
    assert revise(backend, consultant, plan_id, safety, 2) == 3
    assert plan(backend, client, plan_id)["initiated_by"] == "consultant"


def test_a_consultant_cannot_shorten_the_clients_ending_below_the_guardrails(backend, pair):
    consultant, client, engagement = pair
    plan_id = started(backend, client, engagement, terms(40, 4, reason="client_choice", referral=False))
    fields, hint = refused_fields(lambda: revise(backend, consultant, plan_id, terms(10, 4, referral=False), 1))
    assert set(fields) == {"final_session_on", "referrals"}
    asked = TODAY + timedelta(days=40)
    assert f"The client asked to end on {asked.day} {asked:%b %Y} with 4 sessions" in hint
    assert revise(backend, consultant, plan_id, terms(45, 4, referral=False), 1) == 2  # no shorter: the client's
    assert revise(backend, consultant, plan_id, terms(30, 3), 2) == 3  # shorter, within the guardrails
    for who in (consultant, client):
        assert plan(backend, who, plan_id)["initiated_by"] == "client"


def test_no_caller_writes_who_initiated(backend, deployed, pair):
    consultant, client, engagement = pair
    plan_id = started(backend, consultant, engagement, {**terms(28, 4), "initiated_by": "client"})
    assert plan(backend, client, plan_id)["initiated_by"] == "consultant"  # the parameter is not read
    with as_member(deployed.api_conninfo, consultant) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("update public.termination_plans set initiated_by = 'client' where id = %s", (plan_id,))
    with psycopg.connect(deployed.owner_conninfo, autocommit=True) as conn:  # even the owner's write is derived
        conn.execute("update public.termination_plans set initiated_by = 'client' where id = %s", (plan_id,))
    assert plan(backend, consultant, plan_id)["initiated_by"] == "consultant"


def colleagues(count: int) -> list[dict]:
    return [{"name": f"Dr. External Colleague {n}"} for n in range(1, count + 1)]


def test_the_guardrails_members_read_are_the_ones_the_database_enforces(backend, pair):
    """Issue 24, item 2: termination_policy states the numbers once and the Termination page reads them; the
    guardrails refuse a consultant's ending one short of each number and accept each met exactly."""
    consultant, client, engagement = pair
    policy = backend.rpc("termination_policy", {}, as_user=client)
    assert policy == backend.rpc("termination_policy", {}, as_user=consultant)  # the same for every member
    days, sessions, referrals = policy["notice_days"], policy["closing_sessions"], policy["referrals"]
    exactly = terms(days, sessions, referrals=colleagues(referrals))

    def start(version_terms: dict):
        params = {"p_engagement": engagement, "p_terms": version_terms}
        return backend.rpc("start_termination_plan", params, as_user=consultant)

    short_of = {
        "final_session_on": {"final_session_on": str(TODAY + timedelta(days=days - 1))},
        "sessions_remaining": {"sessions_remaining": sessions - 1, "closing_sessions": min(1, sessions - 1)},
        "referrals": {"referrals": colleagues(referrals - 1)},
    }
    for field, short in short_of.items():
        fields, _ = refused_fields(lambda short=short: start({**exactly, **short}))
        assert list(fields) == [field]
    assert f"at least {days} days after" in fields_of(lambda: start({**exactly, **short_of["final_session_on"]}))
    plan_id = start(exactly)  # each number met exactly: accepted

    # Safety is exempt, with a written justification of at least safety_justification_chars characters.
    chars = policy["safety_justification_chars"]
    safety = terms(0, 0, closing=0, referral=False, reason="safety")
    fields, _ = refused_fields(
        lambda: revise(backend, consultant, plan_id, {**safety, "safety_justification": "x" * (chars - 1)}, 1)
    )
    assert list(fields) == ["safety_justification"]
    assert f"at least {chars} characters" in fields["safety_justification"]
    assert revise(backend, consultant, plan_id, {**safety, "safety_justification": "x" * chars}, 1) == 2


def fields_of(call) -> str:
    """The sentences of a refusal, one after another."""
    return " ".join(refused_fields(call)[0].values())


def test_only_members_read_the_termination_policy(backend):
    with pytest.raises(APIError) as refused:
        backend.rpc("termination_policy", {}, as_user=None)
    assert refused.value.code == "42501"
