"""What a member can do with a termination plan from its card: propose, sign, mark completed (offered once the
final session's day has come, and until then said when), download the summary, withdraw."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import streamlit as st

import portal.termination as termination
from components.errors import show_refusal, succeed
from portal.db import Backend, Claims
from portal.refusal import Refusal

NOTICE = "termination_notice"


def plan_actions(plan: dict[str, Any], key: str, zone: str, *, backend: Backend, claims: Claims, my_name: str) -> None:
    """The buttons under a plan's terms; a refusal shows under them."""
    current = plan["versions"][-1]
    actions = st.columns(4)
    try:
        if plan["status"] == "draft" and actions[0].button("Propose", key=f"{key}_propose", type="primary"):
            termination.propose(backend, claims, plan["id"], expected_version=current["version"])
            succeed(NOTICE, "Proposed and signed by you.")
        my_signature = any(s["signer"] == "me" for s in current["signatures"])
        if (
            plan["status"] == "proposed"
            and not my_signature
            and actions[0].button(f"Sign version {current['version']}", key=f"{key}_sign", type="primary")
        ):
            outcome = termination.sign(backend, claims, plan["id"], current["version"])
            succeed(NOTICE, "Signed: the plan is agreed by both of you." if outcome == "agreed" else "Signed.")
        if plan["status"] == "agreed":
            mark_completed(plan, key, actions[1], backend=backend, claims=claims)
    except Refusal as refused:
        show_refusal(refused)
    actions[3].download_button(
        "Download summary",
        # Read through the module, so that the summary is the one portal.termination has now.
        data=termination.summary_html(plan, my_name, zone),
        mime="text/html",
        file_name=f"termination-plan-v{current['version']}.html",
        key=f"{key}_summary",
        icon=":material/download:",
        help="The agreed terms, the checklist and both signatures as a page to keep or print.",
    )


def mark_completed(plan: dict[str, Any], key: str, where: Any, *, backend: Backend, claims: Claims) -> None:
    """The button once the final session's day has come (the database's day decides); before, when it will."""
    opens = termination.completion_opens(plan, datetime.now(UTC).date())
    if opens is not None:
        st.caption(termination.completion_sentence(opens))
    elif where.button("Mark completed", key=f"{key}_complete"):
        termination.complete(backend, claims, plan["id"])
        succeed(NOTICE, "Completed. The engagement is closed.")


def withdraw_form(plan: dict[str, Any], key: str, *, backend: Backend, claims: Claims) -> None:
    with st.expander("Withdraw the plan"):
        why = st.text_input("Why (shared with the other party)", key=f"{key}_withdraw_reason")
        if st.button("Withdraw", key=f"{key}_withdraw"):
            try:
                termination.withdraw(backend, claims, plan["id"], why)
            except Refusal as refused:
                show_refusal(refused)
            else:
                succeed(NOTICE, "Withdrawn.")
