"""Reference lists (jurisdictions, languages, modalities): the same for every member, cached."""

from __future__ import annotations

import streamlit as st

from portal.db import Backend, Claims
from portal.practice import list_modalities
from portal.reference import jurisdiction_choices, language_names


@st.cache_data(ttl=3600, show_spinner=False)
def reference_lists(_backend: Backend, _claims: Claims) -> tuple[dict[str, str], dict[str, str]]:
    """(jurisdiction code -> "CODE — Name", language code -> name). Not per user: cache is shared."""
    return jurisdiction_choices(_backend, _claims), language_names(_backend, _claims)


@st.cache_data(ttl=300, show_spinner=False)
def modality_names(_backend: Backend, _claims: Claims) -> dict[str, str]:
    """code -> name. Short TTL: an admin can add modalities."""
    return list_modalities(_backend, _claims)
