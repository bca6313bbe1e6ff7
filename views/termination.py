"""Termination plans: agree an ending together, sign it, and follow it through."""

from datetime import UTC, date, datetime, timedelta

import altair as alt
import pandas as pd
import streamlit as st

from components import context
from components.errors import database_errors_as_messages
from portal.requests import my_engagements
from portal.termination import (
    CHECKLIST,
    REASONS,
    PlanError,
    PlanTerms,
    awaiting,
    complete,
    differences,
    my_plans,
    propose,
    referral_candidates,
    refresh_reminders,
    reminder_state,
    revise,
    sign,
    start,
    summary_html,
    tick,
    withdraw,
)

STATUS_BADGES = {"draft": ":gray-badge[Draft]", "proposed": ":orange-badge[Proposed]",
                 "agreed": ":green-badge[Agreed]", "completed": ":blue-badge[Completed]",
                 "withdrawn": ":red-badge[Withdrawn]"}

user = context.require_user()
backend = context.backend()
st.title("Termination plans")
st.caption("Endings agreed by both of you: notice, closing sessions, referrals and follow-up. "
           "Every change is a new version that both sign.")

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

if notice := st.session_state.pop("termination_notice", None):
    st.success(notice, icon=":material/check_circle:")


def terms_form(key: str, engagement_id: str, my_role: str, initial: PlanTerms | None) -> PlanTerms | None:
    """The plan's terms; returns them when submitted. Errors from the last try show next to their fields."""
    errors = st.session_state.get(f"{key}_errors", {})

    def error(name: str) -> None:
        if errors.get(name):
            st.error(errors[name], icon=":material/error:")

    today = date.today()
    base = initial or PlanTerms(initiated_by="consultant" if my_role == "consultant" else "client",
                                reason="goals_met", discussed_on=today, final_session_on=today + timedelta(days=28),
                                sessions_remaining=4, closing_sessions=1)
    query = st.text_input("Find a portal consultant to refer to (screened for conflicts with the client)",
                          key=f"{key}_referral_query")
    with database_errors_as_messages():
        found = referral_candidates(backend, user.claims, engagement_id, query)
    known = {r["consultant_id"]: r["name"] for r in base.referrals if r.get("consultant_id")}
    known.update({c["id"]: c["display_name"] for c in found})
    with st.form(f"{key}_form"):
        reason = st.selectbox("Reason", options=list(REASONS), format_func=REASONS.get,
                              index=list(REASONS).index(base.reason), key=f"{key}_reason")
        error("reason")
        notes = st.text_area("Notes on the reason", value=base.reason_notes, key=f"{key}_reason_notes")
        safety = st.text_area("Safety justification (only when the reason is Safety)",
                              value=base.safety_justification, key=f"{key}_safety")
        error("safety_justification")
        left, right = st.columns(2)
        discussed = left.date_input("Ending first discussed", value=base.discussed_on, key=f"{key}_discussed")
        final = right.date_input("Planned final session", value=base.final_session_on, key=f"{key}_final")
        error("final_session_on")
        remaining = left.number_input("Sessions remaining", min_value=0, max_value=52,
                                      value=base.sessions_remaining, key=f"{key}_remaining")
        error("sessions_remaining")
        closing = right.number_input("Closing sessions (to process the ending)", min_value=0, max_value=10,
                                     value=base.closing_sessions, key=f"{key}_closing")
        error("closing_sessions")
        portal_referrals = st.multiselect("Referrals on the portal", options=list(known), format_func=known.get,
                                          default=[r["consultant_id"] for r in base.referrals
                                                   if r.get("consultant_id")], key=f"{key}_referrals")
        external = st.text_input("Other referrals (names, separated by semicolons)",
                                 value="; ".join(r["name"] for r in base.referrals if not r.get("consultant_id")),
                                 key=f"{key}_external")
        follow_up = st.date_input("Follow-up check-in (optional)", value=base.follow_up_on, key=f"{key}_follow_up")
        error("follow_up_on")
        aftercare = st.text_area("Aftercare notes", value=base.aftercare_notes, key=f"{key}_aftercare")
        checklist = st.multiselect("Checklist for this ending", options=list(CHECKLIST), format_func=CHECKLIST.get,
                                   default=base.checklist or list(CHECKLIST), key=f"{key}_checklist")
        if st.form_submit_button("Save", type="primary", key=f"{key}_save"):
            referrals = [{"consultant_id": cid, "name": known[cid]} for cid in portal_referrals]
            referrals += [{"name": name.strip()} for name in external.split(";") if name.strip()]
            return PlanTerms(initiated_by=base.initiated_by, reason=reason, reason_notes=notes,
                             discussed_on=discussed, final_session_on=final, sessions_remaining=int(remaining),
                             closing_sessions=int(closing), referrals=referrals, follow_up_on=follow_up,
                             aftercare_notes=aftercare, checklist=checklist, safety_justification=safety)
    return None


