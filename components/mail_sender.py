"""Local mode's sender: a background thread the app starts once per process (never per session), delivering
the outbox as `python -m portal.mailer` does in production."""

from __future__ import annotations

import os
import threading

import streamlit as st

from portal.config import Settings
from portal.db import Backend
from portal.mailer import Mailer, MailSettings, calendar_sweep, served_base_url


def local_sender_wanted(settings: Settings) -> bool:
    """Local mode delivers its own outbox unless PORTAL_LOCAL_MAILER=0 (the tests drive the sender themselves)."""
    return settings.backend == "local" and os.environ.get("PORTAL_LOCAL_MAILER", "1") != "0"


def local_mail_settings(settings: Settings) -> MailSettings:
    """SMTP settings from st.secrets or the environment; the mailbox folder under the data directory. Without
    PORTAL_BASE_URL the links point at the address this app is served at (its port, its base path): a newcomer who
    runs it on another port gets links that open it (issue 26, item 12)."""
    try:
        secrets = {k: v for k, v in st.secrets.items() if isinstance(v, str)}
    except Exception:  # no secrets.toml
        secrets = {}
    served = served_base_url(
        port=int(st.get_option("server.port")),
        address=st.get_option("server.address"),
        base_path=st.get_option("server.baseUrlPath") or "",
        https=bool(st.get_option("server.sslCertFile")),
    )
    return MailSettings.from_environment(
        {"PORTAL_BASE_URL": served, **os.environ, **secrets}, mailbox_dir=settings.data_dir / "mailbox"
    )


_RUNNING: list[tuple[threading.Thread, threading.Event]] = []  # the process's sender threads (no user data)


@st.cache_resource(show_spinner=False)
def start_local_sender(_backend: Backend, mail: MailSettings, _settings: Settings | None = None) -> threading.Event:
    """Start the thread once per settings; returns the event that stops it. With the portal's settings it also
    re-reads consultants' calendars, as the production sender does."""
    stop = threading.Event()
    calendars = calendar_sweep(_backend, _settings) if _settings is not None else None
    thread = threading.Thread(
        target=Mailer(_backend, mail, calendars=calendars).run_forever, args=(stop,), name="portal-mailer", daemon=True
    )
    thread.start()
    _RUNNING.append((thread, stop))
    return stop


def stop_local_senders() -> None:
    """Stop every sender thread this process started (tests; a clean shutdown)."""
    while _RUNNING:
        thread, stop = _RUNNING.pop()
        stop.set()
        thread.join(timeout=30)
    start_local_sender.clear()
