"""Admin → Disputed sessions and Outbox: what the parties recorded differently, and where each email stands."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from components import context
from components.errors import database_errors_as_messages
from components.mail_sender import local_mail_settings
from portal.admin import Refusal, disputed_sessions, outbox_rows, resolve_attendance
from portal.appointments import OUTCOMES
from portal.email_choices import admin_outbox
from portal.local_times import local_time, zone_words
from portal.mydata import plural
from portal.plain_text import plain


def disputes_tab(backend, user, admin_zone: str) -> None:
    if notice := st.session_state.pop("dispute_notice", None):  # shown after the rerun that follows a decision
        st.success(notice, icon=":material/check_circle:")
    st.caption(
        "Sessions the two parties recorded differently. They count for neither until you decide; both read "
        "your decision and your note, and it is audited."
    )
    with database_errors_as_messages():
        disputes = disputed_sessions(backend, user.claims)
    if not disputes:
        st.caption("No disputed sessions.")
    for item in disputes:
        with st.container(border=True, key=f"dispute_{item['id']}"):
            when = f"**{local_time(item['starts_at'], admin_zone)}** ({admin_zone})"
            st.markdown(f"{when} · {plain(item['consultant'])} (consultant) with {plain(item['client'])} (client)")
            for said in item["statements"]:
                who = plain(item["consultant"] if said["by"] == "consultant" else item["client"])
                note = f" — “{plain(said['note'])}”" if said.get("note") else ""
                st.markdown(f"- {who}: {OUTCOMES[said['outcome']]}{note}")
            _resolve_form(backend, user, item, admin_zone)


def _resolve_form(backend, user, item: dict[str, Any], admin_zone: str) -> None:
    with st.form(f"dispute_form_{item['id']}", border=False):
        outcome = st.selectbox(
            "What happened",
            list(OUTCOMES),
            format_func=OUTCOMES.get,
            index=None,
            placeholder="Choose…",
            key=f"dispute_outcome_{item['id']}",
        )
        note = st.text_input("How you decided (both parties read it)", key=f"dispute_note_{item['id']}")
        if st.form_submit_button("Resolve", key=f"dispute_resolve_{item['id']}"):
            try:
                resolve_attendance(backend, user.claims, item["id"], outcome, note)
            except Refusal as exc:
                st.error(exc.message, icon=":material/error:")
            else:
                st.session_state["dispute_notice"] = (
                    f"Resolved: the session of {local_time(item['starts_at'], admin_zone)} ({zone_words(admin_zone)}) "
                    f"between {plain(item['consultant'])} and {plain(item['client'])} is recorded as "
                    f"“{OUTCOMES[outcome]}”. Both were told, with your note."
                )
                st.rerun()


def outbox_tab(backend, user, admin_zone: str) -> None:
    settings = context.settings()
    local_mailbox = settings.data_dir / "mailbox" if settings.backend == "local" else None
    no_server = local_mailbox is not None and not local_mail_settings(settings).smtp_host
    st.caption(
        "Every notice that also goes by email, newest first, and where it stands. Held rows wait for a "
        "verified address; a failed send is tried again with growing pauses before it counts as failed."
        + (
            " No mail server is set up (SMTP_HOST): nothing leaves this machine; each message is written to "
            "the local mailbox, a folder only the account running the portal can read. No page shows an email's "
            "content or links."
            if no_server
            else ""
        )
    )
    st.button("Refresh", key="outbox_refresh", icon=":material/refresh:")  # a click reruns the tab with fresh rows
    with database_errors_as_messages():
        outbox = admin_outbox(backend, user.claims, limit=200)
    if not outbox:
        st.caption("Nothing has been queued for email yet.")
        return
    st.caption(f"The latest {plural(len(outbox), 'email')}; times are {zone_words(admin_zone)}.")
    st.dataframe(
        pd.DataFrame(outbox_rows(outbox, admin_zone)),
        hide_index=True,
        width="stretch",
        key="outbox_rows",
        column_config={  # Status leads, so it is in view at 1,280 px whatever the long "What" holds
            "Status": st.column_config.TextColumn("Status", width="medium"),
            "What": st.column_config.TextColumn("What", width="large"),
        },
    )