def timeline(plan: dict, terms: dict) -> None:
    events = [{"what": "Booked session" if s["status"] != "completed" else "Session held",
               "when": pd.Timestamp(s["starts_at"]).tz_convert(None)} for s in plan["sessions"]]
    events += [{"what": "Ending discussed", "when": pd.Timestamp(terms["discussed_on"])},
               {"what": "Final session", "when": pd.Timestamp(terms["final_session_on"])},
               {"what": "Today", "when": pd.Timestamp(date.today())}]
    if terms.get("follow_up_on"):
        events.append({"what": "Follow-up", "when": pd.Timestamp(terms["follow_up_on"])})
    chart = alt.Chart(pd.DataFrame(events)).mark_point(filled=True, size=120).encode(
        x=alt.X("when:T", title=None), y=alt.Y("what:N", title=None, sort=[
            "Ending discussed", "Session held", "Booked session", "Today", "Final session", "Follow-up"]),
        color=alt.Color("what:N", legend=None), tooltip=["what", alt.Tooltip("when:T", format="%a %d %b %Y")])
    st.altair_chart(chart.properties(height=200), width="stretch")


plans_tab, start_tab = st.tabs(["Plans", "Start a plan"])

with plans_tab:
    if not plans:
        st.caption("No termination plans yet.")
    for plan in plans:
        current = plan["versions"][-1]
        key = f"plan_{plan['id']}"
        with st.container(border=True, key=f"{key}_card"):
            role = "your client" if plan["my_role"] == "consultant" else "your consultant"
            header = [f"**{plan['other_name']}** ({role})", STATUS_BADGES[plan["status"]],
                      f"version {current['version']}", awaiting(plan)]
            st.markdown(" · ".join(part for part in header if part))  # awaiting() is empty unless proposed
            if current["reason"] == "safety":
                st.warning(f"Ending early for safety: {current.get('safety_justification')}", icon=":material/shield:")
            st.caption(f"{REASONS[current['reason']]} · final session {current['final_session_on']} · "
                       f"{current['sessions_remaining']} sessions remaining, {current['closing_sessions']} closing · "
                       f"referrals: {', '.join(r['name'] for r in current['referrals']) or 'none'}")
            timeline(plan, current)
            planned = current.get("checklist") or []
            if planned:
                done = set(plan["progress"])
                st.progress(len(done & set(planned)) / len(planned),
                            text=f"Checklist: {len(done & set(planned))} of {len(planned)} done")
                if plan["status"] in ("proposed", "agreed"):
                    for item in planned:
                        ticked = st.checkbox(CHECKLIST[item], value=item in done, key=f"{key}_tick_{item}")
                        if ticked != (item in done):
                            with database_errors_as_messages():
                                tick(backend, user.claims, plan["id"], item, ticked)
                            st.rerun()

            actions = st.columns(4)
            my_signature = any(s["signer"] == "me" for s in current["signatures"])
            if plan["status"] == "draft" and actions[0].button("Propose", key=f"{key}_propose", type="primary"):
                try:
                    propose(backend, user.claims, plan["id"], expected_version=current["version"])
                    st.session_state["termination_notice"] = "Proposed and signed by you."
                    st.rerun()
                except PlanError as exc:
                    st.error(exc.message, icon=":material/error:")
            if plan["status"] == "proposed" and not my_signature and actions[0].button(
                    f"Sign version {current['version']}", key=f"{key}_sign", type="primary"):
                try:
                    outcome = sign(backend, user.claims, plan["id"], current["version"])
                    st.session_state["termination_notice"] = ("Signed: the plan is agreed by both of you."
                                                              if outcome == "agreed" else "Signed.")
                    st.rerun()
                except PlanError as exc:
                    st.error(exc.message, icon=":material/error:")
            if plan["status"] == "agreed" and actions[1].button("Mark completed", key=f"{key}_complete"):
                try:
                    complete(backend, user.claims, plan["id"])
                    st.session_state["termination_notice"] = "Completed. The engagement is closed."
                    st.rerun()
                except PlanError as exc:
                    st.error(exc.message, icon=":material/error:")
            actions[3].download_button("Summary", data=summary_html(plan, user.display_name), mime="text/html",
                                       file_name=f"termination-plan-v{current['version']}.html",
                                       key=f"{key}_summary", icon=":material/print:")

            if plan["status"] in ("draft", "proposed", "agreed"):
                with st.expander("Propose changes" if plan["status"] != "draft" else "Edit the draft"):
                    if message := st.session_state.pop(f"{key}_message", None):
                        st.error(message, icon=":material/error:")
                    draft = st.session_state.get(f"{key}_draft")
                    if draft is not None and st.session_state.get(f"{key}_stale"):
                        st.warning("The plan changed while you were editing. Your draft is kept below; here is "
                                   "how it differs from the new version.", icon=":material/sync_problem:")
                        st.table(pd.DataFrame(differences(current, draft.as_json()),
                                              columns=["Term", "Now in the plan", "Your draft"]))
                    submitted = terms_form(key, plan["engagement_id"], plan["my_role"],
                                           draft or PlanTerms.from_version(current))
                    if submitted is not None:
                        base_version = st.session_state.get(f"{key}_base", current["version"])
                        try:
                            revise(backend, user.claims, plan["id"], submitted, expected_version=base_version)
                        except PlanError as exc:
                            st.session_state[f"{key}_errors"] = exc.fields
                            st.session_state[f"{key}_draft"] = submitted
                            st.session_state[f"{key}_stale"] = exc.stale
                            if exc.stale:  # from now on, edit against the version just seen
                                st.session_state[f"{key}_base"] = current["version"]
                            st.session_state[f"{key}_message"] = exc.message
                            st.rerun()
                        else:
                            for suffix in ("errors", "draft", "stale", "base"):
                                st.session_state.pop(f"{key}_{suffix}", None)
                            st.session_state["termination_notice"] = (
                                "Saved as a new version" + ("" if plan["status"] == "draft"
                                                            else ", signed by you; it awaits the other signature."))
                            st.rerun()
                    else:
                        st.session_state.setdefault(f"{key}_base", current["version"])
                with st.expander("Withdraw the plan"):
                    why = st.text_input("Why (shared with the other party)", key=f"{key}_withdraw_reason")
                    if st.button("Withdraw", key=f"{key}_withdraw"):
                        try:
                            withdraw(backend, user.claims, plan["id"], why)
                            st.session_state["termination_notice"] = "Withdrawn."
                            st.rerun()
                        except PlanError as exc:
                            st.error(exc.message, icon=":material/error:")

            if len(plan["versions"]) > 1:
                with st.expander(f"Version history ({len(plan['versions'])} versions)"):
                    numbers = [v["version"] for v in plan["versions"]]
                    left, right = st.columns(2)
                    older = left.selectbox("Compare version", numbers[:-1], index=len(numbers) - 2,
                                           key=f"{key}_older")
                    newer = right.selectbox("with version", numbers[1:], index=len(numbers) - 2, key=f"{key}_newer")
                    by_number = {v["version"]: v for v in plan["versions"]}
                    changes = differences(by_number[older], by_number[newer])
                    st.table(pd.DataFrame(changes, columns=["Term", f"Version {older}", f"Version {newer}"])
                             if changes else pd.DataFrame({"": ["No differences."]}))
                    for v in plan["versions"]:
                        signed = ", ".join(("you" if s["signer"] == "me" else plan["other_name"]) + " "
                                           + s["signed_at"][:10] for s in v["signatures"]) or "not signed"
                        author = "you" if v["author_is_me"] else plan["other_name"]
                        st.caption(f"Version {v['version']} by {author}, "
                                   f"{datetime.fromisoformat(v['created_at']):%d %b %Y %H:%M} · signed: {signed}")

