"""Only members reach the API: "authenticated" is not "member".

A hosted project's Supabase Auth gives anyone with the publishable key a valid JWT with role
`authenticated`; only the portal's server mints `portal_member` tokens. Through a real
PostgREST on both deployments (embedded 18, and the Postgres 15 the CLI deployed), every RPC
and every table is tried with such a token, with the anon key and with no token at all: each
answers 401/403 or zero rows, and no row anywhere changes. The schema lints below keep it so:
a migration that grants anything to `authenticated` (or `anon`) fails them.
"""

from __future__ import annotations

import time
import uuid

import httpx
import jwt
import psycopg
import pytest

from portal.db.claims import Claims
from portal.db.tokens import TokenMinter
from portal.demo import demo_world

pytestmark = pytest.mark.postgrest

SCHEMAS = ["public", "private"]
OUTSIDERS = ("anon", "authenticated")


def seeker01() -> str:
    return str(next(p.id for p in demo_world() if p.username == "seeker01"))


def supabase_auth_token(secret: str, sub: str | None = None) -> str:
    """A token as Supabase Auth issues it to anyone who signs up with the publishable key."""
    now = int(time.time())
    return jwt.encode(
        {
            "iss": "https://project-ref.supabase.co/auth/v1",
            "sub": sub or str(uuid.uuid4()),
            "aud": "authenticated",
            "exp": now + 3600,
            "iat": now,
            "email": "stranger@example.com",
            "phone": "",
            "role": "authenticated",
            "aal": "aal1",
            "amr": [{"method": "password", "timestamp": now}],
            "session_id": str(uuid.uuid4()),
            "app_metadata": {"provider": "email", "providers": ["email"]},
            "user_metadata": {},
            "is_anonymous": False,
        },
        secret,
        algorithm="HS256",
    )


def outsider_headers(secret: str) -> dict[str, dict[str, str]]:
    anon_key = jwt.encode({"iss": "supabase", "ref": "project-ref", "role": "anon"}, secret, algorithm="HS256")
    return {
        "supabase-auth-user": {"Authorization": f"Bearer {supabase_auth_token(secret)}"},
        # Even knowing a member's id does not help: the role is the gate, not the sub.
        "supabase-auth-user-with-a-members-sub": {"Authorization": f"Bearer {supabase_auth_token(secret, seeker01())}"},
        "anon-key": {"Authorization": f"Bearer {anon_key}"},
        "no-token": {},
    }


def api_functions(conn: psycopg.Connection) -> list[tuple[str, list[str]]]:
    """Every function PostgREST exposes (public, not an extension's, not a trigger) with its input names."""
    return conn.execute("""
        select p.proname, array(select a.name from unnest(coalesce(p.proargnames, '{}')) with ordinality a(name, i)
                                where coalesce(p.proargmodes[a.i], 'i') in ('i', 'b', 'v'))
        from pg_catalog.pg_proc p
        where p.pronamespace = 'public'::regnamespace and p.prorettype <> 'trigger'::regtype
          and not exists (select 1 from pg_catalog.pg_depend d where d.objid = p.oid and d.deptype = 'e')
        order by 1""").fetchall()


def api_tables(conn: psycopg.Connection) -> list[tuple[str, str]]:
    """Every table and view in public, with a column a request may name (not an identity or generated one)."""
    return conn.execute("""
        select c.relname, (select a.attname from pg_catalog.pg_attribute a
                           where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
                             and a.attidentity = '' and a.attgenerated = '' order by a.attnum limit 1)
        from pg_catalog.pg_class c
        where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p', 'v', 'm', 'f')
        order by 1""").fetchall()


def row_counts(conn: psycopg.Connection) -> dict[str, int]:
    tables = [
        r[0]
        for r in conn.execute(
            """
        select format('%%I.%%I', n.nspname, c.relname) from pg_catalog.pg_class c
        join pg_catalog.pg_namespace n on n.oid = c.relnamespace
        where n.nspname = any (%s) and c.relkind in ('r', 'p') order by 1""",
            (SCHEMAS,),
        )
    ]
    return {t: conn.execute(f"select count(*) from {t}").fetchone()[0] for t in tables}


def test_outsiders_reach_nothing_and_write_nothing(deployed, postgrest):
    with psycopg.connect(deployed.owner_conninfo) as conn:
        functions, tables, before = api_functions(conn), api_tables(conn), row_counts(conn)
    assert len(functions) > 50 and len(tables) > 10  # the whole API, not an empty list
    reached = []
    with httpx.Client(base_url=postgrest.url, timeout=15.0) as http:
        for who, headers in outsider_headers(postgrest.jwt_secret).items():
            for name, args in functions:
                response = http.post(f"/rpc/{name}", json=dict.fromkeys(args), headers=headers)
                if response.status_code not in (401, 403) or response.json().get("code") != "42501":
                    reached.append(f"{who}: rpc {name} -> {response.status_code} {response.text[:120]}")
            for table, column in tables:
                ask = {**headers, "Prefer": "return=representation"}
                attempts = {
                    "select": http.get(f"/{table}", params={"select": "*"}, headers=headers),
                    "insert": http.post(f"/{table}", json={column: None}, headers=ask),
                    "update": http.patch(f"/{table}", params={column: "not.is.null"}, json={column: None}, headers=ask),
                    "delete": http.delete(f"/{table}", params={column: "not.is.null"}, headers=ask),
                }
                for verb, response in attempts.items():
                    if response.status_code in (401, 403) or (response.status_code < 300 and response.json() == []):
                        continue
                    reached.append(f"{who}: {verb} {table} -> {response.status_code} {response.text[:120]}")
    with psycopg.connect(deployed.owner_conninfo) as conn:
        after = row_counts(conn)
    assert not reached, "\n".join(reached)
    assert after == before


