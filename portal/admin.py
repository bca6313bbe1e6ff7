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
