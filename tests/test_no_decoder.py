"""What a determined member can learn or do, replayed through a real PostgREST on both deployments (issue 23, items 1,
4, 7 and 9; issue 22, item 6).

* No decoder (23.1): a member who declares guess i 2^i times, or lists many organisations, then sends one request,
  reads the same from two consultants whose secrets differ; the mirror image, a consultant declaring guesses and
  waiting for two requests, reads the same too. The control: the matched screening really found different numbers of
  rows for the two, so the sameness is the disclosure's doing. One organisation is one entry.
* Kept level (22.6): once a request has witnessed a conflict, search, the profile and Check for conflicts agree.
* Side door (23.7): a direct insert naming a member one may not see is refused; an export names only people one may
  see.
* Bounds (23.9): 100 declarations, 40 affiliations; long texts to the search and screening functions refused with the
  field's sentence.
* Floods (23.4): proposing and cancelling a first session in a loop, or checking for conflicts in a loop, reaches the
  other member at most 20 times a day, and the refusal says so.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest

from tests.member_api import Api, as_json, email_of, new_member, refused

pytestmark = pytest.mark.postgrest

GUESSES = 5  # guess i is declared 2^i times: 31 declarations
PERIOD = {"p_starts_on": "2015-01-01", "p_ends_on": None}


@pytest.fixture(scope="module")
def http(postgrest):
    with httpx.Client(base_url=postgrest.url, timeout=60.0) as client:
        yield client


@pytest.fixture(scope="module")
def made(deployed):
    """Members made here, each a call away; consultants leave the directory when the module ends (the database is
    shared with later modules, and the browser journey counts every consultant a NY search finds)."""
    consultants: list[str] = []

    def make(prefix: str, *, consultant: bool = False) -> str:
        user_id = new_member(deployed.owner_conninfo, prefix, consultant=consultant)
        if consultant:
            consultants.append(user_id)
        return user_id

    yield make
    with psycopg.connect(deployed.owner_conninfo, autocommit=True) as conn:
        conn.execute("update public.profiles set is_consultant = false where id = any (%s::uuid[])", (consultants,))


def api(deployed, postgrest, http, user_id: str) -> Api:
    return Api(http, postgrest.jwt_secret, user_id)


#: Guess i's kind: were kinds told back, the kind would say which guess matched.
GUESS_KINDS = ("colleague", "friend", "referral_partner", "training_cohort", "committee_board")


def declare_weighted_guesses(member: Api, guesses: list[str]) -> None:
    """Guess i, 2^i times, each copy with its own period: a count or a date would say which guess matched."""
    for i, email in enumerate(guesses):
        for copy in range(2**i):
            member.ok(
                "add_my_relationship",
                {
                    "p_kind": GUESS_KINDS[i],
                    "p_counterpart_email": email,
                    "p_counterpart_name": f"Guess {i}",
                    "p_starts_on": f"{2000 + copy % 20}-0{1 + i}-01",
                },
            )


def list_boards(member: Api) -> None:
    for i in range(GUESSES):
        member.ok("add_my_affiliation", {"p_organisation": f"Guessed Board {i}", "p_kind": "board", **PERIOD})


def sit_on_board(member: Api, i: int) -> None:
    member.ok("add_my_affiliation", {"p_organisation": f"Guessed Board {i}", "p_kind": "board", **PERIOD})


def matched_rows(deployed, seeker: str, consultant: str) -> int:
    """The control: how many rows the matched screening (run only at a request) finds for the pair."""
    with psycopg.connect(deployed.owner_conninfo) as conn:
        return conn.execute(
            "select count(*) from private.matched_conflict_reasons(%s, array[%s]::uuid[])", (seeker, consultant)
        ).fetchone()[0]


def request(member: Api, consultant: str) -> dict:
    return member.ok("request_consultation", {"p_consultant": consultant, "p_modalities": [], "p_message": "Hello"})


#: What a party reads of a match, however many of their entries matched and whichever: one sentence for their own
#: entries the matching found, one for everything drawn from data they cannot see.
MATCHED_LINE = {
    "mine": True,
    "severity": "potential",
    "waivable": True,
    "text": "Someone you declared by email is this member.",
}
HIDDEN_LINE = {
    "mine": False,
    "severity": "potential",
    "waivable": True,
    "text": "A conflict was found from information you cannot see.",
}


def seekers_view(member: Api, consultant: str, sent: dict) -> dict:
    """Everything the sender reads about one consultant after the request, names and ids aside."""
    found = member.ok(
        "search_consultants",
        {
            "p_jurisdiction": "NY",
            "p_format": "in_person",
            "p_city": "Testford",
            "p_accepting_only": False,
            "p_limit": 100,
        },
    )
    card = [r["conflict"] for r in found["results"] if r["consultant_id"] == consultant]
    profile = member.rpc("get_consultant_profile", {"p_consultant": consultant})
    log = [
        (r["context"], r["level"], r["screened"]) for r in member.ok("my_screening_log") if r["context"] == "request"
    ]
    return {
        "sent": {k: sent[k] for k in ("conflict", "status")},
        "check": member.ok("check_conflicts", {"p_other": consultant}),
        "card": card,
        "profile": profile.json().get("conflict") if profile.status_code == 200 else profile.status_code,
        "log": log[:1],
    }


def test_weighted_guesses_read_the_same_from_two_consultants_whose_secrets_differ(deployed, postgrest, http, made):
    first, second = made("secret_a", consultant=True), made("secret_b", consultant=True)
    guesses = [f"guess{i}@elsewhere.example" for i in range(GUESSES)]
    guesses[1], guesses[3] = email_of(deployed.owner_conninfo, first), email_of(deployed.owner_conninfo, second)
    sit_on_board(api(deployed, postgrest, http, first), 1)
    sit_on_board(api(deployed, postgrest, http, second), 3)

    attacker = api(deployed, postgrest, http, made("decoder"))
    declare_weighted_guesses(attacker, guesses)
    list_boards(attacker)
    # The control: the secrets differ, and so do the rows the screening matched (2 + 1 against 8 + 1).
    assert matched_rows(deployed, attacker.user_id, first) != matched_rows(deployed, attacker.user_id, second)

    views = [seekers_view(attacker, c, request(attacker, c)) for c in (first, second)]
    assert as_json(views[0]) == as_json(views[1])
    check = views[0]["check"]
    assert check["level"] == "potential" and views[0]["card"] == ["potential"]
    assert check["reasons"] == [MATCHED_LINE, HIDDEN_LINE]


def test_a_consultant_waiting_with_weighted_guesses_reads_the_same_from_two_requests(deployed, postgrest, http, made):
    first, second = made("asks_a"), made("asks_b")
    consultant = api(deployed, postgrest, http, made("waits", consultant=True))
    guesses = [f"guess{i}@elsewhere.example" for i in range(GUESSES)]
    guesses[1], guesses[3] = email_of(deployed.owner_conninfo, first), email_of(deployed.owner_conninfo, second)
    declare_weighted_guesses(consultant, guesses)
    list_boards(consultant)
    sit_on_board(api(deployed, postgrest, http, first), 1)
    sit_on_board(api(deployed, postgrest, http, second), 3)
    assert matched_rows(deployed, first, consultant.user_id) != matched_rows(deployed, second, consultant.user_id)

    for seeker in (first, second):
        request(api(deployed, postgrest, http, seeker), consultant.user_id)
    views = [consultant.ok("check_conflicts", {"p_other": seeker}) for seeker in (first, second)]
    assert as_json(views[0]) == as_json(views[1])
    assert views[0]["reasons"] == [MATCHED_LINE, HIDDEN_LINE]


def test_own_entries_about_a_person_picked_by_profile_are_one_line_per_kind_without_periods(
    deployed, postgrest, http, made
):
    consultant = made("picked", consultant=True)
    member = api(deployed, postgrest, http, made("picker"))
    for starts in ("2019-03-04", "2021-05-06"):
        member.ok("add_my_relationship", {"p_kind": "friend", "p_counterpart_id": consultant, "p_starts_on": starts})
    check = member.ok("check_conflicts", {"p_other": consultant})
    assert [(r["mine"], r["kind"]) for r in check["reasons"]] == [(True, "friend")]
    assert "2019" not in as_json(check) and "2021" not in as_json(check)


def test_one_organisation_is_one_entry(deployed, postgrest, http, made):
    member = api(deployed, postgrest, http, made("one_org"))
    member.ok("add_my_affiliation", {"p_organisation": "State Board of Psychology", "p_kind": "board", **PERIOD})
    for organisation, domain in (("State board of psychology.", None), ("SBP", "sbp.example")):
        if domain:
            member.ok(
                "add_my_affiliation", {"p_organisation": "Another Body", "p_kind": "board", "p_email_domain": domain}
            )
        again = member.rpc(
            "add_my_affiliation",
            {"p_organisation": organisation, "p_kind": "board", "p_email_domain": domain, "p_starts_on": "2001-01-01"},
        )
        refused(again, "organisation", "an organisation is listed once")
    listed = {a["organisation"]: a["id"] for a in member.ok("get_my_declarations")["affiliations"]}
    assert sorted(listed) == ["Another Body", "State Board of Psychology"]
    # Renaming one into the other, straight through the table, is refused the same way.
    renamed = member.patch("affiliations", listed["Another Body"], {"organisation": "State Board of Psychology"})
    refused(renamed, "organisation", "an organisation is listed once")


# --- 22.6: every view of the pair shows the kept level ----------------------------------------------------------


@pytest.mark.parametrize("kind,level", [("colleague", "potential"), ("family", "blocking")])
def test_once_a_request_witnessed_a_conflict_every_view_shows_it(deployed, postgrest, http, made, kind, level):
    consultant = made("kept_c", consultant=True)
    seeker = api(deployed, postgrest, http, made("kept_s"))
    seeker.ok(
        "add_my_relationship",
        {
            "p_kind": kind,
            "p_counterpart_email": email_of(deployed.owner_conninfo, consultant),
            "p_counterpart_name": "X",
        },
    )
    before = seekers_view(seeker, consultant, {"conflict": None, "status": None})
    assert (before["card"], before["profile"], before["check"]["level"]) == (["none"], "none", "none")

    sent = request(seeker, consultant)
    after = seekers_view(seeker, consultant, sent)
    assert sent["conflict"] == after["check"]["level"] == level
    if level == "blocking":
        assert (after["card"], after["profile"]) == ([], 404)  # hidden, as a live blocking conflict is
    else:
        assert (after["card"], after["profile"]) == ([level], level)
    theirs = api(deployed, postgrest, http, consultant).ok("check_conflicts", {"p_other": seeker.user_id})
    assert theirs["level"] == level


# --- 23.7: no side door through the tables ------------------------------------------------------------------------


def test_a_direct_insert_naming_a_hidden_member_is_refused_and_no_export_names_them(deployed, postgrest, http, made):
    hidden, consultant = made("hidden"), made("seen", consultant=True)
    member = api(deployed, postgrest, http, made("side_door"))
    direct = member.post(
        "declared_relationships", {"declarer_id": member.user_id, "counterpart_id": hidden, "kind": "friend"}
    )
    refused(direct, "counterpart", "Pick the person from the list")
    through = member.rpc("add_my_relationship", {"p_kind": "friend", "p_counterpart_id": hidden})
    refused(through, "counterpart")
    seen = member.post(
        "declared_relationships", {"declarer_id": member.user_id, "counterpart_id": consultant, "kind": "friend"}
    )
    assert seen.status_code == 201
    # Nor by changing a declaration afterwards.
    (declared,) = member.ok("get_my_declarations")["relationships"]
    refused(member.patch("declared_relationships", declared["id"], {"counterpart_id": hidden}), "counterpart")
    # A declaration written before this rule (the owner writes it, as a past door did) names nobody in the export.
    with psycopg.connect(deployed.owner_conninfo, autocommit=True) as conn:
        conn.execute(
            "insert into public.declared_relationships (declarer_id, counterpart_id, kind) values (%s, %s, 'friend')",
            (member.user_id, hidden),
        )
    people = {p["id"] for p in member.ok("export_my_data")["people"]}
    assert consultant in people and hidden not in people


# --- 23.9: bounded lists and texts --------------------------------------------------------------------------------


def test_declarations_and_affiliations_are_bounded_whichever_door(deployed, postgrest, http, made):
    member = api(deployed, postgrest, http, made("hoarder"))
    rows = [{"declarer_id": member.user_id, "counterpart_name": f"P{i}", "kind": "friend"} for i in range(100)]
    assert member.post("declared_relationships", rows).status_code == 201
    refused(
        member.rpc("add_my_relationship", {"p_kind": "friend", "p_counterpart_name": "One more"}),
        "relationships",
        "at most 100",
    )
    refused(member.post("declared_relationships", rows[:1]), "relationships")
    affiliations = [{"member_id": member.user_id, "organisation": f"Org {i}", "kind": "practice"} for i in range(40)]
    assert member.post("affiliations", affiliations).status_code == 201
    refused(
        member.rpc("add_my_affiliation", {"p_organisation": "Org 40", "p_kind": "practice"}),
        "affiliations",
        "at most 40",
    )
    declarations = member.ok("get_my_declarations")
    assert (len(declarations["relationships"]), len(declarations["affiliations"])) == (100, 40)


MEGABYTE = "x" * 1_000_000


@pytest.mark.parametrize(
    "fn,params,field",
    [
        ("find_consultants", {"p_query": MEGABYTE}, "query"),
        ("referral_candidates", {"p_engagement": "00000000-0000-0000-0000-000000000000", "p_query": MEGABYTE}, "query"),
        ("search_consultants", {"p_jurisdiction": "NY", "p_city": MEGABYTE}, "city"),
        ("sign_waiver", {"p_other": "00000000-0000-0000-0000-000000000000", "p_rationale": MEGABYTE}, "rationale"),
        ("add_my_relationship", {"p_kind": "friend", "p_counterpart_name": MEGABYTE}, "counterpart_name"),
        (
            "add_my_relationship",
            {"p_kind": "friend", "p_counterpart_name": "A", "p_counterpart_email": MEGABYTE + "@x.example"},
            "counterpart_email",
        ),
        ("add_my_affiliation", {"p_organisation": MEGABYTE, "p_kind": "board"}, "organisation"),
        ("add_my_affiliation", {"p_organisation": "Org", "p_kind": "board", "p_role": MEGABYTE}, "role"),
        (
            "add_my_affiliation",
            {"p_organisation": "Org", "p_kind": "board", "p_email_domain": MEGABYTE + ".example"},
            "email_domain",
        ),
    ],
)
def test_long_texts_are_refused_with_the_fields_sentence(deployed, postgrest, http, made, fn, params, field):
    member = api(deployed, postgrest, http, made("long"))
    refused(member.rpc(fn, params), field)
    assert member.ok("get_my_declarations") == {"affiliations": [], "relationships": []}


# --- 23.4: floods ------------------------------------------------------------------------------------------------


def test_checking_for_conflicts_in_a_loop_reaches_the_other_member_20_times_a_day(deployed, postgrest, http, made):
    target = made("flooded")
    member = api(deployed, postgrest, http, made("flooder"))
    for _ in range(20):
        member.ok("check_conflicts", {"p_other": target})
    refused(member.rpc("check_conflicts", {"p_other": target}), "screening", "20 times today")
    theirs = api(deployed, postgrest, http, target).ok("my_screening_log")
    assert len([r for r in theirs if not r["checked_by_me"]]) == 20
    member.ok("check_conflicts", {"p_other": made("someone_else")})  # another member is another pair


def test_proposing_and_cancelling_in_a_loop_reaches_the_consultant_20_times_a_day(deployed, postgrest, http, made):
    consultant = made("booked_c", consultant=True)
    with psycopg.connect(deployed.owner_conninfo, autocommit=True) as conn:
        conn.execute(
            "update public.availability_settings set min_notice_hours = 0 where consultant_id = %s", (consultant,)
        )
        conn.execute(
            "insert into public.weekly_hours (consultant_id, weekday, starts_at, ends_at) "
            "select %s, d, '08:00', '18:00' from generate_series(1, 7) d",
            (consultant,),
        )
    seeker = api(deployed, postgrest, http, made("booked_s"))
    request(seeker, consultant)  # the request itself is one notice
    first = datetime.now(UTC).date() + timedelta(days=3)
    slot = seeker.ok(
        "open_slots",
        {
            "p_consultant": consultant,
            "p_from": str(first),
            "p_to": str(first + timedelta(days=6)),
            "p_client": seeker.user_id,
        },
    )[0]["starts_at"]
    cycles = 0
    while True:
        proposed = seeker.rpc("book_appointment", {"p_other": consultant, "p_starts_at": slot})
        if proposed.status_code != 200:
            refused(proposed, "notices", "20 updates today")
            break
        cancelled = seeker.rpc(
            "cancel_appointment", {"p_appointment": proposed.json()["id"], "p_reason": "Loop", "p_accept_late": True}
        )
        if cancelled.status_code != 200:
            refused(cancelled, "notices", "20 updates today")
            break
        cycles += 1
        assert cycles < 25, "the loop was never capped"
    with psycopg.connect(deployed.owner_conninfo) as conn:
        received, emails = conn.execute(
            "select (select count(*) from public.notifications where user_id = %(c)s), "
            "(select count(*) from private.outbox where recipient_id = %(c)s)",
            {"c": consultant},
        ).fetchone()
    # The request and 19 proposals or cancellations: the consultant's notices and emails stop at 20 (one each).
    assert received == 20 and emails <= 20
    assert cycles < 10
