"""Reference lists every member reads alike: jurisdictions, languages (and modalities, in portal.practice)."""

from __future__ import annotations

from portal.db import Backend, Claims


def jurisdiction_choices(backend: Backend, claims: Claims) -> dict[str, str]:
    """Jurisdiction code -> "CODE — Name" (the portal's own list, shown in selectboxes: not markdown)."""
    return {
        row["code"]: f"{row['code']} — {row['name']}" for row in backend.rpc("list_jurisdictions", {}, as_user=claims)
    }


def language_names(backend: Backend, claims: Claims) -> dict[str, str]:
    """Language code -> name."""
    return {row["code"]: row["name"] for row in backend.rpc("list_languages", {}, as_user=claims)}
