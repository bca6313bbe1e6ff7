"""The deploy path a Supabase user runs: `supabase db push` with the real CLI.

Into a fresh Supabase-like Postgres 15 (Debian's package, prepared as a new project is:
tests/supabase_like.py) and into a fresh database on the embedded Postgres 18 over its
unix socket. Supabase runs 15 and 17, the local twin 18: the migrations must apply on all
of them, unchanged, and create every extension they need themselves.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
import uuid
from urllib.parse import quote

import psycopg
import pytest
from psycopg import sql

from portal.db.bootstrap import DATABASE, OWNER, migration_files, platform_sql
from portal.db.claims import SERVICE, Claims
from portal.db.errors import APIError
from portal.db.supabase_backend import SupabaseBackend
from portal.db.tokens import TokenMinter
from tests.conftest import REPO, require_tool
from tests.supabase_like import find_supabase_cli, supabase_db_push

MIGRATIONS = [f"{version}_{name}.sql" for version, name, _ in migration_files()]
VERSIONS = [version for version, _, _ in migration_files()]


def applied_versions(conninfo: str) -> list[str]:
    with psycopg.connect(conninfo) as conn:
        return [r[0] for r in conn.execute("select version from supabase_migrations.schema_migrations order by 1")]


def test_push_deploys_every_migration_into_a_fresh_postgres_15(supabase_pg15):
    push = supabase_pg15.pushes[0]
    assert push.returncode == 0, push.stderr
    output = push.stdout + push.stderr
    assert re.findall(r"Applying migration (\S+)\.\.\.", output) == MIGRATIONS
    assert "Finished supabase db push." in output
    assert applied_versions(supabase_pg15.owner_conninfo) == VERSIONS
    with psycopg.connect(supabase_pg15.owner_conninfo) as conn:
        assert conn.execute("show server_version_num").fetchone()[0].startswith("15")
        # The project had no btree_gist; the portal's own migration created it, as the project's owner.
        owner, schema = conn.execute("""select e.extowner::regrole::text, e.extnamespace::regnamespace::text
                                        from pg_catalog.pg_extension e where e.extname = 'btree_gist'""").fetchone()
        assert (owner, schema) == ("postgres", "extensions")


def test_a_second_push_has_nothing_to_do(supabase_pg15):
    again = supabase_db_push(find_supabase_cli(), supabase_pg15.deploy_url)
    assert again.returncode == 0, again.stderr
    assert "Remote database is up to date." in again.stdout + again.stderr
    assert "Applying migration" not in again.stdout + again.stderr
    assert applied_versions(supabase_pg15.owner_conninfo) == VERSIONS


def test_the_fresh_platform_has_only_supabase_s_default_extensions(supabase_pg15):
    """What the local twin fakes must not quietly provide what a migration needs."""
    fresh = psycopg.connect(supabase_pg15.superuser_conninfo, autocommit=True)
    name = f"fresh_{uuid.uuid4().hex[:8]}"
    try:
        fresh.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
        with psycopg.connect(supabase_pg15.conninfo("supabase_admin", name), autocommit=True) as conn:
            with conn.transaction():
                conn.execute(platform_sql("postgres"))
            extensions = {r[0] for r in conn.execute("select extname from pg_catalog.pg_extension")}
            schemas = {r[0] for r in conn.execute("select nspname from pg_catalog.pg_namespace")}
    finally:
        fresh.execute(sql.SQL("drop database if exists {}").format(sql.Identifier(name)))
        fresh.close()
    assert extensions == {"plpgsql", "uuid-ossp", "pgcrypto"}
    assert {"private", "supabase_migrations"}.isdisjoint(schemas)


def _schema_outline(conninfo: str) -> dict[str, list]:
    """Tables with their columns, functions with their signatures, policies with their roles."""
    with psycopg.connect(conninfo) as conn:
        return {
            "columns": conn.execute("""
                select table_schema, table_name, column_name, data_type from information_schema.columns
                where table_schema in ('public', 'private') order by 1, 2, 3""").fetchall(),
            "functions": conn.execute("""
                select p.oid::regprocedure::text, p.prosecdef, coalesce(p.proacl::text, '') from pg_catalog.pg_proc p
                where p.pronamespace in ('public'::regnamespace, 'private'::regnamespace) order by 1""").fetchall(),
            "policies": conn.execute("""
                select schemaname, tablename, policyname, roles::text from pg_catalog.pg_policies
                where schemaname in ('public', 'private') order by 1, 2, 3""").fetchall(),
        }


def test_push_into_the_embedded_18_over_its_socket_builds_the_same_schema(embedded_db):
    require_tool(find_supabase_cli() is not None, "the Supabase CLI (.ci/install_supabase_cli.sh)")
    name = f"deploy_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(embedded_db.superuser_uri, autocommit=True) as admin:
        admin.execute(sql.SQL("create database {} owner {}").format(sql.Identifier(name), sql.Identifier(OWNER)))
    try:
        with psycopg.connect(embedded_db.conninfo("postgres", name), autocommit=True) as conn, conn.transaction():
            conn.execute(platform_sql(OWNER))
        # The CLI takes a unix socket as the `host` parameter (it cannot parse a URL without a host).
        url = f"postgresql://{OWNER}@localhost/{name}?host={quote(embedded_db.socket_dir, safe='/')}&sslmode=disable"
        push = supabase_db_push(find_supabase_cli(), url)
        assert push.returncode == 0, push.stdout + push.stderr
        assert re.findall(r"Applying migration (\S+)\.\.\.", push.stdout + push.stderr) == MIGRATIONS
        assert applied_versions(embedded_db.conninfo(OWNER, name)) == VERSIONS
        # The CLI and the app's own migration runner build the same thing.
        pushed, migrated = (_schema_outline(embedded_db.conninfo(OWNER, db)) for db in (name, DATABASE))
        assert pushed == migrated
    finally:
        with psycopg.connect(embedded_db.superuser_uri, autocommit=True) as admin:
            admin.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


def test_supabase_auth_sign_ups_are_off_in_the_project_config():
    """The CLI reads config.toml on every push (a malformed one fails the push above)."""
    config = tomllib.loads((REPO / "supabase" / "config.toml").read_text())
    assert config["auth"]["enable_signup"] is False
    assert config["auth"]["email"]["enable_signup"] is False


@pytest.mark.parametrize("path", sorted((REPO / "supabase" / "migrations").glob("*.sql")), ids=lambda p: p.name)
def test_every_extension_is_created_idempotently_in_the_extensions_schema(path):
    """Every `create extension` names the extensions schema, as Supabase expects."""
    text = path.read_text().lower()
    for statement in re.findall(r"create extension[^;]*;", text):
        assert "if not exists" in statement and "with schema extensions" in statement, statement


def test_the_first_admin_is_made_as_the_readme_says(supabase_stack):
    """README's Supabase step 6, run as written: a member registered through the gateway becomes an admin."""
    require_tool(shutil.which("psql") is not None, "psql (Debian's postgresql-client)")
    step = re.search(r'`psql "<db-url>" -c "(update private\.credentials [^"]+)"`', (REPO / "README.md").read_text())
    assert step, "README's first-admin step is missing"
    stack = supabase_stack
    api = SupabaseBackend(
        stack["gateway"].url,
        stack["app_environment"]["SUPABASE_KEY"],
        TokenMinter(secret=stack["app_environment"]["SUPABASE_JWT_SECRET"]),
    )
    username = f"founder_{uuid.uuid4().hex[:8]}"
    user_id = api.rpc(
        "auth_register",
        {
            "p_username": username,
            "p_email": f"{username}@test.example",
            "p_display_name": "Founding Admin",
            "p_password_hash": "$2b$12$" + "x" * 53,
        },
        as_user=SERVICE,
    )
    with pytest.raises(APIError) as refused:
        api.rpc("admin_list_accounts", {"p_query": username}, as_user=Claims.user(user_id))
    assert refused.value.code == "42501"

    subprocess.run(
        ["psql", stack["database"].deploy_url, "-v", "ON_ERROR_STOP=1", "-c", step.group(1).replace("<you>", username)],
        check=True,
        capture_output=True,
        timeout=60,
    )

    accounts = api.rpc("admin_list_accounts", {"p_query": username}, as_user=Claims.user(user_id))
    assert [(a["username"], a["is_admin"]) for a in accounts] == [(username, True)]


def test_a_restart_keeps_what_the_migrations_revoked(embedded_db):
    """The platform is made once: starting again must not hand the API roles back their default grants."""
    from portal.db.bootstrap import _prepare_cluster

    def defaults() -> list[str]:
        with psycopg.connect(embedded_db.owner_conninfo) as conn:
            return sorted(
                str(a)
                for (a,) in conn.execute(
                    "select unnest(defaclacl)::text from pg_catalog.pg_default_acl d "
                    "where d.defaclrole = %s::regrole and d.defaclnamespace = 'public'::regnamespace",
                    (OWNER,),
                )
            )

    before = defaults()
    assert not [a for a in before if a.startswith(("anon=", "authenticated="))], before
    _prepare_cluster(embedded_db)  # what the next `streamlit run` does
    assert defaults() == before
