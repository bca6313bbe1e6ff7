"""Termination plans: guardrails, versions and signatures, concurrent edits, privacy."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from portal.db import APIError
from portal.refusal import Refusal
from portal.termination import (
    PlanTerms,
    complete,
    completion_opens,
    differences,
    my_plans,
    propose,
    revise,
    save_terms,
    sign,
    start,
    summary_html,
    who_vouched,
    withdraw,
)
from tests import engagement_support
from tests.engagement_support import TODAY, consultant_terms

engagement = engagement_support.engagement  # the fixture, for this module's tests


def plan_of(backend, claims, plan_id):
    return next(p for p in my_plans(backend, claims) if p["id"] == plan_id)


@pytest.mark.parametrize(
    "changes,field,code",
    [
        ({"final_session_on": TODAY + timedelta(days=20)}, "final_session_on", "P0001"),  # under 21 days
        ({"sessions_remaining": 1, "closing_sessions": 1}, "sessions_remaining", "P0001"),  # under 2 sessions
        ({"referrals": []}, "referrals", "P0001"),  # no referral
        (
            {
                "reason": "safety",
                "final_session_on": TODAY,
                "sessions_remaining": 0,
                "closing_sessions": 0,
                "referrals": [],
            },
            "safety_justification",
            "P0001",
        ),  # safety needs a reason
        ({"follow_up_on": TODAY}, "follow_up_on", "P0001"),
    ],
)
def test_guardrails_refuse_a_last_minute_discharge(backend, engagement, changes, field, code):
    engagement_id, consultant, _, _ = engagement
    terms = consultant_terms(**changes)
    with pytest.raises(Refusal) as on_the_page:
        start(backend, consultant, engagement_id, terms)
    assert list(on_the_page.value.fields) == [field]  # the rule that failed, not every rule
    # Straight to the database, calling the ending the client's: the same refusal.
    with pytest.raises(APIError) as in_database:
        backend.rpc(
            "start_termination_plan",
            {"p_engagement": engagement_id, "p_terms": {**terms.as_json(), "initiated_by": "client"}},
            as_user=consultant,
        )
    assert in_database.value.code == code
    # The database names the field itself, in a sentence (issue 22, item 8): never constraint text.
    assert field in json.loads(in_database.value.details) and "violates" not in in_database.value.message


def test_a_consultant_cannot_record_their_ending_as_the_clients(backend, engagement):
    """The issue's attempt: "initiated_by: client", client's choice, final session in 3 days, 1 session, no
    referral. Refused, and the refusal names each rule with what would pass."""
    engagement_id, consultant, client, _ = engagement
    terms = {
        **consultant_terms(
            reason="client_choice",
            final_session_on=TODAY + timedelta(days=3),
            sessions_remaining=1,
            closing_sessions=1,
            referrals=[],
        ).as_json(),
        "initiated_by": "client",
    }
    with pytest.raises(APIError) as refused:
        backend.rpc("start_termination_plan", {"p_engagement": engagement_id, "p_terms": terms}, as_user=consultant)
    fields = json.loads(refused.value.details)
    earliest = TODAY + timedelta(days=21)
    assert set(fields) == {"final_session_on", "sessions_remaining", "referrals"}
    assert fields["final_session_on"].endswith(f"{earliest.day} {earliest:%b %Y} or later.")
    assert "this plan has 1" in fields["sessions_remaining"]
    assert my_plans(backend, client) == []  # nothing was written


def test_a_consultant_cannot_shorten_the_clients_ending_below_the_guardrails(backend, engagement):
    """A client's plan ending in 60 days, revised by the consultant to 3 days: refused (it shortens the client's
    ending below the guardrails). Revised without ending sooner or with fewer sessions, it is accepted; shortened
    within the guardrails, accepted too. The plan stays the client's ending throughout."""
    engagement_id, consultant, client, _ = engagement
    asked = PlanTerms(
        reason="client_choice",
        discussed_on=TODAY,
        final_session_on=TODAY + timedelta(days=60),
        sessions_remaining=4,
        closing_sessions=1,
    )
    plan_id = start(backend, client, engagement_id, asked)
    propose(backend, client, plan_id, expected_version=1)
    with pytest.raises(Refusal) as sooner:
        revise(
            backend, consultant, plan_id, replace(asked, final_session_on=TODAY + timedelta(days=3)), expected_version=1
        )
    assert {"final_session_on", "referrals"} <= set(sooner.value.fields)
    assert plan_of(backend, client, plan_id)["current_version"] == 1

    later = replace(asked, final_session_on=TODAY + timedelta(days=63), aftercare_notes="Check-in by phone.")
    assert revise(backend, consultant, plan_id, later, expected_version=1) == 2
    assert plan_of(backend, client, plan_id)["initiated_by"] == "client"
    assert sign(backend, client, plan_id, 2) == "agreed"

    # Fewer sessions than the client asked for: the guardrails apply (and pass); it is still the client's ending.
    fewer = consultant_terms(final_session_on=TODAY + timedelta(days=63), sessions_remaining=2)
    assert revise(backend, consultant, plan_id, fewer, expected_version=2) == 3
    assert plan_of(backend, client, plan_id)["initiated_by"] == "client"
    assert all("initiated_by" not in v for v in plan_of(backend, client, plan_id)["versions"])


