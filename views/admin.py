"""Admin: verify credentials, extend the modality list, and look after accounts."""

import pandas as pd
import streamlit as st

from components import context
from components.errors import database_errors_as_messages
from components.mail_sender import local_mail_settings
from components.reference import modality_names
from portal.admin import (
    QUEUE_PAGE_SIZE,
    QUEUE_READ_LIMIT,
    AdminRefused,
    add_modality,
    cached_queue,
    close_account,
    disputed_sessions,
    forget_decided,
    forget_queue,
    list_accounts,
    queue_matches,
    resolve_attendance,
    unlock_account,
    update_rule,
    verify_credential,
)
from portal.appointments import OUTCOMES
from portal.db import APIError, friendly_message
from portal.db.errors import is_not_found
from portal.email_choices import admin_outbox, outbox_table
from portal.local_times import local_time, zone_words
from portal.mydata import plural
from portal.plain_text import plain
from portal.search import LEVELS


def level_names(item: str) -> str:
    """'CPT level 3' -> 'CPT level 3 (Certified)'."""
    head, _, level = item.rpartition(" level ")
    return f"{head} level {level} ({LEVELS[int(level)]})" if level.isdigit() and head else item


user = context.require_user()
st.title("Admin")
st.caption(
    "Verify competencies and licences, extend the modality list, look after accounts, and see what the portal emailed."
)
if not user.is_admin:
    st.error("Only administrators can open this page.")
    st.stop()

backend = context.backend()
queue_tab, modality_tab, rules_tab, accounts_tab, disputes_tab, outbox_tab = st.tabs(
    ["Verification queue", "Modalities", "Conflict rules", "Accounts", "Disputed sessions", "Outbox"]
)

with queue_tab:
    if notice := st.session_state.pop("verify_notice", None):  # shown after the rerun that follows a decision
        st.success(notice, icon=":material/check_circle:")
    refresh = st.button("Refresh the queue", key="verify_refresh", icon=":material/refresh:")
    with database_errors_as_messages():
        queue = cached_queue(backend, user.claims, st.session_state, refresh=refresh)
    waiting = f"{QUEUE_READ_LIMIT}+ credentials" if len(queue) >= QUEUE_READ_LIMIT else plural(len(queue), "credential")
    st.caption(f"{waiting} waiting, oldest first. An expired credential never counts as verified, whatever its status.")
    wanted = st.text_input(
        "Filter by member or credential",
        key="verify_filter",
        help="Accents and capitals are ignored: “nguyen” finds Nguyễn.",
    ).strip()
    if st.session_state.get("verify_shown_for") != wanted:  # a new filter starts again from the oldest
        st.session_state["verify_shown_for"] = wanted
        st.session_state["verify_shown"] = QUEUE_PAGE_SIZE
    matching = queue_matches(queue, wanted)
    shown = matching[: st.session_state.setdefault("verify_shown", QUEUE_PAGE_SIZE)]
    if wanted and not matching:
        st.info(
            f"No matches for “{wanted}”. The filter looks in member names and credentials.",
            icon=":material/search_off:",
        )
    elif not queue:
        st.success("Nothing is waiting for verification.", icon=":material/check_circle:")
    elif len(matching) > len(shown):
        st.caption(f"Showing the oldest {len(shown)} of {len(matching)}.")
    for item in shown:
        with st.container(border=True, key=f"verify_card_{item['id']}"):
            kind = "Competency" if item["kind"] == "competency" else "Licence"
            st.markdown(f"**{plain(item['member_name'])}** · {kind}: {plain(level_names(item['item']))}")
            st.caption(
                f"Evidence: {plain(item['detail']) or 'none given'}"
                + (f" · expires {item['expires_on']}" if item.get("expires_on") else "")
                + f" · submitted {item['submitted_at'][:10]}"
            )
            note = st.text_input("Note (required to reject)", key=f"verify_note_{item['id']}")
            approve_col, reject_col = st.columns(2)
            decision = None
            if approve_col.button("Verify", key=f"verify_approve_{item['id']}", type="primary"):
                decision = True
            if reject_col.button("Reject", key=f"verify_reject_{item['id']}"):
                decision = False
            if decision is not None:
                try:
                    verify_credential(backend, user.claims, item["kind"], item["id"], approve=decision, note=note)
                except APIError as exc:
                    if is_not_found(exc):  # someone else removed it: read the queue afresh
                        forget_queue(st.session_state)
                    st.error(friendly_message(exc), icon=":material/error:")
                else:
                    forget_decided(st.session_state, item["id"])
                    st.session_state["verify_notice"] = (
                        f"{'Verified' if decision else 'Rejected'}: {plain(item['member_name'])} · {kind.lower()} "
                        f"{plain(level_names(item['item']))}."
                    )
                    st.rerun()
    if len(matching) > len(shown):
        if st.button(f"Show more ({len(matching) - len(shown)} more)", key="verify_show_more"):
            st.session_state["verify_shown"] = len(shown) + QUEUE_PAGE_SIZE
            st.rerun()

