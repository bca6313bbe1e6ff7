"""Find's dead end, My practice's capacity floor, Home's singular/plural wording, and the Admin verification queue
(accent-insensitive filter, "No matches", a confirmation that outlives the rerun, paging and the kept read)."""

from __future__ import annotations

import psycopg
import pytest
from postgrest.exceptions import APIError

from portal.admin import QUEUE_CACHE_KEY, cached_queue, fold, forget_decided, forget_queue, queue_matches
from portal.db import SERVICE, Claims
from portal.mydata import attention_items, plural, requests_waiting_sentence
from portal.practice import CompetencyInput, capacity_below_active, validate
from portal.search import (
    Broadening,
    SearchFilters,
    SearchPage,
    broaden,
    explain_empty,
    narrowing,
    relaxed_all,
)
from tests.page_support import PAGES, app, keyed, no_exceptions, texts
from tests.people_support import make_account, make_consultant


def user_id(backend, username: str) -> str:
    return backend.rpc("auth_get_login", {"p_username": username}, as_user=SERVICE)["id"]


def owner(embedded_db) -> psycopg.Connection:
    return psycopg.connect(embedded_db.owner_conninfo)


# --- 1. Find a consultant: when no single filter's removal finds anyone ------------------------------------------

DEAD_END = SearchFilters(jurisdiction="NY", modalities=["emdr"], min_level=4, max_fee=50)


def test_narrowing_names_the_optional_filters_a_search_sets():
    assert narrowing(SearchFilters(jurisdiction="NY", accepting_only=False)) == []
    assert narrowing(SearchFilters(jurisdiction="NY")) == ["capacity"]
    assert narrowing(DEAD_END) == ["modalities", "min_level", "fee", "capacity"]
    # The minimum level narrows only with modalities; the city only comes with the in-person format.
    assert narrowing(SearchFilters(jurisdiction="NY", min_level=4, city="Albany", accepting_only=False)) == []
    everything = SearchFilters(
        jurisdiction="NY",
        modalities=["cbt"],
        min_level=2,
        format="in_person",
        city="Albany",
        languages=["es"],
        max_fee=0,
        times=["Weekends"],
    )
    assert narrowing(everything) == ["modalities", "min_level", "format", "languages", "fee", "capacity", "times"]


def test_relaxed_all_keeps_only_the_jurisdiction():
    everything = SearchFilters(
        jurisdiction="NY",
        modalities=["cbt"],
        min_level=2,
        format="in_person",
        city="Albany",
        languages=["es"],
        max_fee=80,
        sliding_ok=True,
        times=["Weekends"],
        page=3,
    )
    assert relaxed_all(everything) == SearchFilters(jurisdiction="NY", accepting_only=False)
    assert narrowing(relaxed_all(everything)) == []


def test_explain_empty_names_the_narrowing_filters_and_what_showing_everyone_finds():
    empty = SearchPage(total=0, results=[], relax=[])
    wider = relaxed_all(DEAD_END)
    sentence = explain_empty(
        empty, DEAD_END, Broadening(wider, 12, narrowing(DEAD_END)), modality_names={"emdr": "EMDR"}
    )
    assert sentence == (
        "No consultant licensed in NY matches these filters. Removing any one filter alone still "
        "finds nobody: together the modalities (EMDR), the minimum level (4 · Trainer / approved "
        "consultant), the maximum fee ($50) and only consultants with room for new clients narrow "
        "it. Showing everyone licensed in NY finds 12."
    )
    nobody = explain_empty(empty, DEAD_END, Broadening(wider, 0, narrowing(DEAD_END)))
    assert nobody.endswith("Nobody licensed in NY is available to you even without them.")
    # Others licensed elsewhere would match: still said, and the broadening offered after it.
    elsewhere = SearchPage(total=0, results=[], relax=[{"filter": "jurisdiction", "count": 3}])
    assert explain_empty(elsewhere, DEAD_END, Broadening(wider, 2, narrowing(DEAD_END))).startswith(
        "No consultant licensed in NY matches these filters, and the others who would are not licensed there. "
    )
    # A single filter that helps is still named first, as before.
    single = SearchPage(total=0, results=[], relax=[{"filter": "fee", "count": 4}])
    assert explain_empty(single, DEAD_END) == "Nobody matches all filters. Relaxing the maximum fee would find 4."