def test_a_token_the_portal_minted_still_works(postgrest):
    """The control: the same PostgREST answers a member's token (so the refusals above are real)."""
    token = TokenMinter(secret=postgrest.jwt_secret).mint(Claims.user(seeker01()))
    with httpx.Client(base_url=postgrest.url, timeout=15.0) as http:
        response = http.post("/rpc/get_my_profile", json={}, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.text
        assert response.json()["id"] == seeker01()
        languages = http.get("/languages", params={"select": "code"}, headers={"Authorization": f"Bearer {token}"})
        assert languages.status_code == 200 and len(languages.json()) == 20


# --- lints: nothing of the portal's is granted to outsiders ---------------------------------


def _rows(conn: psycopg.Connection, statement: str) -> list[str]:
    return [r[0] for r in conn.execute(statement, {"schemas": SCHEMAS, "roles": list(OUTSIDERS)})]


def test_no_table_column_or_sequence_is_granted_to_outsiders(deployed):
    with psycopg.connect(deployed.owner_conninfo) as conn:
        granted = _rows(
            conn,
            """
            select format('%%I.%%I to %%s', n.nspname, c.relname, r) from pg_catalog.pg_class c
            join pg_catalog.pg_namespace n on n.oid = c.relnamespace, unnest(%(roles)s::text[]) r
            where n.nspname = any (%(schemas)s) and (
              (c.relkind = 'S' and has_sequence_privilege(r, c.oid, 'USAGE, SELECT, UPDATE'))
              or (c.relkind <> 'S' and c.relkind in ('r', 'p', 'v', 'm', 'f') and (
                  has_table_privilege(r, c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
                  or has_any_column_privilege(r, c.oid, 'SELECT, INSERT, UPDATE, REFERENCES'))))
            order by 1""",
        )
    assert not granted, "\n".join(granted)


def test_no_function_is_executable_by_outsiders(deployed):
    with psycopg.connect(deployed.owner_conninfo) as conn:
        executable = _rows(
            conn,
            """
            select format('%%s by %%s', p.oid::regprocedure, r) from pg_catalog.pg_proc p
            join pg_catalog.pg_namespace n on n.oid = p.pronamespace, unnest(%(roles)s::text[]) r
            where n.nspname = any (%(schemas)s) and has_function_privilege(r, p.oid, 'EXECUTE')
              and not exists (select 1 from pg_catalog.pg_depend d where d.objid = p.oid and d.deptype = 'e')
            order by 1""",
        )
    assert not executable, "\n".join(executable)


def test_no_policy_is_written_for_outsiders(deployed):
    with psycopg.connect(deployed.owner_conninfo) as conn:
        policies = _rows(
            conn,
            """
            select format('%%I on %%I.%%I for %%s', policyname, schemaname, tablename, roles)
            from pg_catalog.pg_policies
            where schemaname = any (%(schemas)s) and roles && (%(roles)s::name[] || '{public}'::name[])
            order by 1""",
        )
    assert not policies, "\n".join(policies)


def test_members_are_a_role_only_the_portal_s_tokens_carry(deployed):
    with psycopg.connect(deployed.owner_conninfo) as conn:
        member_of = dict(
            conn.execute("""
            select r, pg_has_role(r, 'portal_member', 'USAGE') from unnest(array['anon', 'authenticated',
                   'service_role', 'authenticator']) r""").fetchall()
        )
        granted_to_members = conn.execute("""
            select count(*) from pg_catalog.pg_proc p
            where p.pronamespace = 'public'::regnamespace and has_function_privilege('portal_member', p.oid, 'EXECUTE')
            """).fetchone()[0]
        can_switch = conn.execute("select pg_has_role('authenticator', 'portal_member', 'MEMBER')").fetchone()[0]
    # authenticator may switch to it (SET ROLE) and inherits nothing; no API role holds its privileges.
    assert member_of == {"anon": False, "authenticated": False, "service_role": False, "authenticator": False}
    assert can_switch is True
    assert granted_to_members > 50


def test_api_connections_have_supabases_statement_timeouts(deployed):
    """A runaway query stops as it would on a project: the API connection's 8 s (issue 16, item 10)."""
    with psycopg.connect(deployed.api_conninfo) as conn:
        assert conn.execute("show statement_timeout").fetchone()[0] == "8s"
    with psycopg.connect(deployed.owner_conninfo) as conn:
        settings = dict(
            conn.execute("""
            select r.rolname, s.setconfig from pg_catalog.pg_db_role_setting s
            join pg_catalog.pg_roles r on r.oid = s.setrole
            where s.setdatabase = 0 and r.rolname in ('anon', 'authenticated')""").fetchall()
        )
    assert settings == {"anon": ["statement_timeout=3s"], "authenticated": ["statement_timeout=8s"]}
