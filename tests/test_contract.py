"""Contract: the local backend and the Supabase backend answer every call the same.

The Supabase backend here is the real thing minus Supabase's gateway: supabase-py
talking to a real PostgREST 12.0.2 that runs on the same database as the local
backend. Each case runs on both backends and compares the whole outcome: the data
returned, or the error's code, message, details and hint. The whole module runs twice:
on the embedded Postgres 18, and on a Supabase-like Postgres 15 that the real
`supabase db push` deployed (PostgREST reaching it over TCP with a password).
"""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

import httpx
import jwt
import psycopg
import pytest

from portal.db.base import Backend
from portal.db.claims import SERVICE, Claims
from portal.db.errors import APIError
from portal.db.local import LocalBackend
from portal.db.supabase_backend import SupabaseBackend
from portal.db.tokens import TokenMinter
from portal.demo import demo_world
from tests.conftest import require_tool
from tests.postgrest_server import find_postgrest, start_postgrest

pytestmark = pytest.mark.postgrest

BACKEND_NAMES = ("local", "supabase")
REST_PREFIX = "/rest/v1"

# A STABLE function that writes (through a VOLATILE helper, as nextval is): it only
# fails when the call runs in a read-only transaction, which is what is compared.
# Created for this module only, before PostgREST loads its schema cache; dropped after.
PROBE_FN = "contract_probe_stable_nextval"
_PROBE_CREATE = f"""
create sequence public.contract_probe_seq;
create function public.{PROBE_FN}()
returns bigint
language sql
stable
set search_path = ''
as $$ select pg_catalog.nextval('public.contract_probe_seq') $$;
revoke all on function public.{PROBE_FN}() from public, anon;
grant execute on function public.{PROBE_FN}() to portal_member, service_role;
"""
_PROBE_DROP = f"""
drop function if exists public.{PROBE_FN}();
drop sequence if exists public.contract_probe_seq;
"""


# --- PostgREST and the Supabase backend ------------------------------------------------


class BarePostgrestTransport(httpx.BaseTransport):
    """supabase-py calls <url>/rest/v1/...; a bare PostgREST serves the same at <url>/...

    Only loopback is ever contacted.
    """

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self._inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host != "127.0.0.1":
            raise httpx.ConnectError(f"contract tests stay on loopback, not {request.url.host}", request=request)
        path = request.url.path
        if path == REST_PREFIX or path.startswith(REST_PREFIX + "/"):
            request.url = request.url.copy_with(path=path[len(REST_PREFIX) :] or "/")
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


@pytest.fixture(scope="module")
def backend(deployed):
    """The local backend on this module's deployment (overrides conftest's embedded-only one)."""
    b = LocalBackend(deployed.api_conninfo)
    yield b
    b.close()


@pytest.fixture(scope="module")
def postgrest(deployed):
    require_tool(find_postgrest() is not None, "PostgREST (.ci/install_postgrest.sh)")
    with psycopg.connect(deployed.owner_conninfo, autocommit=True) as conn:
        conn.execute(_PROBE_DROP)
        conn.execute(_PROBE_CREATE)
    try:
        server = start_postgrest(deployed.socket_dir, uri=getattr(deployed, "postgrest_uri", None))
        try:
            yield server
        finally:
            server.stop()
    finally:
        with psycopg.connect(deployed.owner_conninfo, autocommit=True) as conn:
            conn.execute(_PROBE_DROP)


@pytest.fixture(scope="module")
def supabase_backend(postgrest):
    http = httpx.Client(transport=BarePostgrestTransport(httpx.HTTPTransport()), timeout=httpx.Timeout(15.0))
    # supabase-py sends the project key as the bearer token of anonymous calls.
    anon_key = jwt.encode({"role": "anon"}, postgrest.jwt_secret, algorithm="HS256")
    sb = SupabaseBackend(postgrest.url, anon_key, TokenMinter(secret=postgrest.jwt_secret), httpx_client=http)
    yield sb
    sb.close()
    http.close()


@pytest.fixture(scope="module")
def backends(backend, supabase_backend) -> dict[str, Backend]:
    return {"local": backend, "supabase": supabase_backend}


@pytest.fixture(params=BACKEND_NAMES)
def api(request, backends) -> Backend:
    """One backend at a time, for cases whose setup writes (each backend gets its own user)."""
    return backends[request.param]


# --- helpers -----------------------------------------------------------------------------


