"""Admin → Verification queue: credentials waiting, oldest first, filtered by any words of a name or credential."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import streamlit as st

from components.errors import database_errors_as_messages
from portal.admin import (
    QUEUE_PAGE_SIZE,
    QUEUE_READ_LIMIT,
    cached_queue,
    forget_decided,
    forget_queue,
    level_names,
    queue_matches,
    verify_credential,
)
from portal.db import APIError, friendly_message
from portal.db.errors import is_not_found
from portal.local_times import date_words
from portal.mydata import plural
from portal.plain_text import plain


def queue_tab(backend, user, admin_zone: str) -> None:
    if notice := st.session_state.pop("verify_notice", None):  # shown after the rerun that follows a decision
        st.success(notice, icon=":material/check_circle:")
    refresh = st.button("Refresh the queue", key="verify_refresh", icon=":material/refresh:")
    with database_errors_as_messages():
        queue = cached_queue(backend, user.claims, st.session_state, refresh=refresh)
    waiting = f"{QUEUE_READ_LIMIT}+ credentials" if len(queue) >= QUEUE_READ_LIMIT else plural(len(queue), "credential")
    st.caption(f"{waiting} waiting, oldest first. An expired credential never counts as verified, whatever its status.")
    wanted = st.text_input(
        "Filter by member or credential",
        key="verify_filter",
        help="Accents, capitals, punctuation and the order of words are ignored: “obrien zoe” finds Zoë O’Brien.",
    ).strip()
    if st.session_state.get("verify_shown_for") != wanted:  # a new filter starts again from the oldest
        st.session_state["verify_shown_for"] = wanted
        st.session_state["verify_shown"] = QUEUE_PAGE_SIZE
    matching = queue_matches(queue, wanted)
    shown = matching[: st.session_state.setdefault("verify_shown", QUEUE_PAGE_SIZE)]
    if wanted and not matching:
        st.info(
            f"No matches for “{wanted}”. The filter looks in member names and credentials.",
            icon=":material/search_off:",
        )
    elif not queue:
        st.success("Nothing is waiting for verification.", icon=":material/check_circle:")
    elif len(matching) > len(shown):
        st.caption(f"Showing the oldest {len(shown)} of {len(matching)}.")
    for item in shown:
        _card(backend, user, item, admin_zone)
    if len(matching) > len(shown):
        if st.button(f"Show more ({len(matching) - len(shown)} more)", key="verify_show_more"):
            st.session_state["verify_shown"] = len(shown) + QUEUE_PAGE_SIZE
            st.rerun()


def _expiry_words(expires_on: str | None, admin_zone: str) -> str:
    """' · expired Fri 6 Nov 2026' or ' · expires Wed 9 Jun 2027': a date in words, in the tense it has today."""
    if not expires_on:
        return ""
    today = datetime.now(ZoneInfo(admin_zone)).date()
    verb = "expired" if date.fromisoformat(expires_on) < today else "expires"
    return f" · {verb} {date_words(expires_on, admin_zone)}"


def _card(backend, user, item: dict[str, Any], admin_zone: str) -> None:
    with st.container(border=True, key=f"verify_card_{item['id']}"):
        kind = "Competency" if item["kind"] == "competency" else "Licence"
        st.markdown(f"**{plain(item['member_name'])}** · {kind}: {plain(level_names(item['item']))}")
        st.caption(
            f"Evidence: {plain(item['detail']) or 'none given'}"
            + _expiry_words(item.get("expires_on"), admin_zone)
            + f" · submitted {date_words(item['submitted_at'], admin_zone)}"
        )
        note = st.text_input("Note (required to reject)", key=f"verify_note_{item['id']}")
        approve_col, reject_col = st.columns(2)
        decision = None
        if approve_col.button("Verify", key=f"verify_approve_{item['id']}", type="primary"):
            decision = True
        if reject_col.button("Reject", key=f"verify_reject_{item['id']}"):
            decision = False
        if decision is not None:
            _decide(backend, user, item, kind, decision, note)


def _decide(backend, user, item: dict[str, Any], kind: str, approve: bool, note: str) -> None:
    try:
        verify_credential(backend, user.claims, item["kind"], item["id"], approve=approve, note=note)
    except APIError as exc:
        if is_not_found(exc):  # someone else removed it: read the queue afresh
            forget_queue(st.session_state)
        st.error(friendly_message(exc), icon=":material/error:")
    else:
        forget_decided(st.session_state, item["id"])
        st.session_state["verify_notice"] = (
            f"{'Verified' if approve else 'Rejected'}: {plain(item['member_name'])} · {kind.lower()} "
            f"{plain(level_names(item['item']))}."
        )
        st.rerun()
