"""Account emails counted by kind and registrations by client (issue 23, item 5), and a registration its address's
owner did not make cancelled from its link (item 8): each attack replayed through the RPCs, on the embedded 18 and
the CLI-deployed 15, through the local backend and through supabase-py against a real PostgREST."""

from __future__ import annotations

import re
import uuid
from email import message_from_bytes
from pathlib import Path

import psycopg
import pytest
from streamlit.testing.v1 import AppTest

from portal.account_links import (
    LINK_SENTENCES,
    PER_HOUR,
    REGISTRATIONS_PER_CLIENT,
    cancel_registration,
    client_address,
    link_state,
    redeem_verification,
)
from portal.db import SERVICE
from portal.db.local import LocalBackend
from portal.mailer import Mailer, MailSettings
from tests.postgrest_server import supabase_backend_for

HASH = "$2b$12$" + "r" * 53
APP = str(Path(__file__).resolve().parents[1] / "app.py")


@pytest.fixture(scope="module")
def rpc_backends(deployed, postgrest):
    local = LocalBackend(deployed.api_conninfo)
    yield {"local": local, "supabase": supabase_backend_for(postgrest)}
    local.close()


@pytest.fixture(params=["local", "supabase"])
def api(request, rpc_backends):
    return rpc_backends[request.param]


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def register(api, address: str, *, username: str | None = None, client: str | None = None) -> str:
    return api.rpc(
        "auth_request_registration",
        {
            "p_username": username or unique("reg"),
            "p_email": address,
            "p_display_name": "Ari Stranger",
            "p_password_hash": HASH,
            "p_client": client,
        },
        as_user=SERVICE,
    )


def queued(deployed, address: str) -> list[str]:
    """The kinds of account message queued for `address`, oldest first."""
    with psycopg.connect(deployed.owner_conninfo) as conn:
        rows = conn.execute(
            "select kind from private.account_links where lower(email) = lower(%s) order by id", (address,)
        ).fetchall()
    return [kind for (kind,) in rows]


def verified_member(api, deployed) -> tuple[str, str]:
    username = unique("member")
    address = f"{username}@clinic-{uuid.uuid4().hex[:6]}.org"
    user_id = api.rpc(
        "auth_register",
        {"p_username": username, "p_email": address, "p_display_name": "Robin Ames", "p_password_hash": HASH},
        as_user=SERVICE,
    )
    with psycopg.connect(deployed.owner_conninfo) as conn:
        conn.execute("update private.credentials set email_verified_at = now() where user_id = %s", (user_id,))
    return username, address


def test_a_strangers_registrations_with_a_members_address_leave_their_reset_alone(api, deployed):
    username, address = verified_member(api, deployed)
    for n in range(PER_HOUR + 2):  # the attack: registrations with the member's address, from several clients
        assert register(api, address, client=f"198.51.100.{n}") == "requested"
    assert queued(deployed, address) == ["already_registered"] * PER_HOUR  # the registration kind's own limit
    api.rpc("auth_request_password_reset", {"p_identifier": username}, as_user=SERVICE)
    assert queued(deployed, address)[-1] == "reset"


def test_each_kind_is_counted_on_its_own(api, deployed):
    username, address = verified_member(api, deployed)
    for _ in range(PER_HOUR + 1):
        api.rpc("auth_request_password_reset", {"p_identifier": address}, as_user=SERVICE)
    assert queued(deployed, address) == ["reset"] * PER_HOUR
    assert register(api, address) == "requested"
    assert queued(deployed, address) == ["reset"] * PER_HOUR + ["already_registered"]


