"""What a fresh walk of the three roles found (issue 26's "Done when"), each checked on the page as a person meets it:
the admin's dates in words, My practice for someone who does not offer consultation, the availability legend whole."""

from __future__ import annotations

import json
import re
import uuid
from datetime import date

import psycopg

from portal.db import SERVICE, Claims
from portal.local_times import date_words
from portal.profiles import load_my_profile
from portal.screening import RelationshipInput, add_relationship, declared_about, relationship_kinds, rule_sentence
from portal.search import SearchFilters, search
from tests.page_support import PAGES, app, no_exceptions, texts
from tests.people_support import make_account, make_consultant, member_id

ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
DAY_IN_WORDS = r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d{1,2} [A-Z][a-z]{2} \d{4}"
ADMIN_ZONE = "America/New_York"  # the demo administrator's zone


def admin_page():
    at = app("admin").run()
    at.switch_page(PAGES["admin"]).run()
    no_exceptions(at)
    return at


def test_date_words_reads_a_stored_date_and_an_instant_in_the_readers_zone():
    assert date_words("2027-01-15", ADMIN_ZONE) == "Fri 15 Jan 2027"
    # 03:00 UTC on the 6th is still the 5th in New York
    assert date_words("2026-12-06T03:00:00+00:00", ADMIN_ZONE) == "Sat 5 Dec 2026"
    assert date_words(date(2026, 12, 6), ADMIN_ZONE) == "Sun 6 Dec 2026"


def test_the_verification_queue_says_its_dates_in_words_and_an_expired_one_as_expired(backend, embedded_db):
    username, consultant = make_consultant(backend, embedded_db)  # a licence expiring in 300 days
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        conn.execute(
            "update public.competencies set expires_on = current_date - 30 where consultant_id = %s", (consultant,)
        )
    admin = Claims.user(backend.rpc("auth_get_login", {"p_username": "admin"}, as_user=SERVICE)["id"])
    queue = backend.rpc("admin_verification_queue", {"p_limit": 500}, as_user=admin)
    mine = {i["kind"]: i for i in queue if i["member_id"] == consultant}
    at = admin_page()
    at.text_input(key="verify_filter").input(username).run()
    no_exceptions(at)
    captions = [c.replace("\\", "") for c in texts(at, "caption") if c.startswith("Evidence:")]
    assert len(captions) == 2, captions
    assert not [c for c in captions if ISO_DATE.search(c)], captions
    for item, verb in ((mine["competency"], "expired"), (mine["license"], "expires")):
        submitted = date_words(item["submitted_at"], ADMIN_ZONE)
        wanted = (
            f"Evidence: {item['detail']} · {verb} {date_words(item['expires_on'], ADMIN_ZONE)} · submitted {submitted}"
        )
        assert wanted in captions, (wanted, captions)


def test_the_accounts_table_says_when_each_member_joined_in_words(backend):
    at = admin_page()
    [table] = [t for t in at.dataframe if "Joined" in t.value.columns]
    joined = list(table.value["Joined"])
    assert joined and not [d for d in joined if ISO_DATE.search(d)], joined
    assert all(re.fullmatch(DAY_IN_WORDS, d) for d in joined), joined


def test_my_practice_for_someone_not_offering_consultation_names_no_waitlist_and_links_to_my_profile(backend):
    at = app(make_account(backend)).run()
    at.switch_page(PAGES["practice"]).run()
    no_exceptions(at)
    assert not [c for c in texts(at, "caption") if "waiting to be told" in c]
    assert "Go to My profile" in [link.proto.label for link in at.get("page_link")]


def test_my_practice_tells_a_consultant_how_many_wait(backend, embedded_db):
    username, _ = make_consultant(backend, embedded_db)
    at = app(username).run()
    at.switch_page(PAGES["practice"]).run()
    no_exceptions(at)
    assert [c for c in texts(at, "caption") if "Nobody is waiting to be told when you have room" in c]


def test_the_availability_previews_legend_shows_every_label_whole(backend, embedded_db):
    # Vega-Lite cuts a legend label at 160 px by default: "Too soon to book (your n…" at 1,280 px.
    username, _ = make_consultant(backend, embedded_db)
    at = app(username).run()
    at.switch_page(PAGES["availability"]).run()
    no_exceptions(at)
    [chart] = at.get("vega_lite_chart")
    spec = json.loads(chart.proto.spec)
    legend = spec["encoding"]["color"]["legend"]
    assert legend.get("labelLimit") == 0, legend
    # Four labels in one row, or two, run past a 390 px screen ("Busy (your calendar)" was never seen): one a row.
    assert legend.get("columns") == 1, legend


