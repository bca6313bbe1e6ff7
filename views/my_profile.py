"""My profile: what colleagues see about you, and whether you offer consultation."""

from dataclasses import replace
from datetime import date

import pandas as pd
import streamlit as st

from components import context
from components.email_choices import email_choices_section
from components.errors import as_refusal, database_errors_as_messages, show_notice, show_refusal, succeed
from components.formstate import FormGeneration, cell_date, edited_frame
from components.reference import reference_lists
from portal.db import DatabaseUnavailable
from portal.profiles import (
    LICENSE_TYPES,
    PROFILE_FIELDS,
    LicenseInput,
    ProfileInput,
    known_timezones,
    load_my_profile,
    save_my_profile,
    saved_rows_kept,
    timezone_label,
    validate,
)
from portal.refusal import Refusal

user = context.require_user()
backend = context.backend()
st.title("My profile")
st.caption(
    "Your credentials, formats and fees (seekers see these only if you offer consultation), and which emails you get."
)

with database_errors_as_messages():
    jurisdictions, languages = reference_lists(backend, user.claims)

FIELDS = PROFILE_FIELDS  # the form's fields are the profile's, one list for both
LICENSE_COLUMNS = ["jurisdiction", "license_type", "license_number", "expires_on"]
form = FormGeneration("profile")
CHECK_FIELDS = "Some fields need attention; see the messages above."


def load_into_form(doc: dict, *, redraw: bool) -> None:
    """Keep the saved profile as the form's values (first visit, after saving, or 'load latest')."""
    loaded = ProfileInput.from_document(doc)
    st.session_state["profile_values"] = {name: getattr(loaded, name) for name in FIELDS}
    st.session_state["profile_licenses_base"] = pd.DataFrame(
        [[lic.jurisdiction, lic.license_type, lic.license_number, lic.expires_on] for lic in loaded.licenses],
        columns=LICENSE_COLUMNS,
    )
    st.session_state["profile_version"] = doc["version"]
    st.session_state["profile_owner"] = user.id
    context.remember_my_timezone(user.id, doc["timezone"])  # Notifications and Requests show times in it
    st.session_state["profile_refusal"] = None
    if redraw:
        form.renew()


if st.session_state.get("profile_owner") != user.id or "profile_version" not in st.session_state:
    with database_errors_as_messages():
        load_into_form(load_my_profile(backend, user.claims), redraw="profile_owner" in st.session_state)
elif "profile_reload_doc" in st.session_state:
    load_into_form(st.session_state.pop("profile_reload_doc"), redraw=True)
form = FormGeneration("profile")
values = st.session_state["profile_values"]
# The last refusal of this form (the form's own checks or the database's), shown next to its fields until a save.
refusal: Refusal | None = st.session_state.get("profile_refusal")


def field_error(name: str) -> None:
    show_refusal(refusal, name)


