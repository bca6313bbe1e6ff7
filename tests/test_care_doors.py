"""No door ends, hides or strands care silently (issue 22, item 4), through the RPC API on both databases.

A consultant with two active clients, each with a confirmed session ahead. Every state change that could end, hide
or strand that care is tried at each of its doors (the page's function, and the table write the member's grants
allow), and each party's side is checked:

* the consultant switch (profiles.is_consultant): refused, naming each client and each waiting request;
* capacity below the active clients (availability_settings.capacity): refused; closing intake ends nothing;
* a licence edited to a past expiry, removed, or moved to another jurisdiction, and a client who moves
  (profiles.home_jurisdiction): care continues (both keep booking), both are told; new work is still guarded;
* account deletion and closure: the consultant's own deletion and the service role's direct writes are refused
  naming the clients; a client's deletion and an admin's closure end everything through close_account, which tells
  everyone, and nothing vanishes from the other party's lists;
* an engagement ended by its plan while a session is still booked: refused, naming the session.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from portal.db import SERVICE, APIError, Claims
from portal.db.local import LocalBackend
from tests.care_parties import as_member, book, engage, register, retire

QUINN = "Dr. Quinn Leaving"


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
def practice(deployed, backend, made):
    """(consultant, [Ana Diaz, Ben Okafor]): two active clients, each with a confirmed session ahead."""
    consultant = register(deployed.owner_conninfo, QUINN, consultant=True)
    made.append(consultant)
    clients = [register(deployed.owner_conninfo, name) for name in ("Ana Diaz", "Ben Okafor")]
    for client in clients:
        engage(deployed.owner_conninfo, consultant, client)
        session = book(backend, client, consultant, client)
        backend.rpc("respond_to_appointment", {"p_appointment": session["id"], "p_confirm": True}, as_user=consultant)
    return consultant, clients


def care_goes_on(backend, consultant: Claims, client: Claims) -> None:
    """The client still lists the engagement and their session ahead with their consultant, and books another; the
    consultant still lists the engagement and books one too."""
    theirs = [e for e in backend.rpc("my_engagements", {}, as_user=client) if e["other_id"] == consultant.sub]
    assert [(e["other_name"], e["status"]) for e in theirs] == [(QUINN, "active")]
    ahead = backend.rpc("my_appointments", {}, as_user=client)
    assert any(a["other_id"] == consultant.sub and a["status"] == "confirmed" for a in ahead)
    assert book(backend, client, consultant, client, days=5)["status"] == "requested"
    mine = backend.rpc("my_engagements", {}, as_user=consultant)
    assert any(e["other_id"] == client.sub and e["status"] == "active" for e in mine)
    assert book(backend, consultant, consultant, client, days=6)["status"] == "requested"


def notices(backend, who: Claims, kind: str) -> list[str]:
    return [n["message"] for n in backend.rpc("my_notifications", {}, as_user=who) if n["kind"] == kind]


def waiting_request(conninfo: str, consultant: Claims, name: str, home: str = "NY") -> tuple[Claims, str]:
    seeker = register(conninfo, name, home=home)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        request = conn.execute(
            "insert into public.consultation_requests (seeker_id, consultant_id, message) "
            "values (%s, %s, 'May we work together?') returning id",
            (seeker.sub, consultant.sub),
        ).fetchone()[0]
    return seeker, str(request)


def save_profile(backend, who: Claims, *, licences: list[dict] | None = None, **changes) -> dict:
    """My profile's save, with `changes` to the profile and `licences` in place of the saved ones."""
    doc = backend.rpc("get_my_profile", {}, as_user=who)
    rows = doc["licenses"] if licences is None else licences
    keys = ("jurisdiction", "license_type", "license_number", "expires_on")
    return backend.rpc(
        "save_my_profile",
        {
            "p_profile": {**doc, **changes},
            "p_licenses": [{k: row[k] for k in keys} for row in rows],
            "p_expected_version": doc["version"],
        },
        as_user=who,
    )


