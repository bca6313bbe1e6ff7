"""Termination plans: agree an ending together, sign it, and follow it through."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import streamlit as st

from components import context, termination_card
from components.errors import as_refusal, database_errors_as_messages, show_notice, show_refusal, succeed
from components.formstate import FormGeneration
from components.termination_actions import NOTICE, plan_actions, withdraw_form
from components.termination_form import first_terms, terms_form
from components.termination_parts import ENDED, NO_SUCH_PLAN, conflict_notice, conflict_record, ended_notice
from portal.db import DatabaseUnavailable
from portal.refusal import Refusal
from portal.requests import my_engagements
from portal.termination import (
    PlanTerms,
    guardrails_sentence,
    my_plans,
    refresh_reminders,
    reminder_state,
    save_terms,
    start,
    termination_policy,
)

user = context.require_user()
backend = context.backend()
st.title("Termination plans")
st.caption(
    "Endings agreed by both of you: notice, closing sessions, referrals and follow-up. "
    "Every change is a new version that both sign."
)

with database_errors_as_messages():
    plans = my_plans(backend, user.claims, refresh=False)
    # Reminders (a plan awaiting your signature, a final session soon, a follow-up due) are written when
    # what they depend on changes, not on every rerun: once when the page first shows these plans in this
    # session, again after a new version, a signature or a new day.
    reminders_key = f"termination_reminders_{user.id}"
    state = reminder_state(plans, datetime.now(UTC).date())
    if st.session_state.get(reminders_key) != state:
        refresh_reminders(backend, user.claims)
        st.session_state[reminders_key] = state
    engagements = [e for e in my_engagements(backend, user.claims) if e["status"] == "active"]
    zone = context.my_timezone(backend, user)  # kept per session, not the whole profile per run
    policy = termination_policy(backend, user.claims)  # the guardrails the database enforces, stated there once
today_here = datetime.now(ZoneInfo(zone)).date()  # the member's today, not the server's (UTC)
working_together = {e["id"] for e in engagements}

show_notice(NOTICE)


def way_back() -> None:
    """Where to go from one plan: every plan, or Home."""
    left, right = st.columns(2)
    left.page_link("views/termination.py", label="All termination plans", icon=":material/flag:")
    right.page_link("views/home.py", label="Home", icon=":material/home:")


# One plan by its address (termination?plan=<id>, a bookmark or a link someone sent): that plan alone, and
# when it has ended, why there is nothing more to do with it. An unknown id and someone else's plan read alike.
asked = st.query_params.get("plan") or st.session_state.pop("view_plan", None)
shown = plans
if asked:
    focused = next((p for p in plans if p["id"] == asked), None)
    if focused is None:
        st.warning(NO_SUCH_PLAN, icon=":material/link_off:")
        way_back()
        st.query_params.pop("plan", None)
        st.stop()
    st.query_params["plan"] = asked
    if focused["status"] in ENDED:
        still = focused["engagement_id"] in working_together
        st.info(ended_notice(focused, zone, still_working_together=still), icon=":material/event_available:")
    else:
        st.caption("This plan alone, as its link shows it.")
    way_back()
    shown = [focused]


def edit_terms(plan: dict, refusal: Refusal | None) -> None:
    """The form that saves a new version. A save refused because the plan moved on meanwhile answers with the
    draft rebased onto the newest version, shown at the top of the card until the next save."""
    key = f"plan_{plan['id']}"
    current = plan["versions"][-1]
    show_refusal(refusal)
    draft = st.session_state.get(f"{key}_draft") or PlanTerms.from_version(current)
    submitted = terms_form(key, plan["engagement_id"], draft, backend=backend, claims=user.claims, refusal=refusal)
    if submitted is None:
        # The version the widgets were first drawn from: a save names it, so the database refuses it if the
        # plan has moved on meanwhile.
        st.session_state.setdefault(f"{key}_base", current["version"])
        return
    started = st.session_state.get(f"{key}_base", current["version"])
    try:
        outcome = save_terms(backend, user.claims, plan, submitted, started_version=started)
    except (Refusal, DatabaseUnavailable) as exc:  # nothing typed is lost: the form keeps it for another try
        st.session_state[f"{key}_draft"] = submitted
        st.session_state[f"{key}_refusal"] = as_refusal(exc)
        st.rerun()
    if outcome.saved:
        forget_edits(key)
        signed = "" if plan["status"] == "draft" else ", signed by you; it awaits the other signature."
        succeed(NOTICE, f"Saved as a new version{signed}")
    latest = outcome.plan["versions"][-1]["version"]
    st.session_state[f"{key}_draft"] = outcome.rebased.terms
    st.session_state[f"{key}_base"] = latest
    st.session_state[f"{key}_conflict"] = conflict_record(outcome.plan, started, outcome.rebased)
    st.session_state.pop(f"{key}_refusal", None)
    FormGeneration(key).renew()  # draw the form afresh from the moved draft
    st.rerun()


def forget_edits(key: str) -> None:
    """After a save or a discard: the form is drawn afresh from the plan's current version on the next run."""
    for suffix in ("refusal", "draft", "base", "conflict"):
        st.session_state.pop(f"{key}_{suffix}", None)
    FormGeneration(key).renew()


