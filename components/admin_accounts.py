"""Admin → Accounts: the account list with unlocking, and closing an account in two steps: first what it ends,
read from the database, then an explicit confirmation."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from components.errors import database_errors_as_messages
from portal.admin import (
    Refusal,
    close_account,
    closure_consequences,
    closure_preview,
    find_closable_accounts,
    list_accounts,
    unlock_account,
)
from portal.local_times import date_words, local_time, zone_words
from portal.mydata import plural
from portal.plain_text import plain

PAGE_SIZE = 25
REVIEW_KEY = "admin_close_review"  # {"member": id, "preview": admin_closure_preview's answer}
ERROR_KEY = "admin_close_error"  # {"field": "reason" | None, "message": ...}
CONFIRM_KEY = "admin_close_confirm"


def accounts_tab(backend, user, admin_zone: str) -> None:
    if notice := st.session_state.pop("admin_close_notice", None):  # shown after the rerun that follows a closure
        st.success(notice, icon=":material/check_circle:")
    query = st.text_input("Search by name, username or email", key="admin_query")
    page = st.number_input("Page", min_value=1, step=1, value=1, key="admin_page")
    with database_errors_as_messages():
        rows, total = list_accounts(
            backend, user.claims, query=query, limit=PAGE_SIZE, offset=(int(page) - 1) * PAGE_SIZE
        )
        if not rows and page > 1:  # past the last page: show the first instead of "0 match"
            rows, total = list_accounts(backend, user.claims, query=query, limit=PAGE_SIZE, offset=0)
            page = 1
    pages = max(1, -(-total // PAGE_SIZE))
    verb = "matches" if total == 1 else "match"
    st.caption(f"{plural(total, 'account')} {verb} · page {min(int(page), pages)} of {pages}.")
    if rows:
        st.dataframe(pd.DataFrame([_account_row(r, admin_zone) for r in rows]), hide_index=True, width="stretch")
        _unlock(backend, user, [r for r in rows if r["locked_until"]])
    _close_an_account(backend, user, admin_zone)


def _account_row(r: dict[str, Any], admin_zone: str) -> dict[str, Any]:
    locked = r["locked_until"]
    return {
        "Name": r["display_name"],
        "Username": r["username"],
        "Role": "Admin" if r["is_admin"] else "Consultant" if r["is_consultant"] else "Member",
        "Licences": r["license_count"],
        "Locked until": f"{local_time(locked, admin_zone)} {zone_words(admin_zone)}" if locked else "—",
        "Joined": date_words(r["created_at"], admin_zone),
    }


def _who(rows: list[dict[str, Any]], account_id: str) -> str:
    # not markdown: a selectbox's options are plain text
    return next((f"{r['display_name']} ({r['username']})" for r in rows if r["id"] == account_id), account_id)


def _unlock(backend, user, locked: list[dict[str, Any]]) -> None:
    if not locked:
        return
    choice = st.selectbox(
        "Locked account",
        options=[r["id"] for r in locked],
        key="admin_unlock_choice",
        format_func=lambda i: _who(locked, i),
    )
    if st.button("Unlock account", key="admin_unlock"):
        with database_errors_as_messages():
            unlock_account(backend, user.claims, choice)
        st.success("Account unlocked.")
        st.rerun()


def _close_an_account(backend, user, admin_zone: str) -> None:
    review = st.session_state.get(REVIEW_KEY)
    with st.expander("Close an account", expanded=review is not None):
        # A member deleting their own account cannot end work with clients; this can, for a reason that every
        # affected client reads, and it is audited.
        st.caption(
            "Ends the member's open requests, sessions, plans and engagements; each affected colleague is "
            "notified with your reason. Use it when a consultant cannot agree endings (for example a "
            "suspended licence). You see what it ends before anything is closed."
        )
        wanted = st.text_input("Find the account (name, username or email)", key="admin_close_query")
        with database_errors_as_messages():
            found = find_closable_accounts(backend, user.claims, wanted)
        if wanted.strip() and not found:
            st.info("No account matches that, other than administrators'.", icon=":material/search_off:")
        chosen = st.selectbox(
            "Account",
            options=[r["id"] for r in found],
            index=None,
            placeholder="Choose…" if found else "Type a name, username or email above first",
            key="admin_close_choice",
            format_func=lambda i: _who(found, i),
        )
        why = st.text_area("Reason (every affected client reads it)", key="admin_close_reason", max_chars=500)
        _field_error("reason")
        if review is not None and review["member"] != chosen:  # another account chosen: its own review first
            st.session_state.pop(REVIEW_KEY, None)
            st.session_state.pop(CONFIRM_KEY, None)
            review = None
        if st.button("Review what closing ends", key="admin_close_review_button", disabled=chosen is None):
            review = _read_review(backend, user, chosen)
        if review is not None:
            _confirm_and_close(backend, user, review, why, admin_zone)
        _field_error(None)


def _read_review(backend, user, member: str) -> dict[str, Any] | None:
    st.session_state.pop(ERROR_KEY, None)
    try:
        preview = closure_preview(backend, user.claims, member)
    except Refusal as exc:
        st.session_state[ERROR_KEY] = {"field": exc.field, "message": exc.message}
        return None
    st.session_state[REVIEW_KEY] = {"member": member, "preview": preview}
    return st.session_state[REVIEW_KEY]


def _field_error(field: str | None) -> None:
    refused = st.session_state.get(ERROR_KEY)
    if refused and refused["field"] == field:
        st.error(refused["message"], icon=":material/error:")  # not member text


def _show_consequences(preview: dict[str, Any], admin_zone: str) -> None:
    name = plain(preview["member"]["display_name"])
    sections = closure_consequences(preview, admin_zone)
    st.markdown(f"**Closing {name}'s account ends:**")
    if not sections:
        st.markdown("Nothing with other members: no active engagements, upcoming sessions, open plans or requests.")
    for heading, lines in sections.items():
        st.markdown(f"{heading} ({len(lines)}):")
        st.markdown("\n".join(f"- {line}" for line in lines))


def _confirm_and_close(backend, user, review: dict[str, Any], why: str, admin_zone: str) -> None:
    preview = review["preview"]
    with st.container(border=True, key="admin_close_preview"):
        _show_consequences(preview, admin_zone)
        name = plain(preview["member"]["display_name"])
        confirmed = st.checkbox(f"I have read this: close {name}'s account and end all of the above", key=CONFIRM_KEY)
        if not st.button("Close the account", key="admin_close", type="primary", disabled=not confirmed):
            return
    try:
        now = closure_preview(backend, user.claims, review["member"])
    except Refusal as exc:  # e.g. closed meanwhile by another admin: "No such account."
        st.session_state.pop(REVIEW_KEY, None)
        st.session_state[ERROR_KEY] = {"field": None, "message": exc.message}
        st.rerun()
    if now != preview:  # something changed since the admin read it: they confirm what will really happen
        st.session_state[REVIEW_KEY] = {"member": review["member"], "preview": now}
        st.session_state.pop(CONFIRM_KEY, None)
        st.session_state[ERROR_KEY] = {
            "field": None,
            "message": "Something changed since you reviewed this account: read what closing ends again and confirm.",
        }
        st.rerun()
    try:
        told = close_account(backend, user.claims, review["member"], why)
    except Refusal as exc:
        st.session_state[ERROR_KEY] = {"field": exc.field if exc.field == "reason" else None, "message": exc.message}
        st.rerun()
    for key in (REVIEW_KEY, CONFIRM_KEY, ERROR_KEY, "admin_close_choice", "admin_close_reason"):
        st.session_state.pop(key, None)
    st.session_state["admin_close_notice"] = (
        f"{name}'s account is closed; {plural(told, 'client')} notified. The reason is in the audit log."
    )
    st.rerun()
