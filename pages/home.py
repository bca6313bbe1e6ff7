"""Home: where a signed-in member starts."""

import streamlit as st

from components import context
from components.errors import database_errors_as_messages
from portal.profiles import load_my_profile, profile_checklist

user = context.require_user()
st.title(f"Welcome, {user.display_name}")
st.caption("What needs your attention, and where to go next.")

with database_errors_as_messages():
    doc = load_my_profile(context.backend(), user.claims)

missing = profile_checklist(doc)
if missing:
    st.info("Complete your profile so colleagues can find the right match:", icon=":material/checklist:")
    for item in missing:
        st.markdown(f"- {item}")
    st.page_link("pages/my_profile.py", label="Complete my profile", icon=":material/badge:")
else:
    st.success("Your profile is complete.", icon=":material/check_circle:")

role = "You offer consultation to colleagues." if doc["is_consultant"] else \
    "You are looking for a treating colleague."
st.markdown(f"**{role}**")
st.page_link("pages/my_profile.py", label="Change this on My profile", icon=":material/badge:")
licences = doc.get("licenses", [])
if licences:
    st.caption("Licences: " + ", ".join(f"{lic['license_type']} in {lic['jurisdiction']}" for lic in licences))
