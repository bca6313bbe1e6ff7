"""What a termination plan's card shows of the plan: its header, its terms at a glance with a timeline, the
checklist to tick, and the version history."""

from __future__ import annotations

from datetime import date
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from components.errors import database_errors_as_messages
from portal.db import Backend, Claims
from portal.local_times import local_day, local_time, times_caption
from portal.plain_text import plain
from portal.termination import (
    CHECKLIST,
    REASONS,
    awaiting,
    differences,
    done_note,
    friendly_day,
    initiated_by,
    tick,
    who_vouched,
)

STATUS_BADGES = {
    "draft": ":gray-badge[Draft]",
    "proposed": ":orange-badge[Proposed]",
    "agreed": ":green-badge[Agreed]",
    "completed": ":blue-badge[Completed]",
    "withdrawn": ":red-badge[Withdrawn]",
}
TIMELINE_ORDER = ["Ending discussed", "Session held", "Booked session", "Today", "Final session", "Follow-up"]


def header(plan: dict[str, Any]) -> None:
    """Who the plan is with, where it stands, and whose signature it waits for."""
    current = plan["versions"][-1]
    role = "your client" if plan["my_role"] == "consultant" else "your consultant"
    parts = [
        f"**{plain(plan['other_name'])}** ({role})",
        STATUS_BADGES[plan["status"]],
        f"version {current['version']}",
        awaiting(plan),  # empty unless proposed
    ]
    st.markdown(" · ".join(part for part in parts if part))


def overview(plan: dict[str, Any], zone: str, today: date) -> None:
    """The current version's terms at a glance, who vouches for its dates, and its timeline."""
    current = plan["versions"][-1]
    if current["reason"] == "safety":
        st.warning(f"Ending early for safety: {plain(current.get('safety_justification'))}", icon=":material/shield:")
    st.caption(
        f"Initiated by: {initiated_by(plan)} · "
        f"{REASONS[current['reason']]} · final session {friendly_day(current['final_session_on'])} · "
        f"{current['sessions_remaining']} sessions remaining, {current['closing_sessions']} closing · "
        f"referrals: {', '.join(plain(r['name']) for r in current['referrals']) or 'none'}"
    )
    st.caption(who_vouched(plan, current, zone))
    timeline(plan, current, zone, today)


def timeline(plan: dict[str, Any], terms: dict[str, Any], zone: str, today: date) -> None:
    events = [
        {
            "what": "Booked session" if s["status"] != "completed" else "Session held",
            "when": pd.Timestamp(s["starts_at"]).tz_convert(zone).tz_localize(None),
        }
        for s in plan["sessions"]
    ]
    events += [
        {"what": "Ending discussed", "when": pd.Timestamp(terms["discussed_on"])},
        {"what": "Final session", "when": pd.Timestamp(terms["final_session_on"])},
        {"what": "Today", "when": pd.Timestamp(today)},
    ]
    if terms.get("follow_up_on"):
        events.append({"what": "Follow-up", "when": pd.Timestamp(terms["follow_up_on"])})
    chart = (
        alt.Chart(pd.DataFrame(events))
        .mark_point(filled=True, size=120)
        .encode(
            x=alt.X("when:T", title=None),
            y=alt.Y("what:N", title=None, sort=TIMELINE_ORDER),
            color=alt.Color("what:N", legend=None),
            tooltip=["what", alt.Tooltip("when:T", format="%a %d %b %Y")],
        )
    )
    st.altair_chart(chart.properties(height=200), width="stretch")


def checklist(plan: dict[str, Any], key: str, zone: str, *, backend: Backend, claims: Claims) -> None:
    """Where the checklist stands; on a proposed or agreed plan, each step ticked off here as it happens."""
    planned = plan["versions"][-1].get("checklist") or []
    if not planned:
        return
    done = set(plan["progress"])
    count = len(done & set(planned))
    st.progress(count / len(planned), text=f"Checklist: {count} of {len(planned)} done")
    if plan["status"] not in ("proposed", "agreed"):
        return
    for item in planned:
        note = done_note(plan, item, zone) if item in done else ""
        ticked = st.checkbox(
            CHECKLIST[item] + (f" · {note}" if note else ""), value=item in done, key=f"{key}_tick_{item}"
        )
        if ticked != (item in done):
            with database_errors_as_messages():
                tick(backend, claims, plan["id"], item, ticked)
            st.rerun()


def version_history(plan: dict[str, Any], key: str, zone: str) -> None:
    """Two versions side by side, and who wrote and signed each one when."""
    if len(plan["versions"]) < 2:
        return
    with st.expander(f"Version history ({len(plan['versions'])} versions)"):
        numbers = [v["version"] for v in plan["versions"]]
        left, right = st.columns(2)
        older = left.selectbox("Compare version", numbers[:-1], index=len(numbers) - 2, key=f"{key}_older")
        newer = right.selectbox("with version", numbers[1:], index=len(numbers) - 2, key=f"{key}_newer")
        by_number = {v["version"]: v for v in plan["versions"]}
        changes = differences(by_number[older], by_number[newer])
        st.table(
            pd.DataFrame(changes, columns=["Term", f"Version {older}", f"Version {newer}"])
            if changes
            else pd.DataFrame({"": ["No differences."]})
        )
        other = plain(plan["other_name"])
        for v in plan["versions"]:
            signers = (
                ("you" if s["signer"] == "me" else other) + " " + local_day(s["signed_at"], zone)
                for s in v["signatures"]
            )
            author = "you" if v["author_is_me"] else other
            st.caption(
                f"Version {v['version']} by {author}, {local_time(v['created_at'], zone)} · "
                f"signed: {', '.join(signers) or 'not signed'}"
            )
        st.caption(times_caption(zone))