def test_registrations_are_counted_per_client(api, deployed):
    client = f"203.0.113.{uuid.uuid4().int % 250}"
    addresses = [f"{unique('new')}@clinic.org" for _ in range(REGISTRATIONS_PER_CLIENT + 1)]
    for address in addresses:
        assert register(api, address, client=client) == "requested"  # the same answer, over the limit too
    assert [queued(deployed, a) for a in addresses] == [["registration"]] * REGISTRATIONS_PER_CLIENT + [[]]
    other = f"{unique('new')}@clinic.org"
    register(api, other, client="192.0.2.77")
    assert queued(deployed, other) == ["registration"]
    with psycopg.connect(deployed.owner_conninfo) as conn:  # only a digest of the client's address is kept
        kept = conn.execute(
            "select client_digest from private.account_links where email = %s", (addresses[0],)
        ).fetchone()[0]
    assert re.fullmatch("[0-9a-f]{64}", kept) and client not in kept


def test_the_client_is_the_servers_view_or_the_gateways_last_hop():
    forwarded = {"X-Forwarded-For": "10.9.9.9, 203.0.113.5"}  # the first hop is whatever the client claimed
    assert client_address("127.0.0.1", forwarded, behind_gateway=True) == "203.0.113.5"
    assert client_address("198.51.100.4", forwarded, behind_gateway=False) == "198.51.100.4"
    assert client_address("198.51.100.4", {}, behind_gateway=True) == "198.51.100.4"
    assert client_address(None, None, behind_gateway=False) is None


# --- item 8: "This was not me" ----------------------------------------------------------------------------------


def deliver_registration(api, address: str, mailbox: Path) -> tuple[str, str]:
    """The sender's delivery (local mode); (the email's text, the link's token)."""
    mailer = Mailer(api, MailSettings(mailbox_dir=mailbox, base_url="http://portal.test:8501"))
    while sum(mailer.run_once(limit=100).values()):
        pass
    for path in mailbox.glob("*-account-registration.eml"):
        message = message_from_bytes(path.read_bytes())
        if message["To"] == address:
            text = message.get_payload(0).get_payload(decode=True).decode()
            return text, re.search(r"verify-email\?token=([A-Za-z0-9_-]+)", text).group(1)
    raise AssertionError(f"no registration message to {address}")


def test_the_owner_cancels_a_registration_made_with_their_address(api, deployed, tmp_path):
    squatter = unique("squat")
    address = f"{unique('owner')}@clinic.org"
    register(api, address, username=squatter)
    text, token = deliver_registration(api, address, tmp_path)
    assert f"“{squatter}”" in text  # the email names the username asked for
    state = link_state(api, token)
    assert (state.kind, state.state, state.username) == ("registration", "valid", squatter)

    assert cancel_registration(api, token) == {"outcome": "cancelled", "username": squatter}
    assert redeem_verification(api, token)["outcome"] == "spent"  # the link works no more
    assert cancel_registration(api, token)["outcome"] == "spent"
    assert api.rpc("auth_get_login", {"p_username": squatter}, as_user=SERVICE) is None
    with psycopg.connect(deployed.owner_conninfo) as conn:
        kept = conn.execute("select password_hash from private.account_links where email = %s", (address,)).fetchone()[
            0
        ]
    assert kept != HASH  # the registrant's password hash is forgotten
    assert cancel_registration(api, "not-a-token")["outcome"] == "unknown"


# --- the page ---------------------------------------------------------------------------------------------------


def open_verify_page(token: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("views/verify_email.py")
    at.query_params["token"] = token
    return at.run()


def test_the_link_page_names_the_username_and_this_was_not_me_cancels(backend, embedded_db, tmp_path):
    squatter = unique("squat")
    address = f"{unique('owner')}@clinic.org"
    register(backend, address, username=squatter)
    _, token = deliver_registration(backend, address, tmp_path)

    at = open_verify_page(token)
    assert not at.exception, [e.value for e in at.exception]
    assert any(squatter in m.value.replace("\\", "") for m in at.markdown)
    assert backend.rpc("auth_get_login", {"p_username": squatter}, as_user=SERVICE) is None  # opening is not creating
    at.button(key="verify_not_me").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert [s.value for s in at.success] == [LINK_SENTENCES["cancelled"]]
    assert backend.rpc("auth_get_login", {"p_username": squatter}, as_user=SERVICE) is None

    again = open_verify_page(token)
    assert [e.value for e in again.error] == [LINK_SENTENCES["spent"]]
