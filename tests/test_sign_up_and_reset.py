"""Sign-up that reveals nothing, verified addresses, password reset by a link (#13).

Registration and "forgot password" answer alike for a known and an unknown address: the same sentence, the same
page, and the same work (one bcrypt hash, the same RPCs in the same order — recorded, never timed). A new address
gets a link that creates the account; an address already registered gets "someone tried to register"; a reset
link goes only to a verified address, works once, expires, and ends every session. Tokens are minted by the sender
and only their sha256 is stored. Requests are counted per address and per typed name. Outsiders reach none of it,
through PostgREST on both databases."""

from __future__ import annotations

import hashlib
import uuid

import bcrypt
import httpx
import jwt
import psycopg
import pytest

import portal.account_links as links
from portal.account_links import (
    REGISTRATION_ANSWER,
    RESET_ANSWER,
    link_state,
    redeem_verification,
    request_password_reset,
    request_registration,
    reset_password,
)
from portal.db import SERVICE, APIError, Claims
from portal.db.local import LocalBackend
from portal.demo import demo_world
from portal.mailer import Mailer, MailSettings
from portal.refusal import Refusal
from tests.contract_support import postgrest, supabase_backend  # noqa: F401 (fixtures: PostgREST on each database)
from tests.mail_support import deliver, plain, to, token_in
from tests.page_support import PAGES, app, no_exceptions, sign_in, texts
from tests.people_support import make_account

PASSWORD = "Quiet harbour lantern"
SERVICE_RPCS = {
    "auth_request_registration": {
        "p_username": "xx_probe",
        "p_email": "probe@clinic.org",
        "p_display_name": "P Q",
        "p_password_hash": "$2b$12$" + "x" * 53,
    },
    "auth_request_password_reset": {"p_identifier": "seeker01"},
    "account_links_claim": {"p_limit": 1},
    "account_link_arm": {"p_id": 1, "p_token_hash": "0" * 64},
    "account_links_settle": {"p_id": 1, "p_outcome": "sent"},
    "auth_link_state": {"p_token_hash": "0" * 64},
    "auth_redeem_verification": {"p_token_hash": "0" * 64},
    "auth_reset_password_by_link": {"p_token_hash": "0" * 64, "p_password_hash": "$2b$12$" + "x" * 53},
}


@pytest.fixture(autouse=True)
def _database(embedded_db):
    """AppTest runs app.py in this process: it opens the same embedded database (PORTAL_DATA_DIR)."""


