"""Local mode's mail as a newcomer meets it (#26.12): the links open the app on the port it runs on, and the local
mailbox numbers its messages once, in the order written (account messages and notices counted their own ids)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from streamlit import config

from components.mail_sender import local_mail_settings
from portal.account_links import request_registration
from portal.config import Settings
from portal.local_mailbox import list_messages
from portal.mailer import Mailer, MailSettings, mailbox_number, served_base_url
from tests.mail_support import pair


@pytest.fixture
def served_on_8642():
    """The app started as `streamlit run app.py --server.port 8642`."""
    before = config.get_option("server.port")
    config.set_option("server.port", 8642)
    yield
    config.set_option("server.port", before)


def test_links_point_at_the_port_the_app_is_served_on(served_on_8642, monkeypatch, tmp_path):
    monkeypatch.delenv("PORTAL_BASE_URL", raising=False)
    settings = Settings.load({"PORTAL_DATA_DIR": str(tmp_path)})
    assert local_mail_settings(settings).base_url == "http://localhost:8642"
    # Set, it is the address the emails use, whatever the port (a server behind a proxy, another host).
    monkeypatch.setenv("PORTAL_BASE_URL", "https://portal.clinic.org")
    assert local_mail_settings(settings).base_url == "https://portal.clinic.org"


def test_the_served_address_as_a_browser_on_this_machine_opens_it():
    assert served_base_url(port=8502) == "http://localhost:8502"
    assert served_base_url(port=8502, address="0.0.0.0", base_path="/portal/") == "http://localhost:8502/portal"
    assert served_base_url(port=443, address="portal.clinic.org", https=True) == "https://portal.clinic.org:443"


def test_one_numbering_in_the_local_mailbox(backend, embedded_db, tmp_path):
    """A registration's message (an account message) and a notice (an outbox row) share one numbering, in the order
    the sender wrote them, as `python -m portal.local_mailbox` lists them."""
    mailbox = tmp_path / "mailbox"
    mailer = Mailer(backend, MailSettings(mailbox_dir=mailbox, base_url="http://localhost:8642"))
    for _ in range(100):  # what other tests left queued goes first
        if not sum(mailer.run_once(limit=100).values()):
            break
    written_before = len(list(mailbox.glob("*.eml")))
    username = f"num_{uuid.uuid4().hex[:8]}"
    request_registration(backend, "Robin", "Ames", f"{username}@clinic.org", username, "Another quiet harbour")
    pair(backend, embedded_db)  # an engaged pair: the consultant's notice of the request is an outbox row
    mailer.run_once(limit=100)
    names = sorted(p.name for p in mailbox.glob("*.eml"))
    numbers = [mailbox_number(name) for name in names]
    assert numbers == list(range(1, len(names) + 1)) and len(names) > written_before
    assert any("-account-registration.eml" in name for name in names[written_before:])
    assert any("-request.eml" in name for name in names[written_before:])
    # Newest first, by that number.
    assert [m.name for m in list_messages(mailbox)] == sorted(names, key=mailbox_number, reverse=True)
    assert all(Path(mailbox, name).stat().st_mode & 0o777 == 0o600 for name in names)
