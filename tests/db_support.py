"""SQL as PostgREST runs it, for the suites that check the schema from inside a (rolled back) transaction:
acting as a member or anon, a statement that must be refused, and the demo world's ids."""

from __future__ import annotations

import json

import psycopg

from portal.db import Claims
from portal.demo import demo_world


def act_as(conn: psycopg.Connection, claims: Claims | None) -> None:
    """What PostgREST does per request, inside the test's (rolled back) transaction."""
    role = claims.role if claims else "anon"
    payload = claims.as_jwt_payload() if claims else {"role": "anon"}
    conn.execute(
        "select set_config('role', %s, true), set_config('request.jwt.claims', %s, true)", (role, json.dumps(payload))
    )


def refused(conn: psycopg.Connection, statement: str, params=()) -> str:
    """Run a statement expected to fail; return its SQLSTATE (the savepoint keeps the test going)."""
    try:
        with conn.transaction():
            conn.execute(statement, params)
    except psycopg.Error as exc:
        return exc.sqlstate
    raise AssertionError(f"expected a refusal: {statement}")


def demo_id(username: str) -> str:
    return str(next(p.id for p in demo_world() if p.username == username))