with modality_tab:
    with database_errors_as_messages():
        existing = modality_names(backend, user.claims)
    st.caption("On the list now: " + ", ".join(sorted(existing.values())))
    with st.form("modality_form", clear_on_submit=False):
        code = st.text_input("Code (lowercase, e.g. ct_ptsd)", key="modality_code")
        name = st.text_input("Name shown to members", key="modality_name")
        description = st.text_input("Description (optional)", key="modality_description")
        if st.form_submit_button("Add modality", key="modality_add"):
            try:
                add_modality(backend, user.claims, code, name, description)
            except APIError as exc:
                message = (
                    "That code or name already exists."
                    if exc.code == "23505"
                    else "Codes are 2–31 lowercase letters, digits or underscores; names 2–60 characters."
                    if exc.code == "23514"
                    else friendly_message(exc)
                )
                st.error(message, icon=":material/error:")
            else:
                st.cache_data.clear()
                st.success(f"Added {name}.")

with rules_tab:
    st.caption(
        "How each relationship counts in screening. Window: years after it ended (empty: ever; 0: only "
        "while current). Blocking conflicts can never be waived. Every change is audited."
    )
    with database_errors_as_messages():
        rules = backend.rpc("list_conflict_rules", {}, as_user=user.claims)
    frame = pd.DataFrame(rules)[["kind", "label", "severity", "window_years", "waivable", "derived"]]
    frame["label"] = [
        ("Computed: " if d else "This person ") + label
        for label, d in zip(frame["label"], frame["derived"], strict=True)
    ]
    edited = st.data_editor(
        frame,
        key="rules_editor",
        hide_index=True,
        width="stretch",
        disabled=["kind", "label", "derived"],
        column_order=["label", "severity", "window_years", "waivable"],
        column_config={
            "label": st.column_config.TextColumn("Rule", pinned=True),
            "severity": st.column_config.SelectboxColumn("Severity", options=["blocking", "potential"]),
            "window_years": st.column_config.NumberColumn("Window (years)", min_value=0, max_value=50, step=1),
            "waivable": st.column_config.CheckboxColumn("Waivable"),
        },
    )

    def same(a, b) -> bool:
        return (pd.isna(a) and pd.isna(b)) or a == b

    if st.button("Save rule changes", key="rules_save"):
        changed = 0
        for before, after in zip(frame.to_dict("records"), edited.to_dict("records"), strict=True):
            if all(same(before[k], after[k]) for k in ("severity", "window_years", "waivable")):
                continue
            window = after["window_years"]
            try:
                update_rule(
                    backend,
                    user.claims,
                    after["kind"],
                    after["severity"],
                    None if pd.isna(window) else int(window),
                    bool(after["waivable"]),
                )
                changed += 1
            except APIError as exc:
                st.error(f"{after['kind']}: {friendly_message(exc)}", icon=":material/error:")
        if changed:
            st.success(f"{plural(changed, 'rule')} changed; each change is in the audit log.")
        else:
            st.info("No changes to save.")

