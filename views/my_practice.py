"""My practice: the modalities you are competent in, with evidence, and how many clients you can take."""

from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from components import context, session_location
from components.errors import as_refusal, database_errors_as_messages, show_notice, show_refusal, succeed
from components.formstate import FormGeneration, cell_date, edited_frame
from components.reference import modality_names
from components.waitlist import waiting_count_line
from portal.db import DatabaseUnavailable
from portal.plain_text import plain
from portal.practice import (
    CompetencyInput,
    load_my_practice,
    save_my_practice,
    validate,
)
from portal.profiles import saved_rows_kept
from portal.refusal import Refusal
from portal.search import LEVELS

user = context.require_user()
backend = context.backend()
st.title("My practice")
st.caption("Your competencies per modality and your intake. Search ranks you by verified level.")

with database_errors_as_messages():
    modalities = modality_names(backend, user.claims)
COLUMNS = [
    "modality",
    "level",
    "evidence_body",
    "evidence_credential",
    "evidence_year",
    "training_hours",
    "expires_on",
    "verification_status",
]


STATUS_WORDS = {"self_attested": "Awaiting verification", "verified": "Verified", "rejected": "Rejected"}


def load_into_form(doc: dict) -> None:
    frame = pd.DataFrame([{k: c.get(k) for k in COLUMNS} for c in doc["competencies"]], columns=COLUMNS)
    frame["expires_on"] = pd.to_datetime(frame["expires_on"]).dt.date
    frame["verification_status"] = frame["verification_status"].map(STATUS_WORDS)
    for column in ("evidence_body", "evidence_credential"):
        frame[column] = frame[column].fillna("")
    st.session_state["practice_base"] = frame
    st.session_state["practice_values"] = {
        "accepting": doc["intake"]["accepting_new_clients"],
        "capacity": doc["intake"]["capacity"],
    }
    st.session_state["practice_version"] = doc["intake"]["version"]
    st.session_state["practice_active"] = doc["active_clients"]
    if "practice_owner" in st.session_state:
        form.renew()  # new values: draw the widgets afresh
    st.session_state["practice_owner"] = user.id
    st.session_state["practice_refusal"] = None


form = FormGeneration("practice")
if st.session_state.get("practice_owner") != user.id:
    with database_errors_as_messages():
        load_into_form(load_my_practice(backend, user.claims))
elif "practice_reload_doc" in st.session_state:
    load_into_form(st.session_state.pop("practice_reload_doc"))

form = FormGeneration("practice")
values = st.session_state["practice_values"]
# The last refusal of this form (its own checks or the database's), shown next to its fields until a save.
refusal: Refusal | None = st.session_state.get("practice_refusal")
if not user.is_consultant:
    st.info("Turn on “I offer consultation to colleagues” on My profile to appear in search.", icon=":material/info:")
    st.page_link("views/my_profile.py", label="Go to My profile", icon=":material/badge:")
else:  # only someone seekers can find has a waitlist
    waiting_count_line(backend, user)

