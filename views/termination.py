"""Termination plans: agree an ending together, sign it, and follow it through."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import altair as alt
import pandas as pd
import streamlit as st

from components import context
from components.errors import database_errors_as_messages
from components.formstate import FormGeneration
from components.termination_parts import ENDED, NO_SUCH_PLAN, conflict_notice, conflict_record, ended_notice
from portal.db import APIError, DatabaseUnavailable, friendly_message
from portal.local_times import local_day, local_time, times_caption
from portal.plain_text import plain
from portal.requests import my_engagements
from portal.termination import (
    CHECKLIST,
    REASONS,
    PlanError,
    PlanTerms,
    awaiting,
    complete,
    differences,
    done_note,
    friendly_day,
    initiated_by,
    my_plans,
    propose,
    rebase,
    referral_candidates,
    refresh_reminders,
    reminder_state,
    revise,
    sign,
    start,
    summary_html,
    tick,
    who_vouched,
    withdraw,
)

STATUS_BADGES = {
    "draft": ":gray-badge[Draft]",
    "proposed": ":orange-badge[Proposed]",
    "agreed": ":green-badge[Agreed]",
    "completed": ":blue-badge[Completed]",
    "withdrawn": ":red-badge[Withdrawn]",
}

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
today_here = datetime.now(ZoneInfo(zone)).date()  # the member's today, not the server's (UTC)

if notice := st.session_state.pop("termination_notice", None):
    st.success(notice, icon=":material/check_circle:")


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
        st.info(
            ended_notice(
                focused, zone, still_working_together=focused["engagement_id"] in {e["id"] for e in engagements}
            ),
            icon=":material/event_available:",
        )
    else:
        st.caption("This plan alone, as its link shows it.")
    way_back()
    shown = [focused]


def terms_form(key: str, engagement_id: str, initial: PlanTerms | None) -> PlanTerms | None:
    """The plan's terms; returns them when submitted. Errors from the last try show next to their fields.

    The widgets are drawn from `initial`; after `FormGeneration(key).renew()` they are drawn afresh from it
    (new keys), e.g. with a draft moved onto a newer version of the plan.
    """
    errors = st.session_state.get(f"{key}_errors", {})
    form = FormGeneration(key)

    def error(name: str) -> None:
        if errors.get(name):
            st.error(errors[name], icon=":material/error:")

    today = today_here
    # Who initiated the ending is the plan's (who started it), derived by the database: not a term of the form.
    base = initial or PlanTerms(
        reason="goals_met",
        discussed_on=today,
        final_session_on=today + timedelta(days=28),
        sessions_remaining=4,
        closing_sessions=1,
    )
    query = st.text_input(
        "Find a portal consultant to refer to (screened for conflicts with the client)", key=f"{key}_referral_query"
    )
    with database_errors_as_messages():
        found = referral_candidates(backend, user.claims, engagement_id, query)
    known = {r["consultant_id"]: r["name"] for r in base.referrals if r.get("consultant_id")}
    # Only the client is told which names are not available to them (the consultant's list is a plain name search).
    known.update(
        {
            c["id"]: c["display_name"] + (" (not available to you)" if c.get("available_to_me") is False else "")
            for c in found
        }
    )
    with st.form(f"{key}_form"):
        reason = st.selectbox(
            "Reason",
            options=list(REASONS),
            format_func=REASONS.get,
            index=list(REASONS).index(base.reason),
            key=form.key("reason"),
        )
        error("reason")
        notes = st.text_area("Notes on the reason", value=base.reason_notes, key=form.key("reason_notes"))
        safety = st.text_area(
            "Safety justification (only when the reason is Safety)",
            value=base.safety_justification,
            key=form.key("safety"),
        )
        error("safety_justification")
        left, right = st.columns(2)
        discussed = left.date_input("Ending first discussed", value=base.discussed_on, key=form.key("discussed"))
        final = right.date_input("Planned final session", value=base.final_session_on, key=form.key("final"))
        error("final_session_on")
        remaining = left.number_input(
            "Sessions remaining", min_value=0, max_value=52, value=base.sessions_remaining, key=form.key("remaining")
        )
        error("sessions_remaining")
        closing = right.number_input(
            "Closing sessions (to process the ending)",
            min_value=0,
            max_value=10,
            value=base.closing_sessions,
            key=form.key("closing"),
        )
        error("closing_sessions")
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
        error("referrals")
        follow_up = st.date_input("Follow-up check-in (optional)", value=base.follow_up_on, key=form.key("follow_up"))
        error("follow_up_on")
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
        if st.form_submit_button("Save", type="primary", key=f"{key}_save"):
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
    return None


def timeline(plan: dict, terms: dict) -> None:
    events = [
        {
            "what": "Booked session" if s["status"] != "completed" else "Session held",
            "when": pd.Timestamp(s["starts_at"]).tz_convert(zone).tz_localize(None),
        }
        for s in plan["sessions"]
    ]
    events += [
        {"what": "Ending discussed", "when": pd.Timestamp(terms["discussed_on"])},
        {"what": "Final session", "when": pd.Timestamp(terms["final_session_on"])},
        {"what": "Today", "when": pd.Timestamp(today_here)},
    ]
    if terms.get("follow_up_on"):
        events.append({"what": "Follow-up", "when": pd.Timestamp(terms["follow_up_on"])})
    chart = (
        alt.Chart(pd.DataFrame(events))
        .mark_point(filled=True, size=120)
        .encode(
            x=alt.X("when:T", title=None),
            y=alt.Y(
                "what:N",
                title=None,
                sort=["Ending discussed", "Session held", "Booked session", "Today", "Final session", "Follow-up"],
            ),
            color=alt.Color("what:N", legend=None),
            tooltip=["what", alt.Tooltip("when:T", format="%a %d %b %Y")],
        )
    )
    st.altair_chart(chart.properties(height=200), width="stretch")


def latest_plan(plan: dict) -> dict:
    """The plan as the database has it now (after a refused save it may be newer than this run's copy)."""
    try:
        return next((p for p in my_plans(backend, user.claims, refresh=False) if p["id"] == plan["id"]), plan)
    except (APIError, DatabaseUnavailable):  # explained from this run's copy; the next save is checked again
        return plan


def edit_terms(plan: dict, current: dict, message: str | None) -> None:
    """The form that saves a new version, and what happens when the save is refused."""
    key = f"plan_{plan['id']}"
    if message:
        st.error(message, icon=":material/error:")
    draft = st.session_state.get(f"{key}_draft")
    submitted = terms_form(key, plan["engagement_id"], draft or PlanTerms.from_version(current))
    if submitted is None:
        # The version the widgets were first drawn from: a save names it, so the database refuses it if the
        # plan has moved on meanwhile.
        st.session_state.setdefault(f"{key}_base", current["version"])
        return
    base_version = st.session_state.get(f"{key}_base", current["version"])
    try:
        revise(backend, user.claims, plan["id"], submitted, expected_version=base_version)
    except PlanError as exc:
        if exc.stale:
            # Someone saved a newer version. Move the draft onto it: the user's own edits (what differs from
            # the version they started from) re-applied to the newest values, so saving again never undoes
            # the other person's change. The comparison shows at the top of the card.
            now = latest_plan(plan)
            started = next((v for v in now["versions"] if v["version"] == base_version), current)
            rebased = rebase(started, now["versions"][-1], submitted)
            st.session_state[f"{key}_draft"] = rebased.terms
            st.session_state[f"{key}_base"] = now["versions"][-1]["version"]
            st.session_state[f"{key}_conflict"] = conflict_record(now, base_version, rebased)
            st.session_state.pop(f"{key}_errors", None)
            FormGeneration(key).renew()  # draw the form afresh from the moved draft
        else:
            st.session_state[f"{key}_errors"] = exc.fields
            st.session_state[f"{key}_draft"] = submitted
            st.session_state[f"{key}_message"] = exc.message
        st.rerun()
    except DatabaseUnavailable as exc:  # nothing typed is lost: the form keeps it for another try
        st.session_state[f"{key}_draft"] = submitted
        st.session_state[f"{key}_message"] = friendly_message(exc)
        st.rerun()
    forget_edits(key)
    st.session_state["termination_notice"] = "Saved as a new version" + (
        "" if plan["status"] == "draft" else ", signed by you; it awaits the other signature."
    )
    st.rerun()


def forget_edits(key: str) -> None:
    """After a save or a discard: the form is drawn afresh from the plan's current version on the next run."""
    for suffix in ("errors", "draft", "base", "conflict", "message"):
        st.session_state.pop(f"{key}_{suffix}", None)
    FormGeneration(key).renew()


plans_tab, start_tab = st.tabs(["Plans", "Start a plan"])

with plans_tab:
    if not plans:
        st.caption("No termination plans yet.")
    for plan in shown:
        current = plan["versions"][-1]
        key = f"plan_{plan['id']}"
        editable = plan["status"] in ("draft", "proposed", "agreed")
        message = st.session_state.pop(f"{key}_message", None)
        conflict = st.session_state.get(f"{key}_conflict") if editable else None
        with st.container(border=True, key=f"{key}_card"):
            role = "your client" if plan["my_role"] == "consultant" else "your consultant"
            header = [
                f"**{plain(plan['other_name'])}** ({role})",
                STATUS_BADGES[plan["status"]],
                f"version {current['version']}",
                awaiting(plan),
            ]
            st.markdown(" · ".join(part for part in header if part))  # awaiting() is empty unless proposed
            if plan["status"] in ENDED and not asked:  # opened by its link, the notice above says it
                st.caption(
                    ended_notice(
                        plan, zone, still_working_together=plan["engagement_id"] in {e["id"] for e in engagements}
                    )
                )
            if message and not editable:  # e.g. the plan was withdrawn while you were editing it
                st.error(message, icon=":material/error:")
            if conflict:
                # A save refused because the plan changed: shown here, open, above everything else on the card,
                # with the form itself, so it cannot hide in a collapsed expander.
                with st.container(border=True, key=f"{key}_resolve"):
                    st.markdown("**Propose changes**" if plan["status"] != "draft" else "**Edit the draft**")
                    conflict_notice(conflict)
                    edit_terms(plan, current, message)
                    if st.button(
                        f"Discard my changes and start again from version {current['version']}",
                        key=f"{key}_discard",
                        icon=":material/undo:",
                    ):
                        forget_edits(key)
                        st.rerun()
            if current["reason"] == "safety":
                st.warning(
                    f"Ending early for safety: {plain(current.get('safety_justification'))}", icon=":material/shield:"
                )
            st.caption(
                f"Initiated by: {initiated_by(plan)} · "
                f"{REASONS[current['reason']]} · final session {friendly_day(current['final_session_on'])} · "
                f"{current['sessions_remaining']} sessions remaining, {current['closing_sessions']} closing · "
                f"referrals: {', '.join(plain(r['name']) for r in current['referrals']) or 'none'}"
            )
            st.caption(who_vouched(plan, current, zone))
            timeline(plan, current)
            planned = current.get("checklist") or []
            if planned:
                done = set(plan["progress"])
                st.progress(
                    len(done & set(planned)) / len(planned),
                    text=f"Checklist: {len(done & set(planned))} of {len(planned)} done",
                )
                if plan["status"] in ("proposed", "agreed"):
                    for item in planned:
                        note = done_note(plan, item, zone) if item in done else ""
                        ticked = st.checkbox(
                            CHECKLIST[item] + (f" · {note}" if note else ""),
                            value=item in done,
                            key=f"{key}_tick_{item}",
                        )
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
            if (
                plan["status"] == "proposed"
                and not my_signature
                and actions[0].button(f"Sign version {current['version']}", key=f"{key}_sign", type="primary")
            ):
                try:
                    outcome = sign(backend, user.claims, plan["id"], current["version"])
                    st.session_state["termination_notice"] = (
                        "Signed: the plan is agreed by both of you." if outcome == "agreed" else "Signed."
                    )
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
            actions[3].download_button(
                "Summary",
                data=summary_html(plan, user.display_name, zone),
                mime="text/html",
                file_name=f"termination-plan-v{current['version']}.html",
                key=f"{key}_summary",
                icon=":material/print:",
            )

            if editable:
                if not conflict:
                    with st.expander("Propose changes" if plan["status"] != "draft" else "Edit the draft"):
                        edit_terms(plan, current, message)
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
                    older = left.selectbox("Compare version", numbers[:-1], index=len(numbers) - 2, key=f"{key}_older")
                    newer = right.selectbox("with version", numbers[1:], index=len(numbers) - 2, key=f"{key}_newer")
                    by_number = {v["version"]: v for v in plan["versions"]}
                    changes = differences(by_number[older], by_number[newer])
                    st.table(
                        pd.DataFrame(changes, columns=["Term", f"Version {older}", f"Version {newer}"])
                        if changes
                        else pd.DataFrame({"": ["No differences."]})
                    )
                    for v in plan["versions"]:
                        signed = (
                            ", ".join(
                                ("you" if s["signer"] == "me" else plain(plan["other_name"]))
                                + " "
                                + local_day(s["signed_at"], zone)
                                for s in v["signatures"]
                            )
                            or "not signed"
                        )
                        author = "you" if v["author_is_me"] else plain(plan["other_name"])
                        st.caption(
                            f"Version {v['version']} by {author}, {local_time(v['created_at'], zone)} · "
                            f"signed: {signed}"
                        )
                    st.caption(times_caption(zone))

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
            st.info(
                "As the consultant you give at least 21 days' and 2 sessions' notice from the first "
                "discussion, and at least one referral. Only an ending for safety is exempt, with a written "
                "justification.",
                icon=":material/gavel:",
            )
        if message := st.session_state.pop("plan_new_message", None):
            st.error(message, icon=":material/error:")
        submitted = terms_form("plan_new", chosen, None)
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