def plan_card(plan: dict) -> None:
    current = plan["versions"][-1]
    key = f"plan_{plan['id']}"
    editable = plan["status"] in ("draft", "proposed", "agreed")
    refusal = st.session_state.get(f"{key}_refusal")  # until the next save: its sentences stay by their fields
    conflict = st.session_state.get(f"{key}_conflict") if editable else None
    with st.container(border=True, key=f"{key}_card"):
        termination_card.header(plan)
        if plan["status"] in ENDED and not asked:  # opened by its link, the notice above says it
            st.caption(ended_notice(plan, zone, still_working_together=plan["engagement_id"] in working_together))
        if not editable:  # e.g. the plan was withdrawn while you were editing it
            show_refusal(refusal)
        if conflict:
            # A save refused because the plan changed: shown here, open, above everything else on the card,
            # with the form itself, so it cannot hide in a collapsed expander.
            with st.container(border=True, key=f"{key}_resolve"):
                st.markdown("**Propose changes**" if plan["status"] != "draft" else "**Edit the draft**")
                conflict_notice(conflict)
                edit_terms(plan, refusal)
                discard = f"Discard my changes and start again from version {current['version']}"
                if st.button(discard, key=f"{key}_discard", icon=":material/undo:"):
                    forget_edits(key)
                    st.rerun()
        termination_card.overview(plan, zone, today_here)
        termination_card.checklist(plan, key, zone, backend=backend, claims=user.claims)
        plan_actions(plan, key, zone, backend=backend, claims=user.claims, my_name=user.display_name)
        if editable:
            if not conflict:
                with st.expander("Propose changes" if plan["status"] != "draft" else "Edit the draft"):
                    edit_terms(plan, refusal)
            withdraw_form(plan, key, backend=backend, claims=user.claims)
        termination_card.version_history(plan, key, zone)


plans_tab, start_tab = st.tabs(["Plans", "Start a plan"])

with plans_tab:
    if not plans:
        st.caption("No termination plans yet.")
    for plan in shown:
        plan_card(plan)

with start_tab:
    open_engagements = {p["engagement_id"] for p in plans if p["status"] in ("draft", "proposed", "agreed")}
    candidates = [e for e in engagements if e["id"] not in open_engagements]
    if not candidates:
        st.caption("Every engagement you are in already has an open plan, or you have none.")
    else:
        names = {
            # not markdown: a selectbox's options are plain text
            e["id"]: f"{e['other_name']} (your {'client' if e['my_role'] == 'consultant' else 'consultant'})"
            for e in candidates
        }
        chosen = st.selectbox("Engagement", options=list(names), format_func=names.get, key="plan_new_engagement")
        engagement = next(e for e in candidates if e["id"] == chosen)
        if engagement["my_role"] == "consultant":
            st.info(guardrails_sentence(policy), icon=":material/gavel:")
        refusal = st.session_state.get("plan_new_refusal")
        show_refusal(refusal)
        submitted = terms_form(
            "plan_new", chosen, first_terms(today_here), backend=backend, claims=user.claims, refusal=refusal
        )
        if submitted is not None:
            try:
                start(backend, user.claims, chosen, submitted)
            except Refusal as refused:
                st.session_state["plan_new_refusal"] = refused
                st.rerun()
            st.session_state.pop("plan_new_refusal", None)
            succeed(NOTICE, "Draft saved. Propose it when you are ready.")
