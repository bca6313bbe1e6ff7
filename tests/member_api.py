"""A member's calls through a real PostgREST, with the tokens the portal mints, and members made as the service role
would make them: shared by the modules that replay an attack through the API on both deployments."""

from __future__ import annotations

import json
import uuid

import httpx
import psycopg

from portal.db.claims import Claims
from portal.db.tokens import TokenMinter


class Api:
    """One member's calls through PostgREST."""

    def __init__(self, http: httpx.Client, secret: str, user_id: str) -> None:
        self.http, self.user_id = http, user_id
        token = TokenMinter(secret=secret).mint(Claims.user(user_id))
        self.headers = {"Authorization": f"Bearer {token}"}

    def rpc(self, fn: str, params: dict | None = None) -> httpx.Response:
        return self.http.post(f"/rpc/{fn}", json=params or {}, headers=self.headers)

    def ok(self, fn: str, params: dict | None = None):
        response = self.rpc(fn, params)
        assert response.status_code in (200, 204), f"{fn}: {response.status_code} {response.text[:300]}"
        return response.json() if response.content else None

    def get(self, table: str, **params) -> httpx.Response:
        return self.http.get(f"/{table}", params=params, headers=self.headers)

    def post(self, table: str, rows) -> httpx.Response:
        return self.http.post(f"/{table}", json=rows, headers={**self.headers, "Prefer": "return=minimal"})

    def patch(self, table: str, row_id: str, values: dict) -> httpx.Response:
        return self.http.patch(
            f"/{table}",
            params={"id": f"eq.{row_id}"},
            json=values,
            headers={**self.headers, "Prefer": "return=minimal"},
        )


def new_member(
    owner_conninfo: str, prefix: str, *, consultant: bool = False, home: str = "NY", city: str = "Testford"
) -> str:
    """A fresh member living in `home` (auth_register, as the service role does); a consultant is licensed there,
    accepting, with room, and sees clients in person in `city` (a search there finds only the consultants made so)."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(owner_conninfo, autocommit=True) as conn:
        user_id = str(
            conn.execute(
                "select public.auth_register(%s, %s, %s, %s)",
                (name, f"{name}@test.example", f"Test {prefix}", "$2b$12$" + "x" * 53),
            ).fetchone()[0]
        )
        conn.execute(
            "update public.profiles set is_consultant = %s, home_jurisdiction = %s where id = %s",
            (consultant, home, user_id),
        )
        if consultant:
            conn.execute("update public.profiles set offers_in_person = true, city = %s where id = %s", (city, user_id))
            conn.execute(
                "insert into public.licenses (profile_id, license_type, license_number, jurisdiction, expires_on) "
                "values (%s, 'LCSW', 'T-1', %s, current_date + 365)",
                (user_id, home),
            )
            conn.execute(
                "update public.availability_settings set accepting_new_clients = true, capacity = 5 "
                "where consultant_id = %s",
                (user_id,),
            )
    return user_id


def email_of(owner_conninfo: str, user_id: str) -> str:
    with psycopg.connect(owner_conninfo) as conn:
        return conn.execute("select email from private.credentials where user_id = %s", (user_id,)).fetchone()[0]


def refused(response: httpx.Response, detail: str, sentence: str | None = None) -> dict:
    """A P0001 refusal: HTTP 400, the field in `detail`, a sentence (capitalised, ending with a full stop)."""
    assert response.status_code == 400, response.text[:300]
    body = response.json()
    assert body["code"] == "P0001" and body["details"] == detail, body
    assert body["message"][0].isupper() and body["message"].rstrip().endswith("."), body
    if sentence is not None:
        assert sentence in body["message"], body
    return body


def as_json(value) -> str:
    return json.dumps(value, sort_keys=True)
