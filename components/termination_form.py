"""The termination plan's terms as a form: a new plan's, or a new version of one. A refusal from the last try
shows next to the field it names."""

from __future__ import annotations

from datetime import date, timedelta

import streamlit as st

from components.errors import database_errors_as_messages, show_refusal
from components.formstate import FormGeneration
from portal.db import Backend, Claims
from portal.refusal import Refusal
from portal.termination import CHECKLIST, REASONS, PlanTerms, referral_candidates


def first_terms(today: date) -> PlanTerms:
    """What a new plan's form starts from: ending discussed today (the member's), four weeks' notice."""
    return PlanTerms(
        reason="goals_met",
        discussed_on=today,
        final_session_on=today + timedelta(days=28),
        sessions_remaining=4,
        closing_sessions=1,
    )


def referral_names(backend: Backend, claims: Claims, key: str, engagement_id: str, base: PlanTerms) -> dict[str, str]:
    """Portal consultants to refer to: those already on the plan and those the search box finds, by id."""
    query = st.text_input(
        "Find a portal consultant to refer to (screened for conflicts with the client)", key=f"{key}_referral_query"
    )
    with database_errors_as_messages():
        found = referral_candidates(backend, claims, engagement_id, query)
    known = {r["consultant_id"]: r["name"] for r in base.referrals if r.get("consultant_id")}
    # Only the client is told which names are not available to them (the consultant's list is a plain name search).
    known.update(
        {
            c["id"]: c["display_name"] + (" (not available to you)" if c.get("available_to_me") is False else "")
            for c in found
        }
    )
    return known


def terms_form(
    key: str,
    engagement_id: str,
    base: PlanTerms,
    *,
    backend: Backend,
    claims: Claims,
    refusal: Refusal | None = None,
) -> PlanTerms | None:
    """The plan's terms, drawn from `base`; returns them when submitted. After `FormGeneration(key).renew()` the
    widgets are drawn afresh from `base` (new keys), e.g. with a draft moved onto a newer version of the plan.
    Who initiated the ending is the plan's (who started it), derived by the database: not a term of the form."""
    form = FormGeneration(key)
    known = referral_names(backend, claims, key, engagement_id, base)
    with st.form(f"{key}_form"):
        reason = st.selectbox(
            "Reason",
            options=list(REASONS),
            format_func=REASONS.get,
            index=list(REASONS).index(base.reason),
            key=form.key("reason"),
        )
        show_refusal(refusal, "reason")
        notes = st.text_area("Notes on the reason", value=base.reason_notes, key=form.key("reason_notes"))
        safety = st.text_area(
            "Safety justification (only when the reason is Safety)",
            value=base.safety_justification,
            key=form.key("safety"),
        )
        show_refusal(refusal, "safety_justification")
        left, right = st.columns(2)
        discussed = left.date_input("Ending first discussed", value=base.discussed_on, key=form.key("discussed"))
        final = right.date_input("Planned final session", value=base.final_session_on, key=form.key("final"))
        show_refusal(refusal, "final_session_on")
        remaining = left.number_input(
            "Sessions remaining", min_value=0, max_value=52, value=base.sessions_remaining, key=form.key("remaining")
        )
        show_refusal(refusal, "sessions_remaining")
        closing = right.number_input(
            "Closing sessions (to process the ending)",
            min_value=0,
            max_value=10,
            value=base.closing_sessions,
            key=form.key("closing"),
        )
        show_refusal(refusal, "closing_sessions")
        portal_referrals = st.multiselect(
            "Referrals on the portal",
            options=list(known),
            format_func=known.get,
            default=[r["consultant_id"] for r in base.referrals if r.get("consultant_id")],
            key=form.key("referrals"),
        )
        external = st.text_input(
            "Other referrals (names, separated by semicolons)",
            value="; ".join(r["name"] for r in base.referrals if not r.get("consultant_id")),
            key=form.key("external"),
        )
        show_refusal(refusal, "referrals")
        follow_up = st.date_input("Follow-up check-in (optional)", value=base.follow_up_on, key=form.key("follow_up"))
        show_refusal(refusal, "follow_up_on")
        aftercare = st.text_area("Aftercare notes", value=base.aftercare_notes, key=form.key("aftercare"))
        checklist = st.multiselect(
            "Include in the checklist",
            options=list(CHECKLIST),
            format_func=CHECKLIST.get,
            default=base.checklist or list(CHECKLIST),
            key=form.key("checklist"),
            help="The steps this ending should include. None of them is marked done here.",
        )
        st.caption(
            "These are the steps to work through before the ending, not steps already taken: once the plan "
            "is proposed, each of you ticks them off on the plan as they happen."
        )
        if not st.form_submit_button("Save", type="primary", key=f"{key}_save"):
            return None
    referrals = [{"consultant_id": cid, "name": known[cid]} for cid in portal_referrals]
    referrals += [{"name": name.strip()} for name in external.split(";") if name.strip()]
    return PlanTerms(
        reason=reason,
        reason_notes=notes,
        discussed_on=discussed,
        final_session_on=final,
        sessions_remaining=int(remaining),
        closing_sessions=int(closing),
        referrals=referrals,
        follow_up_on=follow_up,
        aftercare_notes=aftercare,
        checklist=checklist,
        safety_justification=safety,
    )
