"""My availability's "Your own calendars": connect a secret iCalendar address or a CalDAV account, see how each
reads, read them now, remove them. Busy times from them are never offered; what they are stays private.

The address or password is sealed (portal.calendar_sync.seal) by this server before it reaches the database,
and shown again only as the mask made here: no page can read it back.
"""

from __future__ import annotations

import streamlit as st

from components import context
from components.errors import as_refusal, show_notice, show_refusal
from portal import calendar_sync
from portal.config import ConfigurationError
from portal.db import APIError, DatabaseUnavailable
from portal.plain_text import plain
from portal.refusal import Refusal

KINDS = {
    "ics_url": "A secret iCalendar address (Google, Outlook, Apple)",
    "caldav": "A CalDAV account (iCloud, Fastmail, Nextcloud)",
}
# The buttons answer in callbacks (before the rerun draws the page): their refusal or notice waits under these
# keys and is shown once, below the form.
NOTICE, REFUSAL = "calendars_notice", "calendars_refusal"


def _key() -> bytes | None:
    try:
        return context.settings().resolved_calendar_key()
    except ConfigurationError as exc:
        st.session_state[REFUSAL] = Refusal(str(exc))
        return None


def _read_now(backend, user) -> None:
    key = _key()
    if key is None:
        return
    try:
        outcome = calendar_sync.sweep(
            backend, key, consultant_id=user.id, limits=calendar_sync.ReadLimits.from_environment()
        )
    except (APIError, DatabaseUnavailable) as exc:
        st.session_state[REFUSAL] = as_refusal(exc)
        return
    failed = outcome["failed"]
    st.session_state[NOTICE] = f"Read {outcome['read']} calendar{'s' if outcome['read'] != 1 else ''}" + (
        f"; {failed} could not be read (see below)." if failed else "."
    )


def _add(backend, user) -> None:
    kind = st.session_state.get("calendar_kind")
    label = st.session_state.get("calendar_label", "")
    try:
        secret = calendar_sync.new_secret(
            kind,
            st.session_state.get("calendar_url", ""),
            st.session_state.get("calendar_username", ""),
            st.session_state.get("calendar_password", ""),
            allow_loopback=calendar_sync.ReadLimits.from_environment().allow_loopback,
        )
    except ValueError as exc:  # the sentence names the field
        st.session_state[REFUSAL] = Refusal(str(exc))
        return
    key = _key()
    if key is None:
        return
    try:
        write_sessions = bool(st.session_state.get("calendar_write_sessions"))
        calendar_sync.connect_calendar(backend, user.claims, key, secret, label, write_sessions=write_sessions)
    except (APIError, DatabaseUnavailable) as exc:
        st.session_state[REFUSAL] = as_refusal(exc)
        return
    for field in (
        "calendar_url",
        "calendar_username",
        "calendar_password",
        "calendar_label",
        "calendar_write_sessions",
    ):
        st.session_state.pop(field, None)  # the secret leaves the form at once
    _read_now(backend, user)


def _remove(backend, user, calendar_id: str) -> None:
    try:
        calendar_sync.remove_calendar(backend, user.claims, calendar_id)
    except (APIError, DatabaseUnavailable) as exc:
        st.session_state[REFUSAL] = as_refusal(exc)
        return
    st.session_state[NOTICE] = "Calendar removed; its busy times are gone."


def section(backend, user) -> None:
    st.header("Your own calendars")
    st.caption(
        "Times your own calendar is busy are never offered. The portal keeps only when you are busy (start and "
        "end), never what, where or with whom; colleagues see those times simply as not open."
    )
    try:
        calendars = calendar_sync.my_calendars(backend, user.claims)
    except (APIError, DatabaseUnavailable) as exc:
        show_refusal(as_refusal(exc))
        return
    for row in calendars:
        with st.container(border=True):
            st.markdown(f"**{plain(row['label'])}** · {KINDS[row['kind']].split(' (')[0]}")
            st.caption(
                plain(row["masked_secret"])
                + (" · your portal sessions are written into it" if row["write_sessions"] else "")
            )
            sentence = calendar_sync.status_sentence(row)
            (st.warning if row.get("last_error") else st.caption)(plain(sentence))
            st.button(
                "Remove",
                key=f"calendar_remove_{row['id']}",
                on_click=_remove,
                args=(backend, user, row["id"]),
                icon=":material/delete:",
            )
    if calendars:
        st.button("Read now", key="calendar_read_now", on_click=_read_now, args=(backend, user), icon=":material/sync:")
    with st.expander("Connect a calendar", expanded=not calendars):
        kind = st.radio("What to connect", options=list(KINDS), format_func=KINDS.get, key="calendar_kind")
        st.text_input("Name for it (only you see it)", max_chars=80, key="calendar_label")
        if kind == "ics_url":
            st.text_input(
                "Secret address in iCal format",
                type="password",
                key="calendar_url",
                help="Google Calendar: Settings → your calendar → Integrate calendar → Secret address in iCal "
                "format. Outlook: Settings → Calendar → Shared calendars → Publish a calendar → ICS. Apple "
                "Calendar (iCloud): share the calendar as a public calendar and copy its webcal:// link.",
            )
        else:
            st.text_input("CalDAV server address", key="calendar_url", placeholder="https://caldav.icloud.com/")
            st.text_input("Username", key="calendar_username")
            st.text_input(
                "App password", type="password", key="calendar_password", help="Make an app password for the portal."
            )
            st.checkbox(
                "Also write my portal sessions into this calendar (moved and cancelled with them; no name is written)",
                key="calendar_write_sessions",
            )
        st.button("Connect", key="calendar_add", on_click=_add, args=(backend, user), icon=":material/add:")
    if refusal := st.session_state.pop(REFUSAL, None):
        st.session_state.pop(NOTICE, None)  # a refusal outranks a notice from the same click
        show_refusal(refusal)
    show_notice(NOTICE)
