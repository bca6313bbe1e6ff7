"""Shared fixtures: one embedded Postgres for the whole run, migrated and seeded."""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import uuid
from pathlib import Path

import jwt
import psycopg
import pytest

from portal.db.bootstrap import apply_migrations, start_embedded
from portal.db.claims import SERVICE
from portal.db.local import LocalBackend
from portal.demo import load_demo_world_if_empty
from tests.gateway import find_nginx, start_gateway
from tests.postgrest_server import find_postgrest, start_postgrest
from tests.supabase_like import find_pg15, find_supabase_cli, start_supabase_like_pg15, supabase_db_push

# Fixtures shared from support modules (a fixture imported into a test module would shadow its argument).
pytest_plugins = ["tests.mail_support", "tests.radicale_support"]

REPO = Path(__file__).resolve().parents[1]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_tool(available: bool, what: str) -> None:
    """Skip locally when a tool is missing; in CI a missing tool is a failure."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"{what} is required in CI but missing; .ci/run must install it")
    pytest.skip(f"{what} not installed")


@pytest.fixture(scope="session")
def data_dir():
    path = Path(tempfile.mkdtemp(prefix="portal-test-"))
    os.environ["PORTAL_DATA_DIR"] = str(path)
    os.environ["PORTAL_BACKEND"] = "local"
    os.environ["PORTAL_LOCAL_MAILER"] = "0"  # AppTest runs app.py in this process: tests drive the sender themselves
    os.environ["PORTAL_DEMO_DATA"] = "1"  # AppTest opens this database; the demo world is asked for
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def embedded_db(data_dir):
    db = start_embedded(data_dir, cleanup_mode="stop")
    apply_migrations(db.owner_conninfo)
    load_demo_world_if_empty(db.owner_conninfo)
    yield db
    db.stop()  # before the data directory is removed; the atexit hook then finds nothing to do


@pytest.fixture(scope="session")
def backend(embedded_db):
    b = LocalBackend(embedded_db.api_conninfo)
    yield b
    b.close()


@pytest.fixture
def new_user(backend):
    """Register a fresh member through the service-role function; returns (id, username)."""

    def make(prefix: str = "user", *, consultant: bool = False) -> tuple[str, str]:
        username = f"{prefix}_{uuid.uuid4().hex[:8]}"
        user_id = backend.rpc(
            "auth_register",
            {
                "p_username": username,
                "p_email": f"{username}@test.example",
                "p_display_name": f"Test {prefix}",
                "p_password_hash": "$2b$12$" + "x" * 53,
            },
            as_user=SERVICE,
        )
        return user_id, username

    return make


@pytest.fixture
def api_conn(embedded_db):
    """A connection as `authenticator` inside a transaction that is always rolled back."""
    with psycopg.connect(embedded_db.api_conninfo) as conn:
        yield conn
        conn.rollback()


# --- the production path: a Supabase-like Postgres 15 deployed with the real CLI -------------

EMBEDDED_18 = "embedded-pg18"
SUPABASE_15 = "supabase-pg15"


@pytest.fixture(scope="session")
def supabase_pg15():
    """A fresh Supabase-like Postgres 15 into which `supabase db push` deployed every migration.

    The push is the deploy step itself (tests/test_deploy.py reads what it printed). The demo
    world is then loaded by the test, only so that the cases have data; the app never seeds a project.
    """
    require_tool(find_pg15() is not None, "Postgres 15 (Debian's postgresql-15)")
    cli = find_supabase_cli()
    require_tool(cli is not None, "the Supabase CLI (.ci/install_supabase_cli.sh)")
    server = start_supabase_like_pg15()
    try:
        push = supabase_db_push(cli, server.deploy_url)
        server.pushes.append(push)
        if push.returncode != 0:
            pytest.fail(f"supabase db push into a fresh Postgres 15 failed:\n{push.stdout}\n{push.stderr}")
        load_demo_world_if_empty(server.owner_conninfo)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module", params=[EMBEDDED_18, SUPABASE_15])
def deployed(request):
    """The same schema on both servers: the embedded 18 (bootstrap) and the CLI-deployed 15."""
    return request.getfixturevalue("embedded_db" if request.param == EMBEDDED_18 else "supabase_pg15")


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium for a module's browser tests. An app fixture that asks for it first is never started when
    the browser is missing (a skip locally, a failure with CI=true)."""
    from tests.app_server import chromium_browser

    with chromium_browser() as chromium:
        yield chromium


@pytest.fixture(scope="module")
def postgrest(deployed):
    """The real PostgREST on the `deployed` server (a module may override it, as test_contract.py does)."""
    require_tool(find_postgrest() is not None, "PostgREST (.ci/install_postgrest.sh)")
    server = start_postgrest(deployed.socket_dir, uri=getattr(deployed, "postgrest_uri", None))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def supabase_stack(supabase_pg15):
    """The production path end to end: PostgREST on the CLI-deployed Postgres 15, behind a gateway
    that serves /rest/v1/ and checks the project key as Supabase's does. `app_environment` is what
    the app needs to run against it (PORTAL_BACKEND=supabase), as README's Supabase section says."""
    require_tool(find_postgrest() is not None, "PostgREST (.ci/install_postgrest.sh)")
    require_tool(find_nginx() is not None, "nginx (Debian package)")
    postgrest = start_postgrest(supabase_pg15.socket_dir, uri=supabase_pg15.postgrest_uri)
    anon_key = jwt.encode(
        {"iss": "supabase", "ref": "deploy-test", "role": "anon"}, postgrest.jwt_secret, algorithm="HS256"
    )
    try:
        gateway = start_gateway(postgrest.port, anon_key)
    except Exception:
        postgrest.stop()
        raise
    app_environment = {
        "PORTAL_BACKEND": "supabase",
        "SUPABASE_URL": gateway.url,
        "SUPABASE_KEY": anon_key,
        "SUPABASE_JWT_SECRET": postgrest.jwt_secret,
        "PORTAL_COOKIE_KEY": secrets.token_urlsafe(32),
    }
    yield {"gateway": gateway, "postgrest": postgrest, "database": supabase_pg15, "app_environment": app_environment}
    gateway.stop()
    postgrest.stop()


def licensed_where_the_clients_live(conn: psycopg.Connection, consultant_id, *client_ids, jurisdiction: str = "NY"):
    """A test pair as the rule wants it: the clients live in `jurisdiction` and the consultant holds a current
    licence there (the database checks it on every request, acceptance and booking)."""
    conn.execute(
        """insert into public.licenses (profile_id, license_type, license_number, jurisdiction, expires_on)
                    values (%s, 'LCSW', 'TEST-1', %s, current_date + 365)
                    on conflict (profile_id, jurisdiction) do nothing""",
        (consultant_id, jurisdiction),
    )
    conn.execute(
        "update public.profiles set home_jurisdiction = %s where id = any (%s::uuid[])",
        (jurisdiction, [str(c) for c in client_ids]),
    )
