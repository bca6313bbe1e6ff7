"""Three forms: an incomplete new licence row, the relationships form after an add, and names at
registration. Pages through AppTest on the real embedded database (the pattern of tests/test_app.py); the
validation rules headless."""

from __future__ import annotations

import unicodedata
import uuid
from datetime import date

import pytest

from portal.account_links import REGISTRATION_ANSWER
from portal.db import SERVICE, Claims
from portal.profiles import LicenseInput, ProfileInput, load_my_profile, validate
from tests.mail_support import finish_registration
from tests.page_support import PAGES, app, browser_edit_state, element_after, keyed, no_exceptions, open_profile, texts
from tests.people_support import make_account


@pytest.fixture(autouse=True)
def _database(embedded_db):
    """AppTest runs app.py in this process: it opens the same embedded database (PORTAL_DATA_DIR)."""


def user_id(at) -> str:
    return at.session_state["portal_user"].id


# --- 1. My profile: an incomplete new licence row is refused, not dropped ---------------------------------


def test_an_incomplete_new_licence_row_is_refused_with_the_row_and_missing_fields_named(backend):
    username = make_account(backend)
    at = open_profile(username)
    keyed(at, "text_input", "profile_pronouns").input("they/them")
    keyed(at, "number_input", "profile_years_in_practice").set_value(7)
    editor = at.data_editor[0]
    at.session_state[editor.key] = browser_edit_state(editor, [{"jurisdiction": "NY"}])
    at.button(key="profile_save").click().run()
    no_exceptions(at)

    assert "Profile saved." not in texts(at, "success")
    licence_error = element_after(at, at.data_editor[0])
    assert licence_error in at.error  # an error drawn right under the grid
    message = licence_error.value
    assert "Licence 1: choose a licence type." in message
    assert "Licence 1: enter the licence number." in message
    assert "Licence 1: give the expiry date." in message
    assert "state or province" not in message  # the jurisdiction was given
    # Nothing typed is lost: the grid keeps its row (same widget, same edits), the other fields their values.
    assert at.data_editor[0].key == editor.key
    assert at.session_state[editor.key]["added_rows"] == [{"jurisdiction": "NY"}]
    assert keyed(at, "text_input", "profile_pronouns").value == "they/them"
    assert keyed(at, "number_input", "profile_years_in_practice").value == 7
    # And nothing was saved.
    saved = load_my_profile(backend, Claims.user(user_id(at)))
    assert saved["licenses"] == [] and not saved["pronouns"]

    # Completing the row saves it.
    at.session_state[editor.key] = browser_edit_state(
        editor,
        [{"jurisdiction": "NY", "license_type": "LCSW", "license_number": "NY-4455", "expires_on": "2031-06-30"}],
    )
    at.button(key="profile_save").click().run()
    no_exceptions(at)
    assert "Profile saved." in texts(at, "success")
    saved = load_my_profile(backend, Claims.user(user_id(at)))
    assert [(lic["jurisdiction"], lic["license_number"]) for lic in saved["licenses"]] == [("NY", "NY-4455")]
    assert saved["pronouns"] == "they/them"


def test_a_complete_row_is_not_saved_alongside_an_incomplete_one(backend):
    username = make_account(backend)
    at = open_profile(username)
    editor = at.data_editor[0]
    at.session_state[editor.key] = browser_edit_state(
        editor,
        [
            {"jurisdiction": "CA", "license_type": "LMFT", "license_number": "CA-1", "expires_on": "2030-01-31"},
            {"license_number": "TX-99"},
        ],
    )
    at.button(key="profile_save").click().run()
    no_exceptions(at)
    message = element_after(at, at.data_editor[0]).value
    assert "Licence 2: choose a state or province." in message
    assert "Licence 2: choose a licence type." in message
    assert "Licence 2: give the expiry date." in message
    assert "Licence 1" not in message
    assert len(at.session_state[editor.key]["added_rows"]) == 2
    assert load_my_profile(backend, Claims.user(user_id(at)))["licenses"] == []


def test_licence_validation_names_each_missing_field_of_a_row():
    profile = ProfileInput(
        display_name="Ada Clinician",
        licenses=[
            LicenseInput("NY", "LCSW", "NY-1", date(2030, 1, 1)),
            LicenseInput("CA", None, None, None),
            LicenseInput("ZZ", "LPC", "  ", date(2030, 1, 1)),
        ],
    )
    message = validate(profile, jurisdictions={"NY", "CA"}, languages={"en"}, today=date(2026, 11, 26))["licenses"]
    assert message.split(". ") == [
        "Licence 2: choose a licence type",
        "Licence 2: enter the licence number",
        "Licence 2: give the expiry date",
        "Licence 3: choose a state or province from the list",
        "Licence 3: enter the licence number.",
    ]


