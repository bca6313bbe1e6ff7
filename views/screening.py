"""My relationships (the screening feature's page, at /relationships): what you declare privately so the portal can
screen for dual relationships."""

from datetime import date

import streamlit as st

from components import context
from components.errors import database_errors_as_messages, show_notice, succeed
from components.formstate import FormGeneration
from portal.local_times import date_words, local_time, times_caption
from portal.plain_text import plain
from portal.refusal import Refusal
from portal.screening import (
    AFFILIATION_KINDS,
    CONTEXT_TEXT,
    AffiliationInput,
    RelationshipInput,
    add_affiliation,
    add_relationship,
    declared_about,
    find_consultants,
    my_declarations,
    relationship_kinds,
    remove_declaration,
    rule_sentence,
    screening_log,
)
from portal.search import count_words

LEVEL_WORDS = {
    "none": "No conflict",
    "waived": "Waived by both",
    "potential": "Possible conflict",
    "blocking": "Blocking conflict (hidden)",
}

user = context.require_user()
backend = context.backend()
st.title("My relationships")
st.caption(
    "Private declarations used only to screen for dual relationships. Nobody else ever reads them; "
    "a match shows the other person only that a conflict exists."
)

with database_errors_as_messages():
    doc = my_declarations(backend, user.claims)
    kinds = relationship_kinds(backend, user.claims)

show_notice("screening_notice")
errors = st.session_state.setdefault("screening_errors", {})
# A successful add starts a new generation of widget keys: the next entry begins from a blank form.
# A refused one keeps the keys, so everything typed stays for correcting.
person_form = FormGeneration("relationship")
place_form = FormGeneration("affiliation")


PERSON_FIELDS = ("counterpart", "counterpart_email", "kind", "ends_on")
PLACE_FIELDS = ("organisation", "kind", "email_domain", "ends_on")


def refusal(form_name: str, exc: Refusal, fields: tuple[str, ...]) -> dict[str, str]:
    """The refusal as an error next to its field in the form it came from (the first field if unknown)."""
    field = exc.field if exc.field in fields else fields[0]
    return {f"{form_name}_{field}": exc.message}


def show_error(field: str) -> None:
    if errors.get(field):
        st.error(errors[field], icon=":material/error:")


def period(item: dict) -> str:
    start, end = item.get("starts_on"), item.get("ends_on")
    if not start and not end:
        return "dates not given"
    return f"{date_words(start, 'UTC') if start else '…'} – {date_words(end, 'UTC') if end else 'now'}"


people_tab, places_tab, log_tab = st.tabs(["People", "Organisations", "Screening log"])

with people_tab:
    st.markdown(
        "People you have (or had) a relationship with: supervisors, family, friends, colleagues, "
        "former therapists or clients. Declare them so you are never matched with them, or with "
        "someone treating them."
    )
    for item in doc["relationships"]:
        row, remove = st.columns([5, 1])
        label = kinds.get(item["kind"], {}).get("label", item["kind"])
        who = plain(item.get("counterpart_display") or item.get("counterpart_email")) or "someone"
        row.markdown(f"{declared_about(f'**{who}**', label)} · {period(item)}")
        if remove.button("Remove", key=f"relationship_remove_{item['id']}"):
            with database_errors_as_messages():
                remove_declaration(backend, user.claims, item["id"])
            succeed("screening_notice", "Removed.")

    st.header("Add a person")
    # Whether the next person is on the portal is a choice of form, not an entry: it stays after adding.
    where = st.radio("Who", ["A consultant on the portal", "Someone else"], horizontal=True, key="relationship_who")
    counterpart_id = None
    if where == "A consultant on the portal":
        query = st.text_input("Search consultants by name", key=person_form.key("query"))
        with database_errors_as_messages():
            matches = find_consultants(backend, user.claims, query)
        options = {m["id"]: m["display_name"] for m in matches}
        counterpart_id = st.selectbox(
            "Consultant",
            options=list(options),
            format_func=options.get,
            index=None,
            placeholder="Type at least 2 letters above",
            key=person_form.key("consultant"),
        )
        if counterpart_id:
            errors.pop("person_counterpart", None)  # picked since the refusal: the message no longer applies
        # The picker sits above the form (it searches as you type): its refusal is shown here, next to it.
        show_error("person_counterpart")
    with st.form(f"relationship_form_{person_form.generation}"):
        name = email = ""
        if where == "Someone else":
            name = st.text_input("Their name", key=person_form.key("name"))
            show_error("person_counterpart")
            email = st.text_input(
                "Their email (lets the portal recognise them if they join)", key=person_form.key("email")
            )
            show_error("person_counterpart_email")
        kind = st.selectbox(
            "Relationship",
            options=list(kinds),
            format_func=lambda k: rule_sentence(kinds[k]["label"]),
            index=None,
            placeholder="Choose the relationship",
            key=person_form.key("kind"),
        )
        show_error("person_kind")
        start, end = st.columns(2)
        starts_on = start.date_input(
            "From (optional)", value=None, min_value=date(1950, 1, 1), key=person_form.key("starts_on")
        )
        ends_on = end.date_input(
            "Until (leave empty if ongoing)", value=None, min_value=date(1950, 1, 1), key=person_form.key("ends_on")
        )
        show_error("person_ends_on")
        if st.form_submit_button("Add person", type="primary", key="relationship_add"):
            item = RelationshipInput(
                kind=kind,
                counterpart_id=counterpart_id,
                counterpart_name=name,
                counterpart_email=email,
                starts_on=starts_on,
                ends_on=ends_on,
            )
            try:
                with database_errors_as_messages():
                    add_relationship(backend, user.claims, item, set(kinds))
            except Refusal as exc:
                st.session_state["screening_errors"] = refusal("person", exc, PERSON_FIELDS)
                st.rerun()  # drawn again with the refusal next to its field
            else:
                st.session_state["screening_errors"] = {}
                person_form.renew()
                succeed("screening_notice", "Added. It will be used in every screening.")

