"""The data-editor grid of My practice: an incomplete new row is refused with its number and the missing cells
named right under its grid, never silently dropped, and nothing typed is lost. My availability has no grids any
more: a range with a missing time, an override or time off without its date, is refused next to it.

Streamlit 1.67's grid leaves a new row with an empty cell in a `required` column out of what the browser sends, so
these pages must not mark columns `required` (the fix made on My profile, tests/test_forms_and_names.py). The edits
are sent as the browser would send them (`browser_edit_state`); the validation rules are tested headless too."""

from __future__ import annotations

from datetime import date, time

import pytest

from portal.availability import AvailabilityInput, save_my_availability
from portal.db import Claims
from portal.practice import CompetencyInput, save_my_practice, validate
from tests.page_support import (
    browser_edit_state,
    element_after,
    keyed,
    message_under,
    no_exceptions,
    open_page,
    texts,
)
from tests.people_support import make_consultant


@pytest.fixture(autouse=True)
def _database(embedded_db):
    """AppTest runs app.py in this process: it opens the same embedded database (PORTAL_DATA_DIR)."""


def send(at, grid_index: int, added_rows: list[dict]) -> None:
    """Type `added_rows` as new rows of the page's grid number `grid_index`, as the browser reports them."""
    editor = at.data_editor[grid_index]
    at.session_state[editor.key] = browser_edit_state(editor, added_rows)


def no_required_columns(editor) -> bool:
    import json

    return not any(config.get("required") for config in json.loads(editor.proto.columns).values())


# --- My practice: the competencies grid -------------------------------------------------------------------------


def practice(backend, consultant_id: str) -> dict:
    return backend.rpc("get_my_practice", {}, as_user=Claims.user(consultant_id))


def competencies(backend, consultant_id: str) -> list[tuple[str, int]]:
    return sorted((c["modality"], c["level"]) for c in practice(backend, consultant_id)["competencies"])


def test_a_new_competency_without_a_level_is_refused_with_the_row_named(backend, embedded_db):
    username, consultant_id = make_consultant(backend, embedded_db)  # one row already: IFS, level 3
    at = open_page(username, "practice")
    editor_key = at.data_editor[0].key
    keyed(at, "number_input", "practice_capacity").set_value(5)
    send(at, 0, [{"modality": "cbt"}])
    at.button(key="practice_save").click().run()
    no_exceptions(at)

    assert "Practice saved." not in texts(at, "success")
    assert message_under(at, 0) == "Row 2: choose a level."
    assert "Some fields need attention; see the messages above." in texts(at, "error")
    # Nothing typed is lost: the same grid widget with the same edits, the capacity as typed.
    assert at.data_editor[0].key == editor_key
    assert at.session_state[editor_key]["added_rows"] == [{"modality": "cbt"}]
    assert keyed(at, "number_input", "practice_capacity").value == 5
    # Nothing was saved.
    assert competencies(backend, consultant_id) == [("ifs", 3)]
    assert practice(backend, consultant_id)["intake"]["capacity"] == 3

    # Completing the row saves it, with the capacity typed before.
    send(at, 0, [{"modality": "cbt", "level": 2}])
    at.button(key="practice_save").click().run()
    no_exceptions(at)
    assert "Practice saved." in texts(at, "success")
    assert competencies(backend, consultant_id) == [("cbt", 2), ("ifs", 3)]
    assert practice(backend, consultant_id)["intake"]["capacity"] == 5
    assert no_required_columns(at.data_editor[0])  # what made the browser drop the row


def test_a_new_competency_without_a_modality_is_refused_and_its_complete_neighbour_not_saved(backend, embedded_db):
    username, consultant_id = make_consultant(backend, embedded_db)
    at = open_page(username, "practice")
    send(at, 0, [{"modality": "emdr", "level": 1}, {"level": 2, "evidence_body": "Beck Institute"}])
    at.button(key="practice_save").click().run()
    no_exceptions(at)
    message = message_under(at, 0)
    assert message == "Row 3: choose a modality."
    assert "Row 2" not in message
    assert len(at.session_state[at.data_editor[0].key]["added_rows"]) == 2
    assert competencies(backend, consultant_id) == [("ifs", 3)]