def outcome(api: Backend, fn: str, params: dict[str, Any] | None = None, *, as_user: Claims | None) -> dict:
    """What a call comes to: {"data": ...} or {"error": {code, message, details, hint}}."""
    try:
        return {"data": api.rpc(fn, params, as_user=as_user)}
    except APIError as exc:
        # The error as PostgREST answered it (json()); the Refusal both backends raise words it for people, and
        # tests/test_refusal.py compares that wording.
        wire = exc.json()
        return {"error": {key: wire.get(key) for key in ("code", "message", "details", "hint")}}


def same(
    backends: dict[str, Backend], fn: str, params: dict[str, Any] | None = None, *, as_user: Claims | None
) -> dict:
    """Call fn on both backends with the same arguments; the outcomes must be identical."""
    results = {name: outcome(b, fn, params, as_user=as_user) for name, b in backends.items()}
    assert results["supabase"] == results["local"], f"{fn}: backends differ"
    return results["local"]


def error(code: str, message: str, details: Any = None, hint: str | None = None) -> dict:
    return {"error": {"code": code, "message": message, "details": details, "hint": hint}}


def register(api: Backend, prefix: str = "ct") -> tuple[str, str]:
    username = f"{prefix}_{uuid.uuid4().hex[:12]}"
    user_id = api.rpc(
        "auth_register",
        {
            "p_username": username,
            "p_email": f"{username}@test.example",
            "p_display_name": f"Contract {prefix}",
            "p_password_hash": "$2b$12$" + "x" * 53,
        },
        as_user=SERVICE,
    )
    return user_id, username


def demo_id(username: str) -> str:
    return str(next(p.id for p in demo_world() if p.username == username))


def without_identity(doc: dict) -> dict:
    """A profile document minus what differs between two users saved the same way."""
    doc = copy.deepcopy(doc)
    for key in ("id", "created_at", "updated_at"):
        doc.pop(key)
    for lic in doc["licenses"]:
        lic.pop("id")
        lic.pop("created_at")
    return doc


PROFILE_FORM = {
    "display_name": "  Dr. Contract Tester ",
    "pronouns": "she/her",
    "languages": ["en", "es"],
    "offers_telehealth": True,
    "offers_in_person": True,
    "city": "Portland",
    "fee_usd": 120,
    "sliding_scale": True,
    "years_in_practice": 12,
    "timezone": "America/Los_Angeles",
    "bio": 'Ünïcode bio — with "quotes" and a\nnewline.',
    "is_consultant": True,
}
LICENSES = [
    {"license_type": "LCSW", "license_number": "AB-12345", "jurisdiction": "OR", "expires_on": "2030-01-31"},
    {"license_type": "LMFT", "license_number": "9876", "jurisdiction": "BC", "expires_on": "2029-06-30"},
]


# --- reading --------------------------------------------------------------------------------


def test_setof_function_returns_the_same_json_array(backends):
    result = same(backends, "list_languages", {}, as_user=Claims.user(demo_id("seeker01")))
    rows = result["data"]
    assert isinstance(rows, list) and len(rows) == 20
    assert rows[0] == {"code": "asl", "name": "American Sign Language"}
    assert [r["name"] for r in rows] == sorted(r["name"] for r in rows)


def test_setof_function_without_params_argument(backends):
    # params=None and params={} are the same call.
    result = same(backends, "list_jurisdictions", None, as_user=SERVICE)
    assert len(result["data"]) == 64
    assert result["data"][0] == {"code": "AL", "name": "Alabama", "country": "US"}


def test_returns_table_function_with_timestamps(backends):
    result = same(
        backends, "admin_list_accounts", {"p_query": "consultant0", "p_limit": 3}, as_user=Claims.user(demo_id("admin"))
    )
    rows = result["data"]
    assert len(rows) == 3 and rows[0]["total"] == 9
    assert set(rows[0]) == {
        "id",
        "username",
        "display_name",
        "is_consultant",
        "is_admin",
        "license_count",
        "locked_until",
        "created_at",
        "total",
    }


def test_jsonb_function_for_a_new_user_is_identical(backends, backend):
    user_id, _ = register(backend, "profile")
    result = same(backends, "get_my_profile", {}, as_user=Claims.user(user_id))
    doc = result["data"]
    assert doc["id"] == user_id
    assert doc["display_name"] == "Contract profile"
    assert doc["version"] == 1 and doc["languages"] == ["en"] and doc["licenses"] == []


def test_jsonb_function_returning_sql_null_is_none(backends):
    result = same(backends, "auth_get_login", {"p_username": f"nobody_{uuid.uuid4().hex[:8]}"}, as_user=SERVICE)
    assert result == {"data": None}


