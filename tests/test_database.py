"""The schema's promises, checked in Postgres: RLS from the owner's, a stranger's and
anon's side, privileges on functions, lockout counting, versioned saves, lints."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import psycopg
import pytest

from portal.db import SERVICE, APIError, Claims
from portal.db.bootstrap import OWNER, apply_migrations
from tests.db_support import act_as, demo_id, refused

# --- profiles -----------------------------------------------------------------------------


def test_owner_reads_own_profile_and_consultants_but_not_other_seekers(api_conn):
    seeker, other_seeker, consultant = demo_id("seeker01"), demo_id("seeker02"), demo_id("consultant01")
    act_as(api_conn, Claims.user(seeker))
    visible = {r[0] for r in api_conn.execute("select id::text from public.profiles").fetchall()}
    assert seeker in visible
    assert consultant in visible
    assert other_seeker not in visible


def test_stranger_cannot_read_or_change_a_seekers_profile(api_conn):
    seeker = demo_id("seeker03")
    act_as(api_conn, Claims.user(demo_id("consultant09")))  # no request between them
    assert api_conn.execute("select count(*) from public.profiles where id = %s", (seeker,)).fetchone()[0] == 0
    changed = api_conn.execute("update public.profiles set display_name = 'Hijacked' where id = %s", (seeker,))
    assert changed.rowcount == 0
    assert refused(api_conn, "delete from public.profiles where id = %s", (seeker,)) == "42501"


def test_stranger_cannot_change_a_consultants_profile_they_can_see(api_conn):
    consultant = demo_id("consultant03")
    act_as(api_conn, Claims.user(demo_id("seeker01")))
    assert api_conn.execute("select count(*) from public.profiles where id = %s", (consultant,)).fetchone()[0] == 1
    changed = api_conn.execute("update public.profiles set fee_usd = 1 where id = %s", (consultant,))
    assert changed.rowcount == 0


def test_anon_reads_nothing(api_conn):
    act_as(api_conn, None)
    for table in (
        "public.profiles",
        "public.licenses",
        "public.jurisdictions",
        "public.languages",
        "private.credentials",
    ):
        assert refused(api_conn, f"select * from {table}") == "42501", table


def test_nobody_but_the_service_role_touches_credentials(api_conn):
    act_as(api_conn, Claims.user(demo_id("seeker01")))
    assert refused(api_conn, "select password_hash from private.credentials") == "42501"
    act_as(api_conn, Claims.user(demo_id("admin")))
    assert refused(api_conn, "select password_hash from private.credentials") == "42501"


# --- licences -----------------------------------------------------------------------------


def test_licences_follow_profile_visibility(api_conn):
    act_as(api_conn, Claims.user(demo_id("consultant04")))
    seeker = demo_id("seeker04")
    assert api_conn.execute("select count(*) from public.licenses where profile_id = %s", (seeker,)).fetchone()[0] == 0
    consultant = demo_id("consultant05")
    assert (
        api_conn.execute("select count(*) from public.licenses where profile_id = %s", (consultant,)).fetchone()[0] >= 1
    )


def test_member_cannot_add_licences_to_someone_else_or_verify_their_own(api_conn):
    me, other = demo_id("seeker05"), demo_id("seeker06")
    act_as(api_conn, Claims.user(me))
    assert (
        refused(
            api_conn,
            """insert into public.licenses (profile_id, license_type, license_number,
                                 jurisdiction, expires_on) values (%s, 'LCSW', 'X-1234', 'NY', '2030-01-01')""",
            (other,),
        )
        == "42501"
    )
    assert (
        refused(
            api_conn,
            """insert into public.licenses (profile_id, license_type, license_number,
                                 jurisdiction, expires_on, verification_status)
                                 values (%s, 'LCSW', 'X-1234', 'WY', '2030-01-01', 'verified')""",
            (me,),
        )
        == "42501"
    )
    assert (
        refused(api_conn, "update public.licenses set verification_status = 'verified' where profile_id = %s", (me,))
        == "42501"
    )


def test_editing_a_verified_licence_withdraws_its_verification(backend, new_user, embedded_db):
    user_id, _ = new_user("lic")
    claims = Claims.user(user_id)
    doc = backend.rpc("get_my_profile", {}, as_user=claims)
    licence = {"jurisdiction": "NY", "license_type": "LCSW", "license_number": "NY-1", "expires_on": "2031-01-01"}
    doc = backend.rpc(
        "save_my_profile",
        {"p_profile": _profile_json(doc), "p_licenses": [licence], "p_expected_version": doc["version"]},
        as_user=claims,
    )
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        conn.execute(
            "update public.licenses set verification_status = 'verified', verified_at = now() where profile_id = %s",
            (user_id,),
        )
    # Saving the same licence unchanged keeps the verification ...
    doc = backend.rpc(
        "save_my_profile",
        {"p_profile": _profile_json(doc), "p_licenses": [licence], "p_expected_version": doc["version"]},
        as_user=claims,
    )
    assert doc["licenses"][0]["verification_status"] == "verified"
    # ... changing its number withdraws it.
    doc = backend.rpc(
        "save_my_profile",
        {
            "p_profile": _profile_json(doc),
            "p_licenses": [{**licence, "license_number": "NY-2"}],
            "p_expected_version": doc["version"],
        },
        as_user=claims,
    )
    assert doc["licenses"][0]["verification_status"] == "self_attested"
    assert doc["licenses"][0]["verified_at"] is None


# --- saving a profile through the RPC -------------------------------------------------------


def _profile_json(doc: dict) -> dict:
    keys = (
        "display_name",
        "pronouns",
        "languages",
        "offers_telehealth",
        "offers_in_person",
        "city",
        "fee_usd",
        "sliding_scale",
        "years_in_practice",
        "timezone",
        "bio",
        "is_consultant",
    )
    return {k: doc[k] for k in keys}


def test_concurrent_saves_never_overwrite_silently(backend, new_user):
    user_id, _ = new_user("race")
    claims = Claims.user(user_id)
    opened = backend.rpc("get_my_profile", {}, as_user=claims)
    first = backend.rpc(
        "save_my_profile",
        {
            "p_profile": {**_profile_json(opened), "pronouns": "she/her"},
            "p_licenses": [],
            "p_expected_version": opened["version"],
        },
        as_user=claims,
    )
    assert first["version"] == opened["version"] + 1
    with pytest.raises(APIError) as stale:
        backend.rpc(
            "save_my_profile",
            {
                "p_profile": {**_profile_json(opened), "pronouns": "he/him"},
                "p_licenses": [],
                "p_expected_version": opened["version"],
            },
            as_user=claims,
        )
    assert stale.value.code == "P0001"
    assert stale.value.details == "version"
    assert "Nothing was saved" in stale.value.hint
    assert backend.rpc("get_my_profile", {}, as_user=claims)["pronouns"] == "she/her"


def test_database_refuses_what_the_form_would_refuse(backend, new_user):
    user_id, _ = new_user("bad")
    claims = Claims.user(user_id)
    doc = backend.rpc("get_my_profile", {}, as_user=claims)
    # The database's own refusal is a sentence naming the field (issue 22, item 8); the constraint stays behind it.
    cases = {
        "fee_usd": {"fee_usd": 5000},
        "city": {"offers_in_person": True, "city": ""},
        "timezone": {"timezone": "Mars/Olympus_Mons"},
        "offers_telehealth": {"offers_telehealth": False, "offers_in_person": False},
    }
    for field_name, change in cases.items():
        with pytest.raises(APIError) as refused_save:
            backend.rpc(
                "save_my_profile",
                {"p_profile": {**_profile_json(doc), **change}, "p_licenses": [], "p_expected_version": doc["version"]},
                as_user=claims,
            )
        assert (refused_save.value.code, refused_save.value.details) == ("P0001", field_name), field_name
        assert "violates" not in refused_save.value.message and refused_save.value.message.endswith("."), field_name
    with pytest.raises(APIError) as bad_language:
        backend.rpc(
            "save_my_profile",
            {
                "p_profile": {**_profile_json(doc), "languages": ["xx"]},
                "p_licenses": [],
                "p_expected_version": doc["version"],
            },
            as_user=claims,
        )
    assert (bad_language.value.code, bad_language.value.details) == ("P0001", "languages")
    assert backend.rpc("get_my_profile", {}, as_user=claims)["version"] == doc["version"]


def test_one_member_cannot_save_into_anothers_profile(backend, new_user):
    victim, _ = new_user("victim")
    attacker, _ = new_user("attacker")
    before = backend.rpc("get_my_profile", {}, as_user=Claims.user(victim))
    payload = {**_profile_json(before), "display_name": "Changed by someone else"}
    saved = backend.rpc(
        "save_my_profile",
        {"p_profile": payload, "p_licenses": [], "p_expected_version": 1},
        as_user=Claims.user(attacker),
    )
    assert saved["id"] == attacker  # the function only ever writes the caller's own row
    assert backend.rpc("get_my_profile", {}, as_user=Claims.user(victim))["display_name"] == before["display_name"]


# --- functions: who may call what ------------------------------------------------------------

MEMBER_FUNCTIONS = ["get_my_profile", "list_languages", "list_jurisdictions"]
SERVICE_FUNCTIONS = {
    "auth_get_login": {"p_username": "seeker01"},
    "auth_record_failed_login": {"p_username": "nobody"},
    "auth_clear_failed_logins": {"p_username": "nobody"},
    "auth_set_password_hash": {"p_username": "nobody", "p_password_hash": "$2b$x"},
    "auth_register": {"p_username": "x", "p_email": "x@y.z", "p_display_name": "X", "p_password_hash": "$2b$x"},
}


@pytest.mark.parametrize("fn", MEMBER_FUNCTIONS + ["save_my_profile", "admin_list_accounts"])
def test_anon_cannot_call_member_functions(backend, fn):
    params = {"p_profile": {}, "p_licenses": [], "p_expected_version": 1} if fn == "save_my_profile" else {}
    with pytest.raises(APIError) as refused_call:
        backend.rpc(fn, params, as_user=None)
    assert refused_call.value.code == "42501"


@pytest.mark.parametrize("fn", sorted(SERVICE_FUNCTIONS))
def test_members_and_anon_cannot_call_sign_in_functions(backend, fn):
    for caller in (None, Claims.user(demo_id("seeker01")), Claims.user(demo_id("admin"))):
        with pytest.raises(APIError) as refused_call:
            backend.rpc(fn, SERVICE_FUNCTIONS[fn], as_user=caller)
        assert refused_call.value.code == "42501"
        assert "permission denied" in refused_call.value.json()["message"]  # Postgres's words, for no one to read
        assert refused_call.value.message == "You do not have permission to do that."  # what a page shows


def test_sign_in_lookup_returns_one_user_and_nothing_for_unknown(backend):
    row = backend.rpc("auth_get_login", {"p_username": "  Seeker01 "}, as_user=SERVICE)
    assert row["username"] == "seeker01"
    assert row["password_hash"].startswith("$2")
    assert backend.rpc("auth_get_login", {"p_username": "no-such-user"}, as_user=SERVICE) is None


def test_admin_functions_check_the_caller(backend):
    with pytest.raises(APIError) as refused_call:
        backend.rpc("admin_list_accounts", {}, as_user=Claims.user(demo_id("seeker01")))
    assert refused_call.value.code == "42501"
    assert refused_call.value.message == "Only administrators can list accounts."
    rows = backend.rpc(
        "admin_list_accounts", {"p_query": "consultant0", "p_limit": 5}, as_user=Claims.user(demo_id("admin"))
    )
    assert len(rows) == 5 and rows[0]["total"] == 9
    assert "password_hash" not in rows[0] and "email" not in rows[0]


# --- lockout ----------------------------------------------------------------------------


def test_five_failures_lock_for_fifteen_minutes_and_only_time_or_an_admin_lifts_it(backend, new_user, embedded_db):
    _, username = new_user("lock")
    for attempt in range(1, 5):
        state = backend.rpc("auth_record_failed_login", {"p_username": username}, as_user=SERVICE)
        assert state == {"failed_attempts": attempt, "locked_until": None}
    state = backend.rpc("auth_record_failed_login", {"p_username": username}, as_user=SERVICE)
    assert state["failed_attempts"] == 5 and state["locked_until"]
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        minutes = conn.execute(
            "select extract(epoch from locked_until - now()) / 60 from private.credentials where username = %s",
            (username,),
        ).fetchone()[0]
    assert 14 < float(minutes) <= 15
    # Further failures while locked do not extend or reset the lock.
    again = backend.rpc("auth_record_failed_login", {"p_username": username}, as_user=SERVICE)
    assert again["locked_until"] == state["locked_until"]
    assert backend.rpc("auth_get_login", {"p_username": username}, as_user=SERVICE)["failed_attempts"] == 5
    # A success while locked does not lift it (issue 16: it did, so parallel sign-ins beat the lock).
    backend.rpc("auth_clear_failed_logins", {"p_username": username}, as_user=SERVICE)
    row = backend.rpc("auth_get_login", {"p_username": username}, as_user=SERVICE)
    assert (row["failed_attempts"], row["locked_until"]) == (5, state["locked_until"])


def test_lock_expires_after_fifteen_minutes(backend, new_user, embedded_db):
    _, username = new_user("expire")
    for _ in range(5):
        backend.rpc("auth_record_failed_login", {"p_username": username}, as_user=SERVICE)
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        conn.execute(
            "update private.credentials set locked_until = now() - interval '1 second' where username = %s", (username,)
        )
    row = backend.rpc("auth_get_login", {"p_username": username}, as_user=SERVICE)
    assert row["locked_until"] is None and row["failed_attempts"] == 0


def test_admin_unlocks_an_account(backend, new_user):
    user_id, username = new_user("unlock")
    for _ in range(5):
        backend.rpc("auth_record_failed_login", {"p_username": username}, as_user=SERVICE)
    with pytest.raises(APIError):
        backend.rpc("admin_unlock_account", {"p_user_id": user_id}, as_user=Claims.user(demo_id("seeker01")))
    backend.rpc("admin_unlock_account", {"p_user_id": user_id}, as_user=Claims.user(demo_id("admin")))
    assert backend.rpc("auth_get_login", {"p_username": username}, as_user=SERVICE)["locked_until"] is None


# --- registration ------------------------------------------------------------------------


def test_registration_is_unique_on_username_and_email_case_insensitively(backend):
    name = f"uniq_{uuid.uuid4().hex[:8]}"
    params = {
        "p_username": name,
        "p_email": f"{name}@Example.org",
        "p_display_name": "Uni Que",
        "p_password_hash": "$2b$12$" + "y" * 53,
    }
    backend.rpc("auth_register", params, as_user=SERVICE)
    with pytest.raises(APIError) as same_name:
        backend.rpc("auth_register", {**params, "p_email": f"other_{name}@example.org"}, as_user=SERVICE)
    assert same_name.value.code == "23505" and "credentials_username_key" in same_name.value.json()["message"]
    with pytest.raises(APIError) as same_email:
        backend.rpc(
            "auth_register",
            {**params, "p_username": name + "x", "p_email": f"{name.upper()}@example.ORG"},
            as_user=SERVICE,
        )
    assert same_email.value.code == "23505" and "credentials_email_key" in same_email.value.json()["message"]
    # The failed registrations left no orphan profile behind.
    assert backend.rpc("auth_get_login", {"p_username": name + "x"}, as_user=SERVICE) is None


# --- lints on the migrated schema ----------------------------------------------------------


def test_every_table_has_rls_and_anon_has_no_table_privileges(embedded_db):
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        no_rls = conn.execute("""
            select n.nspname || '.' || c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
            where c.relkind in ('r', 'p') and n.nspname in ('public', 'private') and not c.relrowsecurity
        """).fetchall()
        anon_grants = conn.execute("""
            select table_schema || '.' || table_name || ':' || privilege_type
            from information_schema.role_table_grants
            where grantee in ('anon', 'PUBLIC') and table_schema in ('public', 'private')
        """).fetchall()
    assert no_rls == []
    assert anon_grants == []


def security_definer_names(conn: psycopg.Connection) -> set[str]:
    """The names of the SECURITY DEFINER functions in `public` and `private`."""
    return {
        r[0]
        for r in conn.execute("""
        select p.proname from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname in ('public', 'private') and p.prosecdef""").fetchall()
    }


def test_every_function_pins_search_path_and_definers_are_not_public(embedded_db):
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        mutable = conn.execute("""
            select p.proname from pg_proc p join pg_namespace n on n.oid = p.pronamespace
            where n.nspname in ('public', 'private')
              and not coalesce(p.proconfig, '{}') @> array['search_path=""']
        """).fetchall()
        exposed_definers = conn.execute("""
            select p.proname from pg_proc p join pg_namespace n on n.oid = p.pronamespace
            where n.nspname = 'public' and p.prosecdef
              and (has_function_privilege('anon', p.oid, 'execute')
                   or exists (select 1 from aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
                              where a.grantee = 0 and a.privilege_type = 'EXECUTE'))
        """).fetchall()
        definers = security_definer_names(conn)
    assert mutable == []
    assert exposed_definers == []
    # The short, documented list (README, "SECURITY DEFINER functions").
    assert definers == {
        "is_admin",
        "admin_list_accounts",
        "admin_unlock_account",
        "admin_verification_queue",
        "admin_verify_credential",
        "search_consultants",
        "search_relaxations",
        "get_consultant_profile",
        "request_consultation",
        "respond_to_request",
        "screen_candidates",
        "consultant_can_take_requests",
        "refresh_time_buckets",
        "count_active_clients",
        "profiles_create_settings",
        "conflict_reasons",
        "conflict_levels",
        "log_screening",
        "disclosed_reasons",
        "orient",
        "check_conflicts",
        "sign_waiver",
        "my_screening_log",
        "admin_update_conflict_rule",
        "notify",
        "notify_request_events",
        "open_slots",
        "book_appointment",
        "respond_to_appointment",
        "cancel_appointment",
        "reschedule_appointment",
        "mark_appointment",
        "professionalism_record",
        "add_plan_version",
        "start_termination_plan",
        "revise_termination_plan",
        "propose_termination_plan",
        "sign_termination_plan",
        "complete_termination_plan",
        "withdraw_termination_plan",
        "tick_termination_checklist",
        "my_termination_plans",
        "refresh_termination_reminders",
        "referral_candidates",
        "my_home",
        "export_my_data",
        "delete_my_account",
        "professionalism_facts",
        "consultant_records",
        "refresh_search_facts",
        "refresh_due_search_facts",
        "search_facts_note_changes",
        # Issue 12: bookings share one door; the licence check reads the consultant's licences and the date.
        "insert_booking",
        "require_licence_where_client_lives",
        # Endings by account deletion, and attendance recorded by both parties.
        "close_account",
        "active_clients_sentence",
        "admin_close_account",
        "record_attendance",
        "admin_disputed_sessions",
        "admin_resolve_attendance",
        "search_facts_at_commit",
        "refresh_pending_search_facts",
        "conflicts_found",
        "screen_conflicts",
        # Issue 16, item 5: the caller's own practice and profile with the admins' notes (auth.uid()'s rows only).
        "get_my_profile",
        "get_my_practice",
        # Issue 16, items 1-4: the matched screening at a request, kept with it, and a pair's reasons and level.
        "matched_conflict_reasons",
        "take_request_screening",
        "pair_reasons",
        "pair_level",
        # Issue 13: the outbox, filled by a trigger on notifications, read and settled by the sender; notices
        # completed from what the transaction changed; members' email choices; the admin's view.
        "appointment_series",
        "remember_changed_appointment",
        "queue_notice_for_delivery",
        "outbox_claim",
        "outbox_settle",
        "remember_changed_plan",
        "notices_say_what_and_who",
        "save_my_email_preferences",
        "outbox_honours_choices",
        "admin_outbox",
        # The reminders the sender sweeps for members who are away (a plan awaiting a signature for 2 days).
        "remind_plans_awaiting_signature",
        "write_due_reminders",
        # Issue 13: sign-up and password reset by link (account_links), and a member's own verification.
        "auth_request_registration",
        "auth_request_password_reset",
        "account_links_claim",
        "account_link_arm",
        "account_links_settle",
        "auth_link_state",
        "auth_redeem_verification",
        "auth_reset_password_by_link",
        "my_email_verification",
        "request_my_email_verification",
        "my_calendar_entries",
        "calendars_follow_the_session",
        # Issue 22, item 4: the rules on the states that end care (profiles' switch and closure) name the other
        # parties; a licence or a move that leaves an active client uncovered tells both (private.notify).
        "care_outlives_profile_changes",
        "tell_when_a_licence_stops_covering_a_client",
        "tell_when_a_client_moves_beyond_the_licence",
        # Issue 23, item 8: "This was not me" cancels a registration from its link.
        "auth_cancel_registration",
        # Issue 27: the consultant's own calendars and busy times live in `private`; the owner reads them masked,
        # the sender reads and stores them, a trigger refuses a booking over a busy time.
        "my_calendars",
        "add_my_calendar",
        "remove_my_calendar",
        "my_busy_times",
        "calendars_due",
        "calendar_reading_done",
        "bookings_avoid_calendar_busy",
        "calendar_sessions",
        # Issue 26, item 1: before closing an account an admin reads what it ends (others' sessions, plans, requests).
        "admin_closure_preview",
        # Issue 26, item 13: the waitlist. The seeker's own waits (join, renew, leave, list), the consultant's count
        # (never who), and the trigger on the states that open room, which reads every wait and writes notices.
        "join_waitlist",
        "renew_my_wait",
        "leave_waitlist",
        "my_waits",
        "my_waitlist_count",
        "room_opened_tells_the_waiting",
        # Issue 25: records read from kept facts, recomputed by statement triggers on appointments and requests.
        "refresh_record_facts",
        "refresh_all_record_facts",
        "record_facts_note_appointments",
        "record_facts_note_requests",
    }


def test_readme_names_every_security_definer_function(embedded_db):
    """README's "SECURITY DEFINER functions" section says why each one must look across users: a definer it does
    not name is one whose reason nobody wrote down (the section had fallen 27 behind before this test)."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("### SECURITY DEFINER functions", 1)[1].split("\n#", 1)[0]
    named = set(re.findall(r"`(?:private\.)?([a-z_]+)", section))
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        definers = security_definer_names(conn)
    assert definers, "no SECURITY DEFINER function was found: the query reads the wrong catalogue"
    assert sorted(definers - named) == []