def test_broaden_counts_what_the_search_with_only_the_jurisdiction_finds(backend):
    seeker = Claims.user(user_id(backend, "seeker01"))
    broadening = broaden(backend, seeker, DEAD_END)
    assert broadening.filters == SearchFilters(jurisdiction="NY", accepting_only=False)
    assert broadening.narrowing == ["modalities", "min_level", "fee", "capacity"]
    everyone = backend.rpc(
        "search_consultants",
        SearchFilters(jurisdiction="NY", accepting_only=False, page_size=50).params(),
        as_user=seeker,
    )
    assert broadening.count == everyone["total"] > 0
    assert broaden(backend, seeker, SearchFilters(jurisdiction="NY", accepting_only=False)) is None


def test_find_dead_end_offers_to_show_everyone_licensed_there(backend):
    at = app("seeker01").run()
    at.switch_page(PAGES["find"]).run()
    at.selectbox(key="find_jurisdiction").set_value("NY")
    at.multiselect(key="find_modalities").set_value(["emdr"])
    at.selectbox(key="find_min_level").set_value(4)
    at.number_input(key="find_max_fee").set_value(50)
    at.button(key="find_submit").click().run()
    no_exceptions(at)
    # The dead end: no single filter's removal finds anyone.
    assert not [b for b in at.button if b.key and b.key.startswith("find_relax_") and b.key != "find_relax_all"]
    expected = backend.rpc(
        "search_consultants",
        SearchFilters(jurisdiction="NY", accepting_only=False).params(),
        as_user=Claims.user(user_id(backend, "seeker01")),
    )["total"]
    [warning] = texts(at, "warning")
    assert "the modalities (EMDR" in warning and "the minimum level (4" in warning
    assert "the maximum fee ($50)" in warning and "only consultants with room for new clients" in warning
    assert warning.endswith(f"Showing everyone licensed in NY finds {expected}.")
    button = at.button(key="find_relax_all")
    assert button.label == f"Show everyone licensed in NY ({expected} found)"
    button.click().run()
    no_exceptions(at)
    assert any(f"**{expected}** consultant{'s match' if expected != 1 else ' matches'}" in m.value for m in at.markdown)
    # The form shows the broadened search: only the jurisdiction is kept, and a new Search keeps it.
    assert at.session_state["find_jurisdiction_1"] == "NY"
    assert at.session_state["find_modalities_1"] == [] and at.session_state["find_min_level_1"] == 1
    assert at.session_state["find_max_fee_1"] is None and at.session_state["find_accepting_only_1"] is False
    at.button(key="find_submit_1").click().run()
    assert any(f"**{expected}** consultant{'s match' if expected != 1 else ' matches'}" in m.value for m in at.markdown)


def test_single_filter_suggestions_are_kept_without_the_broadening():
    at = app("seeker01").run()
    at.switch_page(PAGES["find"]).run()
    at.multiselect(key="find_languages").set_value(["asl", "ko"])
    at.multiselect(key="find_modalities").set_value(["play_therapy", "gottman"])
    at.button(key="find_submit").click().run()
    no_exceptions(at)
    assert any("would find" in w for w in texts(at, "warning"))
    keys = [b.key for b in at.button if b.key and b.key.startswith("find_relax_")]
    assert keys and "find_relax_all" not in keys


# --- 2. My practice: capacity never below the active clients -----------------------------------------------------


