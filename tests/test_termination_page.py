"""Termination plans page: a save against an old version never undoes the other person's change; the summary
shows where the checklist stands and times in the reader's zone; dates read like the rest of the app; the new
plan's checklist reads as steps to include, not steps done."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest

import portal.termination
from portal.db import SERVICE, Claims
from portal.requests import my_engagements
from portal.termination import (
    CHECKLIST,
    PlanTerms,
    friendly_day,
    my_plans,
    propose,
    rebase,
    revise,
    start,
    summary_html,
    termination_policy,
    tick,
)
from tests.engagement_support import consultant_terms
from tests.page_support import PAGES, app, keyed, no_exceptions, texts
from tests.people_support import engaged_pair

TODAY = datetime.now(UTC).date()
CHANGED = "changed while you were editing"


def app_style(day: date) -> str:
    """How the rest of the app writes a date: 'Thu 24 Dec', with the year when it is not this year."""
    return f"{day:%a %d %b}" if day.year == TODAY.year else f"{day:%a %d %b %Y}"


def version(terms: PlanTerms, number: int, **extra) -> dict:
    """A version as my_termination_plans returns it."""
    return {**terms.as_json(), "version": number, "author_is_me": False, "signatures": [], **extra}


# --- the three-way merge behind a refused save (headless) ----------------------------------


def test_a_term_you_did_not_touch_takes_the_newer_version_and_your_edit_is_kept():
    started = version(consultant_terms(), 1)
    theirs = version(consultant_terms(sessions_remaining=3), 2)
    mine = consultant_terms(aftercare_notes="Check in by email in spring")
    moved = rebase(started, theirs, mine)
    assert moved.terms.sessions_remaining == 3  # the other person's change is not undone
    assert moved.terms.aftercare_notes == "Check in by email in spring"  # nor is yours
    assert moved.terms == consultant_terms(sessions_remaining=3, aftercare_notes="Check in by email in spring")
    assert moved.clashes == [] and moved.changed_since
    assert [(r.label, r.started, r.latest, r.draft, r.change) for r in moved.rows] == [
        ("Sessions remaining", "4", "3", "3", "theirs"),
        ("Aftercare notes", "—", "—", "Check in by email in spring", "yours"),
    ]


def test_a_term_both_changed_differently_keeps_yours_and_is_named():
    started = version(consultant_terms(), 1)
    theirs = version(consultant_terms(sessions_remaining=3, reason_notes="Moving away"), 2)
    mine = consultant_terms(sessions_remaining=6)
    moved = rebase(started, theirs, mine)
    assert moved.terms.sessions_remaining == 6 and moved.terms.reason_notes == "Moving away"
    assert moved.clashes == ["Sessions remaining"]
    assert {r.label: r.change for r in moved.rows} == {"Notes on the reason": "theirs", "Sessions remaining": "both"}


def test_the_same_change_on_both_sides_is_no_clash():
    started = version(consultant_terms(), 1)
    moved = rebase(started, version(consultant_terms(sessions_remaining=3), 2), consultant_terms(sessions_remaining=3))
    assert moved.clashes == [] and moved.terms.sessions_remaining == 3


def test_what_the_form_only_reorders_or_pads_is_not_an_edit():
    """The database trims text and keeps lists in the order sent: the form's own order or a trailing space
    must not count as the user's edit, or it would undo the other person's change to that term."""
    terms = consultant_terms(
        checklist=["referrals_given", "pre_termination_discussion"],
        aftercare_notes="Email",
        referrals=[{"name": "Dr. A"}, {"consultant_id": "c-1", "name": "Dr. B (old name)"}],
    )
    started = version(terms, 1, aftercare_notes="Email", reason_notes=None)
    theirs = version(replace(terms, checklist=["referrals_given"], aftercare_notes="Phone"), 2)
    mine = replace(
        terms,
        checklist=["pre_termination_discussion", "referrals_given"],
        aftercare_notes="Email  ",
        referrals=[{"consultant_id": "c-1", "name": "Dr. B"}, {"name": "Dr. A"}],
    )
    moved = rebase(started, theirs, mine)
    assert moved.terms.checklist == ["referrals_given"] and moved.terms.aftercare_notes == "Phone"
    assert moved.clashes == [] and all(r.change == "theirs" for r in moved.rows)
    assert {r.label for r in moved.rows} == {"Checklist", "Aftercare notes"}


def test_a_second_refusal_moves_the_draft_again_from_where_it_stood():
    v1 = version(consultant_terms(), 1)
    v2 = version(consultant_terms(sessions_remaining=3), 2)
    first = rebase(v1, v2, consultant_terms(aftercare_notes="Email"))
    v3 = version(consultant_terms(sessions_remaining=3, closing_sessions=2), 3)
    second = rebase(v2, v3, first.terms)
    assert second.terms == consultant_terms(sessions_remaining=3, closing_sessions=2, aftercare_notes="Email")


# --- dates and the printable summary (headless) --------------------------------------------


def test_dates_read_like_the_rest_of_the_app():
    assert friendly_day("2026-12-24", today=date(2026, 11, 30)) == "Thu 24 Dec"
    assert friendly_day(date(2027, 1, 4), today=date(2026, 11, 30)) == "Mon 04 Jan 2027"
    assert friendly_day("2026-12-24", today=date(2026, 11, 30), year=True) == "Thu 24 Dec 2026"
    assert friendly_day(None) == "—"


def test_the_summary_shows_each_checklist_item_state_and_signatures_in_the_readers_zone():
    terms = consultant_terms(
        discussed_on=date(2026, 11, 26),
        final_session_on=date(2026, 12, 24),
        follow_up_on=date(2027, 2, 1),
        checklist=["pre_termination_discussion", "referrals_given", "follow_up_arranged"],
    )
    plan = {
        "other_name": "Robin Client",
        "my_role": "consultant",
        "initiated_by": "consultant",
        "status": "proposed",
        "progress": ["referrals_given"],
        "versions": [
            version(
                terms,
                1,
                signatures=[
                    {"signer": "me", "signed_at": "2026-11-26T23:32:10.5+00:00"},
                    {"signer": "other", "signed_at": "2026-11-27T14:05:00+00:00"},
                ],
            )
        ],
    }
    page = summary_html(plan, "Casey Consultant", "America/New_York")
    assert "<th>Initiated by</th><td>The consultant (Casey Consultant)</td>" in page
    assert "☐ Pre-termination discussion held — not yet" in page
    assert "☑ Referrals given — done" in page
    assert "☐ Follow-up arranged — not yet" in page
    assert "Checklist (1 of 3 done)" in page
    assert "Casey Consultant, Thu 26 Nov 2026, 18:32</li>" in page  # 23:32 UTC is 18:32 in New York
    assert "Robin Client, Fri 27 Nov 2026, 09:05</li>" in page
    assert "Times in America/New_York." in page and "UTC" not in page
    assert "Thu 24 Dec 2026" in page and "Mon 01 Feb 2027" in page and "2026-12-24" not in page
    assert page.count("<li>") == 2  # one per signature


# --- the page (AppTest) ---------------------------------------------------------------------


def user_id(backend, username: str) -> str:
    return backend.rpc("auth_get_login", {"p_username": username}, as_user=SERVICE)["id"]


@pytest.fixture
def proposed_plan(backend, embedded_db):
    """A consultant's plan (4 sessions remaining, all five checklist items), proposed:
    (consultant username, their claims, client claims, plan id)."""
    consultant_username, client_username = engaged_pair(backend, embedded_db)
    consultant = Claims.user(user_id(backend, consultant_username))
    client = Claims.user(user_id(backend, client_username))
    engagement_id = next(e["id"] for e in my_engagements(backend, consultant) if e["status"] == "active")
    plan_id = start(backend, consultant, engagement_id, consultant_terms(checklist=list(CHECKLIST)))
    propose(backend, consultant, plan_id, expected_version=1)
    return consultant_username, consultant, client, plan_id


def versions(backend, claims, plan_id) -> list[dict]:
    return next(p for p in my_plans(backend, claims, refresh=False) if p["id"] == plan_id)["versions"]


def counter_propose(backend, client, plan_id, **changes) -> None:
    """The client, elsewhere, saves version 2 from version 1."""
    v1 = versions(backend, client, plan_id)[0]
    revise(backend, client, plan_id, replace(PlanTerms.from_version(v1), **changes), expected_version=1)


def in_expanders(at, kind: str) -> list:
    return [element for expander in at.expander for element in getattr(expander, kind)]


def open_page(username: str):
    at = app(username).run()
    at.switch_page(PAGES["termination"]).run()
    no_exceptions(at)
    return at


def test_a_counter_proposal_made_while_you_edit_is_not_undone_by_your_save(backend, proposed_plan):
    consultant_username, consultant, client, plan_id = proposed_plan
    key = f"plan_{plan_id}"
    at = open_page(consultant_username)  # the consultant's page shows version 1
    counter_propose(backend, client, plan_id, sessions_remaining=3)  # the client saves version 2 meanwhile

    keyed(at, "text_area", f"{key}_aftercare").input("Check in by email in spring")
    at.button(key=f"{key}_save").click().run()
    no_exceptions(at)
    assert [v["sessions_remaining"] for v in versions(backend, consultant, plan_id)] == [4, 3]  # refused

    # The refusal is on the card, not inside a collapsed expander, and so is the form.
    assert not [w for w in in_expanders(at, "warning") if CHANGED in w.value]
    assert not [n for n in in_expanders(at, "number_input") if (n.key or "").startswith(f"{key}_remaining")]
    refusals = [w.value for w in at.warning if CHANGED in w.value]
    assert refusals and "version 2" in refusals[0], texts(at, "warning")
    # What changed in the other version, next to the draft that Save will now send.
    table = next(t.value for t in at.table if "Your draft (saved with Save)" in t.value.columns)
    assert table.loc["Sessions remaining"].tolist() == ["4", "3", "3", "changed in the plan meanwhile"]
    assert table.loc["Aftercare notes"].tolist() == ["—", "—", "Check in by email in spring", "your change, kept"]
    # The form now starts from version 2 with the consultant's own edit re-applied.
    assert keyed(at, "number_input", f"{key}_remaining").value == 3
    assert keyed(at, "text_area", f"{key}_aftercare").value == "Check in by email in spring"

    at.button(key=f"{key}_save").click().run()
    no_exceptions(at)
    assert any("Saved as a new version" in s for s in texts(at, "success"))
    latest = versions(backend, consultant, plan_id)[-1]
    assert (latest["version"], latest["sessions_remaining"], latest["aftercare_notes"]) == (
        3,
        3,
        "Check in by email in spring",
    )
    assert not [w for w in at.warning if CHANGED in w.value]  # resolved: the notice is gone
    assert keyed(at, "number_input", f"{key}_remaining").value == 3  # the form shows the saved version


def test_a_term_you_both_changed_is_named_and_you_can_discard_your_changes(backend, proposed_plan):
    consultant_username, consultant, client, plan_id = proposed_plan
    key = f"plan_{plan_id}"
    at = open_page(consultant_username)
    counter_propose(backend, client, plan_id, sessions_remaining=3)

    keyed(at, "number_input", f"{key}_remaining").set_value(6)
    at.button(key=f"{key}_save").click().run()
    no_exceptions(at)
    assert any("both changed: Sessions remaining" in e for e in texts(at, "error")), texts(at, "error")
    table = next(t.value for t in at.table if "Your draft (saved with Save)" in t.value.columns)
    assert table.loc["Sessions remaining"].tolist() == ["4", "3", "6", "both changed: yours kept, check it"]
    assert keyed(at, "number_input", f"{key}_remaining").value == 6

    at.button(key=f"{key}_discard").click().run()
    no_exceptions(at)
    assert not [w for w in at.warning if CHANGED in w.value]
    assert keyed(at, "number_input", f"{key}_remaining").value == 3  # version 2, as the client saved it
    assert len(versions(backend, consultant, plan_id)) == 2


def test_a_refusal_while_resolving_moves_the_draft_again(backend, proposed_plan):
    consultant_username, consultant, client, plan_id = proposed_plan
    key = f"plan_{plan_id}"
    at = open_page(consultant_username)
    counter_propose(backend, client, plan_id, sessions_remaining=3)
    keyed(at, "text_area", f"{key}_aftercare").input("Email")
    at.button(key=f"{key}_save").click().run()
    # While the consultant reads the comparison, the client saves version 3.
    v2 = versions(backend, client, plan_id)[-1]
    revise(backend, client, plan_id, replace(PlanTerms.from_version(v2), closing_sessions=2), expected_version=2)
    at.button(key=f"{key}_save").click().run()
    no_exceptions(at)
    assert len(versions(backend, consultant, plan_id)) == 3
    assert any(CHANGED in w.value and "version 3" in w.value for w in at.warning)
    at.button(key=f"{key}_save").click().run()
    latest = versions(backend, consultant, plan_id)[-1]
    assert (latest["version"], latest["sessions_remaining"], latest["closing_sessions"], latest["aftercare_notes"]) == (
        4,
        3,
        2,
        "Email",
    )


def test_the_card_shows_friendly_dates_and_the_summary_its_readers_zone(
    backend, embedded_db, proposed_plan, monkeypatch
):
    consultant_username, consultant, client, plan_id = proposed_plan
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        conn.execute("update public.profiles set timezone = 'Asia/Tokyo' where id = %s", (consultant.sub,))
    tick(backend, consultant, plan_id, "referrals_given", True)
    summaries = []

    def recording_summary(*args, **kwargs):
        summaries.append(page := summary_html(*args, **kwargs))
        return page

    monkeypatch.setattr(portal.termination, "summary_html", recording_summary)
    at = open_page(consultant_username)
    final = TODAY + timedelta(days=28)
    caption = next(c for c in texts(at, "caption") if "final session" in c)
    assert f"final session {app_style(final)}" in caption and final.isoformat() not in caption
    page = summaries[-1]
    assert "☑ Referrals given — done" in page and "☐ Closing session held — not yet" in page
    plan = next(p for p in backend.rpc("my_termination_plans", {}, as_user=consultant) if p["id"] == plan_id)
    ticked_on = datetime.fromisoformat(plan["progress_detail"][0]["done_at"]).astimezone(ZoneInfo("Asia/Tokyo"))
    assert f"☑ Referrals given — done {ticked_on:%a %d %b %Y} by you" in page  # when, in the reader's zone
    assert any(
        label.startswith(f"Referrals given · done {ticked_on:%a %d %b} by you")
        for label in (c.label for c in at.checkbox)
    ), [c.label for c in at.checkbox]
    assert "Times in Asia/Tokyo." in page and " UTC" not in page
    signed = versions(backend, consultant, plan_id)[0]["signatures"][0]["signed_at"]
    assert portal.termination.signed_time(signed, "Asia/Tokyo") in page


def test_the_new_plan_checklist_reads_as_steps_to_include_not_steps_done(backend, embedded_db):
    consultant_username, _ = engaged_pair(backend, embedded_db)
    at = open_page(consultant_username)
    checklist = keyed(at, "multiselect", "plan_new_checklist")
    assert checklist.label == "Include in the checklist"
    assert "done" not in checklist.label.lower()
    assert any("not steps already taken" in c for c in texts(at, "caption"))


def test_a_new_plan_starts_from_the_members_today_not_the_servers(backend, embedded_db):
    """Somewhere on Earth it is already tomorrow, or still yesterday, against UTC: the form's "first discussed"
    starts from the member's own date."""
    now = datetime.now(UTC)
    zone = next(
        z
        for z in ("Pacific/Kiritimati", "Pacific/Pago_Pago")  # UTC+14 and UTC-11: one always differs
        if now.astimezone(ZoneInfo(z)).date() != now.date()
    )
    consultant_username, _ = engaged_pair(backend, embedded_db)
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        conn.execute(
            "update public.profiles set timezone = %s where id = %s", (zone, user_id(backend, consultant_username))
        )
    at = open_page(consultant_username)
    discussed = next(d for d in at.date_input if d.label == "Ending first discussed")
    assert discussed.value == datetime.now(ZoneInfo(zone)).date()


