"""Open the configured backend: the embedded Postgres (default) or Supabase."""

from __future__ import annotations

import logging

from portal.config import Settings
from portal.db.base import Backend
from portal.db.claims import SERVICE, Claims
from portal.db.errors import APIError, DatabaseUnavailable, Refusal, friendly_message, refusal_from

__all__ = [
    "APIError",
    "Backend",
    "Claims",
    "DatabaseUnavailable",
    "Refusal",
    "SERVICE",
    "friendly_message",
    "open_backend",
    "refusal_from",
]

log = logging.getLogger(__name__)


def open_backend(settings: Settings) -> Backend:
    """Create the process-wide backend. It carries no user identity."""
    if settings.backend == "supabase":
        from portal.db.supabase_backend import SupabaseBackend
        from portal.db.tokens import TokenMinter

        if not settings.supabase_url or not settings.supabase_key:
            raise RuntimeError("Supabase mode needs SUPABASE_URL and SUPABASE_KEY.")
        minter = TokenMinter(secret=settings.jwt_secret, private_key_pem=settings.jwt_private_key, kid=settings.jwt_kid)
        return SupabaseBackend(settings.supabase_url, settings.supabase_key, minter)

    from portal.db.bootstrap import apply_migrations, start_embedded
    from portal.db.local import LocalBackend

    db = start_embedded(settings.data_dir)
    apply_migrations(db.owner_conninfo)
    # The demo world only when asked for (PORTAL_DEMO_DATA=1): its accounts, admin included, share the password
    # README prints.
    if settings.load_demo_data:
        from portal.demo import load_demo_world_if_empty

        load_demo_world_if_empty(db.owner_conninfo)
    else:
        from portal.demo import demo_admin_present

        if demo_admin_present(db.owner_conninfo):
            log.warning(
                "This database (%s) still holds the demo world, whose accounts (admin included) share the "
                "password README prints. Start with PORTAL_DEMO_DATA=1 if you meant to run the demo; "
                "otherwise use a fresh PORTAL_DATA_DIR.",
                settings.data_dir,
            )
    backend = LocalBackend(db.api_conninfo)
    backend.embedded = db  # kept so tools and tests can stop/start the server
    return backend