def test_sign_in_lookup_is_identical(backends, backend):
    user_id, username = register(backend, "login")
    result = same(backends, "auth_get_login", {"p_username": f"  {username.upper()} "}, as_user=SERVICE)
    assert result["data"]["id"] == user_id and result["data"]["locked_until"] is None


def test_scalar_uuid_function_returns_a_string(api):
    user_id, _ = register(api, "uuid")
    assert isinstance(user_id, str) and str(uuid.UUID(user_id)) == user_id


def test_profile_that_does_not_exist(backends):
    result = same(backends, "get_my_profile", {}, as_user=Claims.user(str(uuid.uuid4())))
    assert result == error(
        "PT404", "No profile exists for this account.", hint="Sign out and in again; if it persists, contact the admin."
    )


# --- saving ---------------------------------------------------------------------------------


def test_save_my_profile_success_then_stale_version(backends):
    saved, stale = {}, {}
    for name, api in backends.items():
        user_id, _ = register(api, "save")
        me = Claims.user(user_id)
        saved[name] = outcome(
            api,
            "save_my_profile",
            {"p_profile": PROFILE_FORM, "p_licenses": LICENSES, "p_expected_version": 1},
            as_user=me,
        )
        assert "data" in saved[name], saved[name]
        assert saved[name]["data"]["id"] == user_id
        # Still version 1 on the form: someone else's save came in between.
        stale[name] = outcome(
            api, "save_my_profile", {"p_profile": PROFILE_FORM, "p_licenses": [], "p_expected_version": 1}, as_user=me
        )
        # The profile is untouched by the refused save.
        assert outcome(api, "get_my_profile", {}, as_user=me) == saved[name]

    assert without_identity(saved["supabase"]["data"]) == without_identity(saved["local"]["data"])
    doc = saved["local"]["data"]
    assert doc["version"] == 2 and doc["display_name"] == "Dr. Contract Tester"
    assert [lic["jurisdiction"] for lic in doc["licenses"]] == ["BC", "OR"]
    assert doc["bio"] == PROFILE_FORM["bio"]

    assert stale["supabase"] == stale["local"]
    assert stale["local"] == error(
        "P0001",
        "Your profile was changed elsewhere since this form was opened.",
        "version",
        "Nothing was saved. Reload the latest version, then apply your changes again.",
    )


def test_a_refused_field_is_the_same_sentence_on_both(backends, backend):
    user_id, _ = register(backend, "check")
    result = same(
        backends,
        "save_my_profile",
        {"p_profile": {**PROFILE_FORM, "fee_usd": 5000}, "p_licenses": [], "p_expected_version": 1},
        as_user=Claims.user(user_id),
    )
    # The database refuses with a sentence naming the field (issue 22, item 8), before the check constraint would.
    assert result == error("P0001", "The fee must be between $0 and $1,000 per session.", "fee_usd")


def test_raised_exception_with_detail_and_hint(backends, backend):
    user_id, _ = register(backend, "lang")
    result = same(
        backends,
        "save_my_profile",
        {"p_profile": {**PROFILE_FORM, "languages": ["en", "xx"]}, "p_licenses": [], "p_expected_version": 1},
        as_user=Claims.user(user_id),
    )
    assert result == error("P0001", 'Unknown language code "xx".', "languages", "Pick languages from the list.")


def test_argument_of_the_wrong_type(backends, backend):
    user_id, _ = register(backend, "type")
    result = same(
        backends,
        "save_my_profile",
        {"p_profile": PROFILE_FORM, "p_licenses": [], "p_expected_version": "one"},
        as_user=Claims.user(user_id),
    )
    assert result == error("22P02", 'invalid input syntax for type integer: "one"')


def test_duplicate_username_on_register(backends, backend):
    _, username = register(backend, "dup")
    result = same(
        backends,
        "auth_register",
        {
            "p_username": username.upper(),
            "p_email": f"other_{username}@test.example",
            "p_display_name": "Duplicate",
            "p_password_hash": "$2b$12$" + "y" * 53,
        },
        as_user=SERVICE,
    )
    assert result == error(
        "23505",
        'duplicate key value violates unique constraint "credentials_username_key"',
        f"Key (username)=({username}) already exists.",
    )


# --- refusals -------------------------------------------------------------------------------


def test_anon_cannot_read_a_profile(backends):
    result = same(backends, "get_my_profile", {}, as_user=None)
    assert result == error("42501", "permission denied for function get_my_profile")