def test_the_guardrails_sentence_shows_the_numbers_the_database_holds(backend, embedded_db):
    """Issue 24, item 2: the page states no number of its own. With the policy changed in the database, the
    consultant's sentence says the new numbers; the policy is then put back exactly as it was."""
    consultant_username, _ = engaged_pair(backend, embedded_db)
    policy = "public.termination_policy()"
    with psycopg.connect(embedded_db.owner_conninfo, autocommit=True) as conn:
        definition = conn.execute("select pg_get_functiondef(%s::regprocedure)", (policy,)).fetchone()[0]
        today = termination_policy(backend, Claims.user(user_id(backend, consultant_username)))
        changed = {key: value + 3 for key, value in today.items()}
        conn.execute(
            f"create or replace function {policy} returns jsonb language sql stable set search_path = '' "
            f"as $$ select '{json.dumps(changed)}'::jsonb $$"
        )
        try:
            at = open_page(consultant_username)
        finally:
            conn.execute(definition)
    sentence = next(i.value for i in at.info if "As the consultant" in i.value)
    assert (
        f"at least {changed['notice_days']} days' and {changed['closing_sessions']} sessions' notice "
        f"from the first discussion, and at least {changed['referrals']} referrals." in sentence
    )
    at = open_page(consultant_username)  # and today's, in today's words
    assert next(i.value for i in at.info if "As the consultant" in i.value) == (
        f"As the consultant you give at least {today['notice_days']} days' and {today['closing_sessions']} sessions' "
        "notice from the first discussion, and at least one referral. Only an ending for safety is exempt, with a "
        "written justification."
    )


