"""Shared fixtures: one embedded Postgres for the whole run, migrated and seeded."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path

import psycopg
import pytest

from portal.db.bootstrap import apply_migrations, start_embedded
from portal.db.claims import SERVICE
from portal.db.local import LocalBackend
from portal.demo import load_demo_world_if_empty

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
        user_id = backend.rpc("auth_register", {
            "p_username": username, "p_email": f"{username}@test.example", "p_display_name": f"Test {prefix}",
            "p_password_hash": "$2b$12$" + "x" * 53,
        }, as_user=SERVICE)
        return user_id, username

    return make


@pytest.fixture
def api_conn(embedded_db):
    """A connection as `authenticator` inside a transaction that is always rolled back."""
    with psycopg.connect(embedded_db.api_conninfo) as conn:
        yield conn
        conn.rollback()
