"""Admin: verify credentials, extend the modality list, and look after accounts."""

import streamlit as st

from components import context
from components.admin_accounts import accounts_tab
from components.admin_lists import modalities_tab, rules_tab
from components.admin_queue import queue_tab
from components.admin_records import disputes_tab, outbox_tab
from components.errors import database_errors_as_messages

user = context.require_user()
st.title("Admin")
st.caption(
    "Verify competencies and licences, extend the modality list, look after accounts, and see what the portal emailed."
)
if not user.is_admin:
    st.error("Only administrators can open this page.")
    st.stop()

backend = context.backend()
with database_errors_as_messages():
    admin_zone = context.my_timezone(backend, user)  # every time on this page is in the admin's own zone
queue, modalities, rules, accounts, disputes, outbox = st.tabs(
    ["Verification queue", "Modalities", "Conflict rules", "Accounts", "Disputed sessions", "Outbox"]
)
with queue:
    queue_tab(backend, user, admin_zone)
with modalities:
    modalities_tab(backend, user)
with rules:
    rules_tab(backend, user)
with accounts:
    accounts_tab(backend, user, admin_zone)
with disputes:
    disputes_tab(backend, user, admin_zone)
with outbox:
    outbox_tab(backend, user, admin_zone)
