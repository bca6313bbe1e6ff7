"""Requests: answer colleagues who asked you, and follow the ones you sent."""

import streamlit as st

from components import context
from components.errors import database_errors_as_messages, show_notice, show_refusal, succeed
from components.reference import modality_names
from components.screening_check import screening_check_panel
from portal.local_times import local_day, times_caption
from portal.plain_text import plain
from portal.refusal import Refusal
from portal.requests import my_engagements, my_requests, respond

STATUS_BADGES = {
    "pending": ":orange-badge[Waiting for an answer]",
    "accepted": ":green-badge[Accepted]",
    "declined": ":red-badge[Declined]",
    "withdrawn": ":gray-badge[Withdrawn]",
}

user = context.require_user()
backend = context.backend()
st.title("Requests")

with database_errors_as_messages():
    rows = my_requests(backend, user.claims)
    engagements = my_engagements(backend, user.claims)
    modalities = modality_names(backend, user.claims)
    zone = context.my_timezone(backend, user)  # kept per session, not the whole profile per run

st.caption(f"Consultation requests you received and sent, with their outcomes. {times_caption(zone, 'Dates')}")

received = [r for r in rows if r["direction"] == "received"]
sent = [r for r in rows if r["direction"] == "sent"]


def day(instant: str) -> str:
    return local_day(instant, zone)


def describe(row: dict) -> str:
    wanted = ", ".join(modalities.get(m, m) for m in row["modalities"]) or "no particular modality"
    return f"{STATUS_BADGES[row['status']]} · {wanted} · sent {day(row['created_at'])}"


show_notice("requests_notice")

if user.is_consultant or received:
    st.header(f"Received ({sum(r['status'] == 'pending' for r in received)} waiting)")
    if not received:
        st.caption("No requests yet. Colleagues find you through search when your profile offers consultation.")
    for row in received:
        with st.container(border=True, key=f"request_card_{row['id']}"):
            st.markdown(f"**{plain(row['other_name'])}** · {describe(row)}")
            # Your licence is checked where the client lives when you accept.
            st.caption(
                f"Lives in {row['client_lives_in']}"
                if row.get("client_lives_in")
                else "Has not said where they live yet: you can accept once they have."
            )
            st.markdown(f"> {plain(row['message'])}")  # the sender's words, never their Markdown
            if row["status"] == "declined" and row.get("decline_reason"):
                st.caption(f"You declined: {plain(row['decline_reason'])}")
            if row["status"] != "pending":
                continue
            with st.expander("Check for conflicts before you answer"):
                screening_check_panel(backend, user.claims, row["other_id"], key=f"request_{row['id']}")
            error_key = f"request_error_{row['id']}"
            accept_col, decline_col = st.columns([1, 2])
            if accept_col.button("Accept", key=f"request_accept_{row['id']}", type="primary"):
                try:
                    with database_errors_as_messages():
                        respond(backend, user.claims, row["id"], accept=True)
                    succeed("requests_notice", f"You accepted {plain(row['other_name'])}. An engagement began.")
                except Refusal as exc:
                    st.session_state[error_key] = exc
            reason = decline_col.text_input(
                "Reason for declining",
                key=f"request_reason_{row['id']}",
                placeholder="e.g. my caseload is full until March",
            )
            if decline_col.button("Decline", key=f"request_decline_{row['id']}"):
                try:
                    with database_errors_as_messages():
                        respond(backend, user.claims, row["id"], accept=False, reason=reason)
                    succeed("requests_notice", f"You declined {plain(row['other_name'])}'s request.")
                except Refusal as exc:
                    st.session_state[error_key] = exc
            show_refusal(st.session_state.get(error_key))

st.header("Sent")
if not sent:
    st.caption("You have not asked anyone yet.")
    st.page_link("views/find.py", label="Find a consultant", icon=":material/search:")
for row in sent:
    with st.container(border=True, key=f"sent_card_{row['id']}"):
        st.markdown(f"**{plain(row['other_name'])}** · {describe(row)}")
        if row["status"] == "declined":
            st.caption(f"Their reason: {plain(row.get('decline_reason')) or 'not given'}")
        elif row["status"] == "accepted":
            st.caption(f"Accepted {day(row['responded_at'])}. You can now book sessions together.")

st.header("Engagements")
if not engagements:
    st.caption("None yet. An engagement begins when a consultant accepts a request.")
for engagement in engagements:
    role = "Your client" if engagement["my_role"] == "consultant" else "Your consultant"
    waiver = (
        f" · :blue-badge[Waiver signed {day(engagement['waiver_signed_at'])}]"
        if engagement.get("waiver_signed_at")
        else ""
    )
    since = day(engagement["started_at"])
    st.markdown(f"{role} **{plain(engagement['other_name'])}** · {engagement['status']} since {since}{waiver}")
    st.page_link("views/appointments.py", label="Book a session", icon=":material/event:")