with start_tab:
    open_engagements = {p["engagement_id"] for p in plans if p["status"] in ("draft", "proposed", "agreed")}
    candidates = [e for e in engagements if e["id"] not in open_engagements]
    if not candidates:
        st.caption("Every engagement you are in already has an open plan, or you have none.")
    else:
        names = {e["id"]: f"{e['other_name']} (your {'client' if e['my_role'] == 'consultant' else 'consultant'})"
                 for e in candidates}
        chosen = st.selectbox("Engagement", options=list(names), format_func=names.get, key="plan_new_engagement")
        engagement = next(e for e in candidates if e["id"] == chosen)
        if engagement["my_role"] == "consultant":
            st.info("As the consultant you give at least 21 days' and 2 sessions' notice from the first "
                    "discussion, and at least one referral. Only an ending for safety is exempt, with a written "
                    "justification.", icon=":material/gavel:")
        if message := st.session_state.pop("plan_new_message", None):
            st.error(message, icon=":material/error:")
        submitted = terms_form("plan_new", chosen, engagement["my_role"], None)
        if submitted is not None:
            try:
                start(backend, user.claims, chosen, submitted)
            except PlanError as exc:
                st.session_state["plan_new_errors"] = exc.fields
                st.session_state["plan_new_message"] = exc.message
                st.rerun()
            else:
                st.session_state.pop("plan_new_errors", None)
                st.session_state["termination_notice"] = "Draft saved. Propose it when you are ready."
                st.rerun()