def test_validate_refuses_a_capacity_below_the_active_clients():
    rows: list[CompetencyInput] = []
    assert validate(rows, 0, modalities=set(), active_clients=1) == {
        "capacity": (
            "You have 1 active client; capacity can't be lower. To stop taking new clients, turn off "
            "'Accepting new clients'."
        )
    }
    assert validate(rows, 2, modalities=set(), active_clients=3)["capacity"].startswith("You have 3 active clients;")
    assert validate(rows, 1, modalities=set(), active_clients=1) == {}  # full is allowed
    assert validate(rows, 0, modalities=set(), active_clients=0) == {}
    assert validate(rows, 99, modalities=set(), active_clients=1)["capacity"].endswith("0 to 60.")
    assert capacity_below_active(2) == (
        "You have 2 active clients; capacity can't be lower. To stop taking new "
        "clients, turn off 'Accepting new clients'."
    )


def give_an_active_client(backend, embedded_db, consultant_id: str) -> None:
    client = user_id(backend, make_account(backend))
    with owner(embedded_db) as conn:
        request = conn.execute(
            "insert into public.consultation_requests (seeker_id, consultant_id, message, status) "
            "values (%s, %s, 'hello', 'accepted') returning id",
            (client, consultant_id),
        ).fetchone()[0]
        conn.execute(
            "insert into public.engagements (request_id, seeker_id, consultant_id) values (%s, %s, %s)",
            (request, client, consultant_id),
        )


def test_practice_refuses_capacity_below_active_clients_next_to_the_field(backend, embedded_db):
    username, consultant_id = make_consultant(backend, embedded_db, capacity=3)
    give_an_active_client(backend, embedded_db, consultant_id)
    me = Claims.user(consultant_id)
    assert backend.rpc("get_my_practice", {}, as_user=me)["active_clients"] == 1
    at = app(username).run()
    at.switch_page(PAGES["practice"]).run()
    no_exceptions(at)
    keyed(at, "number_input", "practice_capacity").set_value(0)
    at.button(key="practice_save").click().run()
    no_exceptions(at)
    assert (
        "You have 1 active client; capacity can't be lower. To stop taking new clients, turn off "
        "'Accepting new clients'."
    ) in texts(at, "error")
    assert "Practice saved." not in texts(at, "success")
    assert keyed(at, "number_input", "practice_capacity").value == 0  # what was typed stays in the form
    assert backend.rpc("get_my_practice", {}, as_user=me)["intake"]["capacity"] == 3
    # Turning off new clients instead, at the capacity already held, is saved.
    keyed(at, "number_input", "practice_capacity").set_value(1)
    keyed(at, "toggle", "practice_accepting").set_value(False)
    at.button(key="practice_save").click().run()
    no_exceptions(at)
    assert "Practice saved." in texts(at, "success")
    intake = backend.rpc("get_my_practice", {}, as_user=me)["intake"]
    assert (intake["capacity"], intake["accepting_new_clients"]) == (1, False)
    home = app(username).run()
    assert [m.value for m in home.metric][:2] == ["1 of 1", "Closed"]


def test_the_database_refuses_a_capacity_below_the_active_clients_for_any_caller(backend, embedded_db):
    """The page checks the count it loaded; the save itself checks the current one (an acceptance may land
    while the form is open), and a capacity left as it was is not re-checked."""
    _, consultant_id = make_consultant(backend, embedded_db, capacity=3)
    give_an_active_client(backend, embedded_db, consultant_id)
    me = Claims.user(consultant_id)
    practice = backend.rpc("get_my_practice", {}, as_user=me)
    args = {
        "p_competencies": practice["competencies"],
        "p_accepting": True,
        "p_expected_version": practice["intake"]["version"],
    }
    with pytest.raises(APIError) as refused:
        backend.rpc("save_my_practice", {**args, "p_capacity": 0}, as_user=me)
    assert (refused.value.message, refused.value.details) == (
        "You have 1 active client; capacity can't be lower.",
        "capacity",
    )
    with owner(embedded_db) as conn:  # a row already below its count (saved before this rule)
        conn.execute("update public.availability_settings set capacity = 0 where consultant_id = %s", (consultant_id,))
    practice = backend.rpc("get_my_practice", {}, as_user=me)
    saved = backend.rpc(
        "save_my_practice",
        {**args, "p_capacity": 0, "p_accepting": False, "p_expected_version": practice["intake"]["version"]},
        as_user=me,
    )
    assert saved["intake"]["accepting_new_clients"] is False


