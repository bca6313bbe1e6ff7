"""Show database failures as sentences, never tracebacks."""

from __future__ import annotations

from contextlib import contextmanager

import streamlit as st

from portal.db import APIError, DatabaseUnavailable, friendly_message


@contextmanager
def database_errors_as_messages():
    """Wrap a page's database calls: errors become a message and the page stops."""
    try:
        yield
    except (APIError, DatabaseUnavailable) as exc:
        st.error(friendly_message(exc), icon=":material/error:")
        st.stop()