def test_a_profile_link_to_no_one_still_says_so_after_the_next_rerun(backend):
    # In Chromium the sign-in cookie's report reruns the page a moment after it is drawn: the "not available"
    # warning was replaced by "Pick a consultant from Find a consultant.", as if no profile had been asked for.
    for asked in ("garbage", str(uuid.uuid4())):
        at = app("seeker01").run()
        at.session_state["view_consultant"] = asked
        at.switch_page(PAGES["consultant"]).run()
        first = texts(at, "warning")
        assert any("not available to you" in w for w in first), first
        at.run()
        no_exceptions(at)
        assert texts(at, "warning") == first and not texts(at, "info"), (texts(at, "warning"), texts(at, "info"))
        assert [str(link.proto.label) for link in at.main.get("page_link")] == ["Find a consultant"]


def test_a_consultants_profile_says_its_dates_in_words(backend):
    # Seen by a seeker: "verified 2026-12-06", "expires 2028-02-10" under Competencies and Licences.
    seeker = Claims.user(backend.rpc("auth_get_login", {"p_username": "seeker02"}, as_user=SERVICE)["id"])
    zone = load_my_profile(backend, seeker)["timezone"]
    found = search(backend, seeker, SearchFilters(jurisdiction="NY", accepting_only=False)).results
    doc = next(
        d
        for d in (
            backend.rpc("get_consultant_profile", {"p_consultant": r["consultant_id"]}, as_user=seeker) for r in found
        )
        if any(c.get("verified") for c in d["competencies"]) and d["licenses"]
    )
    at = app("seeker02").run()
    at.session_state["view_consultant"] = doc["id"]
    at.switch_page(PAGES["consultant"]).run()
    no_exceptions(at)
    captions = [c.replace("\\", "") for c in texts(at, "caption")]
    assert not [c for c in captions if ISO_DATE.search(c)], captions
    verified = next(c for c in doc["competencies"] if c.get("verified"))
    assert any(f"verified {date_words(verified['verified_at'], zone)}" in c for c in captions), captions
    licence = doc["licenses"][0]
    verb = "expired" if licence["expired"] else "expires"
    assert any(f"{verb} {date_words(licence['expires_on'], zone)}" in c for c in captions), captions


def test_the_admins_conflict_rules_are_whole_sentences(backend):
    # Seen at Admin → Conflict rules: "This person I evaluate or evaluated them".
    assert rule_sentence("I evaluate or evaluated them") == "I evaluate or evaluated this person"
    assert rule_sentence("is my business partner") == "This person is my business partner"
    at = admin_page()
    [rules] = [t for t in at.dataframe if "label" in t.value.columns]
    labels = list(rules.value["label"])
    assert "I evaluate or evaluated this person" in labels, labels
    assert not [label for label in labels if label.startswith("This person I ")], labels


def test_a_declared_person_reads_as_a_sentence_about_them():
    """My relationships lists each person in one sentence: never "Dr X I evaluate or evaluated them"."""
    assert declared_about("**Dr X**", "I evaluate or evaluated them") == "I evaluate or evaluated **Dr X**"
    assert declared_about("Ana", "is or was a friend") == "Ana is or was a friend"
    assert declared_about("Ana", "I once treated") == "I once treated: Ana"


def test_my_relationships_lists_each_person_in_a_sentence_with_dates_in_words(backend):
    username = make_account(backend)
    claims = Claims.user(member_id(backend, username))
    kinds = set(relationship_kinds(backend, claims))
    item = RelationshipInput(
        kind="evaluatee", counterpart_name="Dr Vera Lind", starts_on=date(2016, 12, 6), ends_on=date(2019, 6, 30)
    )
    add_relationship(backend, claims, item, kinds)
    at = app(username).run()
    at.switch_page(PAGES["relationships"]).run()
    no_exceptions(at)
    listed = [m for m in texts(at, "markdown") if "Vera Lind" in m]
    assert listed == ["I evaluate or evaluated **Dr Vera Lind** · Tue 6 Dec 2016 – Sun 30 Jun 2019"], listed
    assert "Relationship" in [s.label for s in at.selectbox]