def username(conninfo: str, who: Claims) -> str:
    with psycopg.connect(conninfo) as conn:
        return conn.execute("select username from private.credentials where user_id = %s", (who.sub,)).fetchone()[0]


# --- the consultant switch -----------------------------------------------------------------------------------------


def test_the_consultant_switch_is_refused_naming_each_client_at_every_door(backend, deployed, practice):
    consultant, clients = practice
    with pytest.raises(APIError) as by_page:
        save_profile(backend, consultant, is_consultant=False)
    assert by_page.value.details == "is_consultant"
    assert by_page.value.message.startswith("You still work with: Ana Diaz (since ")
    assert "Ben Okafor (since " in by_page.value.message and "without telling them" in by_page.value.message
    assert "Termination plans" in by_page.value.hint
    with as_member(deployed.api_conninfo, consultant) as conn, pytest.raises(psycopg.errors.RaiseException) as direct:
        conn.execute("update public.profiles set is_consultant = false where id = %s", (consultant.sub,))
    assert "You still work with: Ana Diaz" in str(direct.value)
    assert backend.rpc("get_my_profile", {}, as_user=consultant)["is_consultant"] is True
    for client in clients:
        care_goes_on(backend, consultant, client)


def test_a_waiting_request_holds_the_switch_and_former_clients_still_see_who_it_was(backend, deployed, practice):
    consultant, (ana, ben) = practice
    with psycopg.connect(deployed.owner_conninfo, autocommit=True) as conn:  # both endings agreed and done
        conn.execute("update public.appointments set status = 'cancelled' where consultant_id = %s", (consultant.sub,))
        conn.execute(
            "update public.engagements set status = 'ended', ended_at = now() where consultant_id = %s",
            (consultant.sub,),
        )
    cara, request = waiting_request(deployed.owner_conninfo, consultant, "Cara Waiting")
    with pytest.raises(APIError) as waiting:
        save_profile(backend, consultant, is_consultant=False)
    assert waiting.value.message.startswith("Requests still wait for your answer from: Cara Waiting (sent ")
    assert [r["status"] for r in backend.rpc("my_requests", {}, as_user=cara)] == ["pending"]  # still there for her
    backend.rpc(
        "respond_to_request",
        {"p_request": request, "p_accept": False, "p_reason": "I am closing my practice."},
        as_user=consultant,
    )
    assert save_profile(backend, consultant, is_consultant=False)["is_consultant"] is False  # nothing open now
    for former in (ana, ben, cara):  # their records still name their consultant
        with_quinn = [e for e in backend.rpc("my_engagements", {}, as_user=former) if e["other_id"] == consultant.sub]
        with_quinn += [r for r in backend.rpc("my_requests", {}, as_user=former) if r["other_id"] == consultant.sub]
        assert with_quinn and {row["other_name"] for row in with_quinn} == {QUINN}


# --- capacity and intake -------------------------------------------------------------------------------------------


def test_capacity_stays_above_the_clients_and_closing_intake_ends_nothing(backend, deployed, practice):
    consultant, clients = practice
    doc = backend.rpc("get_my_practice", {}, as_user=consultant)
    args = {"p_competencies": doc["competencies"], "p_accepting": True, "p_expected_version": doc["intake"]["version"]}
    with pytest.raises(APIError) as by_page:
        backend.rpc("save_my_practice", {**args, "p_capacity": 1}, as_user=consultant)
    assert (by_page.value.message, by_page.value.details) == (
        "You have 2 active clients; capacity can't be lower.",
        "capacity",
    )
    with as_member(deployed.api_conninfo, consultant) as conn, pytest.raises(psycopg.errors.RaiseException) as direct:
        conn.execute("update public.availability_settings set capacity = 1 where consultant_id = %s", (consultant.sub,))
    assert "You have 2 active clients" in str(direct.value)

    cara, request = waiting_request(deployed.owner_conninfo, consultant, "Cara Waiting")
    backend.rpc("save_my_practice", {**args, "p_capacity": 3, "p_accepting": False}, as_user=consultant)
    for client in clients:
        care_goes_on(backend, consultant, client)
    # Intake closed: a request already waiting can still be answered, and accepted.
    backend.rpc("respond_to_request", {"p_request": request, "p_accept": True}, as_user=consultant)
    assert [e["status"] for e in backend.rpc("my_engagements", {}, as_user=cara)] == ["active"]