def test_member_cannot_call_sign_in_functions(backends):
    result = same(backends, "auth_get_login", {"p_username": "admin"}, as_user=Claims.user(demo_id("seeker01")))
    assert result == error("42501", "permission denied for function auth_get_login")


def test_member_cannot_sweep_reminders_or_claim_account_links(backends):
    # The sender's calls (service role): a member writing everyone's reminders, or reading sign-up links, is refused.
    member = Claims.user(demo_id("seeker01"))
    for fn, params in (("write_due_reminders", {}), ("account_links_claim", {"p_limit": 1})):
        assert same(backends, fn, params, as_user=member) == error("42501", f"permission denied for function {fn}")


def test_non_admin_gets_the_functions_own_refusal(backends):
    result = same(backends, "admin_list_accounts", {}, as_user=Claims.user(demo_id("seeker01")))
    assert result == error("42501", "Only administrators can list accounts.")


def test_stable_function_runs_read_only(backends):
    result = same(backends, PROBE_FN, {}, as_user=SERVICE)
    assert result == error("25006", "cannot execute nextval() in a read-only transaction")


# --- void and unknown functions --------------------------------------------------------------


def test_void_function(backends, backend):
    _, username = register(backend, "void")
    result = same(backends, "auth_clear_failed_logins", {"p_username": username}, as_user=SERVICE)
    assert result == {"data": []}


def test_void_function_succeeds_on_both(api):
    """What each backend returns for void today (the contract itself is test_void_function)."""
    _, username = register(api, "void")
    result = outcome(api, "auth_clear_failed_logins", {"p_username": username}, as_user=SERVICE)
    assert "data" in result and result["data"] in (None, [])


@pytest.mark.parametrize(
    "fn, params",
    [
        ("no_such_function_at_all", {}),
        ("no_such_function_at_all", {"p_b": 1, "p_a": 2}),
        ("list_language", {}),
        ("get_my_profile", {"p_unexpected": 1}),
        ("save_my_profile", {"p_profile": {}}),
        ("admin_list_accounts", {"p_query": "", "p_bogus": 1}),
    ],
)
def test_unknown_function_is_pgrst202_on_both(backends, fn, params):
    for name, b in backends.items():
        result = outcome(b, fn, params, as_user=SERVICE)
        assert "error" in result, name
        assert result["error"]["code"] == "PGRST202", (name, result)
        assert result["error"]["message"].startswith(f"Could not find the function public.{fn}"), (name, result)


def test_unknown_function_error_is_identical(backends):
    # Two or more parameters, sorted by name. PostgREST's fuzzy matcher may hint at a loosely similar
    # name here (which one depends on the whole schema); the hint is compared only for close names below.
    results = {
        name: outcome(b, "no_such_function_at_all", {"p_b": 1, "p_a": 2}, as_user=SERVICE)
        for name, b in backends.items()
    }
    for result in results.values():
        result["error"]["hint"] = None
    assert results["supabase"] == results["local"]
    result = results["local"]
    assert result == error(
        "PGRST202",
        "Could not find the function public.no_such_function_at_all(p_a, p_b) in the schema cache",
        "Searched for the function public.no_such_function_at_all with parameters p_a, p_b or with a single "
        "unnamed json/jsonb parameter, but no matches were found in the schema cache.",
    )


@pytest.mark.parametrize(
    "fn, params, expected",
    [
        pytest.param(
            "no_such_function_at_all",
            {},
            error(
                "PGRST202",
                "Could not find the function public.no_such_function_at_all without parameters in the schema cache",
                "Searched for the function public.no_such_function_at_all without parameters or with a single unnamed "
                "json/jsonb parameter, but no matches were found in the schema cache.",
            ),
            id="none",
        ),
        pytest.param(
            "get_my_profile",
            {"p_unexpected": 1},
            error(
                "PGRST202",
                "Could not find the function public.get_my_profile(p_unexpected) in the schema cache",
                "Searched for the function public.get_my_profile with parameter p_unexpected or with a single unnamed "
                "json/jsonb parameter, but no matches were found in the schema cache.",
            ),
            id="one",
        ),
    ],
)
def test_unknown_function_wording_is_identical(backends, fn, params, expected):
    # Wording only: hints for unrelated names come from PostgREST's fuzzy matcher (see the hint test below).
    results = {name: outcome(b, fn, params, as_user=SERVICE) for name, b in backends.items()}
    for result in results.values():
        result["error"]["hint"] = None
    assert results["supabase"] == results["local"] == expected


