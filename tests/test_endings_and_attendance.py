"""Issue 12: no silent mass discharge, and attendance recorded by both parties.

Each rule is tried from both sides, by a stranger, and by the attempt the issue describes.
"""

from __future__ import annotations

import psycopg
import pytest

from portal.admin import close_account, disputed_sessions, resolve_attendance
from portal.appointments import attendance_line, my_appointments, record_attendance, record_summary
from portal.db import SERVICE, APIError, Claims
from portal.mydata import delete_my_account
from portal.plain_text import plain
from portal.refusal import Refusal
from tests.care_parties import past_session
from tests.conftest import licensed_where_the_clients_live


@pytest.fixture
def practice(backend, new_user, embedded_db):
    """A consultant with two active clients, a stranger and an admin."""
    consultant, consultant_name = new_user("ending_c")
    clients = [new_user("ending_s") for _ in range(2)]
    stranger, _ = new_user("ending_x")
    admin, _ = new_user("ending_a")
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        conn.execute(
            "update public.profiles set is_consultant = true, display_name = 'Dr. Quinn Leaving' where id = %s",
            (consultant,),
        )
        for (client, _), name in zip(clients, ("Ana Diaz", "Ben Okafor"), strict=True):
            conn.execute("update public.profiles set display_name = %s where id = %s", (name, client))
            request = conn.execute(
                "insert into public.consultation_requests (seeker_id, consultant_id, message, "
                "status) values (%s, %s, 'hi', 'accepted') returning id",
                (client, consultant),
            ).fetchone()[0]
            conn.execute(
                "insert into public.engagements (request_id, seeker_id, consultant_id) values (%s, %s, %s)",
                (request, client, consultant),
            )
        licensed_where_the_clients_live(conn, consultant, *(c for c, _ in clients))
        conn.execute("update private.credentials set is_admin = true where user_id = %s", (admin,))
    return {
        "consultant": Claims.user(consultant),
        "consultant_username": consultant_name,
        "clients": [Claims.user(c) for c, _ in clients],
        "client_usernames": [u for _, u in clients],
        "stranger": Claims.user(stranger),
        "admin": Claims.user(admin),
    }


def active_engagements(conn_info: str, consultant: Claims) -> int:
    with psycopg.connect(conn_info) as conn:
        return conn.execute(
            "select count(*) from public.engagements where consultant_id = %s and status = 'active'", (consultant.sub,)
        ).fetchone()[0]


def kinds(backend, who: Claims) -> list[str]:
    return [n["kind"] for n in backend.rpc("my_notifications", {}, as_user=who)]


# --- no silent mass discharge ------------------------------------------------------------------


def test_a_consultant_cannot_end_every_engagement_by_deleting_the_account(backend, practice, embedded_db):
    consultant = practice["consultant"]
    with pytest.raises(Refusal) as refused:
        delete_my_account(backend, consultant, practice["consultant_username"])
    message = str(refused.value)
    assert message.startswith("You still work with: Ana Diaz (since ")
    assert "Ben Okafor (since " in message and "Termination plans" in message and "safety" in message
    assert active_engagements(embedded_db.owner_conninfo, consultant) == 2
    assert backend.rpc("get_my_profile", {}, as_user=consultant)["display_name"] == "Dr. Quinn Leaving"


def test_closing_intake_leaves_every_engagement_active(backend, practice, embedded_db):
    consultant = practice["consultant"]
    practice_doc = backend.rpc("get_my_practice", {}, as_user=consultant)
    backend.rpc(
        "save_my_practice",
        {
            "p_competencies": practice_doc["competencies"],
            "p_accepting": False,
            "p_capacity": 2,
            "p_expected_version": practice_doc["intake"]["version"],
        },
        as_user=consultant,
    )
    assert backend.rpc("get_my_practice", {}, as_user=consultant)["intake"]["accepting_new_clients"] is False
    assert active_engagements(embedded_db.owner_conninfo, consultant) == 2


def test_only_an_admin_closes_such_an_account_for_a_documented_reason_and_every_client_is_told(
    backend, practice, embedded_db
):
    consultant, admin = practice["consultant"], practice["admin"]
    for who in (practice["stranger"], practice["clients"][0], consultant):
        with pytest.raises(Refusal):
            close_account(backend, who, consultant.sub, "Licence suspended by the state board in March.")
        with pytest.raises(APIError) as straight:  # past the page's own check, the database refuses too
            backend.rpc("admin_close_account", {"p_user": consultant.sub, "p_reason": "x" * 30}, as_user=who)
        assert straight.value.code == "42501"
    with pytest.raises(Refusal) as short:
        close_account(backend, admin, consultant.sub, "Suspended")
    assert short.value.field == "reason"
    assert active_engagements(embedded_db.owner_conninfo, consultant) == 2

    reason = "Licence suspended by the state board in March."
    assert close_account(backend, admin, consultant.sub, reason) == 2
    assert active_engagements(embedded_db.owner_conninfo, consultant) == 0
    for client in practice["clients"]:
        told = [
            n["message"] for n in backend.rpc("my_notifications", {}, as_user=client) if n["kind"] == "account_closed"
        ]
        # The reason's own full stop does not stand before the portal's ")." (#26.11: "review.).").
        assert told == [
            f"Dr. Quinn Leaving's account was closed (closed by the portal's administrator: {reason.rstrip('.')}). "
            "Your open requests, sessions and plans with them have ended."
        ]
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        audited = conn.execute(
            "select actor_id::text, detail from public.audit_log "
            "where action = 'account_closed_by_admin' and detail ->> 'user' = %s",
            (consultant.sub,),
        ).fetchall()
    assert audited == [(admin.sub, {"user": consultant.sub, "reason": reason, "active_clients": 2})]
    assert backend.rpc("auth_get_login", {"p_username": practice["consultant_username"]}, as_user=SERVICE) is None