# --- licences and where the client lives ---------------------------------------------------------------------------


def lapse_licence(backend, deployed, consultant: Claims, door: str) -> None:
    yesterday = str(datetime.now(UTC).date() - timedelta(days=1))
    if door == "edited on My profile":
        licence = backend.rpc("get_my_profile", {}, as_user=consultant)["licenses"][0]
        save_profile(backend, consultant, licences=[{**licence, "expires_on": yesterday}])
    elif door == "removed on My profile":
        save_profile(backend, consultant, licences=[])
    elif door == "deleted from the table":
        with as_member(deployed.api_conninfo, consultant) as conn:
            conn.execute("delete from public.licenses where profile_id = %s", (consultant.sub,))
    else:  # "moved to another jurisdiction in the table"
        with as_member(deployed.api_conninfo, consultant) as conn:
            conn.execute("update public.licenses set jurisdiction = 'CA' where profile_id = %s", (consultant.sub,))


@pytest.mark.parametrize(
    "door",
    [
        "edited on My profile",
        "removed on My profile",
        "deleted from the table",
        "moved to another jurisdiction in the table",
    ],
)
def test_a_licence_that_stops_covering_the_clients_leaves_care_going_and_tells_both(backend, deployed, practice, door):
    consultant, clients = practice
    lapse_licence(backend, deployed, consultant, door)
    told = notices(backend, consultant, "licence_gap")
    assert len(told) == 2 and all(m.startswith("You hold no current licence in New York, where ") for m in told)
    assert {"Ana Diaz", "Ben Okafor"} == {name for name in ("Ana Diaz", "Ben Okafor") if any(name in m for m in told)}
    for client in clients:
        assert notices(backend, client, "licence_gap") == [
            f"{QUINN} holds no current licence in New York, where you live. Your sessions with them continue; talk "
            "with them about how to go on (a licence there, or an ending with a referral)."
        ]
        care_goes_on(backend, consultant, client)
    # New work is what the licence rule guards: a New Yorker's request is refused.
    newcomer = register(deployed.owner_conninfo, "Dee Newcomer")
    with pytest.raises(APIError) as refused:
        backend.rpc(
            "request_consultation",
            {"p_consultant": consultant.sub, "p_modalities": [], "p_message": "Hello"},
            as_user=newcomer,
        )
    assert refused.value.details == "jurisdiction"


def test_a_licence_that_expires_with_time_is_told_once_by_the_senders_sweep(backend, deployed, practice):
    consultant, clients = practice
    with psycopg.connect(deployed.owner_conninfo, autocommit=True) as conn:  # time passes: no door writes it
        conn.execute(
            "update public.licenses set expires_on = current_date - 1 where profile_id = %s", (consultant.sub,)
        )
    assert notices(backend, consultant, "licence_gap") == []
    backend.rpc("write_due_reminders", {}, as_user=SERVICE)
    backend.rpc("write_due_reminders", {}, as_user=SERVICE)  # a second sweep tells nobody again
    assert len(notices(backend, consultant, "licence_gap")) == 2
    for client in clients:
        assert len(notices(backend, client, "licence_gap")) == 1
        care_goes_on(backend, consultant, client)