# --- 3. Home: singular and plural ---------------------------------------------------------------------------------


def test_plural():
    assert plural(1, "request") == "1 request"
    assert plural(0, "request") == "0 requests"
    assert plural(2, "person", "people") == "2 people"
    assert requests_waiting_sentence(1) == "1 of your requests awaits a consultant's answer."
    assert requests_waiting_sentence(3) == "3 of your requests await a consultant's answer."


def test_attention_items_are_singular_for_one_and_plural_otherwise():
    one = {
        "requests_to_answer": 1,
        "bookings_to_confirm": 1,
        "plans_to_sign": 1,
        "waivers_to_answer": 1,
        "unread_notifications": 1,
    }
    assert [s for s, _ in attention_items(one)] == [
        "1 consultation request to answer",
        "1 proposed session to confirm or decline",
        "1 termination plan awaiting your signature",
        "1 conflict waiver the other party signed and you have not",
        "1 unread notification",
    ]
    two = dict.fromkeys(one, 2)
    assert [s for s, _ in attention_items(two)] == [
        "2 consultation requests to answer",
        "2 proposed sessions to confirm or decline",
        "2 termination plans awaiting your signature",
        "2 conflict waivers the other party signed and you have not",
        "2 unread notifications",
    ]
    assert not any("(s)" in s for s, _ in attention_items(one) + attention_items(two))


def test_home_says_one_request_in_the_singular(backend, embedded_db):
    from portal.requests import request_consultation

    consultant_username, consultant_id = make_consultant(backend, embedded_db)
    seeker_username = make_account(backend)
    request_consultation(backend, Claims.user(user_id(backend, seeker_username)), consultant_id, [], "Hello")

    seeker = app(seeker_username).run()
    no_exceptions(seeker)
    assert "1 of your requests awaits a consultant's answer." in texts(seeker, "caption")

    consultant = app(consultant_username).run()
    no_exceptions(consultant)
    labels = [str(link.proto.label) for link in consultant.main.get("page_link")]
    assert "1 consultation request to answer" in labels, labels
    assert "1 unread notification" in labels, labels
    assert not any("(s)" in label for label in labels), labels


# --- 4. Admin: the verification queue -----------------------------------------------------------------------------

NAME = "Siobhán O'Connor-Nguyễn"


def test_fold_ignores_accents_case_and_curly_apostrophes():
    assert fold(NAME) == "siobhan o'connor-nguyen"
    assert fold("Siobhán O’Connor") == "siobhan o'connor"
    assert fold("ĐẶNG Straße Øyvind") == "dang strasse oyvind"


def test_queue_matches_every_word_ignoring_accents_and_case():
    queue = [
        {"id": "1", "member_name": NAME, "item": "EMDR level 3"},
        {"id": "2", "member_name": "Zoë Brooks", "item": "LPC in NY"},
    ]
    for wanted in ("Nguyen", "siobhan", "SIOBHÁN", "nguyễn siobhan", "o'connor", "emdr"):
        assert [i["id"] for i in queue_matches(queue, wanted)] == ["1"], wanted
    assert [i["id"] for i in queue_matches(queue, "zoe ny")] == ["2"]
    assert queue_matches(queue, "  ") == queue
    assert queue_matches(queue, "nguyen ny") == []


