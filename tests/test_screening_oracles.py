"""Screening cannot be used as a probe (#16, items 1-4).

Each test replays an attack that worked against the real PostgREST on the demo world:
a member edits their own declarations and watches search, a profile or Check for
conflicts change, to learn who a colleague treats, their private affiliation dates or
their login email; or reads waiver fingerprints; or diffs referral candidates against a
plain name search. Each now learns nothing: the answers before and after the edit are
identical, on both backends (the local one and supabase-py through PostgREST). A control
in each test shows the probe's input really does match (the matched screening finds it),
so the sameness is not an accident of the data. What matching finds is shown only when
a request is sent: to both parties, and logged for both.
"""

from __future__ import annotations

import uuid

import httpx
import psycopg
import pytest

from portal.db.claims import Claims
from portal.db.tokens import TokenMinter
from tests import contract_support as contract
from tests.conftest import licensed_where_the_clients_live
from tests.contract_support import register, same
from tests.db_support import demo_id

# The two backends on each deployment: the contract module's fixtures, bound here (`backend` overrides conftest's).
api, backend, backends = contract.api, contract.backend, contract.backends
postgrest, supabase_backend = contract.postgrest, contract.supabase_backend

pytestmark = pytest.mark.postgrest


def email_of(deployed, user_id: str) -> str:
    with psycopg.connect(deployed.owner_conninfo) as conn:
        return conn.execute("select email from private.credentials where user_id = %s", (user_id,)).fetchone()[0]


def matched_kinds(deployed, seeker: str, consultant: str) -> set[str]:
    """What the matched screening (run only at a request) finds for the pair: the probe's control."""
    with psycopg.connect(deployed.owner_conninfo) as conn:
        rows = conn.execute(
            "select kind from private.matched_conflict_reasons(%s, array[%s]::uuid[])", (seeker, consultant)
        ).fetchall()
    return {kind for (kind,) in rows}


def what_the_seeker_sees(backends, seeker: Claims, consultant: str, jurisdiction: str) -> dict:
    """Everything a probing seeker can read about one consultant, on both backends."""
    found = same(
        backends,
        "search_consultants",
        {"p_jurisdiction": jurisdiction, "p_accepting_only": False, "p_limit": 200},
        as_user=seeker,
    )["data"]
    flags = {r["consultant_id"]: r.get("conflict") for r in found["results"]}
    assert consultant in flags, "the probed consultant must be in the search for the probe to mean anything"
    check = same(backends, "check_conflicts", {"p_other": consultant}, as_user=seeker)["data"]
    return {"search": flags, "total": found.get("total"), "check": check}


def declare(backends, who: Claims, **fields) -> str:
    """Add a declaration on one backend (writes are not repeated); returns its id."""
    declarations = backends["local"].rpc("add_my_relationship", fields, as_user=who)
    return declarations["relationships"][-1]["id"]


def remove(backends, who: Claims, declaration_id: str) -> None:
    backends["local"].rpc("remove_my_declaration", {"p_id": declaration_id}, as_user=who)


def test_an_indirect_tie_teaches_a_searching_seeker_nothing(deployed, backends):
    """Item 1: seeker01 declares seeker05 (consultant06's client) as family and searches WA."""
    seeker01, seeker05, consultant06 = demo_id("seeker01"), demo_id("seeker05"), demo_id("consultant06")
    me = Claims.user(seeker01)
    before = what_the_seeker_sees(backends, me, consultant06, "WA")
    probe = declare(
        backends, me, p_kind="family", p_counterpart_email=email_of(deployed, seeker05), p_counterpart_name="A guess"
    )
    try:
        assert "indirect_tie" in matched_kinds(deployed, seeker01, consultant06)  # the control
        during = what_the_seeker_sees(backends, me, consultant06, "WA")
    finally:
        remove(backends, me, probe)
    after = what_the_seeker_sees(backends, me, consultant06, "WA")
    assert during == before == after


def test_an_affiliation_moved_about_narrows_no_ones_dates(deployed, backends):
    """Item 4: seeker03 adds consultant05's board and moves its dates to find theirs."""
    seeker03, consultant05 = demo_id("seeker03"), demo_id("consultant05")
    me = Claims.user(seeker03)
    before = same(backends, "check_conflicts", {"p_other": consultant05}, as_user=me)["data"]
    seen = []
    for starts, ends in (("2020-01-01", None), ("2000-01-01", "2001-01-01"), ("2023-06-01", "2024-06-01")):
        mine = backends["local"].rpc(
            "add_my_affiliation",
            {
                "p_organisation": "State Board of Psychology",
                "p_kind": "board",
                "p_starts_on": starts,
                "p_ends_on": ends,
            },
            as_user=me,
        )
        added = mine["affiliations"][-1]["id"]
        try:
            if ends is None:
                assert "shared_board" in matched_kinds(deployed, seeker03, consultant05)  # the control
            seen.append(same(backends, "check_conflicts", {"p_other": consultant05}, as_user=me)["data"])
        finally:
            remove(backends, me, added)
    assert all(answer == before for answer in seen)