def test_the_page_says_who_vouched_for_the_date_the_ending_was_first_discussed(backend, engagement):
    engagement_id, consultant, client, _ = engagement
    backdated = consultant_terms(discussed_on=TODAY - timedelta(days=30), final_session_on=TODAY + timedelta(days=5))
    plan_id = start(backend, consultant, engagement_id, backdated)
    propose(backend, consultant, plan_id, expected_version=1)
    plan, for_client = plan_of(backend, consultant, plan_id), plan_of(backend, client, plan_id)
    assert "30 days before this plan was started" in who_vouched(plan, plan["versions"][-1], "UTC")
    assert "signature will confirm it" in who_vouched(plan, plan["versions"][-1], "UTC")
    assert "your signature confirms the date" in who_vouched(for_client, for_client["versions"][-1], "UTC")
    assert sign(backend, client, plan_id, 1) == "agreed"
    plan = plan_of(backend, consultant, plan_id)
    assert "confirmed by" in who_vouched(plan, plan["versions"][-1], "UTC")
    # A date on or after the plan's start needs nobody's confirmation.
    plan["versions"][-1]["discussed_on"] = TODAY.isoformat()
    assert who_vouched(plan, plan["versions"][-1], "UTC").endswith("stated by you.")


def test_safety_is_the_only_exception_and_is_flagged_to_both(backend, engagement):
    engagement_id, consultant, client, _ = engagement
    terms = consultant_terms(
        reason="safety",
        final_session_on=TODAY,
        sessions_remaining=1,
        closing_sessions=1,
        referrals=[],
        safety_justification="Threats made in session; consulted the board.",
    )
    plan_id = start(backend, consultant, engagement_id, terms)
    propose(backend, consultant, plan_id, expected_version=1)
    assert sign(backend, client, plan_id, 1) == "agreed"
    for party in (consultant, client):
        assert "plan_safety" in [n["kind"] for n in backend.rpc("my_notifications", {}, as_user=party)]


def test_a_client_may_end_sooner_and_a_closing_session_is_required_to_agree(backend, engagement):
    engagement_id, consultant, client, _ = engagement
    terms = PlanTerms(
        reason="financial",
        discussed_on=TODAY,
        final_session_on=TODAY,
        sessions_remaining=0,
        closing_sessions=0,
    )
    plan_id = start(backend, client, engagement_id, terms)
    with pytest.raises(Refusal, match="closing session"):
        propose(backend, client, plan_id, expected_version=1)
    revise(
        backend,
        client,
        plan_id,
        replace(terms, sessions_remaining=1, closing_sessions=1, final_session_on=TODAY + timedelta(days=7)),
        expected_version=1,
    )
    propose(backend, client, plan_id, expected_version=2)
    assert sign(backend, consultant, plan_id, 2) == "agreed"