@pytest.mark.parametrize("door", ["set_my_home_jurisdiction", "the table"])
def test_a_client_who_moves_keeps_their_care_and_both_are_told(backend, deployed, practice, door):
    consultant, (ana, ben) = practice
    cara, _ = waiting_request(deployed.owner_conninfo, consultant, "Cara Waiting")
    for mover in (ana, cara):
        if door == "set_my_home_jurisdiction":
            backend.rpc("set_my_home_jurisdiction", {"p_jurisdiction": "QC"}, as_user=mover)
        else:
            with as_member(deployed.api_conninfo, mover) as conn:
                conn.execute("update public.profiles set home_jurisdiction = 'QC' where id = %s", (mover.sub,))
    assert notices(backend, ana, "licence_gap") == [
        f"{QUINN} holds no current licence in Quebec, where you live. Your sessions with them continue; talk with "
        "them about how to go on (a licence there, or an ending with a referral)."
    ]
    assert notices(backend, consultant, "licence_gap") == [
        "You hold no current licence in Quebec, where Ana Diaz lives. Your sessions with them continue; renew or "
        "add the licence on My profile, or agree an ending with a referral under Termination plans."
    ]
    assert notices(backend, ben, "licence_gap") == []
    assert notices(backend, cara, "licence_gap")[0].startswith(
        f"Your request to {QUINN} waits for an answer, but they hold no current licence in Quebec"
    )
    care_goes_on(backend, consultant, ana)
    care_goes_on(backend, consultant, ben)


# --- deletion and closure ------------------------------------------------------------------------------------------


def test_deletion_is_refused_and_closure_tells_everyone_and_hides_nothing(backend, deployed, practice):
    consultant, (ana, ben) = practice
    with pytest.raises(APIError) as own:
        backend.rpc(
            "delete_my_account",
            {"p_confirm_username": username(deployed.owner_conninfo, consultant)},
            as_user=consultant,
        )
    assert own.value.message.startswith("You still work with: Ana Diaz (since ")
    for write in (
        "update public.profiles set deleted_at = now() where id = %s",
        "delete from public.profiles where id = %s",
    ):
        with as_member(deployed.api_conninfo, SERVICE) as conn, pytest.raises(psycopg.errors.RaiseException) as raw:
            conn.execute(write, (consultant.sub,))
        assert "still has open requests, sessions or engagements with: Ana Diaz, Ben Okafor." in str(raw.value)

    # A client leaves: their consultant is told, and the session they had is cancelled, not left standing.
    backend.rpc("delete_my_account", {"p_confirm_username": username(deployed.owner_conninfo, ben)}, as_user=ben)
    assert notices(backend, consultant, "account_closed")
    with_ben = [a for a in backend.rpc("my_appointments", {}, as_user=consultant) if a["other_id"] == ben.sub]
    assert with_ben and {a["status"] for a in with_ben} == {"cancelled"}
    care_goes_on(backend, consultant, ana)

    # An admin closes the consultant's account, for a reason: Ana is told, her sessions cancelled, and her
    # engagement stays on her list (ended), naming the closed account.
    admin = register(deployed.owner_conninfo, "Admin Person")
    with psycopg.connect(deployed.owner_conninfo, autocommit=True) as conn:
        conn.execute("update private.credentials set is_admin = true where user_id = %s", (admin.sub,))
    reason = "Licence suspended by the state board in March."
    assert backend.rpc("admin_close_account", {"p_user": consultant.sub, "p_reason": reason}, as_user=admin) == {
        "clients_notified": 1
    }
    # The notice quotes the reason in brackets as part of its sentence: "(… in March)." (private.as_sentences)
    assert any(reason.removesuffix(".") in m for m in notices(backend, ana, "account_closed"))
    sessions = [a for a in backend.rpc("my_appointments", {}, as_user=ana) if a["other_id"] == consultant.sub]
    assert sessions and {a["status"] for a in sessions} == {"cancelled"}
    engagements = [e for e in backend.rpc("my_engagements", {}, as_user=ana) if e["other_id"] == consultant.sub]
    assert [(e["other_name"], e["status"]) for e in engagements] == [("Former member", "ended")]