class Recording:
    """The backend, recording the name of every RPC it is asked for."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.calls: list[str] = []

    def rpc(self, fn, params=None, *, as_user):
        self.calls.append(fn)
        return self.inner.rpc(fn, params, as_user=as_user)


@pytest.fixture
def bcrypt_calls(monkeypatch):
    """How many bcrypt hashes were computed."""
    calls = []
    real = bcrypt.hashpw

    def counting(password, salt):
        calls.append(1)
        return real(password, salt)

    monkeypatch.setattr(links.bcrypt, "hashpw", counting)
    return calls


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def legacy_account(backend, embedded_db, *, verified: bool, password: str = PASSWORD) -> tuple[str, str, str]:
    """An account as before this change (auth_register), with a real-looking address; (id, username, email)."""
    username = unique("acct")
    address = f"{username}@clinic-{uuid.uuid4().hex[:6]}.org"
    user_id = backend.rpc(
        "auth_register",
        {
            "p_username": username,
            "p_email": address,
            "p_display_name": "Robin Ames",
            "p_password_hash": bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode(),
        },
        as_user=SERVICE,
    )
    if verified:
        with psycopg.connect(embedded_db.owner_conninfo) as conn:
            conn.execute("update private.credentials set email_verified_at = now() where user_id = %s", (user_id,))
    return user_id, username, address


def account_rows(embedded_db, address: str) -> list[tuple]:
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        return conn.execute(
            "select kind, status, token_hash, expires_at - created_at, used_at is not null "
            "from private.account_links where lower(email) = lower(%s) order by id",
            (address,),
        ).fetchall()


# --- registration ----------------------------------------------------------------------------------------------


def test_registration_answers_alike_for_a_known_and_an_unknown_address(backend, embedded_db, bcrypt_calls, tmp_path):
    _, holder, known = legacy_account(backend, embedded_db, verified=True)
    unknown = f"{unique('new')}@clinic-{uuid.uuid4().hex[:6]}.org"
    answers, work = {}, {}
    for case, address in (("known", known), ("unknown", unknown)):
        recording = Recording(backend)
        bcrypt_calls.clear()
        answers[case] = request_registration(recording, "Jo", "Reyes", address, unique("jo"), PASSWORD)
        work[case] = (recording.calls, len(bcrypt_calls))
    assert answers["known"] == answers["unknown"] == REGISTRATION_ANSWER
    assert work["known"] == work["unknown"] == (["auth_request_registration"], 1)

    # What each address receives differs; the page never said which.
    messages = deliver(backend, tmp_path)
    [tried] = to(messages, known)
    assert tried["Subject"] == "Someone tried to register with your email"
    assert holder in plain(tried) and "/sign-in" in plain(tried) and "/forgot-password" in plain(tried)
    assert "token=" not in plain(tried)
    [verify] = to(messages, unknown)
    assert verify["Subject"] == "Confirm your email to finish creating your account"
    token_in(verify, "verify-email")


def test_a_verification_link_creates_the_account_once(backend, embedded_db, tmp_path):
    username = unique("vf")
    address = f"{username}@clinic-{uuid.uuid4().hex[:6]}.org"
    request_registration(backend, "Zoë", "O’Brien", address, username, PASSWORD)
    # Nothing can sign in yet: there is no account until the address is proven.
    assert backend.rpc("auth_get_login", {"p_username": username}, as_user=SERVICE) is None
    [message] = to(deliver(backend, tmp_path), address)
    token = token_in(message, "verify-email")
    # Only the token's sha256 is stored, never the token; it expires after 24 hours.
    [(kind, status, stored, lasts, used)] = account_rows(embedded_db, address)
    assert (kind, status, used) == ("registration", "sent", False)
    assert stored == hashlib.sha256(token.encode()).hexdigest() and lasts.total_seconds() == pytest.approx(86400, 5)
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        dump = conn.execute("select string_agg(t::text, ' ') from private.account_links t").fetchone()[0]
    assert token not in dump

    assert redeem_verification(backend, token) == {"outcome": "created", "username": username}
    row = backend.rpc("auth_get_login", {"p_username": username}, as_user=SERVICE)
    assert row["display_name"] == "Zoë O’Brien" and bcrypt.checkpw(PASSWORD.encode(), row["password_hash"].encode())
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        assert conn.execute(
            "select email_verified_at is not null from private.credentials where username = %s", (username,)
        ).fetchone()[0]
    # Opened again (a mail program's check, a second click): the address is confirmed, the account named (#26.6).
    assert redeem_verification(backend, token) == {"outcome": "confirmed", "username": username}
    assert redeem_verification(backend, token + "x")["outcome"] == "unknown"


def test_a_username_is_refused_next_to_its_field_but_never_an_address(backend, embedded_db):
    _, taken, address = legacy_account(backend, embedded_db, verified=False)
    with pytest.raises(Refusal, match="username is taken"):
        request_registration(backend, "Al", "Bo", f"{unique('x')}@clinic.org", taken, PASSWORD)
    assert request_registration(backend, "Al", "Bo", address.upper(), unique("free"), PASSWORD) == REGISTRATION_ANSWER


def test_an_expired_verification_link_creates_nothing(backend, embedded_db, tmp_path):
    username = unique("ex")
    address = f"{username}@clinic.org"
    request_registration(backend, "Ex", "Pired", address, username, PASSWORD)
    token = token_in(to(deliver(backend, tmp_path), address)[0], "verify-email")
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        conn.execute(
            "update private.account_links set expires_at = now() - interval '1 second' where lower(email) = %s",
            (address,),
        )
    assert redeem_verification(backend, token)["outcome"] == "expired"
    assert backend.rpc("auth_get_login", {"p_username": username}, as_user=SERVICE) is None


def test_registrations_are_counted_per_address(backend, embedded_db):
    address = f"{unique('rate')}@clinic.org"
    for _ in range(5):
        assert request_registration(backend, "Ra", "Te", address, unique("rate"), PASSWORD) == REGISTRATION_ANSWER
    assert len(account_rows(embedded_db, address)) == links.PER_HOUR


# --- password reset --------------------------------------------------------------------------------------------


def test_reset_answers_alike_whoever_asks(backend, embedded_db):
    _, username, address = legacy_account(backend, embedded_db, verified=True)
    _, unverified_name, unverified = legacy_account(backend, embedded_db, verified=False)
    work = {}
    for typed in (username, address.upper(), unique("nobody"), f"{unique('nobody')}@clinic.org", unverified_name):
        recording = Recording(backend)
        assert request_password_reset(recording, typed) == RESET_ANSWER
        work[typed] = recording.calls
    assert set(map(tuple, work.values())) == {("auth_request_password_reset",)}
    # Two links for the verified address (by name and by address); nothing to the unverified one.
    assert [r[0] for r in account_rows(embedded_db, address)] == ["reset", "reset"]
    assert account_rows(embedded_db, unverified) == []


def test_a_reset_link_works_once_ends_every_session_and_expires(backend, embedded_db, tmp_path):
    user_id, username, address = legacy_account(backend, embedded_db, verified=True)
    for _ in range(5):  # a lock, and an open session elsewhere
        backend.rpc("auth_record_failed_login", {"p_username": username}, as_user=SERVICE)
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        conn.execute(
            "update private.credentials set failed_attempts = 0, locked_until = null where user_id = %s", (user_id,)
        )
    session = backend.rpc("auth_record_successful_login", {"p_username": username}, as_user=SERVICE)["session"]
    for _ in range(5):
        backend.rpc("auth_record_failed_login", {"p_username": username}, as_user=SERVICE)
    request_password_reset(backend, username)
    [message] = to(deliver(backend, tmp_path), address)
    assert message["Subject"] == "Choose a new password"
    token = token_in(message, "reset-password")
    [(_, _, stored, lasts, _)] = account_rows(embedded_db, address)
    assert stored == hashlib.sha256(token.encode()).hexdigest() and lasts.total_seconds() == pytest.approx(2700, 5)

    assert link_state(backend, token) == links.LinkState("reset", "valid", username)
    with pytest.raises(ValueError, match="passwords people use most"):
        reset_password(backend, token, "password1")  # the rules first: nothing spent
    assert reset_password(backend, token, "A new and quiet harbour") == {"outcome": "changed", "username": username}
    row = backend.rpc("auth_get_login", {"p_username": username}, as_user=SERVICE)
    assert bcrypt.checkpw(b"A new and quiet harbour", row["password_hash"].encode())
    assert (row["failed_attempts"], row["locked_until"]) == (0, None)
    assert not backend.rpc(
        "auth_session_alive", {"p_session": session, "p_user": user_id, "p_username": username}, as_user=SERVICE
    )
    assert link_state(backend, token).state == "spent"
    assert reset_password(backend, token, "Another quiet harbour")["outcome"] == "spent"

    request_password_reset(backend, address)
    later = token_in(to(deliver(backend, tmp_path / "later"), address)[0], "reset-password")
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        conn.execute(
            "update private.account_links set expires_at = now() - interval '1 second' where token_hash = %s",
            (hashlib.sha256(later.encode()).hexdigest(),),
        )
    assert link_state(backend, later).state == "expired"
    assert reset_password(backend, later, "Yet another harbour")["outcome"] == "expired"


def test_resets_are_counted_per_typed_name_and_per_address(backend, embedded_db):
    _, username, address = legacy_account(backend, embedded_db, verified=True)
    for _ in range(4):
        request_password_reset(backend, username)
    assert len(account_rows(embedded_db, address)) == 3
    request_password_reset(backend, address)  # another spelling, the same address: still over the limit
    assert len(account_rows(embedded_db, address)) == 3


# --- the sender over SMTP ---------------------------------------------------------------------------------------


def test_over_smtp_only_verification_links_go_to_an_unverified_address(backend, embedded_db, smtp_server):
    controller, inbox = smtp_server
    _, _, unverified = legacy_account(backend, embedded_db, verified=False)
    _, verified_name, verified = legacy_account(backend, embedded_db, verified=True)
    fresh = f"{unique('smtp')}@clinic-{uuid.uuid4().hex[:6]}.org"
    request_registration(backend, "Un", "Verified", unverified, unique("u"), PASSWORD)  # "someone tried": held
    request_registration(backend, "Fr", "Esh", fresh, unique("f"), PASSWORD)  # a verification link: sent
    request_password_reset(backend, verified_name)  # a verified address: sent
    reserved = f"{unique('demo')}@clinic.example"
    request_registration(backend, "De", "Mo", reserved, unique("d"), PASSWORD)  # never sent
    mailer = Mailer(
        backend,
        MailSettings(
            smtp_host="127.0.0.1", smtp_port=controller.port, starttls=False, base_url="https://portal.example.org"
        ),
    )
    while sum(mailer.run_once(limit=100).values()):
        pass
    assert [m["Subject"] for m in inbox.to(fresh)] == ["Confirm your email to finish creating your account"]
    assert [m["Subject"] for m in inbox.to(verified)] == ["Choose a new password"]
    assert inbox.to(unverified) == [] and inbox.to(reserved) == []
    assert [r[1] for r in account_rows(embedded_db, unverified)] == ["held"]
    assert [r[1] for r in account_rows(embedded_db, reserved)] == ["held"]


# --- pages --------------------------------------------------------------------------------------------------------


def page_text(at) -> list:
    """Everything a visitor reads on the page, and the form's widgets with their values."""
    shown = [
        (kind, texts(at, kind))
        for kind in ("title", "caption", "header", "markdown", "success", "info", "warning", "error")
    ]
    return shown + [(w.key, w.value) for w in at.text_input]