def test_a_client_may_leave_and_the_consultant_is_told(backend, practice, embedded_db):
    client, consultant = practice["clients"][0], practice["consultant"]
    delete_my_account(backend, client, practice["client_usernames"][0])
    assert active_engagements(embedded_db.owner_conninfo, consultant) == 1
    assert "account_closed" in kinds(backend, consultant)


# --- attendance from both sides ------------------------------------------------------------------


def session(backend, who: Claims, appointment: str) -> dict:
    return next(a for a in my_appointments(backend, who) if a["id"] == appointment)


def test_a_no_show_the_client_contests_is_disputed_counts_for_neither_and_an_admin_resolves_it(
    backend, practice, embedded_db
):
    consultant, client, admin = practice["consultant"], practice["clients"][0], practice["admin"]
    appointment = past_session(embedded_db.owner_conninfo, consultant, client)

    assert record_attendance(backend, consultant, appointment, "client_absent")["status"] == "no_show"
    assert "attendance_recorded" in kinds(backend, client)  # told at once, and may answer
    assert (
        record_attendance(backend, client, appointment, "held", "I was in the waiting room at 10:00.")["status"]
        == "disputed"
    )
    for who in (consultant, client):
        shown = session(backend, who, appointment)
        assert shown["status"] == "disputed" and {shown["my_statement"], shown["their_statement"]} == {
            "client_absent",
            "held",
        }
        assert "disputed: counts for neither" in attendance_line(shown)
    assert f"“{plain('I was in the waiting room at 10:00.')}”" in attendance_line(
        session(backend, consultant, appointment)
    )
    for who, missed in ((client, "client_no_shows"), (consultant, "consultant_no_shows")):
        record = backend.rpc("professionalism_record", {"p_member": who.sub}, as_user=who)
        assert (record["sessions"], record[missed]) == (0, 0)

    with pytest.raises(APIError) as not_admin:
        backend.rpc(
            "admin_resolve_attendance",
            {"p_appointment": appointment, "p_outcome": "held", "p_note": "Both agreed on a call."},
            as_user=consultant,
        )
    assert not_admin.value.code == "42501"
    assert [d["id"] for d in disputed_sessions(backend, admin) if d["id"] == appointment] == [appointment]
    with pytest.raises(Refusal):
        resolve_attendance(backend, admin, appointment, "held", "ok")
    resolve_attendance(backend, admin, appointment, "held", "The video platform's log shows both joined.")
    assert session(backend, client, appointment)["status"] == "completed"
    assert "attendance_resolved" in kinds(backend, client) and "attendance_resolved" in kinds(backend, consultant)
    with pytest.raises(Refusal) as settled:
        record_attendance(backend, consultant, appointment, "client_absent")
    assert "already resolved" in settled.value.message
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        assert (
            conn.execute(
                "select count(*) from public.audit_log where action = 'attendance_resolved' "
                "and detail ->> 'appointment' = %s",
                (appointment,),
            ).fetchone()[0]
            == 1
        )


def test_a_consultants_missed_session_counts_on_their_public_record(backend, practice, embedded_db):
    consultant, client = practice["consultant"], practice["clients"][1]
    missed = past_session(embedded_db.owner_conninfo, consultant, client, days_ago=2)
    record_attendance(backend, client, missed, "consultant_absent", "Waited 30 minutes; no answer.")
    record_attendance(backend, consultant, missed, "consultant_absent", "Family emergency; I apologised.")
    for weeks in range(1, 5):
        kept = past_session(embedded_db.owner_conninfo, consultant, client, days_ago=2 + 7 * weeks)
        record_attendance(backend, client, kept, "held")
        record_attendance(backend, consultant, kept, "held")
    # Five events: the record is public (search cards, profile), the missed session beside the kept ones.
    record = backend.rpc("professionalism_record", {"p_member": consultant.sub}, as_user=practice["stranger"])
    assert (record["sessions"], record["sessions_kept"], record["consultant_no_shows"]) == (5, 4, 1)
    assert record_summary(record).endswith("4 of 5 sessions kept; 1 session missed by the consultant")
    cards = backend.rpc("consultant_records", {"p_consultants": [consultant.sub]}, as_user=practice["stranger"])
    assert cards[consultant.sub]["consultant_no_shows"] == 1
    # The client's own record does not count the consultant's absence against them.
    mine = backend.rpc("professionalism_record", {"p_member": client.sub}, as_user=client)
    assert mine["client_no_shows"] == 0


