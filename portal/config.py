"""Settings from st.secrets (passed in by app.py) or the environment."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

MIN_COOKIE_KEY_BYTES = 32


class ConfigurationError(ValueError):
    """A setting the portal refuses to run with; its message says what to change."""


#: Every setting's name, as read from st.secrets or the environment.
SETTING_NAMES = (
    "PORTAL_BACKEND",
    "PORTAL_DATA_DIR",
    "PORTAL_DEMO_DATA",
    "SUPABASE_URL",
    "SUPABASE_KEY",
    "SUPABASE_JWT_SECRET",
    "SUPABASE_JWT_PRIVATE_KEY",
    "SUPABASE_JWT_KID",
    "PORTAL_COOKIE_KEY",
    "PORTAL_CALENDAR_KEY",
)


def environment_key() -> tuple[str | None, ...]:
    """The environment's value for every setting. A cache of settings keyed on it reads them again when the
    environment changes (as tests change it), and otherwise never."""
    return tuple(os.environ.get(name) for name in SETTING_NAMES)


@dataclass(frozen=True)
class Settings:
    backend: str  # "local" or "supabase"
    data_dir: Path
    load_demo_data: bool
    supabase_url: str | None
    supabase_key: str | None
    jwt_secret: str | None
    jwt_private_key: str | None
    jwt_kid: str | None
    cookie_key: str | None
    calendar_key: str | None = None

    @classmethod
    def load(cls, source: Mapping | None = None) -> Settings:
        """Values in `source` (st.secrets) win over the environment."""
        source = source or {}

        def get(name: str, default: str | None = None) -> str | None:
            value = source.get(name) if hasattr(source, "get") else None
            if value in (None, ""):
                value = os.environ.get(name, default)
            return value if value not in ("",) else default

        backend = (get("PORTAL_BACKEND", "local") or "local").lower()
        if backend not in ("local", "supabase"):
            raise ValueError("PORTAL_BACKEND must be 'local' or 'supabase'")
        return cls(
            backend=backend,
            data_dir=Path(get("PORTAL_DATA_DIR") or REPO_ROOT / ".data").expanduser().resolve(),
            # The demo world (and its admin account, whose password README prints) only when asked for.
            load_demo_data=(get("PORTAL_DEMO_DATA", "0") or "0").strip().lower() in ("1", "true", "yes", "on"),
            supabase_url=get("SUPABASE_URL"),
            supabase_key=get("SUPABASE_KEY"),
            jwt_secret=get("SUPABASE_JWT_SECRET"),
            jwt_private_key=get("SUPABASE_JWT_PRIVATE_KEY"),
            jwt_kid=get("SUPABASE_JWT_KID"),
            cookie_key=get("PORTAL_COOKIE_KEY"),
            calendar_key=get("PORTAL_CALENDAR_KEY"),
        )

    def resolved_cookie_key(self) -> str:
        """The cookie-signing key: configured, or (local mode only) generated once and kept.

        It signs every member's sign-in cookie: a short or placeholder key is refused rather than used."""
        if self.cookie_key:
            key = self.cookie_key.strip()
            if len(key.encode()) < MIN_COOKIE_KEY_BYTES or "<" in key or ">" in key:
                raise ConfigurationError(
                    "PORTAL_COOKIE_KEY must be a random string of at least 32 bytes: it signs every member's "
                    "sign-in cookie, and the configured one is too short or still a placeholder. Make one with "
                    'python -c "import secrets; print(secrets.token_urlsafe(48))".'
                )
            return key
        if self.backend != "local":
            raise ConfigurationError("Set PORTAL_COOKIE_KEY in st.secrets or the environment for Supabase mode.")
        return self._key_kept_in_data_dir("cookie_key", lambda: secrets.token_urlsafe(48).encode()).decode()

    def _key_kept_in_data_dir(self, name: str, make: Callable[[], bytes]) -> bytes:
        """Local mode's key `name`: made once by `make` into the data directory, then read back."""
        path = self.data_dir / name
        self.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            # Readable by its owner alone from the first byte (write-then-chmod left a window at 0644).
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # made earlier, or by another process just now
        else:
            with os.fdopen(descriptor, "wb") as key_file:
                key_file.write(make())
        return path.read_bytes().strip()

    def resolved_calendar_key(self) -> bytes:
        """The key that seals consultants' calendar addresses and passwords (Fernet): configured, or (local mode
        only) generated once into the data directory and kept, readable by its owner alone, like the cookie key.
        Losing it makes every connected calendar unreadable (its owner is told and connects it again)."""
        from cryptography.fernet import Fernet

        if self.calendar_key:
            key = self.calendar_key.strip().encode()
            try:
                Fernet(key)
            except ValueError as exc:
                raise ConfigurationError(
                    "PORTAL_CALENDAR_KEY must be a Fernet key (32 random bytes, URL-safe base64). Make one with "
                    'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())".'
                ) from exc
            return key
        if self.backend != "local":
            raise ConfigurationError("Set PORTAL_CALENDAR_KEY in st.secrets or the environment for Supabase mode.")
        return self._key_kept_in_data_dir("calendar_key", Fernet.generate_key)