@pytest.fixture
def recorded_rpcs(monkeypatch):
    """The RPC names the app's backend is asked for, in order."""
    calls: list[str] = []
    real = LocalBackend.rpc

    def recording(self, fn, params=None, *, as_user):
        calls.append(fn)
        return real(self, fn, params, as_user=as_user)

    monkeypatch.setattr(LocalBackend, "rpc", recording)
    return calls


def submit_registration(address: str, username: str):
    at = app().run()
    at.switch_page(PAGES["register"]).run()
    fields = {ti.label: ti for ti in at.text_input}
    for label, value in {
        "First name": "Jordan",
        "Last name": "Reyes",
        "Email": address,
        "Username": username,
        "Password": PASSWORD,
        "Repeat password": PASSWORD,
    }.items():
        fields[label].input(value)
    at.button(key="register_submit").click()
    return at.run()


def test_the_register_page_is_the_same_for_a_known_and_an_unknown_address(backend, embedded_db, recorded_rpcs):
    _, _, known = legacy_account(backend, embedded_db, verified=True)
    pages, work = {}, {}
    for case, address in (("known", known), ("unknown", f"{unique('pg')}@clinic.org")):
        submit_registration(address, unique("pg"))  # warm: the first run of a process loads more
        recorded_rpcs.clear()
        at = submit_registration(address.replace("@", "+2@") if case == "unknown" else address, unique("pg"))
        no_exceptions(at)
        pages[case], work[case] = page_text(at), list(recorded_rpcs)
    assert pages["known"] == pages["unknown"]
    assert REGISTRATION_ANSWER in dict(pages["known"])["success"]
    assert work["known"] == work["unknown"] and work["known"].count("auth_request_registration") == 1


