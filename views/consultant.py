"""A consultant's profile: competencies, licences, formats, fee, availability; request a consultation."""

from datetime import date

import streamlit as st

from components import context
from components.cards import competency_badges, conflict_flag, fee, formats
from components.errors import database_errors_as_messages, show_refusal
from components.reference import modality_names, reference_lists
from components.screening_check import forget_screening_check, screening_check_panel
from components.slots import booked_from_picker, picked_time_gone, slot_label, slot_picker
from components.waitlist import waitlist_offer
from portal.appointments import (
    RECORD_COUNTS_ONLY_YOURS,
    book,
    cancellation_policy,
    first_session_proposal,
    professionalism_record,
    record_summary,
)
from portal.availability import open_slots
from portal.consultants import availability_summary, get_consultant
from portal.db.errors import is_not_found
from portal.local_times import date_words
from portal.plain_text import plain
from portal.refusal import Refusal
from portal.requests import request_consultation
from portal.screening import REQUEST_SCREENING_FOUND
from portal.search import LEVELS

user = context.require_user()
backend = context.backend()
consultant_id = st.query_params.get("id") or st.session_state.get("view_consultant")
if not consultant_id:
    st.title("Consultant profile")
    st.caption("Competencies, licences and availability, and a way to ask for a consultation.")
    st.info("Pick a consultant from Find a consultant.")
    st.page_link("views/find.py", label="Find a consultant", icon=":material/search:")
    st.stop()


def not_available(message: str) -> None:
    """A link to someone who left, or whom a conflict keeps from you: the same page either way (which one is not
    said), with the way back. The address keeps its id, so the next rerun (a component's report, a click) says
    the same instead of "Pick a consultant" (a refusal writes nothing: asking again costs one read)."""
    st.title("Consultant profile")
    st.warning(
        f"{message} They may have left the portal, or a conflict may rule out working together; the portal does "
        "not say which.",
        icon=":material/person_off:",
    )
    st.page_link("views/find.py", label="Find a consultant", icon=":material/search:")
    st.stop()


with database_errors_as_messages():
    # One profile view per visit: reruns on this page reuse it, so the screening log records one view.
    cached = st.session_state.get("consultant_doc")
    if not cached or cached["id"] != consultant_id or st.session_state.pop("consultant_refresh", False):
        try:
            cached = get_consultant(backend, user.claims, consultant_id)
        except Refusal as exc:  # both backends raise every database error as a Refusal
            if not is_not_found(exc):
                raise
            not_available(exc.message)
        st.session_state["consultant_doc"] = cached
    doc = cached
    _, languages = reference_lists(backend, user.claims)
    modalities = modality_names(backend, user.claims)
st.query_params["id"] = consultant_id

pronouns = f" ({plain(doc['pronouns'])})" if doc.get("pronouns") else ""
st.title(f"{plain(doc['display_name'])}{pronouns}")
spoken = ", ".join(languages.get(code, code) for code in doc["languages"])
st.caption(
    f"Consultant profile · {formats(doc)} · {fee(doc)} · {spoken} · "
    f"{doc.get('years_in_practice') or 0} years in practice"
)
conflict_flag(doc.get("conflict"))
if doc.get("bio"):
    st.markdown(plain(doc["bio"]))  # the consultant's words, never their Markdown

st.header("Competencies")
st.markdown(competency_badges(doc["competencies"]))
with database_errors_as_messages():
    viewer_zone = context.my_timezone(backend, user)  # the dates below are the reader's days
for c in doc["competencies"]:
    evidence = ", ".join(
        str(x)
        for x in (
            c.get("evidence_body"),
            c.get("evidence_year"),
            f"{c['training_hours']} training hours" if c.get("training_hours") else None,
        )
        if x
    )
    status = (
        f"verified {date_words(c['verified_at'], viewer_zone)}"
        if c.get("verified")
        else "credential expired"
        if c.get("expired")
        else "self-attested"
    )
    st.caption(
        f"{plain(c['name'])}: level {c['level']} ({LEVELS[c['level']]}) · {status}"
        + (f" · {plain(evidence)}" if evidence else "")
    )

st.header("Licences")
for lic in doc["licenses"]:
    expiry = f"{'expired' if lic['expired'] else 'expires'} {date_words(lic['expires_on'], viewer_zone)}"
    status = "" if lic["expired"] else " · verified" if lic["verified"] else " · self-attested"
    st.caption(
        f"{plain(lic['license_type'])} in {lic['jurisdiction']} · no. {plain(lic['license_number'])} · {expiry}{status}"
    )

st.header("Availability")
availability = doc["availability"]
st.caption(availability_summary(availability, doc["timezone"]))
st.caption(
    f"Sessions of {availability.get('session_minutes') or 50} minutes. "
    + ("Taking new clients." if availability.get("has_room") else "Not taking new clients right now.")
)

with database_errors_as_messages():
    record = professionalism_record(backend, user.claims, consultant_id)
