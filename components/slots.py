"""Pick an open time from a week view: days across, times down, in the viewer's zone (or the
consultant's, on request); one click picks, a confirmation names both zones and the
cancellation policy before anything is booked."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import streamlit as st

from portal.appointments import late_rule
from portal.local_times import in_zone, zone_words
from portal.week_grid import HORIZON, Day, fetch_window, monday_of, week_of, week_to_show, weeks_with_slots

Fetch = Callable[[date, date], list[dict]]  # (first, last day) -> open_slots' rows


def slot_label(starts_at: str, viewer_tz: str, consultant_tz: str) -> str:
    """'Mon 11 Jan, 15:00 Berlin time · 09:00 New York time': the viewer's clock first, the consultant's beside it."""
    mine = in_zone(starts_at, viewer_tz)
    text = f"{mine:%a %d %b}, {mine:%H:%M} {zone_words(viewer_tz)}"
    if consultant_tz != viewer_tz:
        text += f" · {in_zone(starts_at, consultant_tz):%H:%M} {zone_words(consultant_tz)}"
    return text


def _pick(key: str, starts_at: str) -> None:
    st.session_state[f"{key}_time"] = starts_at


def _move_week(key: str, monday: date | None) -> None:
    if monday is not None:
        st.session_state[f"{key}_week"] = monday.isoformat()


def _jump(key: str) -> None:
    """ "Go to week of": the week holding the chosen day (any day of it will do)."""
    chosen = st.session_state.get(f"{key}_go")
    if isinstance(chosen, date):
        st.session_state[f"{key}_week"] = monday_of(chosen).isoformat()


def _still_open(fetch: Fetch, starts_at: str) -> bool:
    """Whether a time picked in another week than the one read is still open: its own days, read afresh."""
    day = in_zone(starts_at, "UTC").date()
    return starts_at in {s["starts_at"] for s in fetch(day - timedelta(days=1), day + timedelta(days=1))}


def slot_picker(
    fetch: Fetch, *, viewer_tz: str, consultant_tz: str, key: str, late_cancel_hours: int | None = None
) -> str | None:
    """A week of open times; returns the picked slot's start (ISO) or None until one is picked.

    `fetch(first, last)` reads the open times of those days (the consultant's calendar, both included); the
    picker calls it on every run for the weeks around the one shown (portal.week_grid.fetch_window), so a week
    reached with "Go to week of" months ahead shows its own times. A time picked on an earlier run that is no
    longer open (booked meanwhile, by this member in another tab or by someone else, or now inside the minimum
    notice) is never silently replaced by another one for the button pressed on this run: the picker says so,
    shows the times still open, and `picked_time_gone(key)` is true for this run, so the page books nothing
    until a time is picked again. State lives under `{key}_time` (the pick), `{key}_week` (the Monday shown),
    `{key}_zone`, `{key}_go` (the date jumped to)."""
    picked = st.session_state.get(f"{key}_time")
    booked_here = st.session_state.pop(f"{key}_booked", None)
    if picked is not None and (picked == booked_here or not _is_instant(picked)):
        # This member's own booking took it (no one else's), or something that is not a time came back.
        st.session_state.pop(f"{key}_time", None)
        picked = None
    wanted = st.session_state.get(f"{key}_week")
    wanted = date.fromisoformat(wanted) if wanted else None
    first, last = fetch_window(datetime.now(UTC).date(), wanted)
    slots = fetch(first, last)
    gone = False
    if picked is not None and picked not in {s["starts_at"] for s in slots}:
        day = in_zone(picked, "UTC").date()
        # Inside the days read, a time not among them is gone; outside them (another week shown), ask again.
        gone = first < day < last or not _still_open(fetch, picked)
    st.session_state[f"{key}_gone"] = gone
    if gone:
        st.session_state.pop(f"{key}_time", None)
        st.warning(
            f"{slot_label(picked, viewer_tz, consultant_tz)} was just taken or is no longer open. "
            "The week below shows the times still open: pick one.",
            icon=":material/event_busy:",
        )
        picked = None

    zone_column, go_column = st.columns([3, 2], vertical_alignment="bottom")
    shown_tz = viewer_tz
    if consultant_tz != viewer_tz and slots:
        names = {
            viewer_tz: f"Yours ({zone_words(viewer_tz)})",
            consultant_tz: f"The consultant's ({zone_words(consultant_tz)})",
        }
        shown_tz = (
            zone_column.segmented_control(
                "Show times in", options=list(names), format_func=names.get, default=viewer_tz, key=f"{key}_zone"
            )
            or viewer_tz
        )
    today = datetime.now(ZoneInfo(shown_tz)).date()
    monday = week_to_show(slots, shown_tz, wanted, picked if picked in {s["starts_at"] for s in slots} else None)
    # The server's today may be a day ahead of the shown zone's: the farthest week read must stay choosable.
    earliest, latest = monday_of(today), max(today, datetime.now(UTC).date()) + HORIZON
    # The date shown is the week's Monday; set before the widget is drawn (so never alongside a `value=`).
    st.session_state[f"{key}_go"] = min(max(monday or wanted or earliest, earliest), latest)
    go_column.date_input(
        "Go to week of",
        key=f"{key}_go",
        on_change=_jump,
        args=(key,),
        min_value=earliest,
        max_value=latest,
        help="Any day of the week you want to see; its open times are read for that week.",
    )
    if monday is None:
        st.info(
            "No open times in the next eight weeks."
            if wanted is None
            else f"No open times from {in_words(first)} to {in_words(last)}. Go to another week to look further.",
            icon=":material/event_busy:",
        )
        return None
    st.session_state[f"{key}_week"] = monday.isoformat()
    if wanted is not None and monday != wanted:
        st.caption(f"No open times in the week of {in_words(wanted)}: this is the nearest week that has some.")
    weeks = weeks_with_slots(slots, shown_tz)
    earlier = [w for w in weeks if w < monday]
    later = [w for w in weeks if w > monday]
    # Previous and Next skip the weeks with no open time.
    week_navigation(
        key, monday, shown_tz, previous=earlier[-1] if earlier else None, following=later[0] if later else None
    )

    def open_times_of(day: Day) -> None:
        for starts_at, clock in day.times:
            st.button(
                clock,
                key=f"{key}_pick_{starts_at}",
                on_click=_pick,
                args=(key, starts_at),
                type="primary" if starts_at == picked else "secondary",
                width="stretch",
                help=slot_label(starts_at, viewer_tz, consultant_tz),
            )

    week_columns(week_of(slots, shown_tz, monday), open_times_of)
    if picked is None:
        st.caption("Pick a time to see it in both zones before you propose it.")
        return None
    st.info(
        f"**{slot_label(picked, viewer_tz, consultant_tz)}**  \n{late_rule(late_cancel_hours, picked, viewer_tz)}",
        icon=":material/event_available:",
    )
    return picked


def week_navigation(
    key: str,
    monday: date,
    zone: str,
    *,
    previous: date | None,
    following: date | None,
    this_week: date | None = None,
) -> None:
    """The week view's header: Previous week · "Week of Mon 8 Mar 2027" with the zone its times are in · (This
    week) · Next week. A button shows the week starting on the Monday given (None: it is disabled) by setting
    `{key}_week`, which the caller reads on the next run; "This week" is drawn only when `this_week` is given."""
    # Four buttons' worth of labels at 1,280 px: "Previous week" needs the widest column not to be cut off.
    columns = st.columns([1, 2, 1] if this_week is None else [5, 6, 4, 4], vertical_alignment="center")
    _week_button(columns[0], "Previous week", ":material/chevron_left:", key, f"{key}_previous", previous)
    columns[1].markdown(f"**Week of {in_words(monday)}**  \n{zone_words(zone)}")
    if this_week is not None:
        shown = None if this_week == monday else this_week
        _week_button(columns[2], "This week", ":material/today:", key, f"{key}_this", shown)
    _week_button(columns[-1], "Next week", ":material/chevron_right:", key, f"{key}_next", following)


def _week_button(column, label: str, icon: str, key: str, button_key: str, monday: date | None) -> None:
    column.button(
        label,
        key=button_key,
        icon=icon,
        disabled=monday is None,
        on_click=_move_week,
        args=(key, monday),
        width="stretch",
    )


def week_columns(days: list[Day], draw_day: Callable[[Day], None]) -> None:
    """Days across: a column per day, headed by the day; `draw_day` fills it (times down), a dash marks an empty
    day. The booking picker and the Appointments week draw their weeks with it."""
    for column, day in zip(st.columns(7), days, strict=True):
        with column:
            st.markdown(f"**{day.heading}**")
            if not day.entries:
                st.caption("—")
            draw_day(day)


def in_words(day: date) -> str:
    """'Mon 8 Mar 2027': a week's first day as the title says it."""
    return f"{day:%a} {day.day} {day:%b %Y}"


def picked_time_gone(key: str) -> bool:
    """True on the run where `slot_picker(key=key)` found the time picked before no longer open."""
    return bool(st.session_state.get(f"{key}_gone"))


def booked_from_picker(key: str, starts_at: str) -> None:
    """Call after this member booked `starts_at` from `slot_picker(key=key)`: on the next run the picker starts
    again with nothing picked instead of reporting the time as taken by someone else."""
    st.session_state[f"{key}_booked"] = starts_at


def _is_instant(value: object) -> bool:
    try:
        datetime.fromisoformat(str(value))
    except ValueError:
        return False
    return True
