"""A termination plan waiting 2 days for a signature is recalled to the one who has not signed (#13): once per
version, in the app and in the outbox, naming the plan and the other person; a fresher version, a new version
and a signed one are not recalled. Time passes by moving the author's signature back (as the termination
tests move dates), so every check runs the real functions against the real clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import psycopg
import pytest

from portal.db import SERVICE, Claims
from portal.termination import my_plans, propose, revise, sign, start
from tests.engagement_support import consultant_terms, engagement  # noqa: F401 (engagement: a fixture)

KIND = "plan_awaiting_2_days"


def age_signatures(embedded_db, plan_id: str, *, days: float) -> None:
    """Let `days` pass since the plan's signatures (signatures are a record: the trigger is lifted for this)."""
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        conn.execute("alter table public.termination_signatures disable trigger termination_signatures_immutable")
        conn.execute(
            "update public.termination_signatures set signed_at = signed_at - %s where plan_id = %s",
            (timedelta(days=days), plan_id),
        )
        conn.execute("alter table public.termination_signatures enable trigger termination_signatures_immutable")


def reminders(backend, claims: Claims) -> list[str]:
    return [n["message"] for n in backend.rpc("my_notifications", {}, as_user=claims) if n["kind"] == KIND]


def queued(embedded_db, claims: Claims) -> list[tuple[str, str]]:
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        return conn.execute(
            "select kind, message from private.outbox where recipient_id = %s and kind = %s order by id",
            (claims.sub, KIND),
        ).fetchall()


def sweep(backend) -> int:
    """What the sender does on each poll."""
    return backend.rpc("write_due_reminders", {}, as_user=SERVICE)


@pytest.fixture
def proposed(backend, engagement):  # noqa: F811 (the fixture imported above)
    engagement_id, consultant, client, stranger = engagement
    plan_id = start(backend, consultant, engagement_id, consultant_terms())
    propose(backend, consultant, plan_id, expected_version=1)  # signed by the consultant; the client's turn
    return plan_id, consultant, client, stranger


def test_a_version_waiting_two_days_is_recalled_once_to_the_one_who_has_not_signed(backend, embedded_db, proposed):
    plan_id, consultant, client, _ = proposed
    consultant_name = backend.rpc("get_my_profile", {}, as_user=consultant)["display_name"]
    age_signatures(embedded_db, plan_id, days=2.01)
    sweep(backend)
    sweep(backend)
    my_plans(backend, client)  # the member's own page writes reminders too: still one
    [message] = reminders(backend, client)
    assert message.startswith(f"{consultant_name} has waited 2 days for your signature on the termination plan")
    assert "(version 1, signed by them " in message and message.endswith(" New York time).")  # client's zone
    assert queued(embedded_db, client) == [(KIND, message)]  # and one email queued with it
    assert reminders(backend, consultant) == [] and queued(embedded_db, consultant) == []  # the signer waits


def test_a_version_waiting_less_than_two_days_is_not_recalled(backend, embedded_db, proposed):
    plan_id, _, client, _ = proposed
    age_signatures(embedded_db, plan_id, days=1.9)
    sweep(backend)
    my_plans(backend, client)
    assert reminders(backend, client) == [] and queued(embedded_db, client) == []


def test_a_new_version_is_a_new_wait(backend, embedded_db, proposed):
    plan_id, consultant, client, _ = proposed
    age_signatures(embedded_db, plan_id, days=3)
    sweep(backend)
    assert len(reminders(backend, client)) == 1
    # The client counter-proposes: now the consultant waits, from now; nothing until 2 more days pass.
    revise(
        backend,
        client,
        plan_id,
        consultant_terms(final_session_on=consultant_terms().final_session_on + timedelta(days=7)),
        expected_version=1,
    )
    sweep(backend)
    assert reminders(backend, consultant) == []
    age_signatures(embedded_db, plan_id, days=2.5)
    sweep(backend)
    [message] = reminders(backend, consultant)
    assert "(version 2, " in message and len(reminders(backend, client)) == 1
    # And the consultant changes it again: version 3 is the client's wait, recalled once more after 2 days.
    revise(
        backend,
        consultant,
        plan_id,
        replace(consultant_terms(), aftercare_notes="Monthly check-in"),
        expected_version=2,
    )
    age_signatures(embedded_db, plan_id, days=2.5)
    sweep(backend)
    assert ["(version 3, " in m for m in reminders(backend, client)].count(True) == 1
    assert len(reminders(backend, client)) == 2


def test_a_signed_plan_is_not_recalled(backend, embedded_db, proposed):
    plan_id, _, client, _ = proposed
    assert sign(backend, client, plan_id, 1) == "agreed"
    age_signatures(embedded_db, plan_id, days=5)
    sweep(backend)
    my_plans(backend, client)
    assert reminders(backend, client) == [] and queued(embedded_db, client) == []


def test_a_muted_plans_group_keeps_the_app_notice_and_queues_no_email(backend, embedded_db, proposed):
    from portal.email_choices import save_email_choices

    plan_id, _, client, _ = proposed
    save_email_choices(backend, client, muted=["plans"], summary=False)
    age_signatures(embedded_db, plan_id, days=2.5)
    sweep(backend)
    assert len(reminders(backend, client)) == 1 and queued(embedded_db, client) == []


def test_only_the_sender_runs_the_sweep(backend, proposed, api_conn):
    _, _, client, stranger = proposed
    from portal.db import APIError

    for caller in (client, stranger):
        with pytest.raises(APIError):
            backend.rpc("write_due_reminders", {}, as_user=caller)
    for role in ("anon", "authenticated", "portal_member"):
        allowed = api_conn.execute(
            "select has_function_privilege(%s, 'public.write_due_reminders()', 'execute')", (role,)
        ).fetchone()[0]
        assert not allowed, role