@pytest.mark.parametrize(
    "fn, params, hint",
    [
        pytest.param(
            "list_language", {}, "Perhaps you meant to call the function public.list_languages", id="near-name"
        ),
        pytest.param(
            "admin_list_accounts",
            {"p_query": "", "p_bogus": 1},
            "Perhaps you meant to call the function public.admin_list_accounts(p_limit, p_offset, p_query)",
            id="near-params",
        ),
    ],
)
def test_unknown_function_hint_is_identical(backends, fn, params, hint):
    result = same(backends, fn, params, as_user=SERVICE)
    assert result["error"]["hint"] == hint


# --- tokens on the Supabase path ------------------------------------------------------------


def test_a_users_token_never_reads_another_users_rows(supabase_backend, backend):
    alice, _ = register(backend, "alice")
    bob, _ = register(backend, "bob")
    backend.rpc(
        "add_my_relationship",
        {"p_kind": "friend", "p_counterpart_name": "Bob's secret friend"},
        as_user=Claims.user(bob),
    )
    as_alice = Claims.user(alice)
    assert supabase_backend.rpc("get_my_profile", {}, as_user=as_alice)["id"] == alice
    assert supabase_backend.rpc("get_my_declarations", {}, as_user=as_alice)["relationships"] == []
    assert "secret friend" in json.dumps(supabase_backend.rpc("get_my_declarations", {}, as_user=Claims.user(bob)))
    with pytest.raises(APIError) as seeker_profile:  # bob is not a consultant: his profile is not Alice's to see
        supabase_backend.rpc("get_consultant_profile", {"p_consultant": bob}, as_user=as_alice)
    assert seeker_profile.value.code == "PT404"


def test_a_token_signed_with_another_secret_is_refused(postgrest, backend):
    alice, _ = register(backend, "forger")
    http = httpx.Client(transport=BarePostgrestTransport(httpx.HTTPTransport()), timeout=httpx.Timeout(15.0))
    anon_key = jwt.encode({"role": "anon"}, postgrest.jwt_secret, algorithm="HS256")
    forged = SupabaseBackend(
        postgrest.url, anon_key, TokenMinter(secret="not-the-project-secret-" + "x" * 20), httpx_client=http
    )
    with pytest.raises(APIError) as refused:
        forged.rpc("get_my_profile", {}, as_user=Claims.user(alice))
    assert refused.value.code in ("PGRST301", "PGRST300")  # JWT invalid: nothing runs


# --- rules whose facts neither party can write alone ------------------------------------------


def engaged(deployed, backend) -> tuple[Claims, Claims, str]:
    """A consultant and a client with an active engagement (made by the owner, as the demo world is)."""
    consultant, _ = register(backend, "endc")
    client, _ = register(backend, "ends")
    with psycopg.connect(deployed.owner_conninfo) as conn:
        conn.execute("update public.profiles set is_consultant = true where id = %s", (consultant,))
        request = conn.execute(
            "insert into public.consultation_requests (seeker_id, consultant_id, message, status) "
            "values (%s, %s, 'hi', 'accepted') returning id",
            (client, consultant),
        ).fetchone()[0]
        engagement = conn.execute(
            "insert into public.engagements (request_id, seeker_id, consultant_id) values (%s, %s, %s) returning id",
            (request, client, consultant),
        ).fetchone()[0]
    return Claims.user(consultant), Claims.user(client), str(engagement)


def test_a_consultants_ending_typed_as_the_clients_is_refused_the_same_way(deployed, backends, backend):
    consultant, _, engagement = engaged(deployed, backend)
    terms = {
        "initiated_by": "client",
        "reason": "client_choice",
        "discussed_on": "2030-03-01",
        "final_session_on": "2030-03-04",
        "sessions_remaining": 1,
        "closing_sessions": 1,
        "referrals": [],
    }
    result = same(
        backends, "start_termination_plan", {"p_engagement": engagement, "p_terms": terms}, as_user=consultant
    )
    assert result["error"]["code"] == "P0001"
    assert json.loads(result["error"]["details"]) == {
        "final_session_on": "When you end the work, the final session is at least 21 days after the ending was "
        "first discussed (1 Mar 2030): 22 Mar 2030 or later.",
        "referrals": "When you end the work, name at least one colleague the client can continue with.",
        "sessions_remaining": "When you end the work, at least 2 sessions remain to process the ending "
        "(this plan has 1).",
    }


