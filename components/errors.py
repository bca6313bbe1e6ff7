"""How pages answer: a refusal next to the field it names, a success notice after the rerun, and database
failures as sentences, never tracebacks."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, NoReturn

import streamlit as st

from portal.db import APIError, DatabaseUnavailable, friendly_message
from portal.refusal import Refusal

ERROR_ICON = ":material/error:"
NOTICE_ICON = ":material/check_circle:"


@contextmanager
def database_errors_as_messages():
    """Wrap a page's database calls: errors become a message and the page stops. A refusal a core function raised
    for its page (its own check, or the database's refusal in its words) goes on to the page, which shows it next
    to its field (show_refusal)."""
    try:
        yield
    except (APIError, DatabaseUnavailable) as exc:
        if isinstance(exc, Refusal) and not exc.from_database:
            raise
        st.error(friendly_message(exc), icon=ERROR_ICON)
        st.stop()


def as_refusal(exc: Exception) -> Refusal:
    """A failure a page keeps to show next to its form: a refusal as it is; the database out of reach in words."""
    return exc if isinstance(exc, Refusal) else Refusal(friendly_message(exc))


def show_refusal(refusal: Refusal | None, field: str | None = None, *, where: Any = None) -> None:
    """Show, here (or in the slot `where`), what `refusal` says about `field`; with no field, its sentence for the
    form as a whole. Nothing when there is no refusal or it says nothing about that field."""
    if refusal is None:
        return
    sentence = refusal.message if field is None else refusal.fields.get(field)
    if sentence:
        (where or st).error(sentence, icon=ERROR_ICON)


def succeed(notice_key: str, notice: str) -> NoReturn:
    """A success: run the page again, which shows `notice` once (show_notice with the same key)."""
    st.session_state[notice_key] = notice
    st.rerun()


def show_notice(notice_key: str) -> None:
    """The notice a success left for this run (succeed), shown once."""
    if notice := st.session_state.pop(notice_key, None):
        st.success(notice, icon=NOTICE_ICON)
