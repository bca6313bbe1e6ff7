"""Issue 26 (items 5, 10 and 11 in part), as a newcomer meets them: "Why this score" in words, true for every
branch of the search's scoring; Find's filters folded once a search has run; My availability for consultants only,
its preview marking today's hours the notice rule already closes; every password problem at once; a refusal's date
worded as a person reads it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from postgrest.exceptions import APIError

from portal.db import SERVICE, Claims
from portal.passwords import password_problems
from portal.search import ScorePart, SearchFilters, fee_words, score_parts
from tests.care_parties import engage, register
from tests.page_support import PAGES, app, keyed, no_exceptions, texts
from tests.people_support import make_account, make_consultant


def user_id(backend, username: str) -> str:
    return backend.rpc("auth_get_login", {"p_username": username}, as_user=SERVICE)["id"]


@pytest.fixture(scope="module")
def scored(backend, embedded_db):
    """One consultant alone in their city (the in-person filter finds only them), with every fact the score reads
    set: $140 on a sliding scale, 12 years, 3 clients taken on, CBT at level 3 verified, EMDR at level 2 not yet,
    Spanish and English, room, and weekly hours on Monday mornings only."""
    username = make_account(backend)
    consultant = user_id(backend, username)
    city = f"Scoreville {uuid.uuid4().hex[:6]}"
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        conn.execute(
            "update public.profiles set is_consultant = true, fee_usd = 140, sliding_scale = true, "
            "years_in_practice = 12, languages = '{es,en}', offers_in_person = true, city = %s, "
            "display_name = 'Sam Scorer' where id = %s",
            (city, consultant),
        )
        conn.execute(
            "insert into public.licenses (profile_id, license_type, license_number, jurisdiction, expires_on) "
            "values (%s, 'LPC', 'NY-26', 'NY', current_date + 300)",
            (consultant,),
        )
        conn.execute(
            "insert into public.competencies (consultant_id, modality, level, verification_status, verified_at) "
            "values (%s, 'cbt', 3, 'verified', now()), (%s, 'emdr', 2, 'self_attested', null)",
            (consultant, consultant),
        )
        conn.execute(
            "insert into public.weekly_hours (consultant_id, weekday, starts_at, ends_at) "
            "values (%s, 1, '09:00', '11:00')",
            (consultant,),
        )
        conn.execute(
            "update public.availability_settings set clients_served = 3, capacity = 5 where consultant_id = %s",
            (consultant,),
        )
    seeker = Claims.user(user_id(backend, make_account(backend)))
    return backend, seeker, city


def why(scored_fixture, **changes) -> dict[str, str]:
    """Each part's sentence for the one consultant, with the search's own points."""
    backend, seeker, city = scored_fixture
    filters = SearchFilters(jurisdiction="NY", format="in_person", city=city, **changes)
    [result] = backend.rpc("search_consultants", filters.params(), as_user=seeker)["results"]
    parts = score_parts(result, filters, {"cbt": "CBT", "emdr": "EMDR"}, {"es": "Spanish", "fr": "French"})
    assert [p.points for p in parts] == [float(result["breakdown"][p.name]) for p in parts]
    return {p.name: p.sentence() for p in parts}


def test_each_part_of_the_score_is_explained_in_words_for_every_branch(scored):
    one = why(scored, modalities=["cbt"])
    assert one["modality"] == "Modality: CBT at level 3 (Certified), verified: 32.5 of 40"
    two = why(scored, modalities=["cbt", "emdr"])
    assert two["modality"] == (
        "Modality: the average of CBT at level 3 (Certified), verified (32.5) and EMDR at level 2 (Trained), "
        "not yet verified (15): 23.8 of 40"
    )
    everything = why(scored)
    assert everything["modality"].startswith("Modality: no modality chosen, so all 2 of their competencies count")
    assert everything["modality"].endswith(": 23.8 of 40")

    assert everything["availability"] == (
        "Availability: has room for a new client (10); has weekly hours set (10): 20 of 20"
    )
    half = why(scored, times=["Weekday mornings", "Weekends"])
    assert half["availability"] == (
        "Availability: has room for a new client (10); has weekly hours in 1 of your 2 preferred times (5): 15 of 20"
    )

    assert everything["experience"] == (
        "Experience: 12 years in practice (7.2 of 15; 25 years count fully); 3 clients taken on through the "
        "portal (3 of 5): 10.2 of 20"
    )

    assert why(scored, languages=["es"])["language"] == "Language: speaks Spanish, your first choice: 10 of 10"
    assert why(scored, languages=["fr", "es"])["language"] == (
        "Language: speaks Spanish, not your first choice (French), which counts half: 5 of 10"
    )
    assert everything["language"] == "Language: no language chosen; they speak a language on your profile: 10 of 10"

    # No maximum: not "counts half", but the fee on its own scale, and the sliding scale's 2.
    assert everything["fee"] == (
        "Fee: no maximum fee set, so the fee is scored on its own, from 10 at $0 to 0 at $300: $140 counts 5.3; "
        "a sliding scale adds 2 (at most 10 in all): 7.3 of 10"
    )
    assert why(scored, max_fee=200)["fee"] == (
        "Fee: $140 is within your $200 maximum: 5 for that, and 1.5 for how far below: 6.5 of 10"
    )
    assert why(scored, max_fee=100, sliding_ok=True)["fee"] == (
        "Fee: $140 is above your $100 maximum, but they offer a sliding scale, which counts 3: 3 of 10"
    )


def test_a_fee_without_a_sliding_scale_says_its_points_once():
    """ "$160 counts 4.7: 4.7 of 10" said the points twice: the words name the fee, the points follow once."""
    no_maximum = SearchFilters(jurisdiction="NY")
    part = ScorePart("fee", 4.7, 10, fee_words({"fee_usd": 160, "sliding_scale": False}, no_maximum))
    assert part.sentence() == (
        "Fee: no maximum fee set, so the fee is scored on its own, from 10 at $0 to 0 at $300; theirs is $160: "
        "4.7 of 10"
    )


def test_find_explains_the_score_in_words_on_the_card(scored):
    _, _, city = scored
    at = app("seeker01").run()
    at.switch_page(PAGES["find"]).run()
    at.multiselect(key="find_modalities").set_value(["cbt"])
    at.selectbox(key="find_format").set_value("in_person")
    at.text_input(key="find_city").input(city)
    at.button(key="find_submit").click().run()
    no_exceptions(at)
    # The bars' text is Markdown with every punctuation mark escaped (so "$140" is never maths): read it unescaped.
    bars = [bar.proto.text.replace("\\", "") for bar in at.get("progress")]
    assert "Modality: CBT at level 3 (Certified), verified: 32.5 of 40" in bars, bars
    assert any("$140 counts 5.3; a sliding scale adds 2" in text for text in bars), bars


# --- Registration names every password problem at once -------------------------------------------------------------


def test_every_password_problem_is_named_at_once():
    assert password_problems("abc123") == [
        "Use at least 8 characters (this one has 6).",
        "This is one of the passwords people use most, so it is tried first: choose another.",
    ]
    assert password_problems("correct horse battery staple") == []


def test_register_names_every_password_problem_in_one_attempt():
    at = app().run()
    at.switch_page(PAGES["register"]).run()
    keyed(at, "text_input", "register_first_name").input("Zoë")
    keyed(at, "text_input", "register_last_name").input("O'Brien")
    keyed(at, "text_input", "register_email").input(f"zoe{uuid.uuid4().hex[:6]}@test.example")
    keyed(at, "text_input", "register_username").input(f"zoe_{uuid.uuid4().hex[:6]}")
    keyed(at, "text_input", "register_password").input("abc123")
    keyed(at, "text_input", "register_password_repeat").input("abc124")
    at.button(key="register_submit").click().run()
    no_exceptions(at)
    errors = texts(at, "error")
    assert "Use at least 8 characters (this one has 6). This is one of the passwords people use most" in " ".join(
        errors
    ), errors
    assert "The two passwords differ: type the same password twice." in errors


# --- My availability: for consultants; the preview marks what the notice rule already closes ------------------------


def test_a_seeker_on_my_availability_is_told_it_is_for_consultants_and_gets_no_editor(backend):
    at = app(make_account(backend)).run()
    at.switch_page(PAGES["availability"]).run()
    no_exceptions(at)
    [info] = texts(at, "info")
    assert info.startswith("My availability is for consultants") and "My practice" in info
    assert "Go to My practice" in [link.proto.label for link in at.get("page_link")]
    assert not at.toggle and not [b for b in at.button if b.key == "availability_save"]


def test_the_preview_marks_the_hours_the_saved_notice_already_closes(backend, embedded_db):
    username, consultant = make_consultant(backend, embedded_db)
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        conn.execute(
            "insert into public.weekly_hours (consultant_id, weekday, starts_at, ends_at) "
            "select %s, d, '00:00', '23:45' from generate_series(1, 7) d",
            (consultant,),
        )
        notice = conn.execute(
            "select min_notice_hours from public.availability_settings where consultant_id = %s", (consultant,)
        ).fetchone()[0]
    assert notice == 24  # the default: all of today, and tomorrow until this time, cannot be booked
    at = app(username).run()
    at.switch_page(PAGES["availability"]).run()
    no_exceptions(at)
    [week] = [m.value for m in at.markdown if "00:00–23:45" in m.value]
    days = week.split("  \n")
    assert days[0].endswith("00:00–23:45; all too soon to book (24 hours' notice)"), days[0]
    assert "too soon to book" in days[1] and "too soon" not in days[2] and "too soon" not in days[-1], days
    assert any("With your saved notice (24 hours), nothing can be booked before" in c for c in texts(at, "caption"))


# --- A refusal says its date in words ------------------------------------------------------------------------------


def test_completing_a_plan_early_names_the_final_session_in_words(backend, embedded_db):
    consultant = register(embedded_db.owner_conninfo, "Dr. Dana Date", consultant=True)
    client = register(embedded_db.owner_conninfo, "Ana Words")
    engagement = engage(embedded_db.owner_conninfo, consultant, client)
    today = datetime.now(UTC).date()
    final = today + timedelta(days=28)
    terms = {
        "reason": "consultant_capacity",
        "discussed_on": str(today),
        "final_session_on": str(final),
        "sessions_remaining": 2,
        "closing_sessions": 1,
        "referrals": [{"name": "Dr. External Colleague"}],
    }
    plan = backend.rpc("start_termination_plan", {"p_engagement": engagement, "p_terms": terms}, as_user=consultant)
    backend.rpc("propose_termination_plan", {"p_plan": plan, "p_expected_version": 1}, as_user=consultant)
    assert backend.rpc("sign_termination_plan", {"p_plan": plan, "p_version": 1}, as_user=client) == "agreed"
    with pytest.raises(APIError) as refused:
        backend.rpc("complete_termination_plan", {"p_plan": plan}, as_user=client)
    worded = f"{final:%A} {final.day} {final:%B} {final.year}"  # "Friday 15 January 2027"
    assert refused.value.message == f"The final session is planned for {worded}; complete the plan after it."
    assert refused.value.details == "final_session_on"
