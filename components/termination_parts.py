"""Pieces of the Termination plans page: the refusal of an edit made against an old version; what a plan that
has ended, or an address that leads to no plan of yours, says instead of a dead end."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from portal.local_times import in_zone
from portal.plain_text import plain
from portal.termination import Rebased, friendly_day

ENDED = ("completed", "withdrawn")

# One answer for a plan id that does not exist and for someone else's plan: which one it is is not said.
NO_SUCH_PLAN = (
    "There is no termination plan at this address that you can open. The link may be mistyped or "
    "out of date, or the plan may be between other members; the portal does not say which."
)

CHANGE_NOTES = {
    "theirs": "changed in the plan meanwhile",
    "yours": "your change, kept",
    "both": "both changed: yours kept, check it",
}


def conflict_record(plan: dict[str, Any], started_version: int, rebased: Rebased) -> dict[str, Any]:
    """What the page keeps (in session state) to explain a refused save until the next one succeeds."""
    latest = plan["versions"][-1]
    newer = [v for v in plan["versions"] if v["version"] > started_version]
    authors = {v["author_is_me"] for v in newer}
    if authors == {False}:
        who = plain(plan["other_name"])
    elif authors == {True}:
        who = "You (in another window)"
    else:
        who = f"{plain(plan['other_name'])} and you (in another window)"
    return {
        "from": started_version,
        "to": latest["version"],
        "who": who,
        "other_name": plan["other_name"],
        "rebased": rebased,
    }


def conflict_notice(conflict: dict[str, Any]) -> None:
    """The refusal, the other version next to your draft, and what Save will now send."""
    rebased: Rebased = conflict["rebased"]
    old, new = conflict["from"], conflict["to"]
    st.warning(
        f"Not saved: the plan changed while you were editing. {conflict['who']} saved version {new} after "
        f"the version {old} you started from. Nothing you typed is lost: your changes are re-applied to "
        f"version {new} in the form below. Check it and save again.",
        icon=":material/sync_problem:",
    )
    if rebased.clashes:
        st.error(
            f"You and {plain(conflict['other_name'])} both changed: {', '.join(rebased.clashes)}. The form keeps your "
            f"value; to take version {new}'s instead, change it in the form.",
            icon=":material/call_split:",
        )
    rows = [(r.label, r.started, r.latest, r.draft, CHANGE_NOTES[r.change]) for r in rebased.rows]
    columns = [
        "Term",
        f"Version {old} (you started from)",
        f"Version {new} (now in the plan)",
        "Your draft (saved with Save)",
        "What happened",
    ]
    st.table(pd.DataFrame(rows, columns=columns).set_index("Term"))


def ended_notice(plan: dict[str, Any], zone: str, *, still_working_together: bool) -> str:
    """Why a plan that has ended offers nothing more to do: when it ended and what that means for the work.

    Its day is when it was closed (closed_at: completing, withdrawing, or an account's closure), not its last
    change: an account's closure withdraws plans without changing them otherwise."""
    day = friendly_day(in_zone(plan.get("closed_at") or plan["updated_at"], zone).date())
    other = plain(plan["other_name"])
    if plan["status"] == "completed":
        return (
            f"This plan ended on {day}; the work together with {other} is complete. The plan stays here "
            "for the record: its terms, checklist, signatures and summary."
        )
    reason = (plan.get("withdraw_reason") or "").strip()
    said = f" ({plain(reason)})" if reason else ""  # their words, never their Markdown
    goes_on = (
        f"Your work together with {other} goes on; a new plan can be started under Start a plan."
        if still_working_together
        else f"Your work together with {other} has ended."
    )
    return f"This plan was withdrawn on {day}{said}, so none of its terms are in force. {goes_on}"
