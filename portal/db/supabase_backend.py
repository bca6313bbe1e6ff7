"""Supabase backend: supabase-py's rpc() with a short-lived JWT per call.

The shared client carries only the project's publishable/anon key. Each call
puts the caller's token on that one request's headers, so no user's token is
ever stored on a client that other sessions use.
"""

from __future__ import annotations

from typing import Any

import httpx
from postgrest import APIError

from portal.db.claims import Claims
from portal.db.errors import DatabaseUnavailable, refusal_from
from portal.db.tokens import TokenMinter
from supabase import Client, ClientOptions, create_client


class SupabaseBackend:
    name = "supabase"

    def __init__(self, url: str, key: str, minter: TokenMinter, *, httpx_client: httpx.Client | None = None) -> None:
        options = ClientOptions(httpx_client=httpx_client) if httpx_client else ClientOptions()
        self._client: Client = create_client(url, key, options=options)
        self._minter = minter

    def rpc(self, fn: str, params: dict[str, Any] | None = None, *, as_user: Claims | None) -> Any:
        request = self._client.rpc(fn, dict(params or {}))
        if as_user is not None:
            request.request.headers["Authorization"] = f"Bearer {self._minter.mint(as_user)}"
        try:
            response = request.execute()
        except APIError as exc:
            raise refusal_from(exc) from exc
        except httpx.HTTPError as exc:
            raise DatabaseUnavailable() from exc
        return response.data

    def close(self) -> None:
        pass