def test_queue_matches_ignore_punctuation_and_the_order_of_words():
    """Issue 26, item 8: an apostrophe joins ("obrien"), other punctuation separates; words match in any order."""
    queue = [
        {"id": "1", "member_name": "Zoë O'Brien", "item": "CBT level 2"},
        {"id": "2", "member_name": NAME, "item": "EMDR level 3"},
        {"id": "3", "member_name": "Anne-Marie Roy", "item": "LPC in NY"},
    ]
    for wanted, found in (
        ("zoe obrien", "1"),
        ("OBRIEN, zoë", "1"),
        ("o’brien cbt", "1"),
        ("nguyen oconnor", "2"),
        ("connor-nguyen", "2"),
        ("annemarie", "3"),
        ("marie anne", "3"),
    ):
        assert [i["id"] for i in queue_matches(queue, wanted)] == [found], wanted
    assert queue_matches(queue, "zoe nguyen") == []


class CountingBackend:
    def __init__(self) -> None:
        self.calls = 0

    def rpc(self, fn, params, *, as_user):
        assert fn == "admin_verification_queue" and params == {"p_limit": 500}
        self.calls += 1
        return [{"id": "a", "member_name": "A", "item": "x"}, {"id": "b", "member_name": "B", "item": "y"}]


def test_the_queue_is_read_once_per_admin_for_a_short_time_and_decisions_leave_it_at_once():
    backend, store = CountingBackend(), {}
    admin, other = Claims.user("admin-1"), Claims.user("admin-2")
    assert len(cached_queue(backend, admin, store, now=100.0, ttl=30)) == 2
    cached_queue(backend, admin, store, now=129.0, ttl=30)
    assert backend.calls == 1  # reruns within the time kept read nothing
    forget_decided(store, "a")
    assert [i["id"] for i in cached_queue(backend, admin, store, now=129.5, ttl=30)] == ["b"]
    assert backend.calls == 1
    cached_queue(backend, admin, store, now=130.0, ttl=30)
    assert backend.calls == 2  # older than the time kept: read again
    cached_queue(backend, other, store, now=130.5, ttl=30)
    assert backend.calls == 3  # another admin's read is never reused
    cached_queue(backend, other, store, now=131.0, ttl=30, refresh=True)
    assert backend.calls == 4
    forget_queue(store)
    assert QUEUE_CACHE_KEY not in store
    cached_queue(backend, other, store, now=131.5, ttl=30)
    assert backend.calls == 5


def make_named_consultant(backend, embedded_db, name: str) -> str:
    _, consultant_id = make_consultant(backend, embedded_db)
    with owner(embedded_db) as conn:
        conn.execute("update public.profiles set display_name = %s where id = %s", (name, consultant_id))
    return consultant_id


def cards(at) -> list[str]:
    return [b.key.removeprefix("verify_approve_") for b in at.button if (b.key or "").startswith("verify_approve_")]


def open_queue():
    at = app("admin").run()
    at.switch_page(PAGES["admin"]).run()
    no_exceptions(at)
    return at


def competency_of(backend, consultant_id: str) -> str:
    admin = Claims.user(user_id(backend, "admin"))
    queue = backend.rpc("admin_verification_queue", {"p_limit": 500}, as_user=admin)
    return next(i["id"] for i in queue if i["member_id"] == consultant_id and i["kind"] == "competency")


def test_admin_filter_ignores_accents_and_case_and_says_when_nothing_matches(backend, embedded_db):
    consultant_id = make_named_consultant(backend, embedded_db, NAME)
    item = competency_of(backend, consultant_id)
    at = open_queue()
    for wanted in ("Nguyen", "siobhan", "o'connor nguyen"):
        at.text_input(key="verify_filter").input(wanted).run()
        no_exceptions(at)
        assert item in cards(at), wanted
        assert not any("No matches" in i for i in texts(at, "info"))
    at.text_input(key="verify_filter").input("Nobody-by-this-name").run()
    no_exceptions(at)
    assert cards(at) == []
    assert any(i.startswith("No matches for “Nobody-by-this-name”.") for i in texts(at, "info"))


