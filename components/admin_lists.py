"""Admin → Modalities and Conflict rules: the lists every member's profile and screening read."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from components.errors import database_errors_as_messages
from components.reference import modality_names
from portal.admin import add_modality, conflict_rules, update_rule
from portal.db import APIError, friendly_message
from portal.mydata import plural
from portal.screening import rule_sentence


def modalities_tab(backend, user) -> None:
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


def rules_tab(backend, user) -> None:
    st.caption(
        "How each relationship counts in screening. Window: years after it ended (empty: ever; 0: only "
        "while current). Blocking conflicts can never be waived. Every change is audited."
    )
    with database_errors_as_messages():
        rules = conflict_rules(backend, user.claims)
    frame = pd.DataFrame(rules)[["kind", "label", "severity", "window_years", "waivable", "derived"]]
    frame["label"] = [
        f"Computed: {label}" if d else rule_sentence(label)
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
    if st.button("Save rule changes", key="rules_save"):
        _save_rules(backend, user, frame, edited)


def _same(a, b) -> bool:
    return (pd.isna(a) and pd.isna(b)) or a == b


def _save_rules(backend, user, frame: pd.DataFrame, edited: pd.DataFrame) -> None:
    changed = 0
    for before, after in zip(frame.to_dict("records"), edited.to_dict("records"), strict=True):
        if all(_same(before[k], after[k]) for k in ("severity", "window_years", "waivable")):
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
