"""Home summary, exporting my data, and deleting my account without breaking others' records."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from portal.appointments import book, my_appointments
from portal.auth import DatabaseUsers
from portal.availability import open_slots
from portal.db import SERVICE, Claims
from portal.mydata import attention_items, delete_my_account, export_my_data, export_zip
from portal.refusal import Refusal
from tests.conftest import licensed_where_the_clients_live


@pytest.fixture
def pair(backend, new_user, embedded_db):
    consultant, _ = new_user("data_c")
    client, client_username = new_user("data_s")
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        conn.execute("update public.profiles set is_consultant = true where id = %s", (consultant,))
        conn.execute(
            "update public.availability_settings set min_notice_hours = 0 where consultant_id = %s", (consultant,)
        )
        conn.execute(
            "insert into public.weekly_hours (consultant_id, weekday, starts_at, ends_at) "
            "select %s, d, '08:00', '18:00' from generate_series(1, 7) d",
            (consultant,),
        )
        request = conn.execute(
            "insert into public.consultation_requests (seeker_id, consultant_id, message, status) "
            "values (%s, %s, 'hi', 'accepted') returning id",
            (client, consultant),
        ).fetchone()[0]
        conn.execute(
            "insert into public.engagements (request_id, seeker_id, consultant_id) values (%s, %s, %s)",
            (request, client, consultant),
        )
        licensed_where_the_clients_live(conn, consultant, client)
    return Claims.user(consultant), Claims.user(client), client_username


def test_home_lists_what_waits_on_me(backend, pair):
    consultant, client, _ = pair
    slot = open_slots(
        backend,
        client,
        consultant.sub,
        datetime.now(UTC).date() + timedelta(days=3),
        datetime.now(UTC).date() + timedelta(days=9),
        client.sub,
    )[0]["starts_at"]
    book(backend, client, consultant.sub, slot)
    home = backend.rpc("my_home", {}, as_user=consultant)
    assert home["bookings_to_confirm"] == 1 and home["upcoming"][0]["starts_at"] == slot
    assert home["capacity"]["active"] == 1
    sentences = [s for s, _ in attention_items(home)]
    assert "1 proposed session to confirm or decline" in sentences
    assert backend.rpc("my_home", {}, as_user=client)["bookings_to_confirm"] == 0


def test_export_holds_my_data_and_nothing_the_other_declared(backend, pair):
    consultant, client, username = pair
    backend.rpc("add_my_relationship", {"p_kind": "colleague", "p_counterpart_name": "A. Colleague"}, as_user=client)
    backend.rpc("add_my_relationship", {"p_kind": "friend", "p_counterpart_id": client.sub}, as_user=consultant)
    data = export_my_data(backend, client)
    assert data["account"]["username"] == username
    assert [d["counterpart_name"] for d in data["declared_relationships"]] == ["A. Colleague"]
    assert "friend" not in json.dumps(data)
    archive = zipfile.ZipFile(io.BytesIO(export_zip(data)))
    assert "my-data.json" in archive.namelist() and "appointments.csv" in archive.namelist()
    assert json.loads(archive.read("my-data.json"))["profile"]["id"] == client.sub
    assert "A. Colleague" in archive.read("declared_relationships.csv").decode()


def test_deleting_my_account_keeps_the_other_partys_records_whole(backend, pair):
    consultant, client, username = pair
    slot = open_slots(
        backend,
        client,
        consultant.sub,
        datetime.now(UTC).date() + timedelta(days=3),
        datetime.now(UTC).date() + timedelta(days=9),
        client.sub,
    )[0]["starts_at"]
    booked = book(backend, client, consultant.sub, slot)
    with pytest.raises(Refusal, match="Type your username"):
        delete_my_account(backend, client, "someone-else")
    delete_my_account(backend, client, username)
    assert backend.rpc("auth_get_login", {"p_username": username}, as_user=SERVICE) is None
    assert username not in DatabaseUsers(backend)
    theirs = {a["id"]: a for a in my_appointments(backend, consultant)}
    assert theirs[booked["id"]]["other_name"] == "Former member"
    assert theirs[booked["id"]]["status"] == "cancelled"
    requests = backend.rpc("my_requests", {}, as_user=consultant)
    assert [r["other_name"] for r in requests] == ["Former member"]
    assert backend.rpc("get_my_practice", {}, as_user=consultant)["active_clients"] == 0


def test_the_export_names_the_people_my_records_name_and_nobody_else(backend, pair, new_user, embedded_db):
    consultant, client, _ = pair
    declared, _ = new_user("data_declared")
    stranger, _ = new_user("data_stranger")
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        conn.execute("update public.profiles set is_consultant = true where id = any (%s)", ([declared, stranger],))
    backend.rpc("add_my_relationship", {"p_kind": "colleague", "p_counterpart_id": declared}, as_user=client)
    data = export_my_data(backend, client)
    people = {p["id"]: p["display_name"] for p in data["people"]}
    assert set(people) == {consultant.sub, declared}  # my consultant (request, engagement) and whom I declared
    archive = zipfile.ZipFile(io.BytesIO(export_zip(data)))
    assert "Test data_declared" in archive.read("people.csv").decode()