with st.form("practice_form", border=False):
    st.header("Intake")
    st.toggle("Accepting new clients", value=values["accepting"], key=form.key("accepting"))
    st.number_input(
        "Capacity (active clients you can hold)",
        min_value=None,
        step=1,
        value=values["capacity"],
        key=form.key("capacity"),
    )
    st.caption(
        f"Active clients now: {st.session_state['practice_active']}. Capacity can't be lower; to stop "
        "taking new clients, turn off “Accepting new clients”."
    )
    show_refusal(refusal, "capacity")
    st.header("Competencies")
    st.caption(
        "Levels: "
        + " · ".join(f"{n} {name}" for n, name in LEVELS.items())
        + ". One row per modality; modality and level are required, messages number the rows from the top. "
        "Changing a row withdraws its verification until an admin checks it again. To remove a competency, "
        "tick its checkbox and press the bin icon."
    )
    # No `required=True` on these columns: Streamlit's grid leaves a new row with an empty required cell out of
    # the widget's value altogether, so an incomplete competency would vanish on Save instead of being refused.
    # Modality and level are required all the same: portal.practice.validate names the row and the missing fields.
    # Sized to fit the page's column at 1,280 px with nothing cut off (issue 26): short headers with the long name in
    # their help, the level's short name (the caption above spells each level out), the read-only verification said
    # under the grid instead of in an eighth column off its edge.
    st.data_editor(
        st.session_state["practice_base"],
        key=form.key("competencies"),
        num_rows="dynamic",
        hide_index=True,
        width="stretch",
        column_order=COLUMNS[:-1],
        column_config={
            "modality": st.column_config.SelectboxColumn(
                "Modality",
                options=list(modalities),
                help="Required.",
                format_func=lambda code: modalities.get(code, code),
                pinned=True,
                width=125,
            ),
            "level": st.column_config.SelectboxColumn(
                "Level",
                options=[1, 2, 3, 4],
                help="Required. " + " · ".join(f"{n} {name}" for n, name in LEVELS.items()),
                format_func=lambda n: f"{n} · {LEVELS[n].split(' / ')[0]}",
                width=85,
            ),
            "evidence_body": st.column_config.TextColumn(
                "Certified by", help="The certifying body.", max_chars=120, width=115
            ),
            "evidence_credential": st.column_config.TextColumn(
                "Credential", help="Your credential's id.", max_chars=60, width=100
            ),
            "evidence_year": st.column_config.NumberColumn(
                "Year", min_value=1950, max_value=datetime.now(UTC).date().year, step=1, format="%d", width=70
            ),
            "training_hours": st.column_config.NumberColumn(
                "Hours", help="Training hours.", min_value=0, step=1, width=75
            ),
            "expires_on": st.column_config.DateColumn("Expires", width=90),
        },
    )
    show_refusal(refusal, "competencies")
    # Below the grid's refusal, which stays right under the grid.
    if len(base := st.session_state["practice_base"]):
        st.caption(
            "Verification: "
            + " · ".join(
                f"{plain(modalities.get(m, m))} {str(v).lower()}"
                for m, v in zip(base["modality"], base["verification_status"], strict=True)
                if isinstance(m, str)
            )
        )
    submitted = st.form_submit_button("Save practice", type="primary", key="practice_save")


def edited_rows() -> tuple[list[CompetencyInput], int]:
    """Every row of the grid, top to bottom, complete or not (validation names what is missing; new empty rows are
    skipped and not saved, emptied saved ones refused), and how many of them were saved before."""
    base, edits = st.session_state["practice_base"], form.value("competencies")
    frame = edited_frame(base, edits)

    def number(value):
        return None if value is None or pd.isna(value) else int(value)

    rows = [
        CompetencyInput(
            modality=r.modality if isinstance(r.modality, str) else None,
            level=number(r.level),
            evidence_body=r.evidence_body if isinstance(r.evidence_body, str) else None,
            evidence_credential=r.evidence_credential if isinstance(r.evidence_credential, str) else None,
            evidence_year=number(r.evidence_year),
            training_hours=number(r.training_hours),
            expires_on=cell_date(r.expires_on),
        )
        for r in frame.itertuples(index=False)
    ]
    return rows, saved_rows_kept(len(base), edits)


if submitted:
    rows, saved_rows = edited_rows()
    capacity = form.value("capacity")
    capacity = None if capacity is None else int(capacity)
    found = validate(
        rows,
        capacity,
        modalities=set(modalities),
        saved_rows=saved_rows,
        active_clients=st.session_state["practice_active"],
    )
    if found:
        st.session_state["practice_refusal"] = Refusal(
            "Some fields need attention; see the messages above.", fields=found
        )
        st.rerun()
    try:
        saved = save_my_practice(
            backend,
            user.claims,
            rows,
            accepting=form.value("accepting"),
            capacity=capacity,
            expected_version=st.session_state["practice_version"],
            saved_rows=saved_rows,
        )
    except (Refusal, DatabaseUnavailable) as exc:
        st.session_state["practice_refusal"] = as_refusal(exc)
        st.rerun()
    st.session_state["practice_reload_doc"] = saved
    succeed("practice_notice", "Practice saved.")

show_refusal(refusal)  # the refusal's sentence for the form as a whole, under Save
if refusal is not None and refusal.stale:
    if st.button("Load the latest saved version (replaces what is in the form)", key="practice_load_latest"):
        with database_errors_as_messages():
            st.session_state["practice_reload_doc"] = load_my_practice(backend, user.claims)
        st.rerun()
show_notice("practice_notice")

session_location.section(backend, user)
