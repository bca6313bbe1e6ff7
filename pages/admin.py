"""Admin: find accounts and unlock those locked by failed sign-ins."""

import pandas as pd
import streamlit as st

from components import context
from components.errors import database_errors_as_messages
from portal.admin import list_accounts, unlock_account

user = context.require_user()
st.title("Admin")
st.caption("Accounts on the portal, their lock state and licences on file.")
if not user.is_admin:
    st.error("Only administrators can open this page.")
    st.stop()

backend = context.backend()
query = st.text_input("Search by name or username", key="admin_query")
page_size = 25
page = st.number_input("Page", min_value=1, step=1, value=1, key="admin_page")
with database_errors_as_messages():
    rows, total = list_accounts(backend, user.claims, query=query, limit=page_size,
                                offset=(int(page) - 1) * page_size)

st.caption(f"{total} account(s) match.")
if rows:
    frame = pd.DataFrame(rows)[["display_name", "username", "is_consultant", "is_admin", "license_count",
                                "locked_until", "created_at"]]
    st.dataframe(frame, hide_index=True, width="stretch", column_config={
        "display_name": "Name", "username": "Username", "is_consultant": "Consultant",
        "is_admin": "Admin", "license_count": "Licences",
        "locked_until": st.column_config.DatetimeColumn("Locked until"),
        "created_at": st.column_config.DatetimeColumn("Joined", format="YYYY-MM-DD"),
    })
    locked = [r for r in rows if r["locked_until"]]
    if locked:
        choice = st.selectbox("Locked account", options=[r["id"] for r in locked], key="admin_unlock_choice",
                              format_func=lambda i: next(f"{r['display_name']} ({r['username']})"
                                                         for r in locked if r["id"] == i))
        if st.button("Unlock account", key="admin_unlock"):
            with database_errors_as_messages():
                unlock_account(backend, user.claims, choice)
            st.success("Account unlocked.")
            st.rerun()