# --- 2. My relationships: a successful add starts a blank form; a refused one keeps everything --------------


def open_relationships(username: str):
    at = app(username).run()
    at.switch_page(PAGES["relationships"]).run()
    no_exceptions(at)
    at.radio(key="relationship_who").set_value("Someone else").run()
    no_exceptions(at)
    return at


def fill_person(at, *, name: str, email: str, kind: str, since: date | None, until: date | None) -> None:
    keyed(at, "text_input", "relationship_name").input(name)
    keyed(at, "text_input", "relationship_email").input(email)
    keyed(at, "selectbox", "relationship_kind").set_value(kind)
    keyed(at, "date_input", "relationship_starts_on").set_value(since)
    keyed(at, "date_input", "relationship_ends_on").set_value(until)


def person_form_values(at) -> tuple:
    return (
        keyed(at, "text_input", "relationship_name").value,
        keyed(at, "text_input", "relationship_email").value,
        keyed(at, "selectbox", "relationship_kind").value,
        keyed(at, "date_input", "relationship_starts_on").value,
        keyed(at, "date_input", "relationship_ends_on").value,
    )


def test_after_adding_a_person_the_form_is_blank_for_the_next(backend):
    at = open_relationships(make_account(backend))
    fill_person(
        at,
        name="Pat Example",
        email="pat@example.org",
        kind="colleague",
        since=date(2019, 3, 1),
        until=date(2022, 6, 30),
    )
    at.button(key="relationship_add").click().run()
    no_exceptions(at)
    assert "Added. It will be used in every screening." in texts(at, "success")
    assert person_form_values(at) == ("", "", None, None, None)
    assert at.radio(key="relationship_who").value == "Someone else"  # the kind of entry is kept
    declared = backend.rpc("get_my_declarations", {}, as_user=Claims.user(user_id(at)))["relationships"]
    assert [(d["counterpart_email"], d["kind"], d["starts_on"]) for d in declared] == [
        ("pat@example.org", "colleague", "2019-03-01")
    ]

    # The next person starts from the blank form and is added too.
    fill_person(at, name="Sam Other", email="", kind="friend", since=None, until=None)
    at.button(key="relationship_add").click().run()
    no_exceptions(at)
    assert person_form_values(at) == ("", "", None, None, None)
    declared = backend.rpc("get_my_declarations", {}, as_user=Claims.user(user_id(at)))["relationships"]
    assert sorted(d["kind"] for d in declared) == ["colleague", "friend"]


def test_a_refused_person_keeps_everything_typed(backend):
    at = open_relationships(make_account(backend))
    typed = dict(
        name="Pat Example", email="pat@example.org", kind="friend", since=date(2022, 1, 1), until=date(2020, 1, 1)
    )
    fill_person(at, **typed)
    at.button(key="relationship_add").click().run()
    no_exceptions(at)
    assert "The end date is before the start date." in texts(at, "error")
    assert not texts(at, "success")
    assert person_form_values(at) == tuple(typed.values())
    assert backend.rpc("get_my_declarations", {}, as_user=Claims.user(user_id(at)))["relationships"] == []


def test_a_person_without_a_kind_is_refused_next_to_the_kind(backend):
    at = open_relationships(make_account(backend))
    keyed(at, "text_input", "relationship_name").input("Pat Example")
    at.button(key="relationship_add").click().run()
    no_exceptions(at)
    assert element_after(at, keyed(at, "selectbox", "relationship_kind")).value == "Choose the kind of relationship."
    assert keyed(at, "text_input", "relationship_name").value == "Pat Example"


def test_after_adding_an_organisation_the_form_is_blank_for_the_next(backend):
    at = open_relationships(make_account(backend))
    keyed(at, "text_input", "affiliation_organisation").input("Lakeside Clinic")
    keyed(at, "selectbox", "affiliation_kind").set_value("agency")
    keyed(at, "text_input", "affiliation_role").input("Staff therapist")
    keyed(at, "date_input", "affiliation_starts_on").set_value(date(2018, 9, 1))
    at.button(key="affiliation_add").click().run()
    no_exceptions(at)
    assert "Added. It will be used in every screening." in texts(at, "success")
    assert keyed(at, "text_input", "affiliation_organisation").value == ""
    assert keyed(at, "text_input", "affiliation_role").value == ""
    assert keyed(at, "date_input", "affiliation_starts_on").value is None
    assert keyed(at, "selectbox", "affiliation_kind").value == "practice"  # the first kind, as on a fresh page


# --- 3. Register: ordinary names accepted; a refusal says what is wrong and what is allowed, at the field ----


def fill_registration(at, *, first: str = "Jordan", last: str, username: str | None = None) -> str:
    username = username or f"nm_{uuid.uuid4().hex[:8]}"
    fields = {ti.label: ti for ti in at.text_input}
    for label, value in {
        "First name": first,
        "Last name": last,
        "Email": f"{username}@example.org",
        "Username": username,
        "Password": "Strong-pass-42",
        "Repeat password": "Strong-pass-42",
    }.items():
        fields[label].input(value)
    return username


