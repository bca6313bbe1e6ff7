"""Profile validation: every problem reported against its field."""

from datetime import date

from portal.profiles import LicenseInput, ProfileInput, profile_checklist, validate

JURISDICTIONS = {"NY", "CA", "ON"}
LANGUAGES = {"en", "fr", "es"}
TODAY = date(2026, 11, 26)


def good_profile(**changes) -> ProfileInput:
    base = ProfileInput(
        display_name="Ada Clinician",
        languages=["en"],
        timezone="America/Toronto",
        fee_usd=150,
        years_in_practice=10,
        is_consultant=True,
        licenses=[LicenseInput("ON", "RP (Ontario)", "RP-12345", date(2028, 1, 1))],
    )
    for key, value in changes.items():
        setattr(base, key, value)
    return base


def check(profile):
    return validate(profile, jurisdictions=JURISDICTIONS, languages=LANGUAGES, today=TODAY)


def test_a_complete_profile_is_valid():
    assert check(good_profile()) == {}


def test_each_bad_field_gets_its_own_message():
    errors = check(
        good_profile(
            display_name=" ",
            languages=[],
            offers_telehealth=False,
            offers_in_person=False,
            fee_usd=5000,
            years_in_practice=-1,
            timezone="Nowhere/Atlantis",
            bio="x" * 2001,
        )
    )
    assert set(errors) == {
        "display_name",
        "languages",
        "offers_telehealth",
        "fee_usd",
        "years_in_practice",
        "timezone",
        "bio",
    }
    assert "2,000" in errors["bio"] and "2001" in errors["bio"]


def test_in_person_needs_a_city():
    assert "city" in check(good_profile(offers_in_person=True, city=""))
    assert "city" not in check(good_profile(offers_in_person=True, city="Toronto"))


def test_consultants_state_a_fee_and_a_licence_but_seekers_need_not():
    errors = check(good_profile(fee_usd=None, licenses=[]))
    assert set(errors) == {"fee_usd", "licenses"}
    assert check(good_profile(is_consultant=False, fee_usd=None, licenses=[])) == {}


def test_licence_rows_are_checked_one_by_one():
    errors = check(
        good_profile(
            licenses=[
                LicenseInput("ON", "RP (Ontario)", "RP-1", date(2028, 1, 1)),
                LicenseInput("ON", "RP (Ontario)", "RP-2", date(2028, 1, 1)),
                LicenseInput("ZZ", "", "!", None),
                LicenseInput("NY", "LCSW", "NY-77", date(2026, 1, 31)),
            ]
        )
    )
    message = errors["licenses"]
    assert "Licence 2: ON is listed twice" in message
    assert "Licence 3: choose a state or province" in message
    assert "Licence 3: choose a licence type" in message
    assert "Licence 3: the number must be" in message
    assert "Licence 3: give the expiry date" in message
    assert "Licence 4: it expired on 31 Jan 2026" in message


def test_checklist_names_what_is_missing():
    doc = {"pronouns": None, "licenses": [], "years_in_practice": None, "is_consultant": True, "bio": ""}
    assert len(profile_checklist(doc)) == 4
    assert profile_checklist(doc)[0].startswith("Say where you live")
    assert (
        profile_checklist(
            {
                "pronouns": "they/them",
                "licenses": [{}],
                "years_in_practice": 3,
                "is_consultant": False,
                "home_jurisdiction": "NY",
            }
        )
        == []
    )
