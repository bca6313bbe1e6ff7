"""Reference lists (jurisdictions, languages, modalities): the same for every member, cached."""

from __future__ import annotations

import streamlit as st

from portal.db import Backend, Claims


@st.cache_data(ttl=3600, show_spinner=False)
def reference_lists(_backend: Backend, _claims: Claims) -> tuple[dict[str, str], dict[str, str]]:
    """(jurisdiction code -> "CODE — Name", language code -> name). Not per user: cache is shared."""
    jurisdictions = {
        row["code"]: f"{row['code']} — {row['name']}"  # not markdown: the portal's own list, shown in selectboxes
        for row in _backend.rpc("list_jurisdictions", {}, as_user=_claims)
    }
    languages = {row["code"]: row["name"] for row in _backend.rpc("list_languages", {}, as_user=_claims)}
    return jurisdictions, languages


@st.cache_data(ttl=300, show_spinner=False)
def modality_names(_backend: Backend, _claims: Claims) -> dict[str, str]:
    """code -> name. Short TTL: an admin can add modalities."""
    return {row["code"]: row["name"] for row in _backend.rpc("list_modalities", {}, as_user=_claims)}