def test_a_request_to_a_consultant_not_licensed_where_the_seeker_lives_is_refused_the_same_way(
    deployed, backends, backend
):
    consultant, seeker, _ = engaged(deployed, backend)
    with psycopg.connect(deployed.owner_conninfo) as conn:
        conn.execute(
            "insert into public.licenses (profile_id, license_type, license_number, jurisdiction, expires_on) "
            "values (%s, 'LPC', 'TX-1', 'TX', current_date + 300)",
            (consultant.sub,),
        )
        conn.execute("update public.profiles set home_jurisdiction = 'QC' where id = %s", (seeker.sub,))
        conn.execute("update public.engagements set status = 'ended' where seeker_id = %s", (seeker.sub,))
    result = same(
        backends,
        "request_consultation",
        {"p_consultant": consultant.sub, "p_modalities": [], "p_message": "Bonjour"},
        as_user=seeker,
    )
    assert result == error(
        "P0001",
        "This consultant holds no current licence in Quebec, where you live.",
        "jurisdiction",
        "Search for consultants licensed in Quebec.",
    )


def test_a_consultant_with_clients_cannot_delete_the_account_the_same_way(deployed, backends, backend):
    consultant, client, _ = engaged(deployed, backend)
    with psycopg.connect(deployed.owner_conninfo) as conn:
        username = conn.execute(
            "select username from private.credentials where user_id = %s", (consultant.sub,)
        ).fetchone()[0]
        conn.execute("update public.profiles set display_name = 'Cleo Client' where id = %s", (client.sub,))
    result = same(backends, "delete_my_account", {"p_confirm_username": username}, as_user=consultant)
    assert result["error"]["code"] == "P0001" and result["error"]["details"] == "engagements"
    assert result["error"]["message"].startswith("You still work with: Cleo Client (since ")


def test_attendance_for_a_session_not_yet_started_is_refused_the_same_way(deployed, backends, backend):
    consultant, client, engagement = engaged(deployed, backend)
    with psycopg.connect(deployed.owner_conninfo) as conn:
        appointment = str(
            conn.execute(
                "insert into public.appointments (consultant_id, client_id, engagement_id, starts_at, ends_at, "
                "blocked_until, status, requested_by) values (%s, %s, %s, now() + interval '3 days', "
                "now() + interval '3 days 50 minutes', now() + interval '3 days 1 hour', 'confirmed', %s) returning id",
                (consultant.sub, client.sub, engagement, client.sub),
            ).fetchone()[0]
        )
    result = same(
        backends, "record_attendance", {"p_appointment": appointment, "p_outcome": "consultant_absent"}, as_user=client
    )
    assert result == error("P0001", "Only a confirmed session that has started can be recorded.", "status")


def test_sign_in_records_and_sessions_are_identical(backends, backend):
    """Issue 16, items 7 and 8: the sign-in form's lookup and the session calls, through both backends."""
    made_up = f"nobody_{uuid.uuid4().hex[:8]}"
    record = same(backends, "auth_sign_in_record", {"p_username": f" {made_up.upper()} "}, as_user=SERVICE)["data"]
    assert record["id"] is None and record["username"] == made_up and record["failed_attempts"] == 0
    assert same(backends, "auth_record_successful_login", {"p_username": made_up}, as_user=SERVICE) == {
        "data": {"signed_in": False, "locked_until": None}
    }
    user_id, username = register(backend, "session")
    assert same(backends, "auth_sign_in_record", {"p_username": username}, as_user=SERVICE)["data"]["id"] == user_id
    session = backend.rpc("auth_record_successful_login", {"p_username": username}, as_user=SERVICE)["session"]
    alive = {"p_session": session, "p_user": user_id, "p_username": username}
    assert same(backends, "auth_session_alive", alive, as_user=SERVICE) == {"data": True}
    assert "error" not in same(
        backends, "auth_close_session", {"p_session": str(uuid.uuid4()), "p_user": user_id}, as_user=SERVICE
    )
    assert same(backends, "auth_session_alive", {**alive, "p_user": str(uuid.uuid4())}, as_user=SERVICE) == {
        "data": False
    }
    backend.rpc("auth_close_session", {"p_session": session, "p_user": user_id}, as_user=SERVICE)
    assert same(backends, "auth_session_alive", alive, as_user=SERVICE) == {"data": False}
    assert same(backends, "auth_close_all_sessions", {"p_user": user_id}, as_user=SERVICE) == {"data": 0}
    assert same(backends, "auth_session_alive", alive, as_user=Claims.user(user_id)) == error(
        "42501", "permission denied for function auth_session_alive"
    )