def test_a_declaration_by_email_confirms_no_members_email(deployed, backends):
    """Item 4: declaring a colleague by a guessed email and reading "mine": true confirmed it."""
    seeker01, consultant06 = demo_id("seeker01"), demo_id("consultant06")
    me = Claims.user(seeker01)
    before = what_the_seeker_sees(backends, me, consultant06, "WA")
    right = declare(
        backends,
        me,
        p_kind="colleague",
        p_counterpart_email=email_of(deployed, consultant06),
        p_counterpart_name="Right guess",
    )
    try:
        assert "colleague" in matched_kinds(deployed, seeker01, consultant06)  # the control
        with_the_right_email = what_the_seeker_sees(backends, me, consultant06, "WA")
    finally:
        remove(backends, me, right)
    wrong = declare(
        backends, me, p_kind="colleague", p_counterpart_email="nobody@clinic.example", p_counterpart_name="Wrong guess"
    )
    try:
        with_a_wrong_email = what_the_seeker_sees(backends, me, consultant06, "WA")
    finally:
        remove(backends, me, wrong)
    assert with_the_right_email == with_a_wrong_email == before
    assert not any(r.get("mine") for r in with_the_right_email["check"]["reasons"])


def test_no_member_reads_a_waiver_fingerprint_or_the_other_partys_rationale(deployed, postgrest):
    """Item 2: GET /conflict_waivers returned the fingerprint (md5 over reason keys) and both rationales."""
    token = TokenMinter(secret=postgrest.jwt_secret).mint(Claims.user(demo_id("consultant04")))
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=postgrest.url, timeout=15.0) as http:
        for column in ("fingerprint", "seeker_rationale", "consultant_rationale", "*"):
            response = http.get("/conflict_waivers", params={"select": column}, headers=headers)
            assert response.status_code in (401, 403) and response.json()["code"] == "42501", column
        # What a party may know: that the waiver exists and who signed it when.
        signed = http.get(
            "/conflict_waivers", params={"select": "seeker_id,seeker_signed_at,consultant_signed_at"}, headers=headers
        )
    assert signed.status_code == 200
    assert [row["seeker_id"] for row in signed.json()] == [demo_id("seeker03")]


def test_referral_candidates_are_the_plain_name_search_for_the_consultant(deployed, backends):
    """Item 3: the consultant's list left out names the client may not see; diffing it with
    find_consultants told the consultant about their client's blocking conflicts."""
    consultant06, seeker05, consultant07 = demo_id("consultant06"), demo_id("seeker05"), demo_id("consultant07")
    with psycopg.connect(deployed.owner_conninfo) as conn:
        engagement = str(
            conn.execute(
                "select id from public.engagements where consultant_id = %s and seeker_id = %s and status = 'active'",
                (consultant06, seeker05),
            ).fetchone()[0]
        )
        name = conn.execute("select display_name from public.profiles where id = %s", (consultant07,)).fetchone()[0]
        blocking = conn.execute(
            "select level from private.conflict_levels(%s, array[%s]::uuid[])", (seeker05, consultant07)
        ).fetchone()[0]
    assert blocking == "blocking"  # the control: seeker05 may not see consultant07
    consultant = Claims.user(consultant06)
    for query in (name[:4], name.split()[-1], "an"):
        offered = same(
            backends, "referral_candidates", {"p_engagement": engagement, "p_query": query}, as_user=consultant
        )["data"]
        plain = same(backends, "find_consultants", {"p_query": query}, as_user=consultant)["data"]
        assert [(r["id"], r["display_name"]) for r in offered] == [(r["id"], r["display_name"]) for r in plain]
        assert {r["available_to_me"] for r in offered} <= {None}
    # The client is told, about their own list, which names are not available to them.
    mine = same(
        backends, "referral_candidates", {"p_engagement": engagement, "p_query": name}, as_user=Claims.user(seeker05)
    )["data"]
    assert [(r["id"], r["available_to_me"]) for r in mine] == [(consultant07, False)]


@pytest.fixture
def leaves_the_directory(deployed):
    """Consultants a test makes leave the directory afterwards: the database is shared with later modules
    (the browser journey counts the consultants a search in NY finds)."""
    made: list[str] = []
    yield made
    with psycopg.connect(deployed.owner_conninfo) as conn:
        conn.execute("update public.profiles set is_consultant = false where id = any (%s::uuid[])", (made,))