def test_the_forgot_password_page_is_the_same_for_every_name(backend, embedded_db, recorded_rpcs):
    _, username, _ = legacy_account(backend, embedded_db, verified=True)
    at = app().run()
    at.switch_page(PAGES["sign_in"]).run()
    assert any(link.label == "Forgot your password?" for link in at.get("page_link"))
    pages, work = {}, {}
    for case, typed in (("known", username), ("unknown", unique("nobody"))):
        recorded_rpcs.clear()
        at = app().run()
        at.switch_page("views/forgot_password.py").run()
        at.text_input(key="forgot_identifier").input(typed)
        at.button(key="forgot_submit").click().run()
        no_exceptions(at)
        pages[case] = [(k, v) for k, v in page_text(at) if k != "forgot_identifier"]
        work[case] = list(recorded_rpcs)
    assert pages["known"] == pages["unknown"] and RESET_ANSWER in dict(pages["known"])["success"]
    assert work["known"] == work["unknown"]


@pytest.mark.parametrize("username", [None, "seeker01"])
@pytest.mark.parametrize("page", ["views/forgot_password.py", "views/verify_email.py", "views/reset_password.py"])
def test_the_new_pages_render_signed_out_and_signed_in_without_a_token(page, username):
    at = open_link(page, None, username)
    no_exceptions(at)
    assert at.title and at.caption and not texts(at, "error")