def test_migrations_ran_as_a_non_superuser_owner_and_are_idempotent(embedded_db):
    assert apply_migrations(embedded_db.owner_conninfo) == []
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        (superuser,) = conn.execute("select rolsuper from pg_roles where rolname = %s", (OWNER,)).fetchone()
        owners = {
            r[0]
            for r in conn.execute("""
            select pg_get_userbyid(c.relowner) from pg_class c join pg_namespace n on n.oid = c.relnamespace
            where n.nspname in ('public', 'private') and c.relkind = 'r'""").fetchall()
        }
    assert superuser is False
    assert owners == {OWNER}


def test_service_role_bypasses_rls_and_authenticator_only_switches_roles(embedded_db):
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        roles = dict(
            conn.execute("""select rolname, (rolbypassrls, rolinherit, rolcanlogin)::text from pg_roles
                                     where rolname in ('anon', 'authenticated', 'portal_member', 'service_role',
                                                       'authenticator')""").fetchall()
        )
    # portal_member inherits authenticated's platform grants (auth.uid()); nothing flows the other way.
    assert roles == {
        "anon": "(f,f,f)",
        "authenticated": "(f,f,f)",
        "portal_member": "(f,t,f)",
        "service_role": "(t,f,f)",
        "authenticator": "(f,f,t)",
    }
