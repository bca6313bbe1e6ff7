"""Notifications open what they are about and are read; Appointments lists called-off sessions apart from past
ones, with the notice the confirmation names, and keeps its tab through a one-shot notice; a proposed first
session replaces the slot picker on the consultant's profile; pickers never offer a time that was just taken."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from streamlit.proto.Block_pb2 import Block as BlockProto

from components.slots import slot_label
from portal.appointments import (
    PAST,
    TAB_STATE_KEY,
    TABS,
    UPCOMING,
    WEEK,
    answer,
    book,
    notice_given,
    sections,
)
from portal.availability import open_slots
from portal.db import Claims
from portal.notifications import destination
from portal.requests import request_consultation
from tests.page_support import PAGES, app, no_exceptions, offered_times, pick_time, texts
from tests.people_support import engaged_pair, first_slot, make_account, make_consultant, member_id, notifications_of

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


# --- headless: where a session is listed, how notice is named, where a notification leads ---------------------


def session(status: str, hours_from_now: float, *, ident: str | None = None) -> dict:
    start = NOW + timedelta(hours=hours_from_now)
    return {
        "id": ident or f"{status}-{hours_from_now}",
        "status": status,
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(minutes=50)).isoformat(),
    }


def ids(rows: list[dict]) -> list[str]:
    return [r["id"] for r in rows]


def test_a_session_called_off_while_still_ahead_is_neither_upcoming_nor_past():
    rows = [
        session("cancelled", 40, ident="cancelled-ahead"),
        session("confirmed", 30, ident="confirmed-ahead"),
        session("declined", 5, ident="declined-ahead"),
        session("requested", 2, ident="proposed-ahead"),
        session("cancelled", -30, ident="cancelled-past"),
        session("completed", -50, ident="kept"),
        session("confirmed", -0.5, ident="running"),
        session("requested", -20, ident="never-answered"),
    ]
    listed = sections(rows, NOW)
    assert ids(listed["upcoming"]) == ["running", "proposed-ahead", "confirmed-ahead"]
    assert ids(listed["called_off"]) == ["declined-ahead", "cancelled-ahead"]
    assert ids(listed["past"]) == ["kept", "cancelled-past", "never-answered"]


def test_the_list_and_the_confirmation_name_the_same_whole_hours():
    assert notice_given(85.5) == "85 hours' notice"
    assert notice_given(85.5, short=True) == "85 h notice"
    assert notice_given("15.9", short=True) == "15 h notice"  # never rounded up past a 16-hour threshold
    assert notice_given(1.0, short=True) == "1 h notice"
    assert notice_given(0.4, short=True) == "less than 1 h notice"


@pytest.mark.parametrize(
    "kind,section",
    [
        ("booked", UPCOMING),
        ("confirmed", UPCOMING),
        ("rescheduled", UPCOMING),
        ("declined", PAST),
        ("cancelled", PAST),
        ("late_cancellation", PAST),
        ("something_new", UPCOMING),
    ],
)
def test_an_appointment_notification_leads_to_the_tab_that_lists_it(kind, section):
    assert destination({"kind": kind, "page": "appointments"}) == ("appointments", section)
    assert section in TABS


def test_other_notifications_lead_to_their_page_or_nowhere():
    assert destination({"kind": "request", "page": "requests"}) == ("requests", None)
    assert destination({"kind": "plan_proposed", "page": "termination"}) == ("termination", None)
    assert destination({"kind": "test", "page": None}) is None


# --- pages --------------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _database(embedded_db):
    """AppTest runs app.py in this process: it opens the same embedded database (PORTAL_DATA_DIR)."""


def is_tabs(node) -> bool:
    proto = getattr(node, "proto", None)
    return isinstance(proto, BlockProto) and proto.WhichOneof("type") == "tab_container"


def selected_tab(at) -> str:
    """The label of the tab the page selects (the tab container's current index)."""

    def walk(node):
        if is_tabs(node):
            yield node.proto
        for child in getattr(node, "children", {}).values():
            yield from walk(child)

    containers = list(walk(at.main))
    assert len(containers) == 1, containers
    return TABS[containers[0].tab_container.default_tab_index]


def tabs_position(at) -> int:
    """Where the tabs stand among the page's top-level elements."""
    return next(index for index, node in sorted(at.main.children.items()) if is_tabs(node))


def tab(at, label: str):
    return next(t for t in at.tabs if t.label == label)


def sidebar_labels(at) -> list[str]:
    return [str(link.proto.label) for link in at.sidebar.get("page_link")]


def test_opening_a_notification_marks_it_read_and_shows_the_session_it_is_about(backend, embedded_db):
    consultant_username, client_username = engaged_pair(backend, embedded_db)
    consultant = Claims.user(member_id(backend, consultant_username))
    client = Claims.user(member_id(backend, client_username))
    book(backend, client, consultant.sub, first_slot(backend, client, consultant.sub))
    proposed = notifications_of(backend, consultant, "booked")[0]

    at = app(consultant_username).run()
    at.switch_page(PAGES["notifications"]).run()
    no_exceptions(at)
    assert "Notifications (2 unread)" in sidebar_labels(at)
    at.button(key=f"notification_open_{proposed['id']}").click().run()
    no_exceptions(at)

    assert texts(at, "title") == ["Appointments"]
    assert selected_tab(at) == UPCOMING  # not Book: the session to confirm is listed there
    assert [b.key for b in tab(at, UPCOMING).button if b.key.startswith("appt_confirm_")]
    assert notifications_of(backend, consultant, "booked")[0]["read_at"] is not None
    assert "Notifications (1 unread)" in sidebar_labels(at), sidebar_labels(at)  # the other one stays unread


def test_a_cancellation_notice_opens_the_called_off_sessions(backend, embedded_db):
    consultant_username, client_username = engaged_pair(backend, embedded_db)
    consultant = Claims.user(member_id(backend, consultant_username))
    client = Claims.user(member_id(backend, client_username))
    appt = book(backend, client, consultant.sub, first_slot(backend, client, consultant.sub, after=timedelta(days=3)))
    answer(backend, consultant, appt["id"], confirm=True)
    backend.rpc("cancel_appointment", {"p_appointment": appt["id"], "p_reason": "Moving house"}, as_user=client)
    cancelled = notifications_of(backend, consultant, "cancelled")[0]

    at = app(consultant_username).run()
    at.switch_page(PAGES["notifications"]).run()
    at.button(key=f"notification_open_{cancelled['id']}").click().run()
    no_exceptions(at)
    assert selected_tab(at) == PAST
    assert any("Cancelled" in m.value and "Moving house" not in m.value for m in tab(at, PAST).markdown)
    assert notifications_of(backend, consultant, "cancelled")[0]["read_at"] is not None


def test_a_cancelled_session_still_ahead_is_listed_as_called_off_with_the_confirmed_notice(backend, embedded_db):
    consultant_username, client_username = engaged_pair(backend, embedded_db)
    consultant = Claims.user(member_id(backend, consultant_username))
    client = Claims.user(member_id(backend, client_username))
    start = datetime.fromisoformat(first_slot(backend, client, consultant.sub, after=timedelta(days=4)))
    with psycopg.connect(embedded_db.owner_conninfo) as conn:  # a session called off with 85.5 hours' notice
        engagement = conn.execute("select id from public.engagements where seeker_id = %s", (client.sub,)).fetchone()[0]
        conn.execute(
            """insert into public.appointments (consultant_id, client_id, engagement_id, starts_at, ends_at,
                 blocked_until, requested_by, status, cancelled_by, cancelled_at, cancel_reason, notice_hours)
               values (%s, %s, %s, %s, %s, %s, %s, 'cancelled', %s, now(), 'Unwell', 85.5)""",
            (
                consultant.sub,
                client.sub,
                engagement,
                start,
                start + timedelta(minutes=50),
                start + timedelta(minutes=60),
                client.sub,
                client.sub,
            ),
        )

    at = app(client_username).run()
    at.switch_page(PAGES["appointments"]).run()
    no_exceptions(at)
    assert [t.label for t in at.tabs] == list(TABS)
    assert not [
        c for c in tab(at, UPCOMING).get("flex_container") if (c.proto.id or "").endswith("appt_card")
    ]  # no card to act on
    assert not tab(at, UPCOMING).button
    assert any("1 cancelled or declined session not yet due" in c.value for c in tab(at, UPCOMING).caption)
    lines = [m.value for m in tab(at, PAST).markdown]
    assert lines[0] == "**Cancelled or declined, not yet due**", lines
    line = lines[1]
    assert "Cancelled" in line and f"by you with {notice_given(85.5, short=True)}" in line, line
    assert "85.5" not in line and "85 h notice" in line, line


def test_the_cancel_confirmation_and_the_list_name_the_same_hours(backend, embedded_db):
    consultant_username, client_username = engaged_pair(backend, embedded_db)
    consultant = Claims.user(member_id(backend, consultant_username))
    client = Claims.user(member_id(backend, client_username))
    appt = book(backend, client, consultant.sub, first_slot(backend, client, consultant.sub, after=timedelta(days=3)))
    answer(backend, consultant, appt["id"], confirm=True)

    at = app(client_username).run()
    at.switch_page(PAGES["appointments"]).run()
    at.text_input(key=f"appt_cancel_reason_{appt['id']}").input("Travelling")
    at.button(key=f"appt_cancel_{appt['id']}").click().run()
    no_exceptions(at)
    recorded = next(a for a in backend.rpc("my_appointments", {}, as_user=client) if a["id"] == appt["id"])
    assert f"Cancelled with {notice_given(recorded['notice_hours'])}." in texts(at, "success")[0]
    whole = notice_given(recorded["notice_hours"]).split()[0]
    listed = [m.value for t in at.tabs if t.label.startswith("Past") for m in t.markdown if " by you with " in m.value]
    assert len(listed) == 1 and f"by you with {whole} h notice" in listed[0], (recorded["notice_hours"], listed)


def test_the_tabs_keep_their_place_and_selection_when_a_notice_comes_and_goes(backend, embedded_db):
    consultant_username, client_username = engaged_pair(backend, embedded_db)
    consultant = Claims.user(member_id(backend, consultant_username))
    client = Claims.user(member_id(backend, client_username))
    book(backend, client, consultant.sub, first_slot(backend, client, consultant.sub))

    at = app(consultant_username).run()
    at.switch_page(PAGES["appointments"]).run()
    quiet = tabs_position(at)
    at.session_state[TAB_STATE_KEY] = UPCOMING  # the member opens Upcoming
    at.run()
    assert selected_tab(at) == UPCOMING
    next(b for b in at.button if b.key.startswith("appt_confirm_")).click().run()
    no_exceptions(at)
    assert "Confirmed." in texts(at, "success")
    assert tabs_position(at) == quiet  # the notice does not move the tabs
    assert selected_tab(at) == UPCOMING

    at.session_state[TAB_STATE_KEY] = WEEK  # then opens Week and moves to the next week
    at.button(key="appointments_week_next").click().run()
    no_exceptions(at)
    assert "Confirmed." not in texts(at, "success")  # the one-shot notice is gone on this run
    assert tabs_position(at) == quiet
    assert selected_tab(at) == WEEK
    at.button(key="appointments_week_next").click().run()
    assert selected_tab(at) == WEEK


def test_a_time_taken_meanwhile_is_not_swapped_for_another_and_no_longer_offered(backend, embedded_db):
    consultant_username, client_username = engaged_pair(backend, embedded_db)
    consultant = Claims.user(member_id(backend, consultant_username))
    client = Claims.user(member_id(backend, client_username))

    at = app(client_username).run()
    at.switch_page(PAGES["appointments"]).run()
    chosen = pick_time(at)
    taken = book(backend, client, consultant.sub, chosen)  # booked in another browser tab meanwhile
    at.button(key="book_submit").click().run()
    no_exceptions(at)

    # Nothing else was booked in its place: the press was for the time on screen.
    assert [a["id"] for a in backend.rpc("my_appointments", {}, as_user=client)] == [taken["id"]]
    assert not [s for s in texts(at, "success") if s.startswith("Proposed")], texts(at, "success")
    zone = backend.rpc("get_my_profile", {}, as_user=client)["timezone"]
    consultant_zone = backend.rpc("get_my_profile", {}, as_user=consultant)["timezone"]
    assert any(
        w.startswith(f"{slot_label(chosen, zone, consultant_zone)} was just taken or is no longer open")
        for w in texts(at, "warning")
    ), texts(at, "warning")
    assert chosen not in offered_times(at)  # no longer offered, and nothing picked in its place
    assert not [b for b in at.button if b.key == "book_submit"]
    offered = pick_time(at)
    today = datetime.now(UTC).date()
    still_open = {
        s["starts_at"]
        for s in open_slots(backend, client, consultant.sub, today, today + timedelta(weeks=8), client.sub)
    }
    assert chosen not in still_open and offered in still_open

    at.button(key="book_submit").click().run()  # pressed again: the fresh time shown is the one booked
    no_exceptions(at)
    assert "Proposed. The other party will confirm or decline." in texts(at, "success")
    booked = {a["starts_at"] for a in backend.rpc("my_appointments", {}, as_user=client)}
    assert {datetime.fromisoformat(b) for b in booked} == {
        datetime.fromisoformat(chosen),
        datetime.fromisoformat(offered),
    }


def test_after_booking_a_time_the_picker_starts_again_without_calling_it_taken(backend, embedded_db):
    """The member's own booking is not "just taken" by someone else (it was, with a warning, on the next run)."""
    consultant_username, client_username = engaged_pair(backend, embedded_db)
    consultant = Claims.user(member_id(backend, consultant_username))
    client = Claims.user(member_id(backend, client_username))
    at = app(client_username).run()
    at.switch_page(PAGES["appointments"]).run()
    first = pick_time(at)
    at.button(key="book_submit").click().run()
    no_exceptions(at)
    assert "Proposed. The other party will confirm or decline." in texts(at, "success")
    assert not [w for w in texts(at, "warning") if "was just taken" in w], texts(at, "warning")
    assert not [b for b in at.button if b.key == "book_submit"]  # nothing picked after one's own booking
    second = pick_time(at)
    assert second != first
    at.button(key="book_submit").click().run()  # and the next time is booked as shown
    no_exceptions(at)
    assert [
        datetime.fromisoformat(a["starts_at"])
        for a in backend.rpc("my_appointments", {}, as_user=client)
        if a["other_id"] == consultant.sub
    ] == [datetime.fromisoformat(first), datetime.fromisoformat(second)]


def test_a_picked_value_that_is_not_a_time_is_dropped_not_parsed():
    """Once, a browser sent the time's label back instead of its value; the picker must drop it, not raise."""
    from components.slots import _is_instant

    assert _is_instant("2026-11-30T13:00:00+00:00")
    assert not _is_instant("Mon 30 Nov, 08:00 New York time")


def test_after_proposing_a_first_session_the_profile_shows_it_instead_of_the_picker(backend, embedded_db):
    consultant_username, consultant_id = make_consultant(backend, embedded_db)
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        conn.execute(
            "update public.availability_settings set min_notice_hours = 0 where consultant_id = %s", (consultant_id,)
        )
        for weekday in range(1, 8):
            conn.execute(
                "insert into public.weekly_hours (consultant_id, weekday, starts_at, ends_at) "
                "values (%s, %s, '08:00', '20:00')",
                (consultant_id, weekday),
            )
    seeker_username = make_account(backend)
    seeker = Claims.user(member_id(backend, seeker_username))
    request_consultation(backend, seeker, consultant_id, [], "Hello, could we meet?")

    at = app(seeker_username).run()
    at.session_state["view_consultant"] = consultant_id
    at.switch_page(PAGES["consultant"]).run()
    no_exceptions(at)
    chosen = pick_time(at, "first_slot")
    at.button(key="first_slot_submit").click().run()
    no_exceptions(at)

    assert "Proposed. The consultant will confirm it with your request." in texts(at, "success")
    assert not offered_times(at, "first_slot")  # no picker, no stale time
    assert not [b for b in at.button if b.key == "first_slot_submit"]
    zone = backend.rpc("get_my_profile", {}, as_user=seeker)["timezone"]
    consultant_zone = backend.rpc("get_consultant_profile", {"p_consultant": consultant_id}, as_user=seeker)["timezone"]
    shown = [i for i in texts(at, "info") if "First session proposed" in i]
    assert shown and slot_label(chosen, zone, consultant_zone) in shown[0], texts(at, "info")
    assert "awaits the consultant's confirmation" in shown[0]
    proposals = [a for a in backend.rpc("my_appointments", {}, as_user=seeker) if a["other_id"] == consultant_id]
    assert [(a["starts_at"], a["status"]) for a in proposals] == [(proposals[0]["starts_at"], "requested")]
    assert datetime.fromisoformat(proposals[0]["starts_at"]) == datetime.fromisoformat(chosen)

    at.run()  # the notice is one-shot; the proposal stays in place of the picker
    no_exceptions(at)
    assert not [s for s in texts(at, "success") if s.startswith("Proposed.")]
    assert any("First session proposed" in i for i in texts(at, "info"))
    assert not offered_times(at, "first_slot")


def test_the_record_line_reads_plainly():
    from portal.appointments import record_summary

    assert record_summary(
        {
            "median_answer_hours": 0.2,
            "cancellations": 1,
            "cancellations_with_notice_share": 0,
            "sessions": 4,
            "sessions_kept": 3,
        }
    ) == (
        "answers requests within the hour (median); 0 of 1 cancellation by the consultant in good time; "
        "3 of 4 sessions kept"
    )
    assert record_summary(
        {"median_answer_hours": 26.5, "cancellations": 4, "cancellations_with_notice_share": 0.75}
    ) == ("answers requests in 26.5 h (median); 3 of 4 cancellations by the consultant in good time")
    assert record_summary({}) == "No events yet."