timezones = sorted(known_timezones())
language_codes = sorted(languages, key=languages.get)
with st.form(f"profile_form_{form.generation}", border=False):
    st.header("About you")
    st.text_input("Display name", value=values["display_name"], key=form.key("display_name"), max_chars=80)
    field_error("display_name")
    st.text_input("Pronouns", value=values["pronouns"], key=form.key("pronouns"), placeholder="e.g. she/her, they/them")
    field_error("pronouns")
    st.multiselect(
        "Languages you work in",
        options=language_codes,
        default=[code for code in values["languages"] if code in languages],
        format_func=lambda code: languages.get(code, code),
        key=form.key("languages"),
    )
    field_error("languages")
    st.selectbox(
        "Time zone",
        options=timezones,
        format_func=timezone_label,
        key=form.key("timezone"),
        index=timezones.index(values["timezone"]) if values["timezone"] in timezones else None,
        help="Appointments are shown to you in this zone.",
    )
    field_error("timezone")
    places = list(jurisdictions)
    st.selectbox(
        "Where you live (state or province)",
        options=places,
        format_func=jurisdictions.get,
        index=places.index(values["home_jurisdiction"]) if values["home_jurisdiction"] in places else None,
        placeholder="Choose…",
        key=form.key("home_jurisdiction"),
        help="A consultant must hold a current licence here to take you on; Find searches here first.",
    )
    field_error("home_jurisdiction")
    st.number_input(
        "Years in practice",
        min_value=None,
        max_value=None,
        step=1,
        value=values["years_in_practice"],
        key=form.key("years_in_practice"),
    )
    field_error("years_in_practice")

    st.header("Licences")
    st.caption(
        "One row per state or province, every column filled in; messages number the rows from the top. "
        "Changing a row withdraws its verification until an admin checks it. To remove a licence, tick its "
        "checkbox and press the bin icon."
    )
    # No `required=True` on these columns: Streamlit's grid leaves a new row with an empty required cell out of
    # the widget's value altogether, so an incomplete licence would vanish on Save instead of being refused.
    # Every column is required all the same: portal.profiles.validate names the row and the missing fields.
    st.data_editor(
        st.session_state["profile_licenses_base"],
        key=form.key("licenses"),
        num_rows="dynamic",
        width="stretch",
        hide_index=True,
        column_config={
            "jurisdiction": st.column_config.SelectboxColumn(
                "State / province", options=list(jurisdictions), pinned=True, help="Required."
            ),
            "license_type": st.column_config.SelectboxColumn(
                "Licence type", options=list(LICENSE_TYPES), help="Required."
            ),
            "license_number": st.column_config.TextColumn("Number", max_chars=40, help="Required."),
            "expires_on": st.column_config.DateColumn("Expires", min_value=date(2000, 1, 1), help="Required."),
        },
    )
    field_error("licenses")

    st.header("How you work")
    st.toggle(
        "I offer consultation to colleagues",
        value=values["is_consultant"],
        key=form.key("is_consultant"),
        help="Turn on to appear in search for therapists seeking a treating colleague.",
    )
    field_error("is_consultant")  # refused while clients still work with you (each named)
    st.checkbox("Telehealth", value=values["offers_telehealth"], key=form.key("offers_telehealth"))
    field_error("offers_telehealth")
    st.checkbox("In person", value=values["offers_in_person"], key=form.key("offers_in_person"))
    st.text_input("City (for in-person sessions)", value=values["city"] or "", key=form.key("city"), max_chars=80)
    field_error("city")
    st.number_input(
        "Fee per session (USD)",
        min_value=None,
        max_value=None,
        step=5,
        value=values["fee_usd"],
        key=form.key("fee_usd"),
    )
    field_error("fee_usd")
    st.checkbox("I offer a sliding scale", value=values["sliding_scale"], key=form.key("sliding_scale"))
    st.text_area(
        "Bio",
        value=values["bio"] or "",
        key=form.key("bio"),
        height=140,
        help="How you work, who you work with. At most 2,000 characters.",
    )
    field_error("bio")
    submitted = st.form_submit_button("Save profile", type="primary", key="profile_save")

form_message = st.empty()


def edited_licenses() -> tuple[list[LicenseInput], int]:
    """Every row of the grid, top to bottom, complete, incomplete or empty (portal.profiles.validate names what is
    missing, skips new empty rows and refuses emptied saved ones), and how many of them were saved before."""
    base, edits = st.session_state["profile_licenses_base"], form.value("licenses")
    frame = edited_frame(base, edits)
    rows = [
        LicenseInput(
            jurisdiction=r.jurisdiction if isinstance(r.jurisdiction, str) else None,
            license_type=r.license_type if isinstance(r.license_type, str) else None,
            license_number=r.license_number if isinstance(r.license_number, str) else None,
            expires_on=cell_date(r.expires_on),
        )
        for r in frame.itertuples(index=False)
    ]
    return rows, saved_rows_kept(len(base), edits)


if submitted:

    def as_int(value):
        return None if value is None else int(value)

    licenses, saved_licenses = edited_licenses()
    profile = ProfileInput(
        **{name: form.value(name) for name in FIELDS if name not in ("fee_usd", "years_in_practice")},
        fee_usd=as_int(form.value("fee_usd")),
        years_in_practice=as_int(form.value("years_in_practice")),
        licenses=licenses,
        saved_licenses=saved_licenses,
    )
    found = validate(profile, jurisdictions=set(jurisdictions), languages=set(languages))
    if found:
        st.session_state["profile_refusal"] = Refusal(CHECK_FIELDS, fields=found)
        st.rerun()
    try:
        saved = save_my_profile(backend, user.claims, profile, expected_version=st.session_state["profile_version"])
    except (Refusal, DatabaseUnavailable) as exc:
        st.session_state["profile_refusal"] = as_refusal(exc)
        st.rerun()
    st.session_state["profile_reload_doc"] = saved
    # The navigation shows "My practice" to consultants: keep the session's view of that current.
    st.session_state["portal_user"] = replace(
        user, is_consultant=saved["is_consultant"], display_name=saved["display_name"]
    )
    succeed("profile_notice", "Profile saved.")

with form_message.container():
    show_refusal(refusal)  # the refusal's sentence for the form as a whole, under the Save button
    show_notice("profile_notice")
    if refusal is not None and refusal.stale:
        if st.button("Load the latest saved version (replaces what is in the form)", key="profile_load_latest"):
            with database_errors_as_messages():
                st.session_state["profile_reload_doc"] = load_my_profile(backend, user.claims)
            st.rerun()

email_choices_section(backend, user)  # its own form: saving it leaves the profile form as typed
