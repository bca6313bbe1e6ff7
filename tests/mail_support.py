"""Mail helpers shared by the outbox, calendar and sign-up suites: a real SMTP server on loopback (aiosmtpd),
a sender pointed at it, and an engaged pair with real-looking, verified addresses; local mode's mailbox, and the
link a registration's message carries."""

from __future__ import annotations

import email
import re
import shutil
import tempfile
import threading
import uuid
from datetime import UTC, datetime, timedelta
from email.message import Message
from pathlib import Path

import psycopg
import pytest
from aiosmtpd.controller import Controller
from icalendar import Calendar

from portal.account_links import redeem_verification
from portal.db import SERVICE, Claims
from portal.mailer import Mailer, MailSettings
from tests.people_support import engaged_pair
from tests.postgrest_server import free_port

NEW_YORK, LONDON = "America/New_York", "Europe/London"


class Inbox:
    """An aiosmtpd handler keeping every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        with self.lock:
            self.messages.append(email.message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[Message]:
        with self.lock:
            return [m for m in self.messages if m["To"] == address]


@pytest.fixture
def smtp_server():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, inbox
    try:
        controller.stop()
    except AssertionError:
        pass  # already stopped by the test


def mailer_for(backend, controller, **extra) -> Mailer:
    return Mailer(
        backend,
        MailSettings(
            smtp_host="127.0.0.1",
            smtp_port=controller.port,
            starttls=False,
            sender="Peer Consultation Portal <no-reply@portal.test>",
            base_url="https://portal.example.org",
            **extra,
        ),
    )


def drain(mailer: Mailer) -> None:
    """Deliver until nothing is due (other tests' rows share the outbox: theirs are held)."""
    for _ in range(200):
        if not sum(mailer.run_once(limit=100).values()):
            return
    raise AssertionError("the outbox never drained")


def pair(backend, embedded_db, *, verified: bool = True) -> tuple[Claims, Claims, str, str]:
    """An engaged consultant (New York) and client (London) with real-looking, verified addresses."""
    consultant_username, client_username = engaged_pair(backend, embedded_db)
    ids = {
        u: backend.rpc("auth_get_login", {"p_username": u}, as_user=SERVICE)["id"]
        for u in (consultant_username, client_username)
    }
    addresses = {u: f"{u}@clinic-{uuid.uuid4().hex[:6]}.org" for u in ids}
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        for username, user_id in ids.items():
            conn.execute(
                "update private.credentials set email = %s, email_verified_at = %s where user_id = %s",
                (addresses[username], datetime.now(UTC) if verified else None, user_id),
            )
        conn.execute("update public.profiles set timezone = %s where id = %s", (NEW_YORK, ids[consultant_username]))
        conn.execute("update public.profiles set timezone = %s where id = %s", (LONDON, ids[client_username]))
        conn.execute(
            "update public.availability_settings set late_cancel_hours = 168 where consultant_id = %s",
            (ids[consultant_username],),
        )
    return (
        Claims.user(ids[consultant_username]),
        Claims.user(ids[client_username]),
        addresses[consultant_username],
        addresses[client_username],
    )


def open_times(backend, client: Claims, consultant: Claims, count: int = 2) -> list[str]:
    today = datetime.now(UTC).date()
    slots = backend.rpc(
        "open_slots",
        {
            "p_consultant": consultant.sub,
            "p_from": today.isoformat(),
            "p_to": (today + timedelta(days=10)).isoformat(),
            "p_client": client.sub,
        },
        as_user=client,
    )
    later = [
        s["starts_at"]
        for s in slots
        if datetime.fromisoformat(s["starts_at"]) > datetime.now(UTC) + timedelta(hours=30)
    ]
    return later[:count]


def invitation(message: Message) -> Calendar:
    part = next(p for p in message.walk() if p.get_content_type() == "text/calendar")
    return Calendar.from_ical(part.get_payload(decode=True))


def event_of(cal: Calendar):
    return next(c for c in cal.walk() if c.name == "VEVENT")


def outbox_rows(embedded_db, recipient: str) -> list[tuple]:
    with psycopg.connect(embedded_db.owner_conninfo) as conn:
        return conn.execute(
            "select kind, status, attempts, last_error from private.outbox where recipient_id = %s order by id",
            (recipient,),
        ).fetchall()


# --- account messages in local mode (a mailbox folder): the sign-up and form suites ---------------------------


def deliver(backend, mailbox: Path) -> list[Message]:
    """Local mode's sender (no SMTP): every due message written to `mailbox`; the account messages, parsed."""
    mailer = Mailer(backend, MailSettings(mailbox_dir=mailbox, base_url="http://portal.test:8501"))
    for _ in range(100):
        if not sum(mailer.run_once(limit=100).values()):
            break
    return [email.message_from_bytes(p.read_bytes()) for p in sorted(mailbox.glob("*-account-*.eml"))]


def finish_registration(backend, address: str) -> dict:
    """What the person does next: the sender delivers (local mode, a fresh mailbox), they open the link."""
    mailbox = Path(tempfile.mkdtemp(prefix="portal-mailbox-"))
    try:
        [message] = [
            m
            for m in to(deliver(backend, mailbox), address)
            if m["Subject"] == "Confirm your email to finish creating your account"
        ]
        return redeem_verification(backend, token_in(message, "verify-email"))
    finally:
        shutil.rmtree(mailbox, ignore_errors=True)


def to(messages: list[Message], address: str) -> list[Message]:
    return [m for m in messages if m["To"] == address]


def plain(message: Message) -> str:
    return next(p for p in message.walk() if p.get_content_type() == "text/plain").get_payload(decode=True).decode()


def html_part(message: Message) -> str:
    return next(p for p in message.walk() if p.get_content_type() == "text/html").get_payload(decode=True).decode()


def token_in(message: Message, page: str) -> str:
    found = re.search(rf"http://portal\.test:8501/{page}\?token=([A-Za-z0-9_-]+)", plain(message))
    assert found, plain(message)
    assert found.group(0) in html_part(message)  # the same link in the HTML part
    return found.group(1)
