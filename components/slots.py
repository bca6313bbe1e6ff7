"""Pick an open time from a week view: days across, times down, in the viewer's zone (or the
consultant's, on request); one click picks, a confirmation names both zones and the
cancellation policy before anything is booked."""

from __future__ import annotations

from datetime import date, datetime

import streamlit as st

from portal.appointments import late_rule
from portal.local_times import in_zone, zone_words
from portal.week_grid import week_of, week_to_show, weeks_with_slots


def slot_label(starts_at: str, viewer_tz: str, consultant_tz: str) -> str:
    """'Mon 11 Jan, 15:00 Berlin time · 09:00 New York time': the viewer's clock first, the consultant's beside it."""
    mine = in_zone(starts_at, viewer_tz)
    text = f"{mine:%a %d %b}, {mine:%H:%M} {zone_words(viewer_tz)}"
    if consultant_tz != viewer_tz:
        text += f" · {in_zone(starts_at, consultant_tz):%H:%M} {zone_words(consultant_tz)}"
    return text


def _pick(key: str, starts_at: str) -> None:
    st.session_state[f"{key}_time"] = starts_at


def _move_week(key: str, monday: date) -> None:
    st.session_state[f"{key}_week"] = monday.isoformat()


def slot_picker(slots: list[dict], *, viewer_tz: str, consultant_tz: str, key: str,
                late_cancel_hours: int | None = None) -> str | None:
    """A week of open times; returns the picked slot's start (ISO) or None until one is picked.

    `slots` are read afresh on every run. A time picked on an earlier run that is no longer among them (booked
    meanwhile, by this member in another tab or by someone else, or now inside the minimum notice) is never
    silently replaced by another one for the button pressed on this run: the picker says so, shows the times
    still open, and `picked_time_gone(key)` is true for this run, so the page books nothing until a time is
    picked again. State lives under `{key}_time` (the pick), `{key}_week` (the Monday shown), `{key}_zone`."""
    picked = st.session_state.get(f"{key}_time")
    booked_here = st.session_state.pop(f"{key}_booked", None)
    if picked is not None and (picked == booked_here or not _is_instant(picked)):
        # This member's own booking took it (no one else's), or something that is not a time came back.
        st.session_state.pop(f"{key}_time", None)
        picked = None
    gone = picked is not None and picked not in {s["starts_at"] for s in slots}
    st.session_state[f"{key}_gone"] = gone
    if gone:
        st.session_state.pop(f"{key}_time", None)
        st.warning(f"{slot_label(picked, viewer_tz, consultant_tz)} was just taken or is no longer open. "
                   "The week below shows the times still open: pick one.", icon=":material/event_busy:")
        picked = None
    if not slots:
        st.info("No open times in the next eight weeks.", icon=":material/event_busy:")
        return None

    shown_tz = viewer_tz
    if consultant_tz != viewer_tz:
        names = {viewer_tz: f"Yours ({zone_words(viewer_tz)})", consultant_tz: f"The consultant's "
                                                                              f"({zone_words(consultant_tz)})"}
        shown_tz = st.segmented_control("Show times in", options=list(names), format_func=names.get,
                                        default=viewer_tz, key=f"{key}_zone") or viewer_tz

    wanted = st.session_state.get(f"{key}_week")
    monday = week_to_show(slots, shown_tz, date.fromisoformat(wanted) if wanted else None, picked)
    st.session_state[f"{key}_week"] = monday.isoformat()
    weeks = weeks_with_slots(slots, shown_tz)
    earlier = [w for w in weeks if w < monday]
    later = [w for w in weeks if w > monday]
    back, title, forward = st.columns([1, 2, 1], vertical_alignment="center")
    back.button("Previous week", key=f"{key}_previous", icon=":material/chevron_left:", disabled=not earlier,
                on_click=_move_week, args=(key, earlier[-1] if earlier else monday), width="stretch")
    title.markdown(f"**Week of {monday:%a} {monday.day} {monday:%b %Y}**  \n{zone_words(shown_tz)}")
    forward.button("Next week", key=f"{key}_next", icon=":material/chevron_right:", disabled=not later,
                   on_click=_move_week, args=(key, later[0] if later else monday), width="stretch")

    for column, day in zip(st.columns(7), week_of(slots, shown_tz, monday), strict=True):
        with column:
            st.markdown(f"**{day.heading}**")
            if not day.times:
                st.caption("—")
            for starts_at, clock in day.times:
                st.button(clock, key=f"{key}_pick_{starts_at}", on_click=_pick, args=(key, starts_at),
                          type="primary" if starts_at == picked else "secondary", width="stretch",
                          help=slot_label(starts_at, viewer_tz, consultant_tz))
    if picked is None:
        st.caption("Pick a time to see it in both zones before you propose it.")
        return None
    st.info(f"**{slot_label(picked, viewer_tz, consultant_tz)}**  \n"
            f"{late_rule(late_cancel_hours, picked, viewer_tz)}", icon=":material/event_available:")
    return picked


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