def username_of(embedded_db, claims: Claims) -> str:
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        return conn.execute("select username from private.credentials where user_id = %s", (claims.sub,)).fetchone()[0]


def test_a_clients_kinder_revision_leaves_the_ending_the_consultants_on_the_card_diff_and_summary(
    backend, embedded_db, proposed_plan, monkeypatch
):
    """Issue 22, item 2: the consultant proposes an ending in 28 days; the client revises it to 35 days with one
    more closing session. Both pages, the version history and the printed summary still say the consultant
    initiated it."""
    consultant_username, consultant, client, plan_id = proposed_plan
    counter_propose(backend, client, plan_id, final_session_on=TODAY + timedelta(days=35), closing_sessions=2)
    summaries = []

    def recording_summary(*args, **kwargs):
        summaries.append(page := summary_html(*args, **kwargs))
        return page

    monkeypatch.setattr(portal.termination, "summary_html", recording_summary)
    at = open_page(consultant_username)
    assert any("Initiated by: The consultant (you)" in c for c in texts(at, "caption")), texts(at, "caption")
    my_name = next(p for p in my_plans(backend, client, refresh=False) if p["id"] == plan_id)["other_name"]
    assert f"<th>Initiated by</th><td>The consultant ({my_name})</td>" in summaries[-1]
    assert "The client" not in summaries[-1]
    history = next(t.value for t in at.table if "Version 2" in t.value.columns)
    assert history["Term"].tolist() == ["Final session", "Closing sessions"]  # no "Initiated by" row

    at = open_page(username_of(embedded_db, client))
    assert any(f"Initiated by: The consultant ({my_name})" in c for c in texts(at, "caption")), texts(at, "caption")
    assert f"<th>Initiated by</th><td>The consultant ({my_name})</td>" in summaries[-1]