def test_admin_decision_is_confirmed_after_the_rerun_and_leaves_the_queue(backend, embedded_db):
    verified_id = make_named_consultant(backend, embedded_db, "Aoife Verifymé")
    rejected_id = make_named_consultant(backend, embedded_db, "Aoife Rejectmé")
    verified, rejected = competency_of(backend, verified_id), competency_of(backend, rejected_id)
    at = open_queue()
    at.text_input(key="verify_filter").input("aoife").run()
    assert {verified, rejected} <= set(cards(at))
    at.button(key=f"verify_approve_{verified}").click().run()
    no_exceptions(at)
    # As read: the member's words and the credential are Markdown-escaped (portal.plain_text.plain).
    assert "Verified: Aoife Verifymé · competency IFS level 3 (Certified)." in [
        t.replace("\\", "") for t in texts(at, "success")
    ]
    assert verified not in cards(at) and rejected in cards(at)
    profile = backend.rpc(
        "get_consultant_profile", {"p_consultant": verified_id}, as_user=Claims.user(user_id(backend, "admin"))
    )
    assert profile["competencies"][0]["verified"] is True
    at.text_input(key=f"verify_note_{rejected}").input("The certificate number does not match the body's register.")
    at.button(key=f"verify_reject_{rejected}").click().run()
    no_exceptions(at)
    assert "Rejected: Aoife Rejectmé · competency IFS level 3 (Certified)." in [
        t.replace("\\", "") for t in texts(at, "success")
    ]
    assert rejected not in cards(at)
    at.run()  # the confirmation is shown once
    assert not any(s.startswith(("Verified:", "Rejected:")) for s in texts(at, "success"))
    # A fresh read of the queue agrees with what the page shows.
    fresh = open_queue()
    fresh.text_input(key="verify_filter").input("aoife").run()
    assert verified not in cards(fresh) and rejected not in cards(fresh)


def test_admin_queue_is_drawn_a_page_at_a_time(backend):
    total = len(
        backend.rpc("admin_verification_queue", {"p_limit": 500}, as_user=Claims.user(user_id(backend, "admin")))
    )
    assert total > 25, "the demo world has more credentials waiting than one page"
    at = open_queue()
    first = cards(at)
    assert len(first) == 25
    assert at.button(key="verify_show_more").label == f"Show more ({total - 25} more)"
    at.button(key="verify_show_more").click().run()
    no_exceptions(at)
    assert cards(at)[:25] == first and len(cards(at)) == min(total, 50)


def test_my_practice_says_where_sessions_happen_and_keeps_a_refused_entry(backend, embedded_db):
    # #22.5: the invitations' LOCATION. A refusal is a sentence next to the field, and what was typed stays.
    username, consultant_id = make_consultant(backend, embedded_db)
    at = app(username).run()
    at.switch_page(PAGES["practice"]).run()
    no_exceptions(at)
    at.text_input(key="session_location").input("Room 4\u2028Second floor")
    at.button(key="session_location_save").click().run()
    no_exceptions(at)
    assert "Where your sessions happen is one line of at most 300 characters." in texts(at, "error")
    assert at.text_input(key="session_location").value == "Room 4\u2028Second floor"
    at.text_input(key="session_location").input("https://telehealth.example.org/room/42")
    at.button(key="session_location_save").click().run()
    no_exceptions(at)
    assert "Saved. Invitations from now on say where to go." in texts(at, "success")
    me = Claims.user(consultant_id)
    assert backend.rpc("get_my_session_location", {}, as_user=me) == "https://telehealth.example.org/room/42"
    again = app(username).run()
    again.switch_page(PAGES["practice"]).run()
    assert again.text_input(key="session_location").value == "https://telehealth.example.org/room/42"
