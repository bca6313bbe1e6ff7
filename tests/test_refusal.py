"""One refusal type (issue 24, item 3): both backends raise portal.refusal.Refusal for every error the database
answers, worded for people, naming the field the database put in `detail`, with the SQLSTATE as its code and the
database's own words kept in json(). Run on the local backend and through the real PostgREST (SupabaseBackend),
on the embedded 18 and the CLI-deployed 15."""

from __future__ import annotations

import uuid

import pytest
from postgrest import APIError

from portal.db import SERVICE, Claims, Refusal, friendly_message, refusal_from
from portal.db.errors import is_not_found
from portal.db.local import LocalBackend
from tests.postgrest_server import supabase_backend_for

HASH = "$2b$12$" + "r" * 53


@pytest.fixture(scope="module")
def rpc_backends(deployed, postgrest):
    local = LocalBackend(deployed.api_conninfo)
    yield {"local": local, "supabase": supabase_backend_for(postgrest)}
    local.close()


@pytest.fixture(params=["local", "supabase"])
def api(request, rpc_backends):
    return rpc_backends[request.param]


def refused(api, fn: str, params: dict, *, as_user: Claims | None) -> Refusal:
    with pytest.raises(Refusal) as refusal:
        api.rpc(fn, params, as_user=as_user)
    return refusal.value


def registration(display_name: str, username: str | None = None) -> dict:
    username = username or f"rf_{uuid.uuid4().hex[:10]}"
    return {
        "p_username": username,
        "p_email": f"{username}@clinic.example",
        "p_display_name": display_name,
        "p_password_hash": HASH,
    }


def test_a_p0001_names_the_field_its_detail_gives(api):
    refusal = refused(api, "auth_register", registration("A"), as_user=SERVICE)
    assert (refusal.code, refusal.field, refusal.details) == ("P0001", "display_name", "display_name")
    assert refusal.message == "A name is 2 to 80 characters long."
    assert refusal.fields == {"display_name": refusal.message}
    assert str(refusal) == refusal.message and not refusal.stale
    assert refusal.from_database and isinstance(refusal, APIError)  # callers that tell codes apart keep doing so


def test_a_sentence_raised_under_22023_keeps_its_words_and_field(api):
    member = Claims.user(api.rpc("auth_register", registration("Refusal Location"), as_user=SERVICE))
    refusal = refused(api, "save_my_session_location", {"p_location": "Room 4\nSecond floor"}, as_user=member)
    assert (refusal.code, refusal.field) == ("22023", "location")
    assert refusal.message == "Where your sessions happen is one line of at most 300 characters."


def test_a_generic_code_is_worded_for_people_and_keeps_the_databases_words(api):
    params = registration("Refusal Test")
    api.rpc("auth_register", params, as_user=SERVICE)
    refusal = refused(api, "auth_register", {**params, "p_email": f"x{params['p_email']}"}, as_user=SERVICE)
    assert (refusal.code, refusal.field, refusal.message) == ("23505", None, "That already exists.")
    assert "credentials_username_key" in refusal.json()["message"]


def test_not_found_and_permission_refusals_keep_their_sentences_or_get_one(api):
    member = Claims.user(api.rpc("auth_register", registration("Refusal Reader"), as_user=SERVICE))
    missing = refused(api, "professionalism_record", {"p_member": str(uuid.uuid4())}, as_user=member)
    assert (missing.code, missing.message, missing.field) == ("PT404", "No such member.", None)
    assert is_not_found(missing)
    admins_only = refused(api, "admin_list_accounts", {}, as_user=member)
    assert (admins_only.code, admins_only.message) == ("42501", "Only administrators can list accounts.")
    nobody = refused(api, "auth_get_login", {"p_username": "seeker01"}, as_user=None)
    assert (nobody.code, nobody.message) == ("42501", "You do not have permission to do that.")


def test_a_plans_sentences_per_field_become_the_refusals_fields():
    """The plan-version trigger and the guardrails put a JSON object of field -> sentence in `detail`."""
    raw = APIError(
        {
            "code": "P0001",
            "message": "The plan does not meet the notice rules.",
            "details": '{"final_session_on": "At least 21 days.", "referrals": "Name a referral."}',
            "hint": None,
        }
    )
    refusal = refusal_from(raw)
    assert refusal.fields == {"final_session_on": "At least 21 days.", "referrals": "Name a referral."}
    assert (refusal.field, refusal.code, refusal.message) == ("final_session_on", "P0001", raw.message)
    assert refusal_from(refusal) is refusal and friendly_message(refusal) == refusal.message


def test_a_core_check_names_its_field_and_is_known_by_it():
    refusal = Refusal("Give a reason for cancelling.", "reason")
    assert (refusal.field, refusal.code, refusal.fields) == ("reason", "reason", {"reason": refusal.message})
    assert not refusal.from_database
    several = Refusal("Some fields need attention.", fields={"capacity": "At most 40.", "bio": "Too long."})
    assert (several.field, several.code) == ("capacity", "capacity")
    assert Refusal("Changed elsewhere.", "version").stale