def test_an_empty_new_competency_row_is_ignored(backend, embedded_db):
    username, consultant_id = make_consultant(backend, embedded_db)
    at = open_page(username, "practice")
    send(at, 0, [{}])  # "add row" clicked, nothing typed
    keyed(at, "number_input", "practice_capacity").set_value(4)
    at.button(key="practice_save").click().run()
    no_exceptions(at)
    assert "Practice saved." in texts(at, "success")
    assert competencies(backend, consultant_id) == [("ifs", 3)]
    assert practice(backend, consultant_id)["intake"]["capacity"] == 4


def test_competency_validation_names_each_missing_field_of_a_row():
    from portal.practice import filled

    rows = [
        CompetencyInput("ifs", 3, evidence_body="IFS Institute"),
        CompetencyInput(None, None),  # empty: skipped, but still counted (numbers follow the grid)
        CompetencyInput("cbt", None),
        CompetencyInput(None, 2, evidence_credential="X-1"),
        CompetencyInput("nope", 9),
        CompetencyInput(None, None, training_hours=40),
    ]
    errors = validate(rows, 3, modalities={"ifs", "cbt"}, today=date(2026, 11, 26))
    assert set(errors) == {"competencies"}
    assert errors["competencies"].split(" Row ") == [
        "Row 3: choose a level.",
        "4: choose a modality.",
        "5: choose a modality from the list.",
        "5: choose a level from 1 to 4.",
        "6: choose a modality.",
        "6: choose a level.",
    ]
    assert (
        validate([CompetencyInput(None, None), CompetencyInput("", None, evidence_body="  ")], 3, modalities={"ifs"})
        == {}
    )
    assert [row.modality for row in filled(rows)] == ["ifs", "cbt", None, "nope", None]


def test_an_empty_competency_row_is_not_sent_to_the_database():
    sent = {}

    class Recorder:
        def rpc(self, fn, params, *, as_user):
            sent[fn] = params
            return {}

    save_my_practice(
        Recorder(),
        Claims.user("00000000-0000-0000-0000-000000000001"),
        [CompetencyInput("ifs", 2), CompetencyInput(None, None)],
        accepting=True,
        capacity=3,
        expected_version=1,
    )
    assert [c["modality"] for c in sent["save_my_practice"]["p_competencies"]] == ["ifs"]


# --- My availability: no grids any more (issue 15); its rows are refused next to them before saving -------------
# Weekly hours are switches and time ranges, overrides and time off are added from date pickers
# (components/availability_editor.py, tests/test_availability_editor.py). A range with a missing time is refused
# next to it at once; an override or time off without its date is refused next to its Add button.


def availability(backend, consultant_id: str) -> dict:
    return backend.rpc("get_my_availability", {}, as_user=Claims.user(consultant_id))


def test_my_availability_has_no_grids(backend, embedded_db):
    username, _ = make_consultant(backend, embedded_db)
    at = open_page(username, "availability")
    assert len(at.data_editor) == 0
    assert [toggle.label for toggle in at.toggle][:7] == [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ]


def test_a_range_with_a_missing_time_is_refused_next_to_it_before_saving(backend, embedded_db):
    username, consultant_id = make_consultant(backend, embedded_db)  # no weekly hours, overrides or time off
    at = open_page(username, "availability")
    keyed(at, "toggle", "availability_day1_on").set_value(True).run()
    keyed(at, "number_input", "availability_session_minutes").set_value(60).run()
    until = next(ti for ti in at.time_input if ti.label == "Monday until")
    range_key = until.key.removesuffix("_until")
    until.set_value(None).run()
    no_exceptions(at)
    assert element_after(at, keyed(at, "button", f"{range_key}_remove")).value == "Give the end time."
    at.button(key="availability_save").click().run()
    no_exceptions(at)
    assert "Availability saved." not in texts(at, "success")
    assert element_after(at, keyed(at, "button", f"{range_key}_remove")).value == "Give the end time."
    # Nothing typed is lost, nothing was saved.
    assert [(ti.label, ti.value) for ti in at.time_input if ti.key.startswith(range_key)] == [
        ("Monday from", time(9)),
        ("Monday until", None),
    ]
    assert keyed(at, "number_input", "availability_session_minutes").value == 60
    saved = availability(backend, consultant_id)
    assert saved["weekly_hours"] == [] and saved["settings"]["session_minutes"] != 60

    keyed(at, "time_input", f"{range_key}_until").set_value(time(12)).run()
    at.button(key="availability_save").click().run()
    no_exceptions(at)
    assert "Availability saved." in texts(at, "success")
    saved = availability(backend, consultant_id)
    assert [(h["weekday"], h["starts_at"][:5], h["ends_at"][:5]) for h in saved["weekly_hours"]] == [
        (1, "09:00", "12:00")
    ]
    assert saved["settings"]["session_minutes"] == 60


