"""Cards and badges for consultants (rendering only; no database calls)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from portal.plain_text import plain
from portal.search import LEVELS, ScorePart

FORMAT_LABELS = {"offers_telehealth": "Telehealth", "offers_in_person": "In person"}


def competency_badges(competencies: list[dict[str, Any]]) -> str:
    """One Markdown list item per competency, so a screen reader announces "list, n items". Colour and icon
    are never the only sign of verification: the words "verified" / "not yet verified" are in the badge
    (Streamlit announces a Material icon only by its name, "verified icon" / "pending icon")."""
    badges = []
    for c in competencies:
        if c.get("verified"):
            mark, colour, status = ":material/verified:", "green", "verified"
        else:
            mark, colour, status = ":material/pending:", "gray", "not yet verified"
        badges.append(f"- :{colour}-badge[{mark} {plain(c['name'])} · {LEVELS[c['level']]} · {status}]")
    return "\n".join(badges) or "_No competencies listed._"


def formats(doc: dict[str, Any]) -> str:
    parts = [label for key, label in FORMAT_LABELS.items() if doc.get(key)]
    if doc.get("offers_in_person") and doc.get("city"):
        parts[-1] = f"In person ({plain(doc['city'])})"
    return " · ".join(parts)


def fee(doc: dict[str, Any]) -> str:
    text = f"${doc['fee_usd']}/session" if doc.get("fee_usd") is not None else "Fee not stated"
    return text + (" · sliding scale" if doc.get("sliding_scale") else "")


def score_breakdown(parts: list[ScorePart]) -> None:
    """Each part of the score as a bar with why it scored what it did (portal.search.score_parts), shown exactly as
    worded: a fee's "$" never turns into maths."""
    for part in parts:
        st.progress(min(part.points / part.maximum, 1.0), text=plain(part.sentence()))


def conflict_flag(level: str | None) -> None:
    if level == "potential":
        st.warning(
            "A possible dual relationship was found. Check for conflicts on the profile before you ask.",
            icon=":material/report:",
        )
