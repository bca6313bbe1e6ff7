"""The unread-notification count in the sidebar, refreshing itself without rerunning the page."""

from __future__ import annotations

import streamlit as st

from portal.auth import CurrentUser
from portal.db import APIError, Backend, DatabaseUnavailable
from portal.notifications import unread_count


@st.fragment(run_every=30)
def unread_badge(backend: Backend, user: CurrentUser) -> None:
    try:
        count = unread_count(backend, user.claims)
    except (APIError, DatabaseUnavailable):
        return  # the page itself reports database trouble; the badge just waits for the next tick
    label = f"Notifications ({count} unread)" if count else "Notifications"
    st.page_link(
        "views/notifications.py",
        label=label,
        icon=":material/notifications_active:" if count else ":material/notifications:",
    )