with accounts_tab:
    query = st.text_input("Search by name or username", key="admin_query")
    page_size = 25
    page = st.number_input("Page", min_value=1, step=1, value=1, key="admin_page")
    with database_errors_as_messages():
        rows, total = list_accounts(
            backend, user.claims, query=query, limit=page_size, offset=(int(page) - 1) * page_size
        )
        if not rows and page > 1:  # past the last page: show the first instead of "0 match"
            rows, total = list_accounts(backend, user.claims, query=query, limit=page_size, offset=0)
            page = 1
    pages = max(1, -(-total // page_size))
    verb = "matches" if total == 1 else "match"
    st.caption(f"{plural(total, 'account')} {verb} · page {min(int(page), pages)} of {pages}.")
    if rows:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "Name": r["display_name"],
                        "Username": r["username"],
                        "Role": "Admin" if r["is_admin"] else "Consultant" if r["is_consultant"] else "Member",
                        "Licences": r["license_count"],
                        "Locked until": r["locked_until"][:16].replace("T", " ") + " UTC" if r["locked_until"] else "—",
                        "Joined": r["created_at"][:10],
                    }
                    for r in rows
                ]
            ),
            hide_index=True,
            width="stretch",
        )
        locked = [r for r in rows if r["locked_until"]]
        if locked:
            choice = st.selectbox(
                "Locked account",
                options=[r["id"] for r in locked],
                key="admin_unlock_choice",
                format_func=lambda i: next(
                    f"{r['display_name']} ({r['username']})"  # not markdown: a selectbox's options are plain text
                    for r in locked
                    if r["id"] == i
                ),
            )
            if st.button("Unlock account", key="admin_unlock"):
                with database_errors_as_messages():
                    unlock_account(backend, user.claims, choice)
                st.success("Account unlocked.")
                st.rerun()
        closable = [r for r in rows if not r["is_admin"]]
        with st.expander("Close an account"):
            # A member deleting their own account cannot end work with clients; this can, for a reason that every
            # affected client reads, and it is audited.
            st.caption(
                "Ends the member's open requests, sessions, plans and engagements; each affected colleague is "
                "notified with your reason. Use it when a consultant cannot agree endings (for example a "
                "suspended licence)."
            )
            chosen = st.selectbox(
                "Account",
                options=[r["id"] for r in closable],
                index=None,
                placeholder="Choose…",
                key="admin_close_choice",
                format_func=lambda i: next(
                    f"{r['display_name']} ({r['username']})"  # not markdown: a selectbox's options are plain text
                    for r in closable
                    if r["id"] == i
                ),
            )
            why = st.text_area("Reason (every affected client reads it)", key="admin_close_reason", max_chars=500)
            if refused := st.session_state.get("admin_close_error"):
                st.error(refused, icon=":material/error:")
            if st.button("Close the account", key="admin_close", disabled=chosen is None):
                try:
                    told = close_account(backend, user.claims, chosen, why)
                except AdminRefused as exc:
                    st.session_state["admin_close_error"] = exc.message
                    st.rerun()
                st.session_state.pop("admin_close_error", None)
                st.success(f"Account closed; {plural(told, 'client')} notified. The reason is in the audit log.")

with disputes_tab:
    st.caption(
        "Sessions the two parties recorded differently. They count for neither until you decide; both read "
        "your decision and your note, and it is audited."
    )
    with database_errors_as_messages():
        disputes = disputed_sessions(backend, user.claims)
        admin_zone = context.my_timezone(backend, user)
    if not disputes:
        st.caption("No disputed sessions.")
    for item in disputes:
        with st.container(border=True, key=f"dispute_{item['id']}"):
            st.markdown(
                f"**{local_time(item['starts_at'], admin_zone)}** ({admin_zone}) · "
                f"{plain(item['consultant'])} (consultant) with {plain(item['client'])} (client)"
            )
            for said in item["statements"]:
                who = plain(item["consultant"] if said["by"] == "consultant" else item["client"])
                note = f" — “{plain(said['note'])}”" if said.get("note") else ""
                st.markdown(f"- {who}: {OUTCOMES[said['outcome']]}{note}")
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
                    except AdminRefused as exc:
                        st.error(exc.message, icon=":material/error:")
                    else:
                        st.rerun()

with outbox_tab:
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
        admin_zone = context.my_timezone(backend, user)
    if outbox:
        st.caption(f"The latest {plural(len(outbox), 'email')}; times are {zone_words(admin_zone)}.")
        st.dataframe(
            pd.DataFrame(outbox_table(outbox, admin_zone)), hide_index=True, width="stretch", key="outbox_rows"
        )
    else:
        st.caption("Nothing has been queued for email yet.")
