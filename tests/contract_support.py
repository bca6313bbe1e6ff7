"""The two backends on each deployment, for the suites that compare them (test_contract, test_screening_oracles):
the local backend and supabase-py through a real PostgREST 12.0.2, and calls whose outcomes must be identical.
A module binds the fixtures it uses (by import or assignment), so `backend` here overrides conftest's only there."""

from __future__ import annotations

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
from tests.conftest import require_tool
from tests.postgrest_server import find_postgrest, start_postgrest

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