def test_propose_counter_propose_agree_change_and_complete(backend, engagement, embedded_db):
    engagement_id, consultant, client, _ = engagement
    plan_id = start(backend, consultant, engagement_id, consultant_terms())
    propose(backend, consultant, plan_id, expected_version=1)
    plan = plan_of(backend, client, plan_id)
    assert plan["status"] == "proposed" and [s["signer"] for s in plan["versions"][0]["signatures"]] == ["other"]

    # The client counter-proposes: a new version signed by them only.
    counter = consultant_terms(final_session_on=TODAY + timedelta(days=42), sessions_remaining=6, closing_sessions=2)
    assert revise(backend, client, plan_id, counter, expected_version=1) == 2
    with pytest.raises(Refusal, match="signing version 1"):
        sign(backend, consultant, plan_id, 1)  # an old version cannot be signed
    assert sign(backend, consultant, plan_id, 2) == "agreed"

    # Changing an agreed plan needs both signatures again.
    revise(
        backend, consultant, plan_id, replace(counter, aftercare_notes="Monthly check-in offered"), expected_version=2
    )
    plan = plan_of(backend, client, plan_id)
    assert plan["status"] == "proposed" and plan["current_version"] == 3
    # Version 2 was the client's, version 3 the consultant's: the ending is still the one the consultant initiated.
    assert [label for label, _, _ in differences(plan["versions"][1], plan["versions"][2])] == ["Aftercare notes"]
    assert plan["initiated_by"] == "consultant"
    assert sign(backend, client, plan_id, 3) == "agreed"

    with pytest.raises(Refusal, match="complete the plan after it"):
        complete(backend, client, plan_id)
    with psycopg.connect(embedded_db.owner_conninfo) as conn:  # let time pass: the final session is behind us
        conn.execute("alter table public.termination_plan_versions disable trigger termination_versions_immutable")
        conn.execute(
            "update public.termination_plan_versions set final_session_on = current_date - 1, "
            "discussed_on = current_date - 43 where plan_id = %s",
            (plan_id,),
        )
        conn.execute("alter table public.termination_plan_versions enable trigger termination_versions_immutable")
    before = backend.rpc("get_my_practice", {}, as_user=consultant)["active_clients"]
    complete(backend, client, plan_id)
    assert backend.rpc("get_my_practice", {}, as_user=consultant)["active_clients"] == before - 1
    assert plan_of(backend, consultant, plan_id)["status"] == "completed"
    html = summary_html(plan_of(backend, client, plan_id), "The Client")
    assert "Signatures on version 3" in html and html.count("<li>") == 2


def test_the_second_of_two_concurrent_edits_is_refused_and_nothing_is_lost(backend, engagement):
    engagement_id, consultant, client, _ = engagement
    plan_id = start(backend, consultant, engagement_id, consultant_terms())
    propose(backend, consultant, plan_id, expected_version=1)
    revise(backend, client, plan_id, consultant_terms(sessions_remaining=5), expected_version=1)
    with pytest.raises(Refusal) as second:
        revise(backend, consultant, plan_id, consultant_terms(sessions_remaining=3), expected_version=1)
    assert second.value.stale and "changed while you were editing" in second.value.message
    versions = plan_of(backend, consultant, plan_id)["versions"]
    assert [v["sessions_remaining"] for v in versions] == [4, 5]


def test_one_save_answers_saved_or_rebased_onto_the_other_partys_version(backend, engagement):
    """Issue 24, item 3: a save the other party's newer version refuses is one core call that answers with the
    draft moved onto that version (their change kept, yours re-applied), nothing saved; saving that answers saved."""
    engagement_id, consultant, client, _ = engagement
    plan_id = start(backend, consultant, engagement_id, consultant_terms())
    propose(backend, consultant, plan_id, expected_version=1)
    drawn = plan_of(backend, consultant, plan_id)  # the consultant's page, drawn from version 1
    revise(backend, client, plan_id, consultant_terms(sessions_remaining=5), expected_version=1)

    mine = consultant_terms(aftercare_notes="Email in spring")
    moved = save_terms(backend, consultant, drawn, mine, started_version=1)
    assert not moved.saved and moved.version is None and moved.started_version == 1
    assert moved.plan["current_version"] == 2 and [v["version"] for v in moved.plan["versions"]] == [1, 2]
    assert moved.rebased.terms == consultant_terms(sessions_remaining=5, aftercare_notes="Email in spring")
    assert [v["sessions_remaining"] for v in plan_of(backend, consultant, plan_id)["versions"]] == [4, 5]

    saved = save_terms(backend, consultant, moved.plan, moved.rebased.terms, started_version=2)
    assert saved.saved and saved.version == 3 and saved.rebased is None
    latest = plan_of(backend, consultant, plan_id)["versions"][-1]
    assert (latest["sessions_remaining"], latest["aftercare_notes"]) == (5, "Email in spring")
    with pytest.raises(Refusal) as other:  # any other refusal is raised, not rebased
        save_terms(backend, consultant, moved.plan, replace(mine, reason="nonsense"), started_version=3)
    assert other.value.fields == {"reason": "Choose a reason."}