def test_an_override_or_time_off_without_its_date_is_refused_next_to_its_add_button(backend, embedded_db):
    username, consultant_id = make_consultant(backend, embedded_db)
    at = open_page(username, "availability")
    keyed(at, "button", "availability_override_add").click().run()
    keyed(at, "text_input", "availability_time_off_note").input("Conference").run()
    keyed(at, "button", "availability_time_off_add").click().run()
    no_exceptions(at)
    assert element_after(at, keyed(at, "button", "availability_override_add")).value == "Choose the date."
    assert element_after(at, keyed(at, "button", "availability_time_off_add")).value == (
        "Choose the first day (and the last, for more than one day)."
    )
    assert keyed(at, "text_input", "availability_time_off_note").value == "Conference"  # kept
    assert (availability(backend, consultant_id)["overrides"], availability(backend, consultant_id)["time_off"]) == (
        [],
        [],
    )


def test_a_day_switched_off_is_not_saved(backend, embedded_db):
    username, consultant_id = make_consultant(backend, embedded_db)
    at = open_page(username, "availability")
    keyed(at, "toggle", "availability_day5_on").set_value(True).run()
    keyed(at, "toggle", "availability_day6_on").set_value(True).run()
    keyed(at, "toggle", "availability_day6_on").set_value(False).run()
    at.button(key="availability_save").click().run()
    no_exceptions(at)
    assert "Availability saved." in texts(at, "success")
    saved = availability(backend, consultant_id)
    assert [h["weekday"] for h in saved["weekly_hours"]] == [5]
    assert (saved["overrides"], saved["time_off"]) == ([], [])


def test_availability_validation_names_each_missing_cell_of_a_row():
    entered = AvailabilityInput(
        timezone="America/New_York",
        weekly_hours=[(1, time(9), time(12)), (None, None, None), (None, time(9), None), (2, None, time(10))],
        overrides=[
            (None, None, None),
            (None, time(9), time(10)),
            (date(2027, 1, 1), None, None),
            (None, time(9), None),
        ],
        time_off=[
            (None, None, ""),
            (None, None, "Holiday"),
            (date(2027, 2, 2), None, ""),
            (date(2027, 2, 2), date(2027, 2, 1), ""),
        ],
    )
    errors = entered.validate()
    assert set(errors) == {"weekly_hours", "overrides", "time_off"}
    assert errors["weekly_hours"] == ("Row 3: choose a day. Row 3: give the end time. Row 4: give the start time.")
    assert errors["overrides"] == (
        "Override 2: choose the date. Override 4: choose the date. "
        "Override 4: give both times, or neither for a day off."
    )
    assert errors["time_off"] == (
        "Time off 2: choose the first day. Time off 2: choose the last day. "
        "Time off 3: choose the last day. "
        "Time off 4: the last day is before the first; give them in order."
    )


def test_empty_availability_rows_are_neither_refused_nor_sent():
    sent = {}

    class Recorder:
        def rpc(self, fn, params, *, as_user):
            sent[fn] = params
            return {}

    entered = AvailabilityInput(
        timezone="America/New_York",
        weekly_hours=[(None, None, None), (3, time(9), time(11))],
        overrides=[(None, None, None), (date(2027, 1, 1), None, None)],
        time_off=[(None, None, "  "), (date(2027, 2, 1), date(2027, 2, 2), "")],
    )
    assert entered.validate() == {}
    save_my_availability(Recorder(), Claims.user("00000000-0000-0000-0000-000000000001"), entered, expected_version=1)
    params = sent["save_my_availability"]
    assert params["p_weekly_hours"] == [{"weekday": 3, "starts_at": "09:00:00", "ends_at": "11:00:00"}]
    assert params["p_overrides"] == [{"on_date": "2027-01-01", "starts_at": None, "ends_at": None}]
    assert params["p_time_off"] == [{"starts_on": "2027-02-01", "ends_on": "2027-02-02", "note": ""}]
