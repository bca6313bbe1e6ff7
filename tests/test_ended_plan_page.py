"""A termination plan opened by its address (termination?plan=<id>) is never a dead end (#15): a plan that has
ended says when and what that means, with the way back; a plan id that is unknown or not the member's answers
alike (which one is not said), with the same way back."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest

from components.termination_parts import NO_SUCH_PLAN, ended_notice
from portal.db import SERVICE
from portal.local_times import in_zone
from portal.termination import friendly_day
from tests import engagement_support
from tests.mail_support import LONDON, NEW_YORK
from tests.page_support import PAGES, app, no_exceptions, texts
from tests.people_support import make_account

ENDED_AT = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)  # three days ago: a date, not "today"
agreed_plan = engagement_support.agreed_plan  # the fixture, for this module's tests


def user_id(backend, username: str) -> str:
    return str(backend.rpc("auth_get_login", {"p_username": username}, as_user=SERVICE)["id"])


def end_plan(
    embedded_db,
    plan_id: str,
    engagement_id: str,
    status: str,
    reason: str | None = None,
    *,
    engagement_ends: bool = True,
) -> None:
    """Close the plan as completing or withdrawing it does (status, closed, last changed), three days ago."""
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        conn.execute(
            "update public.termination_plans set status = %s, withdraw_reason = %s, closed_at = %s, "
            "updated_at = %s where id = %s",
            (status, reason, ENDED_AT, ENDED_AT, plan_id),
        )
        if engagement_ends:
            conn.execute(
                "update public.engagements set status = 'ended', ended_at = %s where id = %s", (ENDED_AT, engagement_id)
            )


def open_plan(username: str, plan_id: str | None = None, **state):
    at = app(username)
    for name, value in state.items():
        at.session_state[name] = value
    at.run()
    if plan_id is not None:
        at.query_params["plan"] = plan_id
    at.switch_page(PAGES["termination"]).run()
    no_exceptions(at)
    return at


def main_links(at) -> list[str]:
    return [str(link.proto.label) for link in at.main.get("page_link")]


def day_in(zone: str) -> str:
    return friendly_day(in_zone(ENDED_AT, zone).date())


@pytest.mark.parametrize("who", ["client", "consultant"])
def test_a_completed_plan_opened_by_link_says_when_it_ended_and_offers_the_way_back(embedded_db, agreed_plan, who):
    consultant_username, client_username, plan_id, engagement_id = agreed_plan
    end_plan(embedded_db, plan_id, engagement_id, "completed")
    username, zone, other = (
        (client_username, LONDON, "Casey Consultant")
        if who == "client"
        else (consultant_username, NEW_YORK, "Robin Client")
    )
    at = open_plan(username, plan_id)
    assert at.title[0].value == "Termination plans"
    ended = [i for i in texts(at, "info") if i.startswith("This plan ended on")]
    assert ended == [
        f"This plan ended on {day_in(zone)}; the work together with {other} is complete. The plan "
        "stays here for the record: its terms, checklist, signatures and summary."
    ]
    assert main_links(at) == ["All termination plans", "Home"]
    # The plan itself, for the record, with nothing left to do on it.
    assert any(":blue-badge[Completed]" in m for m in texts(at, "markdown"))
    assert not [
        b
        for b in at.button
        if b.key
        and b.key.startswith(f"plan_{plan_id}_")
        and b.key.endswith(("_sign", "_complete", "_propose", "_withdraw"))
    ]
    assert at.query_params.get("plan") in (plan_id, [plan_id])  # the address still names the plan
    assert not at.error


def test_an_unknown_plan_and_someone_elses_read_alike_with_the_way_back(backend, embedded_db, agreed_plan):
    _, _, plan_id, engagement_id = agreed_plan
    end_plan(embedded_db, plan_id, engagement_id, "completed")
    stranger = make_account(backend)
    answers = []
    for asked in (plan_id, str(uuid.uuid4()), "not-a-plan"):
        at = open_plan(stranger, asked)
        assert texts(at, "warning") == [NO_SUCH_PLAN]
        assert main_links(at) == ["All termination plans", "Home"]
        assert not at.error and not at.info
        assert not [m for m in texts(at, "markdown") if "badge[" in m]  # no plan drawn, not even a frame
        answers.append((texts(at, "warning"), texts(at, "caption"), main_links(at)))
    assert answers[0] == answers[1] == answers[2]


def test_a_withdrawn_plan_says_its_terms_are_not_in_force_and_whether_the_work_goes_on(embedded_db, agreed_plan):
    consultant_username, client_username, plan_id, engagement_id = agreed_plan
    end_plan(embedded_db, plan_id, engagement_id, "withdrawn", "We agreed to *keep* going", engagement_ends=False)
    at = open_plan(client_username, plan_id)
    assert [i for i in texts(at, "info") if i.startswith("This plan was withdrawn")] == [
        f"This plan was withdrawn on {day_in(LONDON)} (We agreed to \\*keep\\* going), so none of its terms are in "
        "force. Your work together with Casey Consultant goes on; a new plan can be started under Start a plan."
    ]
    assert main_links(at) == ["All termination plans", "Home"]


def test_an_open_plan_by_link_shows_that_plan_alone_and_the_list_says_when_one_ended(backend, embedded_db, agreed_plan):
    consultant_username, client_username, plan_id, engagement_id = agreed_plan
    at = open_plan(consultant_username, plan_id)
    assert "This plan alone, as its link shows it." in texts(at, "caption")
    assert any(":green-badge[Agreed]" in m for m in texts(at, "markdown"))
    # Still something to do on it: completing it, which opens on the final session's day and says when until then.
    final = datetime.now(UTC).date() + timedelta(days=28)
    assert f"You can mark this plan completed from {friendly_day(final)}, the day of its final session." in texts(
        at, "caption"
    )
    assert f"plan_{plan_id}_complete" not in {b.key for b in at.button}
    assert main_links(at) == ["All termination plans", "Home"]

    # Without an address, the list: an ended plan's card says so too.
    end_plan(embedded_db, plan_id, engagement_id, "completed")
    listed = open_plan(consultant_username)
    assert (
        f"This plan ended on {day_in(NEW_YORK)}; the work together with Robin Client is complete. The plan "
        "stays here for the record: its terms, checklist, signatures and summary." in texts(listed, "caption")
    )
    assert main_links(listed) == []


def test_another_page_can_open_a_plan_through_the_session_and_the_address_follows(embedded_db, agreed_plan):
    _, client_username, plan_id, engagement_id = agreed_plan
    end_plan(embedded_db, plan_id, engagement_id, "completed")
    at = open_plan(client_username, view_plan=plan_id)
    assert any(i.startswith("This plan ended on") for i in texts(at, "info"))
    assert at.query_params.get("plan") in (plan_id, [plan_id])


def test_the_ended_notice_in_words():
    plan = {"status": "completed", "updated_at": "2027-03-14T01:30:00+00:00", "other_name": "Sam"}
    saturday, sunday = friendly_day(date(2027, 3, 13)), friendly_day(date(2027, 3, 14))  # the year unless this one
    # Late on Saturday in New York is already Sunday in London: the reader's own day.
    assert ended_notice(plan, NEW_YORK, still_working_together=False).startswith(f"This plan ended on {saturday};")
    assert ended_notice(plan, LONDON, still_working_together=False).startswith(f"This plan ended on {sunday};")
    withdrawn = {**plan, "status": "withdrawn", "withdraw_reason": "  "}
    assert ended_notice(withdrawn, LONDON, still_working_together=False) == (
        f"This plan was withdrawn on {sunday}, so none of its terms are in force. Your work together with Sam "
        "has ended."
    )


def test_a_plan_withdrawn_by_an_account_closure_says_the_day_it_ended_not_its_last_change(embedded_db, agreed_plan):
    """Closing an account withdraws its plans without touching their last change (updated_at): the page gives the
    day the plan was closed."""
    _, client_username, plan_id, engagement_id = agreed_plan
    end_plan(embedded_db, plan_id, engagement_id, "withdrawn", "Account closed")
    with psycopg.connect(embedded_db.owner_conninfo) as conn:  # last changed long before it was closed
        conn.execute(
            "update public.termination_plans set updated_at = %s where id = %s",
            (ENDED_AT - timedelta(days=40), plan_id),
        )
    at = open_plan(client_username, plan_id)
    [notice] = [i for i in texts(at, "info") if i.startswith("This plan was withdrawn on")]
    assert notice.startswith(f"This plan was withdrawn on {day_in(LONDON)} (Account closed)"), notice


def test_mark_completed_is_offered_from_the_final_sessions_day_and_completes_the_plan(
    backend, embedded_db, agreed_plan
):
    """Issue 26, item 11: not offered and then refused; offered once the database will take it."""
    consultant_username, _, plan_id, _ = agreed_plan
    with psycopg.connect(embedded_db.owner_conninfo) as conn:  # time has passed: the final session is today
        conn.execute("alter table public.termination_plan_versions disable trigger termination_versions_immutable")
        conn.execute(
            "update public.termination_plan_versions set final_session_on = current_date, "
            "discussed_on = current_date - 28 where plan_id = %s",
            (plan_id,),
        )
        conn.execute("alter table public.termination_plan_versions enable trigger termination_versions_immutable")
    at = open_plan(consultant_username, plan_id)
    assert not [c for c in texts(at, "caption") if c.startswith("You can mark this plan completed from")]
    # The summary is a file to download (and print from the browser): its label and icon say so.
    [summary] = [b.proto for b in at.get("download_button") if b.proto.id.endswith(f"plan_{plan_id}_summary")]
    assert (summary.label, summary.icon) == ("Download summary", ":material/download:")
    at.button(key=f"plan_{plan_id}_complete").click().run()
    no_exceptions(at)
    assert "Completed. The engagement is closed." in texts(at, "success")
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        status = conn.execute("select status from public.termination_plans where id = %s", (plan_id,)).fetchone()[0]
    assert status == "completed"