def open_register():
    at = app().run()
    at.switch_page(PAGES["register"]).run()
    no_exceptions(at)
    return at


# The ASCII spellings already passed streamlit-authenticator 0.4.2's Validator.validate_name and stay as guards;
# it refused the typographic apostrophe that phones and macOS type ("O’Brien"), an accent typed or pasted as a
# combining mark ("Zoe" + U+0308) and one-character names ("李").
@pytest.mark.parametrize("last", ["O'Brien", "O\u2019Brien", "Smith-Jones", "Zo\u00eb", "Zoe\u0308", "李"])
def test_registration_accepts_ordinary_last_names(backend, last):
    at = open_register()
    username = fill_registration(at, last=last)
    next(b for b in at.button if b.label == "Create account").click()
    at.run()
    no_exceptions(at)
    assert not texts(at, "error"), texts(at, "error")
    assert texts(at, "success") == [REGISTRATION_ANSWER]
    assert finish_registration(backend, f"{username}@example.org")["outcome"] == "created"  # the email's link
    row = backend.rpc("auth_get_login", {"p_username": username}, as_user=SERVICE)
    assert row["display_name"] == f"Jordan {unicodedata.normalize('NFC', last)}"  # accents stored composed


@pytest.mark.parametrize(
    "last,wrong",
    [
        ("", "Enter your last name."),
        ("12345", "Last name cannot contain digits"),
        ("Smith\tJones", "Last name contains an invisible control character"),
        ("x" * 41, "Last name is 41 characters long; the most is 40."),
        ("Ann@Home", "Last name cannot contain “@”"),
    ],
)
def test_registration_explains_an_invalid_last_name_next_to_the_field(backend, last, wrong):
    at = open_register()
    username = fill_registration(at, last=last)
    next(b for b in at.button if b.label == "Create account").click()
    at.run()
    no_exceptions(at)
    last_name_input = next(ti for ti in at.text_input if ti.label == "Last name")
    message = element_after(at, last_name_input).value
    assert message.startswith(wrong), message
    assert "letters from any alphabet" in message and "apostrophes, hyphens" in message  # what is allowed
    assert not texts(at, "success")
    assert {ti.label: ti.value for ti in at.text_input}["Username"] == username  # the form keeps what was typed
    assert backend.rpc("auth_get_login", {"p_username": username}, as_user=SERVICE) is None


def test_other_registration_refusals_are_shown_next_to_their_field(backend):
    at = open_register()
    fill_registration(at, last="O’Brien")
    next(ti for ti in at.text_input if ti.label == "Repeat password").input("Other-pass-42")
    next(b for b in at.button if b.label == "Create account").click()
    at.run()
    no_exceptions(at)
    repeat = next(ti for ti in at.text_input if ti.label == "Repeat password")
    assert element_after(at, repeat).value == "The two passwords differ: type the same password twice."
    assert texts(at, "error") == ["The two passwords differ: type the same password twice."]


def test_name_rules_headless():
    from portal.auth import NAME_RULES, clean_name, name_problem, registration_name_problems

    for name in (
        "O'Brien",
        "O’Brien",
        "Smith-Jones",
        "Zoë",
        "Zoe\u0308",
        "de la Cruz",
        "St. John",
        "Nguyễn",
        "李",
        "ʻŌlelo",
        "Smith\u00a0Jones",
        "فاطمه\u200cزاده",
        "'t Hooft",
        "X",
    ):
        assert name_problem("Last name", name) is None, name
    assert clean_name("  Zoe\u0308  Smith\u00a0Jones ") == "Zo\u00eb Smith Jones"
    problems = {
        "": "Enter your last name.",
        "   ": "Enter your last name.",
        "12345": "Last name cannot contain digits (1 2 3 4 5).",
        "Bob2": "Last name cannot contain digits (2).",
        "a\nb": "Last name contains an invisible control character",
        "a\u200bb": "Last name contains an invisible control character",
        "y" * 41: "Last name is 41 characters long; the most is 40.",
        "Ann😀": "Last name cannot contain “😀”.",
        "--": "Last name needs at least one letter.",
    }
    for name, start in problems.items():
        message = name_problem("Last name", name)
        assert message is not None and message.startswith(start), (name, message)
        assert message.endswith(NAME_RULES)
    assert set(registration_name_problems("Ann", "1")) == {"last_name"}
    assert set(registration_name_problems("", "Lee")) == {"first_name"}
    assert "80" in registration_name_problems("a" * 40, "b" * 40)["last_name"]
    assert registration_name_problems("Ann", "O’Brien") == {}
