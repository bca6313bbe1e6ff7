"""The one database interface: call a Postgres function by name."""

from __future__ import annotations

from typing import Any, Protocol

from portal.db.claims import Claims


class Backend(Protocol):
    """Both backends honour this: same functions, same JSON back, same errors."""

    name: str

    def rpc(self, fn: str, params: dict[str, Any] | None = None, *, as_user: Claims | None) -> Any:
        """Call public.<fn> with named parameters as `as_user` (None = anon).

        Returns the JSON PostgREST would return; raises postgrest.APIError with
        PostgREST's code/message/details/hint, or DatabaseUnavailable.
        """
        ...

    def close(self) -> None: ...