def test_completing_opens_on_the_final_sessions_day():
    plan = {"versions": [{"final_session_on": "2027-01-15"}]}
    assert completion_opens(plan, datetime(2027, 1, 14, tzinfo=UTC).date()).isoformat() == "2027-01-15"
    assert completion_opens(plan, datetime(2027, 1, 15, tzinfo=UTC).date()) is None


def test_versions_are_immutable_and_nobody_signs_for_the_other(backend, engagement, api_conn):
    engagement_id, consultant, client, stranger = engagement
    plan_id = start(backend, consultant, engagement_id, consultant_terms())
    propose(backend, consultant, plan_id, expected_version=1)
    from tests.db_support import act_as, refused

    act_as(api_conn, client)
    assert refused(api_conn, "update public.termination_plan_versions set sessions_remaining = 9") == "42501"
    assert (
        refused(
            api_conn,
            "insert into public.termination_signatures (plan_id, version, signer_id) values (%s, 1, %s)",
            (plan_id, consultant.sub),
        )
        == "42501"
    )
    # The function signs only for its caller.
    assert sign(backend, client, plan_id, 1) == "agreed"
    signers = {s["signer"] for s in plan_of(backend, client, plan_id)["versions"][0]["signatures"]}
    assert signers == {"me", "other"}


def test_strangers_see_no_plan_and_cannot_act_on_one(backend, engagement, api_conn):
    engagement_id, consultant, _, stranger = engagement
    plan_id = start(backend, consultant, engagement_id, consultant_terms())
    assert my_plans(backend, stranger) == []
    for action in (
        lambda: propose(backend, stranger, plan_id, expected_version=1),
        lambda: sign(backend, stranger, plan_id, 1),
        lambda: withdraw(backend, stranger, plan_id, "not mine"),
        lambda: start(backend, stranger, engagement_id, consultant_terms()),
    ):
        with pytest.raises(Refusal, match="No such"):
            action()
    from tests.db_support import act_as

    act_as(api_conn, stranger)
    for table in ("termination_plans", "termination_plan_versions", "termination_signatures"):
        assert api_conn.execute(f"select count(*) from public.{table}").fetchone()[0] == 0, table


def test_one_open_plan_per_engagement_and_withdrawal(backend, engagement):
    engagement_id, consultant, client, _ = engagement
    plan_id = start(backend, consultant, engagement_id, consultant_terms())
    with pytest.raises(Refusal, match="already an open termination plan"):
        start(
            backend,
            client,
            engagement_id,
            PlanTerms(reason="other", discussed_on=TODAY, final_session_on=TODAY, sessions_remaining=1),
        )
    with pytest.raises(Refusal, match="Say why"):
        withdraw(backend, client, plan_id, " ")
    withdraw(backend, client, plan_id, "We agreed to continue after all.")
    assert plan_of(backend, consultant, plan_id)["status"] == "withdrawn"
    start(
        backend,
        client,
        engagement_id,
        PlanTerms(
            reason="goals_met",
            discussed_on=TODAY,
            final_session_on=TODAY + timedelta(days=14),
            sessions_remaining=2,
        ),
    )


def test_reminders_are_written_once(backend, engagement):
    engagement_id, consultant, client, _ = engagement
    plan_id = start(backend, consultant, engagement_id, consultant_terms())
    propose(backend, consultant, plan_id, expected_version=1)
    my_plans(backend, client)
    my_plans(backend, client)
    kinds = [n["kind"] for n in backend.rpc("my_notifications", {}, as_user=client)]
    # One event, one notice: the proposal says it awaits the client's signature; no reminder repeats it.
    assert kinds.count("plan_proposed") == 1 and kinds.count("plan_awaiting") == 0