if record["shown"]:
    st.caption(f":material/verified_user: Professionalism record: {record_summary(record)}")
    st.caption(RECORD_COUNTS_ONLY_YOURS)
else:
    st.caption(":material/verified_user: Professionalism record: shown once it rests on at least 5 events.")

st.header("Dual relationships")
st.caption("Screens your private declarations and theirs. You only ever see reasons drawn from what you entered.")
screening_check_panel(backend, user.claims, consultant_id, key=f"profile_{consultant_id}")

st.header("Ask for a consultation")
if doc.get("active_engagement"):
    st.success("You already work with this consultant.", icon=":material/handshake:")
elif doc.get("pending_request"):
    sent_with = st.session_state.pop("request_sent_notice", None)
    if sent_with:
        st.success(
            "Request sent. The consultant will answer in their inbox; you will see the outcome under Requests.",
            icon=":material/send:",
        )
        if sent_with in ("potential", "blocking"):
            # The matched screening ran with the request; both of you see this, from Check for conflicts.
            st.warning(REQUEST_SCREENING_FOUND[sent_with], icon=":material/report:")
    else:
        st.info("Your request is waiting for an answer. You will see it under Requests.", icon=":material/schedule:")
    with database_errors_as_messages():
        my_tz = context.my_timezone(backend, user)  # kept per session, not the whole profile per run
        proposal = first_session_proposal(backend, user.claims, consultant_id)
    # One slot, drawn on every run, for the outcome of the last click: the expander below keeps its place (and so
    # stays open in the browser) whether or not a message shows.
    message_slot = st.empty()
    if notice := st.session_state.pop("first_slot_notice", None):
        message_slot.success(notice, icon=":material/event:")
    elif refusal := st.session_state.pop("first_slot_refusal", None):
        show_refusal(refusal, where=message_slot)
    if proposal:
        # One first session per request: once proposed, the time is shown instead of a picker.
        when = slot_label(proposal["starts_at"], my_tz, doc["timezone"])
        state = (
            "confirmed by the consultant"
            if proposal["status"] == "confirmed"
            else "it awaits the consultant's confirmation, with your request"
        )
        st.info(
            f"First session proposed: **{when}**; {state}. To cancel or move it, open Appointments.",
            icon=":material/event:",
        )
        st.page_link("views/appointments.py", label="Appointments", icon=":material/event:")
    else:
        with st.expander("Propose a first session"):
            with database_errors_as_messages():
                policy = cancellation_policy(backend, user.claims, consultant_id)

            def open_times(first: date, last: date) -> list[dict]:
                """The days the week view shows (it asks for the weeks around the one shown)."""
                with database_errors_as_messages():
                    return open_slots(backend, user.claims, consultant_id, first, last, user.id)

            chosen = slot_picker(
                open_times,
                viewer_tz=my_tz,
                consultant_tz=doc["timezone"],
                key="first_slot",
                late_cancel_hours=policy.get("late_cancel_hours"),
            )
            if (
                chosen
                and st.button("Propose this time", key="first_slot_submit", type="primary")
                and not picked_time_gone("first_slot")
            ):
                try:
                    with database_errors_as_messages():
                        book(backend, user.claims, consultant_id, chosen)
                except Refusal as exc:
                    st.session_state["first_slot_refusal"] = exc
                else:
                    booked_from_picker("first_slot", chosen)
                    st.session_state["first_slot_notice"] = (
                        "Proposed. The consultant will confirm it with your request."
                    )
                # Drawn again from the database: the proposal (or, after a refusal, the times still open).
                st.rerun()
elif not availability.get("has_room"):
    st.warning(
        "This consultant is not taking new clients right now, so they cannot be asked.", icon=":material/hourglass:"
    )
    waitlist_offer(backend, user, consultant_id)
else:
    offered = [c["modality"] for c in doc["competencies"]]
    refusal = st.session_state.get("request_refusal")  # until a request is sent
    with st.form("request_form"):
        wanted = st.multiselect(
            "Modalities you would like to work with",
            options=offered,
            format_func=lambda code: modalities.get(code, code),
            key="request_modalities",
        )
        message = st.text_area(
            "Message",
            max_chars=1500,
            key="request_message",
            placeholder="A few lines on what you are looking for. Keep clinical detail for the first session.",
        )
        show_refusal(refusal, "message")  # not member text: the field's rule
        sent = st.form_submit_button("Send request", type="primary", key="request_send")
    if sent:
        try:
            with database_errors_as_messages():
                sent = request_consultation(backend, user.claims, consultant_id, wanted, message)
        except Refusal as exc:
            st.session_state["request_refusal"] = exc
            if exc.field != "message":
                show_refusal(exc)
            else:
                st.rerun()
        else:
            st.session_state.pop("request_refusal", None)
            st.session_state.pop("request_message", None)
            st.session_state["consultant_refresh"] = True
            # The request's screening is now the latest answer: a green check from before it would contradict it.
            forget_screening_check(f"profile_{consultant_id}")
            st.session_state["request_sent_notice"] = sent.get("conflict") or "none"
            st.rerun()