def as_read(markdown: str) -> str:
    """Markdown source as the reader sees it: plain()'s escapes and invisible word joiners taken out."""
    return markdown.replace("\\", "").replace("\u2060", "")


def open_link(page: str, token: str | None, username: str | None = None):
    at = app(username) if username else app()
    at.run()
    at.switch_page(page)
    if token is not None:
        at.query_params["token"] = token
    return at.run()


def test_pages_for_the_links(backend, embedded_db, tmp_path):
    # Registration: the link names the username and creates the account when asked, which then signs in; the
    # link a second time says it was used.
    username = unique("pgv")
    address = f"{username}@clinic.org"
    submit_registration(address, username)
    token = token_in(to(deliver(backend, tmp_path), address)[0], "verify-email")
    at = open_link("views/verify_email.py", token)
    no_exceptions(at)
    assert any(username in m.replace("\\", "") for m in texts(at, "markdown")) and not texts(at, "success")
    assert backend.rpc("auth_get_login", {"p_username": username}, as_user=SERVICE) is None  # not yet
    at.button(key="verify_create").click().run()
    no_exceptions(at)
    assert any(username in as_read(s) for s in texts(at, "success")), texts(at, "success")
    assert sign_in(app().run(), username, PASSWORD).session_state["authentication_status"] is True
    # The link a second time (#26.6): not "used already… register again", but confirmed, with the way to sign in.
    again = open_link("views/verify_email.py", token)
    assert texts(again, "error") == []
    assert [as_read(s) for s in texts(again, "success")] == [links.CONFIRMED_ALREADY.format(username=username)]
    assert [str(link.proto.label) for link in again.main.get("page_link")] == ["Sign in"]

    # Reset: the form, a new password, and the spent link offers a new one.
    _, name, verified = legacy_account(backend, embedded_db, verified=True)
    request_password_reset(backend, verified)
    token = token_in(to(deliver(backend, tmp_path / "r"), verified)[0], "reset-password")
    at = open_link("views/reset_password.py", token)
    at.text_input(key="reset_new_password").input("password1")
    at.text_input(key="reset_repeat_password").input("password1")
    at.button(key="reset_submit").click().run()
    assert any("passwords people use most" in e for e in texts(at, "error"))
    assert at.text_input(key="reset_new_password").value == "password1"  # nothing typed is lost
    at.text_input(key="reset_new_password").input("Lanterns over the harbour")
    at.text_input(key="reset_repeat_password").input("Lanterns over the harbour")
    at.button(key="reset_submit").click().run()
    no_exceptions(at)
    assert any("was changed" in s for s in texts(at, "success")), texts(at, "success")
    assert sign_in(app().run(), name, "Lanterns over the harbour").session_state["authentication_status"] is True
    spent = open_link("views/reset_password.py", token)
    assert texts(spent, "error") == [f"{links.LINK_SENTENCES['spent']} Ask for a new one: it takes a minute."]
    assert any(link.label == "Send me a new link" for link in spent.get("page_link"))