with places_tab:
    st.markdown(
        "Where you work or worked, trained or served. Shared workplaces within the rule's window are "
        "flagged for discussion; large associations are never screened."
    )
    for item in doc["affiliations"]:
        row, remove = st.columns([5, 1])
        role = f", {plain(item['role'])}" if item.get("role") else ""
        row.markdown(f"**{plain(item['organisation'])}** · {AFFILIATION_KINDS[item['kind']]}{role} · {period(item)}")
        if remove.button("Remove", key=f"affiliation_remove_{item['id']}"):
            with database_errors_as_messages():
                remove_declaration(backend, user.claims, item["id"])
            succeed("screening_notice", "Removed.")
    with st.form(f"affiliation_form_{place_form.generation}"):
        st.header("Add an organisation")
        organisation = st.text_input(
            "Organisation", key=place_form.key("organisation"), placeholder="e.g. St. Mary's Hospital"
        )
        show_error("place_organisation")
        kind = st.selectbox(
            "Kind", options=list(AFFILIATION_KINDS), format_func=AFFILIATION_KINDS.get, key=place_form.key("kind")
        )
        show_error("place_kind")
        role = st.text_input("Your role (optional)", key=place_form.key("role"))
        domain = st.text_input("Its email domain (optional, e.g. stmarys.org)", key=place_form.key("domain"))
        show_error("place_email_domain")
        start, end = st.columns(2)
        starts_on = start.date_input("From", value=None, min_value=date(1950, 1, 1), key=place_form.key("starts_on"))
        ends_on = end.date_input(
            "Until (empty if ongoing)", value=None, min_value=date(1950, 1, 1), key=place_form.key("ends_on")
        )
        show_error("place_ends_on")
        if st.form_submit_button("Add organisation", type="primary", key="affiliation_add"):
            item = AffiliationInput(
                organisation=organisation,
                kind=kind,
                role=role,
                email_domain=domain,
                starts_on=starts_on,
                ends_on=ends_on,
            )
            try:
                with database_errors_as_messages():
                    add_affiliation(backend, user.claims, item)
            except Refusal as exc:
                st.session_state["screening_errors"] = refusal("place", exc, PLACE_FIELDS)
                st.rerun()  # drawn again with the refusal next to its field
            else:
                st.session_state["screening_errors"] = {}
                place_form.renew()
                succeed("screening_notice", "Added. It will be used in every screening.")

with log_tab:
    st.markdown(
        "Every screening that concerned you: your own searches and checks, and checks a counterpart "
        "made when you asked them, or they you. Reasons are never logged."
    )
    with database_errors_as_messages():
        log = screening_log(backend, user.claims)
        zone = context.my_timezone(backend, user)
    if not log:
        st.caption("No screenings yet.")
    else:
        st.caption(times_caption(zone))
        st.dataframe(
            [
                {
                    "When": local_time(row["created_at"], zone),
                    "What": CONTEXT_TEXT[row["context"]],
                    "With": row["other_name"]
                    or (f"{count_words(row['screened'])} consultants screened" if row["context"] == "search" else "—"),
                    "By": "you" if row["checked_by_me"] else "the other party",
                    "Result": LEVEL_WORDS[row["level"]],
                }
                for row in log
            ],
            hide_index=True,
            width="stretch",
        )
