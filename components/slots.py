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
    """Two selects (day, then time); returns the chosen slot's start (ISO) or None."""
    if not slots:
        st.info("No open times in the next eight weeks.", icon=":material/event_busy:")
        return None
    zone = ZoneInfo(viewer_tz)
    by_day: dict[str, list[dict]] = {}
    for slot in slots:
        day = datetime.fromisoformat(slot["starts_at"]).astimezone(zone).strftime("%a %d %b %Y")
        by_day.setdefault(day, []).append(slot)
    day = st.selectbox("Day", options=list(by_day), key=f"{key}_day")
    options = [s["starts_at"] for s in by_day[day]]
    return st.selectbox("Time", options=options, key=f"{key}_time",
                        format_func=lambda s: slot_label(s, viewer_tz, consultant_tz))
