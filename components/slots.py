"""Pick an open slot, shown in the viewer's zone with the consultant's alongside."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import streamlit as st


def slot_label(starts_at: str, viewer_tz: str, consultant_tz: str) -> str:
    instant = datetime.fromisoformat(starts_at)
    mine = instant.astimezone(ZoneInfo(viewer_tz))
    text = f"{mine:%a %d %b, %H:%M} (your time)"
    if consultant_tz != viewer_tz:
        theirs = instant.astimezone(ZoneInfo(consultant_tz))
        text += f" · {theirs:%H:%M} {consultant_tz.split('/')[-1].replace('_', ' ')}"
    return text


def slot_picker(slots: list[dict], *, viewer_tz: str, consultant_tz: str, key: str) -> str | None:
    """Two selects (day, then time); returns the chosen slot's start (ISO) or None.

    `slots` are read afresh on every run. A time picked on an earlier run that is no longer among them (booked
    meanwhile, by this member in another tab or by someone else, or now inside the minimum notice) is not
    silently replaced by another one for the button pressed on this run: the picker says so, shows the times
    still open, and `picked_time_gone(key)` is true for this run, so the page books nothing until a time is
    picked again from the fresh list."""
    picked = st.session_state.get(f"{key}_time")
    booked_here = st.session_state.pop(f"{key}_booked", None)
    if picked is not None and (picked == booked_here or not _is_instant(picked)):
        # This member's own booking took it (no one else's), or the browser sent back something that is not a
        # time (a label): start again from the first open time, without a warning.
        st.session_state.pop(f"{key}_time", None)
        picked = None
    gone = picked is not None and picked not in {s["starts_at"] for s in slots}
    st.session_state[f"{key}_gone"] = gone
    if gone:
        st.session_state.pop(f"{key}_time", None)
        st.warning(f"{slot_label(picked, viewer_tz, consultant_tz)} was just taken or is no longer open. "
                   "The lists below show the times still open: pick one.", icon=":material/event_busy:")
    if not slots:
        st.info("No open times in the next eight weeks.", icon=":material/event_busy:")
        return None
    zone = ZoneInfo(viewer_tz)
    by_day: dict[str, list[dict]] = {}
    for slot in slots:
        day = datetime.fromisoformat(slot["starts_at"]).astimezone(zone).strftime("%a %d %b %Y")
        by_day.setdefault(day, []).append(slot)
    if st.session_state.get(f"{key}_day") not in by_day:
        st.session_state.pop(f"{key}_day", None)  # every time that day was taken: the first open day
    day = st.selectbox("Day", options=list(by_day), key=f"{key}_day")
    options = [s["starts_at"] for s in by_day[day]]
    return st.selectbox("Time", options=options, key=f"{key}_time",
                        format_func=lambda s: slot_label(s, viewer_tz, consultant_tz))


def picked_time_gone(key: str) -> bool:
    """True on the run where `slot_picker(key=key)` found the time picked before no longer open."""
    return bool(st.session_state.get(f"{key}_gone"))


def booked_from_picker(key: str, starts_at: str) -> None:
    """Call after this member booked `starts_at` from `slot_picker(key=key)`: on the next run the picker starts
    from the first open time instead of reporting the time as taken by someone else."""
    st.session_state[f"{key}_booked"] = starts_at


def _is_instant(value: object) -> bool:
    try:
        datetime.fromisoformat(str(value))
    except ValueError:
        return False
    return True
