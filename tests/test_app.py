"""Pages through Streamlit's AppTest, on the real embedded database."""

from __future__ import annotations

import uuid
from pathlib import Path

import bcrypt
import pytest
from streamlit.testing.v1 import AppTest

from portal.db import SERVICE
from portal.demo import DEMO_PASSWORD

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PAGES = {
    "home": "pages/home.py", "profile": "pages/my_profile.py", "account": "pages/account.py",
    "admin": "pages/admin.py", "sign_in": "pages/sign_in.py", "register": "pages/register.py",
}


@pytest.fixture(autouse=True)
def _database(embedded_db):
    """AppTest runs app.py in this process: it opens the same embedded database (PORTAL_DATA_DIR)."""


def app(username: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    if username:
        at.session_state["authentication_status"] = True
        at.session_state["username"] = username
    return at


def texts(at: AppTest, kind: str) -> list[str]:
    return [element.value for element in getattr(at, kind)]


def no_exceptions(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def sign_in(at: AppTest, username: str, password: str) -> AppTest:
    inputs = {ti.label: ti for ti in at.text_input}
    inputs["Username"].input(username)
    inputs["Password"].input(password)
    next(b for b in at.button if b.label == "Sign in").click()
    return at.run()


def make_account(backend, password: str = "Good-pass-123") -> str:
    username = f"app_{uuid.uuid4().hex[:8]}"
    backend.rpc("auth_register", {
        "p_username": username, "p_email": f"{username}@test.example", "p_display_name": "Casey Tester",
        "p_password_hash": bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode(),
    }, as_user=SERVICE)
    return username


# --- every page renders for every role ----------------------------------------------------

ROLE_PAGES = {
    None: ["sign_in", "register"],
    "seeker01": ["home", "profile", "account"],
    "consultant01": ["home", "profile", "account"],
    "admin": ["home", "profile", "account", "admin"],
}


@pytest.mark.parametrize("username,page", [(u, p) for u, pages in ROLE_PAGES.items() for p in pages])
def test_page_renders_for_role(username, page):
    at = app(username).run()
    no_exceptions(at)
    at.switch_page(PAGES[page]).run()
    no_exceptions(at)
    assert at.title, "every page has a title"
    assert at.caption, "every page states its purpose"


def test_signed_out_visitor_lands_on_sign_in():
    at = app().run()
    assert texts(at, "title") == ["Sign in"]


def test_member_pages_are_not_routed_for_signed_out_visitors():
    at = app().run()
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(PAGES["profile"])


def test_admin_page_is_not_routed_for_members():
    at = app("seeker02").run()
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(PAGES["admin"])


# --- sign-in journeys -------------------------------------------------------------------

def test_sign_in_with_a_demo_account_reaches_home():
    at = sign_in(app().run(), "seeker01", DEMO_PASSWORD)
    no_exceptions(at)
    assert any("Signed in" in s for s in texts(at, "success"))
    at.run()
    assert texts(at, "title")[0].startswith("Welcome, ")


def test_wrong_password_is_refused_with_a_message():
    at = sign_in(app().run(), "seeker02", "Not-the-password-1")
    no_exceptions(at)
    assert any("incorrect" in e for e in texts(at, "error"))
    assert not at.session_state["authentication_status"]


def test_five_failures_lock_the_account_across_sessions(backend):
    username = make_account(backend)
    at = app().run()
    for _ in range(5):
        at = sign_in(at, username, "Wrong-pass-999")
    assert any("locked" in e for e in texts(at, "error"))
    # The right password in a new session (another browser) is still refused.
    other = sign_in(app().run(), username, "Good-pass-123")
    no_exceptions(other)
    assert any("locked" in e and "15 minutes" in e for e in texts(other, "error"))
    assert not other.session_state["authentication_status"]


def test_registration_then_sign_in(backend):
    username = f"new_{uuid.uuid4().hex[:8]}"
    at = app().run()
    at.switch_page(PAGES["register"]).run()
    fields = {ti.label: ti for ti in at.text_input}
    fields["First name"].input("Jordan")
    fields["Last name"].input("Reyes")
    fields["Email"].input(f"{username}@example.org")
    fields["Username"].input(username)
    fields["Password"].input("Strong-pass-42")
    fields["Repeat password"].input("Strong-pass-42")
    next(b for b in at.button if b.label == "Create account").click()
    at.run()
    no_exceptions(at)
    assert any(username in s for s in texts(at, "success"))

    again = app().run()
    again.switch_page(PAGES["register"]).run()
    fields = {ti.label: ti for ti in again.text_input}
    for label, value in {"First name": "Other", "Last name": "Person", "Email": f"x{username}@example.org",
                         "Username": username, "Password": "Strong-pass-42",
                         "Repeat password": "Strong-pass-42"}.items():
        fields[label].input(value)
    next(b for b in again.button if b.label == "Create account").click()
    again.run()
    assert any("taken" in e for e in texts(again, "error"))
    # What the person typed is still in the form.
    assert {ti.label: ti.value for ti in again.text_input}["First name"] == "Other"

    signed = sign_in(app().run(), username, "Strong-pass-42")
    assert signed.session_state["authentication_status"] is True


def test_registration_refuses_a_weak_password():
    at = app().run()
    at.switch_page(PAGES["register"]).run()
    fields = {ti.label: ti for ti in at.text_input}
    name = f"weak_{uuid.uuid4().hex[:6]}"
    for label, value in {"First name": "Weak", "Last name": "Password", "Email": f"{name}@example.org",
                         "Username": name, "Password": "password", "Repeat password": "password"}.items():
        fields[label].input(value)
    next(b for b in at.button if b.label == "Create account").click()
    at.run()
    assert any("Password must" in e for e in texts(at, "error"))


def test_sign_out_returns_to_sign_in():
    at = app("consultant02").run()
    at.switch_page(PAGES["account"]).run()
    at.button(key="sign_out").click().run()
    no_exceptions(at)
    assert at.session_state["authentication_status"] is None
    assert "portal_user" not in at.session_state
    at.run()
    assert "Please sign in first." in texts(at, "warning")
    at.switch_page(PAGES["sign_in"]).run()
    assert texts(at, "title") == ["Sign in"]


# --- my profile ---------------------------------------------------------------------------

def open_profile(username: str) -> AppTest:
    at = app(username).run()
    at.switch_page(PAGES["profile"]).run()
    no_exceptions(at)
    return at


def test_profile_change_is_saved_and_shown_again(backend):
    username = make_account(backend)
    at = open_profile(username)
    at.text_input(key="profile_pronouns").input("ze/zir")
    at.number_input(key="profile_years_in_practice").set_value(12)
    at.button(key="profile_save").click().run()
    no_exceptions(at)
    assert "Profile saved." in texts(at, "success")
    fresh = open_profile(username)
    assert fresh.text_input(key="profile_pronouns").value == "ze/zir"
    assert fresh.number_input(key="profile_years_in_practice").value == 12


def test_invalid_input_is_refused_next_to_the_field_and_kept(backend):
    username = make_account(backend)
    at = open_profile(username)
    at.text_input(key="profile_pronouns").input("they/them")
    at.checkbox(key="profile_offers_in_person").check()
    at.number_input(key="profile_fee_usd").set_value(4000)
    at.button(key="profile_save").click().run()
    no_exceptions(at)
    errors = texts(at, "error")
    assert "Name the city where you see people in person." in errors
    assert "The fee must be between $0 and $1,000 per session." in errors
    assert at.text_input(key="profile_pronouns").value == "they/them"
    assert at.number_input(key="profile_fee_usd").value == 4000
    assert open_profile(username).text_input(key="profile_pronouns").value in ("", None)


def test_stale_form_is_refused_and_keeps_what_was_typed(backend):
    username = make_account(backend)
    first, second = open_profile(username), open_profile(username)
    first.text_input(key="profile_pronouns").input("she/her")
    first.button(key="profile_save").click().run()
    assert "Profile saved." in texts(first, "success")

    second.text_input(key="profile_pronouns").input("he/him")
    second.button(key="profile_save").click().run()
    no_exceptions(second)
    assert any("changed elsewhere" in e for e in texts(second, "error"))
    assert second.text_input(key="profile_pronouns").value == "he/him"
    second.button(key="profile_load_latest").click().run()
    assert second.text_input(key="profile_pronouns").value == "she/her"


# --- admin --------------------------------------------------------------------------------

def test_admin_lists_and_unlocks_accounts(backend):
    username = make_account(backend)
    for _ in range(5):
        backend.rpc("auth_record_failed_login", {"p_username": username}, as_user=SERVICE)
    at = app("admin").run()
    at.switch_page(PAGES["admin"]).run()
    at.text_input(key="admin_query").input(username).run()
    no_exceptions(at)
    assert "1 account(s) match." in texts(at, "caption")
    at.button(key="admin_unlock").click().run()
    no_exceptions(at)
    assert backend.rpc("auth_get_login", {"p_username": username}, as_user=SERVICE)["locked_until"] is None
