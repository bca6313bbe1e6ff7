"""Administrator actions (the database checks the caller is an admin)."""

from __future__ import annotations

from typing import Any

from portal.db import Backend, Claims


def list_accounts(backend: Backend, claims: Claims, *, query: str = "", limit: int = 25,
                  offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    rows = backend.rpc("admin_list_accounts", {"p_query": query or "", "p_limit": limit, "p_offset": offset},
                       as_user=claims)
    return rows, (rows[0]["total"] if rows else 0)


def unlock_account(backend: Backend, claims: Claims, user_id: str) -> None:
    backend.rpc("admin_unlock_account", {"p_user_id": user_id}, as_user=claims)


def verification_queue(backend: Backend, claims: Claims, limit: int = 50) -> list[dict[str, Any]]:
    return backend.rpc("admin_verification_queue", {"p_limit": limit}, as_user=claims)


def verify_credential(backend: Backend, claims: Claims, kind: str, item_id: str, *, approve: bool,
                      note: str | None = None) -> None:
    backend.rpc("admin_verify_credential", {"p_kind": kind, "p_id": item_id, "p_approve": approve,
                                            "p_note": note}, as_user=claims)


def add_modality(backend: Backend, claims: Claims, code: str, name: str, description: str | None = None) -> dict:
    return backend.rpc("admin_add_modality", {"p_code": code, "p_name": name, "p_description": description},
                       as_user=claims)


def update_rule(backend: Backend, claims: Claims, kind: str, severity: str, window_years: int | None,
                waivable: bool) -> dict:
    return backend.rpc("admin_update_conflict_rule", {"p_kind": kind, "p_severity": severity,
                                                      "p_window_years": window_years, "p_waivable": waivable},
                       as_user=claims)
