"""A fresh Supabase-like Postgres 15, and the Supabase CLI that deploys to it.

Supabase runs Postgres 15 and 17; the embedded server is 18. This starts Debian's
postgresql-15 in a temporary directory as a new project would be: a superuser
(`supabase_admin`) that the portal never uses, `postgres` as a non-superuser owner with a
password, the API roles, an `extensions` schema with the default extensions only, the
platform's default privileges (portal/db/supabase_platform.sql, shared with the local
bootstrap). Then the real `supabase db push --db-url ...` deploys supabase/migrations into
it, over TCP with a password, exactly as a user deploys to a project.

Servers listen on loopback only and every wait is bounded.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from portal.db.bootstrap import platform_sql
from tests.postgrest_server import free_port

REPO = Path(__file__).resolve().parents[1]
PG15_BIN = Path(os.environ.get("PG15_BIN", "/usr/lib/postgresql/15/bin"))
CLI_LOCAL = REPO / ".tools" / "supabase-cli" / "node_modules" / ".bin" / "supabase"
CLI_VERSION = "2.117.0"

SUPERUSER = "supabase_admin"
OWNER = "postgres"
DATABASE = "postgres"
# Test-only passwords for a server that exists for one test run, on loopback.
OWNER_PASSWORD = "deploy-test-owner-password"
AUTHENTICATOR_PASSWORD = "deploy-test-authenticator-password"
START_TIMEOUT = 60


def find_pg15() -> Path | None:
    return PG15_BIN if (PG15_BIN / "postgres").is_file() and (PG15_BIN / "initdb").is_file() else None


def find_supabase_cli() -> str | None:
    for candidate in (os.environ.get("SUPABASE_CLI"), str(CLI_LOCAL), shutil.which("supabase")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def _as_server_user(command: list[str]) -> list[str]:
    """Postgres refuses to run as root; CI runs as root, so use the postgres account Debian creates."""
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


@dataclass
class SupabaseLikePostgres:
    """A running Postgres 15 prepared as a fresh Supabase project (same interface as EmbeddedDatabase)."""

    base: Path
    port: int
    pushes: list[subprocess.CompletedProcess] = field(default_factory=list)

    @property
    def socket_dir(self) -> str:
        return str(self.base)

    @property
    def data_dir(self) -> Path:
        return self.base / "data"

    def conninfo(self, role: str, database: str = DATABASE) -> str:
        return f"host={self.socket_dir} port={self.port} dbname={database} user={role}"

    @property
    def api_conninfo(self) -> str:
        return self.conninfo("authenticator")

    @property
    def owner_conninfo(self) -> str:
        return self.conninfo(OWNER)

    @property
    def superuser_conninfo(self) -> str:
        return self.conninfo(SUPERUSER)

    @property
    def postgrest_uri(self) -> str:
        """As PostgREST reaches a project: over TCP, with the authenticator's password."""
        return f"postgres://authenticator:{AUTHENTICATOR_PASSWORD}@127.0.0.1:{self.port}/{DATABASE}?sslmode=disable"

    @property
    def deploy_url(self) -> str:
        """The `--db-url` a user passes to `supabase db push` (the project's postgres role)."""
        return f"postgresql://{OWNER}:{OWNER_PASSWORD}@127.0.0.1:{self.port}/{DATABASE}?sslmode=disable"

    def stop(self) -> None:
        subprocess.run(
            _as_server_user(
                [str(PG15_BIN / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "-t", "30", "stop"]
            ),
            capture_output=True,
            timeout=60,
            check=False,
        )
        shutil.rmtree(self.base, ignore_errors=True)


def start_supabase_like_pg15() -> SupabaseLikePostgres:
    base = Path(tempfile.mkdtemp(prefix="supabase-pg15-"))
    if os.geteuid() == 0:
        shutil.chown(base, user="postgres")
    server = SupabaseLikePostgres(base=base, port=free_port())
    subprocess.run(
        _as_server_user(
            [
                str(PG15_BIN / "initdb"),
                "-D",
                str(server.data_dir),
                "-U",
                SUPERUSER,
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
            ]
        ),
        check=True,
        capture_output=True,
        timeout=120,
        cwd=base,
    )
    subprocess.run(
        _as_server_user(
            [
                str(PG15_BIN / "pg_ctl"),
                "-D",
                str(server.data_dir),
                "-l",
                str(base / "server.log"),
                "-w",
                "-t",
                str(START_TIMEOUT),
                "-o",
                f"-p {server.port} -k {base} -c listen_addresses=127.0.0.1",
                "start",
            ]
        ),
        check=True,
        capture_output=True,
        timeout=START_TIMEOUT + 30,
        cwd=base,
    )
    with psycopg.connect(server.superuser_conninfo, autocommit=True) as conn, conn.transaction():
        conn.execute(platform_sql(OWNER))
        conn.execute(f"alter role {OWNER} password '{OWNER_PASSWORD}'")
        conn.execute(f"alter role authenticator password '{AUTHENTICATOR_PASSWORD}'")
    return server


def supabase_db_push(cli: str, db_url: str, *, timeout: float = 300) -> subprocess.CompletedProcess:
    """`supabase db push --db-url <url> --yes` from a copy of the project's supabase/ folder.

    A copy, because the CLI writes supabase/.temp/ beside the migrations it pushes.
    """
    workdir = Path(tempfile.mkdtemp(prefix="supabase-push-"))
    try:
        (workdir / "supabase").mkdir()
        shutil.copy(REPO / "supabase" / "config.toml", workdir / "supabase" / "config.toml")
        shutil.copytree(REPO / "supabase" / "migrations", workdir / "supabase" / "migrations")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SUPABASE_", "PG"))}
        env.update(DO_NOT_TRACK="1", SUPABASE_TELEMETRY_DISABLED="1", HOME=str(workdir))
        started = time.monotonic()
        result = subprocess.run(
            [cli, "db", "push", "--db-url", db_url, "--yes"],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        result.seconds = time.monotonic() - started  # type: ignore[attr-defined]
        return result
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