def test_a_request_is_where_matching_shows_to_both_and_is_logged_for_both(deployed, api, leaves_the_directory):
    """What the matched screening finds reaches the pair once, at a request the consultant sees;
    editing declarations afterwards changes nothing either can read."""
    seeker, _ = register(api, "probe_s")
    consultant, _ = register(api, "probe_c")
    leaves_the_directory.append(consultant)
    sibling, _ = register(api, "probe_f")
    with psycopg.connect(deployed.owner_conninfo) as conn:
        conn.execute("update public.profiles set is_consultant = true where id = %s", (consultant,))
        conn.execute(
            "update public.availability_settings set accepting_new_clients = true, capacity = 5 "
            "where consultant_id = %s",
            (consultant,),
        )
        licensed_where_the_clients_live(conn, consultant, seeker)
        request = conn.execute(
            "insert into public.consultation_requests (seeker_id, consultant_id, message, status) "
            "values (%s, %s, 'hi', 'accepted') returning id",
            (sibling, consultant),
        ).fetchone()[0]
        conn.execute(
            "insert into public.engagements (request_id, seeker_id, consultant_id) values (%s, %s, %s)",
            (request, sibling, consultant),
        )
        sibling_email = conn.execute("select email from private.credentials where user_id = %s", (sibling,)).fetchone()[
            0
        ]
    me, them = Claims.user(seeker), Claims.user(consultant)
    probe = api.rpc(
        "add_my_relationship",
        {"p_kind": "family", "p_counterpart_email": sibling_email, "p_counterpart_name": "My sibling"},
        as_user=me,
    )["relationships"][0]["id"]
    assert api.rpc("check_conflicts", {"p_other": consultant}, as_user=me)["level"] == "none"

    sent = api.rpc(
        "request_consultation",
        {"p_consultant": consultant, "p_modalities": [], "p_message": "Hello, could we talk?"},
        as_user=me,
    )
    assert sent["conflict"] == "potential" and sent["status"] == "pending"
    for who in (me, them):
        check = api.rpc("check_conflicts", {"p_other": consultant if who is me else seeker}, as_user=who)
        assert check["level"] == "potential"
        assert [r["mine"] for r in check["reasons"]] == [False]  # an indirect tie never names the third person
        assert "sibling" not in str(check).lower() and sibling not in str(check)
    log = api.rpc("my_screening_log", {}, as_user=them)
    assert any(row["context"] == "request" and not row["checked_by_me"] for row in log)

    # Frozen at the request: removing or adding declarations now changes nothing either party reads.
    api.rpc("remove_my_declaration", {"p_id": probe}, as_user=me)
    api.rpc(
        "add_my_relationship",
        {
            "p_kind": "friend",
            "p_counterpart_email": f"{uuid.uuid4().hex}@x.example",
            "p_counterpart_name": "Someone else",
        },
        as_user=me,
    )
    assert api.rpc("check_conflicts", {"p_other": consultant}, as_user=me)["level"] == "potential"
    # The consultant cannot accept past it: discuss, and both sign a waiver, first.
    inbox = [r for r in api.rpc("my_requests", {}, as_user=them) if r["status"] == "pending"]
    with pytest.raises(Exception, match="possible dual relationship"):
        api.rpc("respond_to_request", {"p_request": inbox[0]["id"], "p_accept": True}, as_user=them)


def test_requests_are_capped_per_day(deployed, backend, leaves_the_directory):
    """Each request runs the matched screening once; twenty a day is the most one member can send."""
    seeker, _ = register(backend, "cap_s")
    consultants = [register(backend, f"cap_c{i}")[0] for i in range(21)]
    leaves_the_directory.extend(consultants)
    with psycopg.connect(deployed.owner_conninfo) as conn:
        for consultant in consultants:
            conn.execute("update public.profiles set is_consultant = true where id = %s", (consultant,))
            conn.execute(
                "update public.availability_settings set accepting_new_clients = true, capacity = 5 "
                "where consultant_id = %s",
                (consultant,),
            )
            licensed_where_the_clients_live(conn, consultant, seeker)
    me = Claims.user(seeker)
    for consultant in consultants[:20]:
        backend.rpc(
            "request_consultation", {"p_consultant": consultant, "p_modalities": [], "p_message": "Hello"}, as_user=me
        )
    with pytest.raises(Exception, match="20 requests in the last day"):
        backend.rpc(
            "request_consultation",
            {"p_consultant": consultants[20], "p_modalities": [], "p_message": "Hello"},
            as_user=me,
        )