def test_an_account_from_before_verifies_its_address_from_the_account_page(backend, embedded_db, tmp_path):
    username = make_account(backend)
    at = app(username).run()
    at.switch_page(PAGES["account"]).run()
    assert any("not verified yet" in m for m in texts(at, "markdown"))
    at.button(key="account_verify_email").click().run()
    no_exceptions(at)
    address = f"{username}@test.example"
    assert any(address in as_read(s) for s in texts(at, "success"))
    token = token_in(to(deliver(backend, tmp_path), address)[0], "verify-email")
    landed = open_link("views/verify_email.py", token, username)  # opened signed in, as a member would
    no_exceptions(landed)
    assert any("verified" in s for s in texts(landed, "success"))
    at = app(username).run()
    at.switch_page(PAGES["account"]).run()
    assert any("— verified" in m for m in texts(at, "markdown"))


# --- outsiders, through PostgREST on both databases -----------------------------------------------------------


def test_outsiders_reach_none_of_it_and_the_service_answers_alike(deployed, postgrest, supabase_backend):  # noqa: F811
    member = str(next(p.id for p in demo_world() if p.username == "seeker01"))
    now_token = jwt.encode(
        {"role": "authenticated", "sub": str(uuid.uuid4()), "aud": "authenticated"},
        postgrest.jwt_secret,
        algorithm="HS256",
    )
    anon_key = jwt.encode({"role": "anon"}, postgrest.jwt_secret, algorithm="HS256")
    with httpx.Client(base_url=postgrest.url, timeout=15.0) as http:
        for headers in ({"Authorization": f"Bearer {now_token}"}, {"Authorization": f"Bearer {anon_key}"}, {}):
            for fn, params in {
                **SERVICE_RPCS,
                "my_email_verification": {},
                "request_my_email_verification": {},
            }.items():
                response = http.post(f"/rpc/{fn}", json=params, headers=headers)
                assert response.status_code in (401, 403) and response.json()["code"] == "42501", (fn, response.text)
    for fn, params in SERVICE_RPCS.items():  # a member's own token neither
        with pytest.raises(APIError) as refused:
            supabase_backend.rpc(fn, params, as_user=Claims.user(member))
        assert refused.value.code == "42501"
    with psycopg.connect(deployed.owner_conninfo) as conn:
        for role in ("anon", "authenticated", "portal_member", "service_role"):
            with conn.transaction(force_rollback=True), pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(f"set local role {role}")
                conn.execute("select * from private.account_links")

    # The service role's calls answer the same through PostgREST as through the local backend.
    local = LocalBackend(deployed.api_conninfo)
    try:
        _, holder_address = unique("h"), f"{unique('h')}@clinic.org"
        for api in (local, supabase_backend):
            assert (
                request_registration(api, "Sa", "Me", holder_address, unique("same"), PASSWORD) == REGISTRATION_ANSWER
            )
            assert request_password_reset(api, unique("nobody")) == RESET_ANSWER
            assert link_state(api, "not-a-token") == links.LinkState(None, "unknown", None)
            assert redeem_verification(api, "not-a-token") == {"outcome": "unknown", "username": None}
        with pytest.raises(Refusal):
            request_registration(supabase_backend, "Sa", "Me", f"{unique('x')}@clinic.org", "seeker01", PASSWORD)
        member_view = supabase_backend.rpc("my_email_verification", {}, as_user=Claims.user(member))
        assert member_view == local.rpc("my_email_verification", {}, as_user=Claims.user(member))
        assert member_view["verified"] is False
    finally:
        local.close()