def test_nobody_records_a_session_that_has_not_started_or_is_not_theirs(backend, practice, embedded_db):
    consultant, client, stranger = practice["consultant"], practice["clients"][0], practice["stranger"]
    upcoming = past_session(embedded_db.owner_conninfo, consultant, client, days_ago=-3)
    with pytest.raises(Refusal) as early:
        record_attendance(backend, client, upcoming, "held")
    assert early.value.code == "status"
    past = past_session(embedded_db.owner_conninfo, consultant, client)
    with pytest.raises(Refusal) as stranger_refused:
        record_attendance(backend, stranger, past, "consultant_absent")
    assert "No such appointment" in stranger_refused.value.message
    assert session(backend, client, past)["their_statement"] is None


# --- the pages -------------------------------------------------------------------------------------


def test_both_parties_say_what_happened_on_the_appointments_page_and_an_admin_resolves_it(backend, embedded_db):
    from tests.page_support import PAGES, app, no_exceptions, texts
    from tests.people_support import engaged_pair

    consultant_username, client_username = engaged_pair(backend, embedded_db)
    ids = {
        name: backend.rpc("auth_get_login", {"p_username": name}, as_user=SERVICE)["id"]
        for name in (consultant_username, client_username)
    }
    appointment = past_session(
        embedded_db.owner_conninfo, Claims.user(ids[consultant_username]), Claims.user(ids[client_username])
    )
    key = f"appt_attendance_{appointment}"

    client = app(client_username).run()
    client.switch_page(PAGES["appointments"]).run()
    no_exceptions(client)
    client.selectbox(key=f"{key}_outcome").set_value("consultant_absent")
    client.text_input(key=f"{key}_note").input("Nobody joined the call.")
    client.button(key=f"{key}_save").click().run()
    no_exceptions(client)
    assert any(s.startswith("Recorded.") for s in texts(client, "success"))

    consultant = app(consultant_username).run()
    consultant.switch_page(PAGES["appointments"]).run()
    no_exceptions(consultant)
    said = f"Casey Tester said you did not come (“{plain('Nobody joined the call.')}”)"  # the consultant is "you"
    assert any(said in c for c in texts(consultant, "caption"))
    consultant.selectbox(key=f"{key}_outcome").set_value("held")
    consultant.button(key=f"{key}_save").click().run()
    no_exceptions(consultant)
    assert any("disputed: counts for neither of you" in c for c in texts(consultant, "caption"))

    admin = app("admin").run()
    admin.switch_page(PAGES["admin"]).run()
    no_exceptions(admin)
    admin.selectbox(key=f"dispute_outcome_{appointment}").set_value("consultant_absent")
    admin.text_input(key=f"dispute_note_{appointment}").input("The platform log shows only the client joined.")
    admin.button(key=f"dispute_resolve_{appointment}").click().run()
    no_exceptions(admin)
    assert session(backend, Claims.user(ids[client_username]), appointment)["status"] == "consultant_no_show"


def test_my_profile_refuses_to_stop_consulting_next_to_the_switch_naming_the_client(backend, embedded_db):
    """Issue 22, item 4, on the page: "I offer consultation to colleagues" turned off while a client still works with
    the consultant is refused next to the switch, naming the client; nothing is saved, and the client keeps their
    engagement and their consultant's times."""
    from tests.page_support import PAGES, app, keyed, no_exceptions, texts
    from tests.people_support import engaged_pair

    consultant_username, client_username = engaged_pair(backend, embedded_db)
    ids = {
        name: backend.rpc("auth_get_login", {"p_username": name}, as_user=SERVICE)["id"]
        for name in (consultant_username, client_username)
    }
    client_name = backend.rpc("get_my_profile", {}, as_user=Claims.user(ids[client_username]))["display_name"]
    at = app(consultant_username).run()
    at.switch_page(PAGES["profile"]).run()
    no_exceptions(at)
    keyed(at, "toggle", "profile_is_consultant").set_value(False)
    at.button(key="profile_save").click().run()
    no_exceptions(at)
    refusal = [e for e in texts(at, "error") if e.startswith("You still work with: ")]
    assert refusal and f"{client_name} (since " in refusal[0], texts(at, "error")
    assert keyed(at, "toggle", "profile_is_consultant").value is False  # what was chosen stays in the form
    consultant = Claims.user(ids[consultant_username])
    assert backend.rpc("get_my_profile", {}, as_user=consultant)["is_consultant"] is True
    client = Claims.user(ids[client_username])
    assert [e["status"] for e in backend.rpc("my_engagements", {}, as_user=client)] == ["active"]