def test_nothing_deletes_an_active_engagement_or_a_session_ahead(backend, deployed, practice):
    """The service role's table writes (no member may delete these rows): a session ahead, an active engagement,
    and the request an engagement cascades from are refused, naming both parties; both still see everything."""
    consultant, (ana, _) = practice
    with psycopg.connect(deployed.owner_conninfo) as conn:
        session, engagement, request = conn.execute(
            "select a.id, e.id, e.request_id from public.appointments a join public.engagements e "
            "on e.id = a.engagement_id where a.client_id = %s and a.status = 'confirmed'",
            (ana.sub,),
        ).fetchone()
    for write, row, words in (
        (
            "delete from public.appointments where id = %s",
            session,
            "The session between Dr. Quinn Leaving and Ana Diaz",
        ),
        (
            "delete from public.engagements where id = %s",
            engagement,
            "between Dr. Quinn Leaving and Ana Diaz is active",
        ),
        ("delete from public.consultation_requests where id = %s", request, "Ana Diaz is active"),
    ):
        with as_member(deployed.api_conninfo, SERVICE) as conn, pytest.raises(psycopg.errors.RaiseException) as raw:
            conn.execute(write, (row,))
        assert words in str(raw.value)
    care_goes_on(backend, consultant, ana)


# --- an engagement ends with nothing ahead -------------------------------------------------------------------------


def test_a_plan_completes_only_once_no_session_is_left_booked(backend, deployed, practice):
    consultant, (ana, _) = practice
    engagement = next(e["id"] for e in backend.rpc("my_engagements", {}, as_user=ana))
    today = datetime.now(UTC).date()
    terms = {
        "reason": "consultant_capacity",
        "discussed_on": str(today),
        "final_session_on": str(today + timedelta(days=28)),
        "sessions_remaining": 2,
        "closing_sessions": 1,
        "referrals": [{"name": "Dr. External Colleague"}],
    }
    plan = backend.rpc("start_termination_plan", {"p_engagement": engagement, "p_terms": terms}, as_user=consultant)
    backend.rpc("propose_termination_plan", {"p_plan": plan, "p_expected_version": 1}, as_user=consultant)
    assert backend.rpc("sign_termination_plan", {"p_plan": plan, "p_version": 1}, as_user=ana) == "agreed"
    with psycopg.connect(deployed.owner_conninfo, autocommit=True) as conn:  # time passes: the final date is behind
        conn.execute("alter table public.termination_plan_versions disable trigger termination_versions_immutable")
        conn.execute(
            "update public.termination_plan_versions set discussed_on = current_date - 30, "
            "final_session_on = current_date - 1 where plan_id = %s",
            (plan,),
        )
        conn.execute("alter table public.termination_plan_versions enable trigger termination_versions_immutable")
    for who in (ana, consultant):
        with pytest.raises(APIError) as refused:
            backend.rpc("complete_termination_plan", {"p_plan": plan}, as_user=who)
        assert refused.value.details == "sessions"
        assert refused.value.message.startswith("Sessions of this engagement are still booked: ")
    assert [e["status"] for e in backend.rpc("my_engagements", {}, as_user=ana)] == ["active"]
    for session in backend.rpc("my_appointments", {}, as_user=ana):
        if session["status"] in ("requested", "confirmed"):
            backend.rpc(
                "cancel_appointment",
                {"p_appointment": session["id"], "p_reason": "Our work is ending.", "p_accept_late": True},
                as_user=ana,
            )
    backend.rpc("complete_termination_plan", {"p_plan": plan}, as_user=ana)
    assert [e["status"] for e in backend.rpc("my_engagements", {}, as_user=ana)] == ["ended"]
    assert notices(backend, consultant, "plan_completed")
