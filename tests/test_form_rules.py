"""One username rule (the database's) everywhere; emptied saved grid rows refused instead
of silently deleted, and licence rows numbered from the top; a fresh registration form after a sign-up; the
consultant picker's refusal shown next to it; the member's time zone read once per session, not the whole profile
on every run. Pages through AppTest on the real embedded database (the pattern of tests/test_app.py); rules
headless."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta

import psycopg
import pytest

from portal.account_links import REGISTRATION_ANSWER
from portal.availability import AvailabilityInput, save_my_availability
from portal.db import SERVICE, Claims
from portal.db.local import LocalBackend
from portal.practice import CompetencyInput, save_my_practice
from portal.practice import validate as validate_practice
from portal.profiles import (
    LicenseInput,
    ProfileInput,
    emptied_row_message,
    filled,
    load_my_profile,
    save_my_profile,
    saved_rows_kept,
    validate,
)
from portal.refusal import Refusal
from tests.mail_support import finish_registration
from tests.page_support import PAGES, app, element_after, keyed, message_under, no_exceptions, open_page, texts
from tests.people_support import make_account, make_consultant


@pytest.fixture(autouse=True)
def _database(embedded_db):
    """AppTest runs app.py in this process: it opens the same embedded database (PORTAL_DATA_DIR)."""


@pytest.fixture
def rpc_calls(monkeypatch):
    """The names of the functions every LocalBackend (the app's included) calls from now on, in order."""
    calls: list[str] = []
    original = LocalBackend.rpc

    def recording(self, fn, params=None, *, as_user):
        calls.append(fn)
        return original(self, fn, params, as_user=as_user)

    monkeypatch.setattr(LocalBackend, "rpc", recording)
    return calls


def user_id(at) -> str:
    return at.session_state["portal_user"].id


# --- 1. one username rule: the database's ------------------------------------------------------------------------

USERNAMES = [
    "ab",
    "abc",
    "a@b.co",
    "name@example.org",
    "a" * 20,
    "a" * 21,
    "a" * 30,
    "a" * 31,
    "a.b",
    "first.last",
    "under_score",
    "dash-ed",
    "Alice",
    "  bob  ",
    "two words",
    "zoë",
    "straße",
    "李明明",
    "tab\there",
    "",
    "   ",
    "a+b",
    "semi;colon",
    "dots...",
    "...",
    "x_1-2.3",
    "\u212aelvin",
    "ǅemal",
    "x\u200by",
]


def database_accepts(conn, username: str) -> bool:
    """Whether auth_register (lower(btrim(...)) into private.credentials and its check constraint) takes it."""
    conn.execute("savepoint try_username")
    try:
        conn.execute(
            "select public.auth_register(%s, %s, 'Test Person', %s)",
            (username, f"{uuid.uuid4().hex}@test.example", "$2b$12$" + "x" * 53),
        )
        return True
    except psycopg.errors.UniqueViolation:
        return True  # the format check passed; the name is merely taken
    except psycopg.errors.CheckViolation as exc:
        assert "credentials_username_format" in str(exc), exc
        return False
    finally:
        conn.execute("rollback to savepoint try_username")


def test_the_username_rule_is_exactly_the_databases(embedded_db):
    from components.registration import PortalValidator
    from portal.auth import clean_username, username_problem

    validator = PortalValidator()
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        for typed in USERNAMES:
            # What the app sends: the authenticator and DatabaseUsers lowercase and trim what was typed.
            expected = database_accepts(conn, clean_username(typed))
            assert (username_problem(typed) is None) == expected, (typed, username_problem(typed))
            assert validator.validate_username(clean_username(typed)) == expected, typed
        conn.rollback()
    assert validator.validate_username("first.last") and validator.validate_username("a" * 30)
    assert not validator.validate_username("ab") and not validator.validate_username("a@b.co")


def test_every_username_refusal_ends_with_the_rule_shown_as_help():
    from components.registration import AUTHENTICATOR_MESSAGES, refusal_field
    from portal.auth import USERNAME_RULES, _registration_message, username_problem
    from portal.db import APIError

    assert USERNAME_RULES.startswith("Usernames are 3 to 30 characters: letters a–z")
    assert "dots" in USERNAME_RULES
    problems = {
        "ab": "“ab” is 2 characters long; the least is 3.",
        "a@b.co": "A username cannot contain “@”.",
        "two words": "A username cannot contain spaces.",
        "zoë": "A username cannot contain “ë”.",
        "a" * 31: "That username is 31 characters long; the most is 30.",
        "": "Enter a username.",
    }
    for typed, start in problems.items():
        message = username_problem(typed)
        assert message == f"{start} {USERNAME_RULES}", message
        assert refusal_field(message) == ("username", message)
    assert AUTHENTICATOR_MESSAGES["Username is not valid"] == ("username", USERNAME_RULES)
    refused = APIError(
        {
            "code": "23514",
            "message": 'new row violates check constraint "credentials_username_format"',
            "details": None,
            "hint": None,
        }
    )
    assert _registration_message(refused) == USERNAME_RULES


def test_database_users_refuse_a_bad_username_before_the_database():
    from portal.auth import DatabaseUsers, username_problem

    class NoDatabase:
        def rpc(self, fn, params, *, as_user):
            raise AssertionError(f"{fn} called for a username the rule refuses")

    with pytest.raises(Refusal) as refused:
        DatabaseUsers(NoDatabase())["a@b.co"] = {"email": "a@b.co", "password": "$2b$12$x"}
    assert str(refused.value) == username_problem("a@b.co")


def open_register():
    at = app().run()
    at.switch_page(PAGES["register"]).run()
    no_exceptions(at)
    return at


def fill_registration(at, *, username: str, email: str | None = None, password: str = "Strong-pass-42") -> None:
    fields = {ti.label: ti for ti in at.text_input}
    for label, value in {
        "First name": "Jordan",
        "Last name": "Reyes",
        "Email": email or f"{uuid.uuid4().hex}@ex.org",
        "Username": username,
        "Password": password,
        "Repeat password": password,
    }.items():
        fields[label].input(value)


def create_account(at) -> None:
    next(b for b in at.button if b.label == "Create account").click()
    at.run()
    no_exceptions(at)


@pytest.mark.parametrize(
    "typed,start",
    [
        ("ab", "“ab” is 2 characters long; the least is 3."),
        ("a@b.co", "A username cannot contain “@”."),
        ("x" * 31, "That username is 31 characters long; the most is 30."),
    ],
)
def test_register_refuses_a_username_the_database_would_before_reaching_it(rpc_calls, typed, start):
    from portal.auth import USERNAME_RULES

    at = open_register()
    username_input = next(ti for ti in at.text_input if ti.label == "Username")
    assert username_input.help == USERNAME_RULES  # the help text is the rule
    fill_registration(at, username=typed)
    create_account(at)
    username_input = next(ti for ti in at.text_input if ti.label == "Username")
    message = element_after(at, username_input).value
    assert message == f"{start} {USERNAME_RULES}"  # next to the field, in the words of the help text
    assert texts(at, "error") == [message]
    assert not {"auth_register", "auth_request_registration"} & set(rpc_calls)  # refused before the database
    assert username_input.value == typed  # kept for correcting
    assert not texts(at, "success")


def test_register_accepts_usernames_with_dots_and_up_to_30_characters(backend):
    for username in (f"d.{uuid.uuid4().hex[:6]}", f"long.name_{uuid.uuid4().hex[:20]}"):  # 8 and 30 characters
        at = open_register()
        address = f"{uuid.uuid4().hex}@ex.org"
        fill_registration(at, username=username, email=address)
        create_account(at)
        assert not texts(at, "error"), texts(at, "error")
        assert texts(at, "success") == [REGISTRATION_ANSWER]
        assert finish_registration(backend, address) == {"outcome": "created", "username": username}
        assert backend.rpc("auth_get_login", {"p_username": username}, as_user=SERVICE) is not None


# --- 3. after a sign-up the registration form starts afresh, with the success message ------------------------------


def test_after_a_sign_up_the_form_is_blank_and_keeps_no_password(backend):
    at = open_register()
    username = f"fresh_{uuid.uuid4().hex[:8]}"
    fill_registration(at, username=username, password="Secret-pass-77")
    create_account(at)
    assert REGISTRATION_ANSWER in texts(at, "success")
    assert not texts(at, "error")
    assert {ti.label: ti.value for ti in at.text_input} == {
        "First name": "",
        "Last name": "",
        "Email": "",
        "Username": "",
        "Password": "",
        "Repeat password": "",
    }
    assert all(ti.key.endswith("_g1") for ti in at.text_input)  # a new generation of widgets
    at.run()  # nothing typed lingers in the session's state, the password least of all
    assert "Secret-pass-77" not in list(at.session_state.values())
    assert not {
        f"register_{name}" for name in ("first_name", "last_name", "email", "username", "password", "password_repeat")
    } & set(at.session_state.keys())
    assert REGISTRATION_ANSWER in texts(at, "success")

    # Pressing the button again does not try the same account again ("username taken"): the form is empty.
    create_account(at)
    errors = texts(at, "error")
    assert not any("taken" in e for e in errors), errors
    assert any(e.startswith("Enter your first name.") for e in errors), errors
    assert not texts(at, "success")

    # The next person registers from the blank form.
    other = f"next_{uuid.uuid4().hex[:8]}"
    fill_registration(at, username=other, email=f"{other}@ex.org")
    create_account(at)
    assert REGISTRATION_ANSWER in texts(at, "success")
    assert finish_registration(backend, f"{other}@ex.org")["outcome"] == "created"
    assert backend.rpc("auth_get_login", {"p_username": other}, as_user=SERVICE) is not None


# --- 2. grids: licence rows numbered from the top; emptied saved rows refused, not deleted ----------------------


def test_licence_rows_are_numbered_from_the_top_counting_empty_rows_and_empty_ones_are_not_saved():
    blank = LicenseInput(None, None, None, None)
    rows = [LicenseInput("NY", "LCSW", "NY-1", date(2030, 1, 1)), blank, LicenseInput("CA", None, "CA-1", None)]
    profile = ProfileInput(display_name="Ada Clinician", licenses=rows)
    message = validate(profile, jurisdictions={"NY", "CA"}, languages={"en"}, today=date(2026, 11, 26))["licenses"]
    assert message == "Licence 3: choose a licence type. Licence 3: give the expiry date."
    assert filled(rows) == [rows[0], rows[2]]
    assert LicenseInput(" ", "", "  ", None).is_blank()

    sent = {}

    class Recorder:
        def rpc(self, fn, params, *, as_user):
            sent[fn] = params
            return {}

    save_my_profile(
        Recorder(),
        Claims.user("00000000-0000-0000-0000-000000000001"),
        ProfileInput(display_name="Ada Clinician", licenses=[blank, rows[0], blank]),
        expected_version=1,
    )
    assert [lic["jurisdiction"] for lic in sent["save_my_profile"]["p_licenses"]] == ["NY"]


def test_an_emptied_saved_row_is_refused_by_every_grids_rules():
    refusal = "Row 2 is empty: fill it in again, or delete it with its checkbox and the bin icon."
    assert emptied_row_message("Row 2") == refusal
    blank_licence = LicenseInput(None, None, None, None)
    licence = LicenseInput("NY", "LCSW", "NY-1", date(2030, 1, 1))
    profile = ProfileInput(
        display_name="Ada Clinician", licenses=[licence, blank_licence, blank_licence], saved_licenses=2
    )
    errors = validate(profile, jurisdictions={"NY"}, languages={"en"}, today=date(2026, 11, 26))
    assert errors["licenses"] == emptied_row_message("Licence 2")  # the new empty row 3 is ignored

    competencies = [CompetencyInput(None, None), CompetencyInput("ifs", 2), CompetencyInput(None, None)]
    errors = validate_practice(competencies, 3, modalities={"ifs"}, saved_rows=2)
    assert errors == {"competencies": emptied_row_message("Row 1")}
    assert validate_practice(competencies, 3, modalities={"ifs"}) == {}  # all new: empty rows ignored

    entered = AvailabilityInput(
        timezone="America/New_York",
        weekly_hours=[(1, time(9), time(12)), (None, None, None), (None, None, None)],
        overrides=[(None, None, None), (None, None, None)],
        time_off=[(None, None, ""), (date(2027, 2, 1), date(2027, 2, 2), "")],
        saved_weekly_hours=2,
        saved_overrides=1,
        saved_time_off=2,
    )
    assert entered.validate() == {
        "weekly_hours": refusal,
        "overrides": emptied_row_message("Override 1"),
        "time_off": emptied_row_message("Time off 1"),
    }


def test_saving_refuses_an_emptied_saved_row_without_calling_the_database():
    class NoDatabase:
        def rpc(self, fn, params, *, as_user):
            raise AssertionError(f"{fn} called although a saved row was emptied")

    claims = Claims.user("00000000-0000-0000-0000-000000000001")
    with pytest.raises(Refusal) as refused:
        save_my_practice(
            NoDatabase(),
            claims,
            [CompetencyInput(None, None)],
            accepting=True,
            capacity=3,
            expected_version=1,
            saved_rows=1,
        )
    assert refused.value.fields == {"competencies": emptied_row_message("Row 1")}
    with pytest.raises(Refusal) as refused:
        save_my_profile(
            NoDatabase(),
            claims,
            ProfileInput(
                display_name="Ada Clinician", licenses=[LicenseInput(None, None, None, None)], saved_licenses=1
            ),
            expected_version=1,
        )
    assert refused.value.fields == {"licenses": emptied_row_message("Licence 1")}
    with pytest.raises(Exception, match="Some fields need attention"):
        save_my_availability(
            NoDatabase(),
            claims,
            AvailabilityInput(timezone="America/New_York", time_off=[(None, None, "")], saved_time_off=1),
            expected_version=1,
        )


def test_saved_rows_kept_counts_the_saved_rows_left_after_deletions():
    assert saved_rows_kept(3, None) == 3
    assert saved_rows_kept(3, {"edited_rows": {}, "added_rows": [{}], "deleted_rows": []}) == 3
    assert saved_rows_kept(3, {"deleted_rows": [0, 2]}) == 1
    assert saved_rows_kept(3, {"deleted_rows": [7]}) == 3  # not one of the saved rows
    assert saved_rows_kept(0, {"deleted_rows": []}) == 0


def edits(edited_rows: dict | None = None, added_rows: list | None = None, deleted_rows: list | None = None) -> dict:
    """An st.data_editor state as the browser sends it."""
    return {"edited_rows": edited_rows or {}, "added_rows": added_rows or [], "deleted_rows": deleted_rows or []}


def give_licence(backend, embedded_db, username: str) -> str:
    member = backend.rpc("auth_get_login", {"p_username": username}, as_user=SERVICE)["id"]
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        conn.execute(
            "insert into public.licenses (profile_id, license_type, license_number, jurisdiction, "
            "expires_on) values (%s, 'LPC', 'NY-555', 'NY', current_date + 300)",
            (member,),
        )
    return member


def licences(backend, member: str) -> list[tuple[str, str]]:
    return [
        (lic["jurisdiction"], lic["license_number"])
        for lic in load_my_profile(backend, Claims.user(member))["licenses"]
    ]


def test_new_licence_rows_are_numbered_from_the_top_of_the_grid(backend):
    username = make_account(backend)
    at = open_page(username, "profile")
    editor = at.data_editor[0]
    at.session_state[editor.key] = edits(added_rows=[{}, {"jurisdiction": "NY"}])  # an empty row, then one begun
    at.button(key="profile_save").click().run()
    no_exceptions(at)
    message = message_under(at, 0)
    assert message.startswith("Licence 2: choose a licence type."), message
    assert "Licence 1" not in message
    assert at.session_state[editor.key]["added_rows"] == [{}, {"jurisdiction": "NY"}]


def test_clearing_every_cell_of_a_saved_licence_is_refused_not_a_deletion(backend, embedded_db):
    username = make_account(backend)
    member = give_licence(backend, embedded_db, username)
    at = open_page(username, "profile")
    editor = at.data_editor[0]
    cleared = edits(
        {"0": {"jurisdiction": None, "license_type": None, "license_number": None, "expires_on": None}}, added_rows=[{}]
    )  # and a new row left empty, which is ignored
    at.session_state[editor.key] = cleared
    keyed(at, "text_input", "profile_pronouns").input("they/them")
    at.button(key="profile_save").click().run()
    no_exceptions(at)
    assert message_under(at, 0) == (
        "Licence 1 is empty: fill it in again, or delete it with its checkbox and the bin icon."
    )
    assert "Profile saved." not in texts(at, "success")
    assert at.session_state[editor.key] == cleared  # nothing typed is lost
    assert keyed(at, "text_input", "profile_pronouns").value == "they/them"
    assert licences(backend, member) == [("NY", "NY-555")]

    # Deleting it with the checkbox and the bin icon is how it goes.
    at.session_state[editor.key] = edits(deleted_rows=[0])
    at.button(key="profile_save").click().run()
    no_exceptions(at)
    assert "Profile saved." in texts(at, "success")
    assert licences(backend, member) == []


def test_clearing_every_cell_of_a_saved_competency_is_refused_and_keeps_its_verification(backend, embedded_db):
    username, consultant_id = make_consultant(backend, embedded_db)  # row 1: IFS, level 3, IFS Institute
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        conn.execute(
            "update public.competencies set verification_status = 'verified', verified_at = now() "
            "where consultant_id = %s",
            (consultant_id,),
        )
    at = open_page(username, "practice")
    editor = at.data_editor[0]
    cleared = edits(
        {"0": {"modality": None, "level": None, "evidence_body": None}}, added_rows=[{"modality": "cbt", "level": 2}]
    )
    at.session_state[editor.key] = cleared
    at.button(key="practice_save").click().run()
    no_exceptions(at)
    assert message_under(at, 0) == "Row 1 is empty: fill it in again, or delete it with its checkbox and the bin icon."
    assert "Practice saved." not in texts(at, "success")
    assert at.session_state[editor.key] == cleared
    saved = backend.rpc("get_my_practice", {}, as_user=Claims.user(consultant_id))["competencies"]
    assert [(c["modality"], c["level"], c["verification_status"]) for c in saved] == [("ifs", 3, "verified")]


def test_clearing_the_times_of_a_saved_range_is_refused_next_to_it_not_a_deletion(backend, embedded_db):
    """My availability has no grid rows to empty (issue 15): a saved range whose times are cleared is refused next to
    it, and nothing is saved; a range goes with its Remove button, and what else was saved stays."""
    username, consultant_id = make_consultant(backend, embedded_db)
    claims = Claims.user(consultant_id)
    version = backend.rpc("get_my_availability", {}, as_user=claims)["settings"]["version"]
    on, first, last = (
        datetime.now(UTC).date() + timedelta(days=40),
        datetime.now(UTC).date() + timedelta(days=50),
        datetime.now(UTC).date() + timedelta(days=52),
    )
    save_my_availability(
        backend,
        claims,
        AvailabilityInput(
            timezone="America/New_York",
            weekly_hours=[(1, time(9), time(12)), (3, time(13), time(17))],
            overrides=[(on, None, None)],
            time_off=[(first, last, "Conference")],
        ),
        expected_version=version,
    )
    before = backend.rpc("get_my_availability", {}, as_user=claims)
    at = open_page(username, "availability")
    wednesday = next(ti for ti in at.time_input if ti.label == "Wednesday from").key.removesuffix("_from")
    keyed(at, "time_input", f"{wednesday}_from").set_value(None).run()
    keyed(at, "time_input", f"{wednesday}_until").set_value(None).run()
    at.button(key="availability_save").click().run()
    no_exceptions(at)
    assert element_after(at, keyed(at, "button", f"{wednesday}_remove")).value == (
        "Give the start and end times, or remove this range."
    )
    assert "Availability saved." not in texts(at, "success")
    assert [ti.value for ti in at.time_input if ti.key.startswith(wednesday)] == [None, None]  # kept as typed
    after = backend.rpc("get_my_availability", {}, as_user=claims)
    assert [(after[k], after["settings"]["version"]) for k in ("weekly_hours", "overrides", "time_off")] == [
        (before[k], before["settings"]["version"]) for k in ("weekly_hours", "overrides", "time_off")
    ]

    # The Remove button is how a range goes; the rest of what was saved stays.
    keyed(at, "button", f"{wednesday}_remove").click().run()
    at.button(key="availability_save").click().run()
    no_exceptions(at)
    assert "Availability saved." in texts(at, "success")
    after = backend.rpc("get_my_availability", {}, as_user=claims)
    assert [(h["weekday"], h["starts_at"][:5]) for h in after["weekly_hours"]] == [(1, "09:00")]
    assert (after["overrides"], after["time_off"]) == (before["overrides"], before["time_off"])


# --- 4. My relationships: the consultant picker's refusal is shown next to it -------------------------------------


def test_a_missing_consultant_is_refused_next_to_the_picker_not_inside_the_form(backend):
    at = open_page(make_account(backend), "relationships")
    assert at.radio(key="relationship_who").value == "A consultant on the portal"
    keyed(at, "selectbox", "relationship_kind").set_value("colleague")
    at.button(key="relationship_add").click().run()
    no_exceptions(at)
    picker = keyed(at, "selectbox", "relationship_consultant")
    message = "Pick a consultant from the list, or give the person's name."
    under = element_after(at, picker)
    assert under in at.error and under.value == message
    assert not [e.value for form in at.main.form for e in form.error]  # not inside the form below
    assert keyed(at, "selectbox", "relationship_kind").value == "colleague"

    # For someone else, the same refusal sits under their name.
    at.radio(key="relationship_who").set_value("Someone else").run()
    at.button(key="relationship_add").click().run()
    no_exceptions(at)
    name = keyed(at, "text_input", "relationship_name")
    assert element_after(at, name).value == message
    assert texts(at, "error") == [message]


# --- 5. the member's time zone: read once per session, kept current where it is saved -----------------------------


def set_zone(embedded_db, member: str, zone: str) -> None:
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        conn.execute("update public.profiles set timezone = %s where id = %s", (zone, member))


def notify(embedded_db, member: str) -> None:
    """A notification, so that the Notifications page lists one and names the zone of its time."""
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        conn.execute(
            "insert into public.notifications (user_id, kind, message) values (%s, 'test', 'Hello.')", (member,)
        )


def test_notifications_and_requests_do_not_fetch_the_profile_on_every_run(backend, embedded_db, rpc_calls):
    username = make_account(backend)
    member = backend.rpc("auth_get_login", {"p_username": username}, as_user=SERVICE)["id"]
    set_zone(embedded_db, member, "Asia/Tokyo")
    notify(embedded_db, member)
    at = app(username).run()
    at.switch_page(PAGES["notifications"]).run()
    no_exceptions(at)
    assert "Times are Tokyo time (Asia/Tokyo)." in texts(at, "caption")
    rpc_calls.clear()
    for page in ("notifications", "requests", "notifications", "requests"):
        at.switch_page(PAGES[page]).run()
        at.run()
        no_exceptions(at)
    assert "get_my_profile" not in rpc_calls, rpc_calls
    assert any("Dates are Tokyo time (Asia/Tokyo)." in c for c in texts(at, "caption"))
    # Kept per member: another member in another session reads their own zone.
    other = make_account(backend)
    notify(embedded_db, backend.rpc("auth_get_login", {"p_username": other}, as_user=SERVICE)["id"])
    fresh = app(other).run()
    fresh.switch_page(PAGES["notifications"]).run()
    assert "Times are New York time (America/New_York)." in texts(fresh, "caption")


def test_a_zone_saved_on_my_profile_is_used_at_once(backend, embedded_db, rpc_calls):
    username = make_account(backend)
    notify(embedded_db, backend.rpc("auth_get_login", {"p_username": username}, as_user=SERVICE)["id"])
    at = app(username).run()
    at.switch_page(PAGES["notifications"]).run()
    assert "Times are New York time (America/New_York)." in texts(at, "caption")
    at.switch_page(PAGES["profile"]).run()
    keyed(at, "selectbox", "profile_timezone").set_value("Europe/Paris")
    at.button(key="profile_save").click().run()
    no_exceptions(at)
    assert "Profile saved." in texts(at, "success")
    rpc_calls.clear()
    at.switch_page(PAGES["notifications"]).run()
    no_exceptions(at)
    assert "Times are Paris time (Europe/Paris)." in texts(at, "caption")
    assert "get_my_profile" not in rpc_calls


def test_a_zone_saved_on_my_availability_is_used_at_once(backend, embedded_db, rpc_calls):
    username, _ = make_consultant(backend, embedded_db)
    at = app(username).run()
    at.switch_page(PAGES["requests"]).run()
    assert any("Dates are New York time (America/New_York)." in c for c in texts(at, "caption"))
    at.switch_page(PAGES["availability"]).run()
    keyed(at, "selectbox", "availability_timezone").set_value("America/Vancouver")
    at.button(key="availability_save").click().run()
    no_exceptions(at)
    assert "Availability saved." in texts(at, "success")
    rpc_calls.clear()
    at.switch_page(PAGES["requests"]).run()
    no_exceptions(at)
    assert any("Dates are Vancouver time (America/Vancouver)." in c for c in texts(at, "caption"))
    assert "get_my_profile" not in rpc_calls
